//! The evdev side of USB keyboard-wedge readers: finds the input device by
//! path or by name, grabs it exclusively (EVIOCGRAB) and waits for key events
//! with poll(2) and a timeout. Reopens the device after it is unplugged.
//! Assembling keys into UIDs is `usb_wedge.rs`'s job, not this file's.

use super::usb_wedge::{KeyEvent, KeySource};
use evdev::{Device, EventType};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which input device is the card reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSelector {
    /// `/dev/input/event3` or a stable `/dev/input/by-id/...` link.
    Path(PathBuf),
    /// The device name as `evtest` shows it (exact match, then substring).
    Name(String),
}

impl DeviceSelector {
    /// A value starting with `/` is a path, anything else a name.
    pub fn parse(s: &str) -> DeviceSelector {
        if s.starts_with('/') {
            DeviceSelector::Path(PathBuf::from(s))
        } else {
            DeviceSelector::Name(s.to_string())
        }
    }
}

/// Finds and opens the device; the error says what was looked for and what exists.
pub fn open_device(sel: &DeviceSelector) -> io::Result<(PathBuf, Device)> {
    match sel {
        DeviceSelector::Path(p) => Device::open(p)
            .map(|d| (p.clone(), d))
            .map_err(|e| io::Error::new(e.kind(), format!("cannot open {}: {e}", p.display()))),
        DeviceSelector::Name(name) => {
            let all: Vec<(PathBuf, Device)> = evdev::enumerate().collect();
            let exact = all.iter().position(|(_, d)| d.name() == Some(name.as_str()));
            let pos = exact.or_else(|| all.iter().position(|(_, d)| d.name().is_some_and(|n| n.contains(name.as_str()))));
            match pos {
                Some(i) => Ok(all.into_iter().nth(i).ok_or_else(|| io::Error::other("device vanished"))?),
                None => {
                    let names: Vec<String> =
                        all.iter().map(|(p, d)| format!("{} ({})", d.name().unwrap_or("?"), p.display())).collect();
                    Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!(
                            "no input device named {name:?}; found: {}",
                            if names.is_empty() { "none (is /dev/input readable?)".into() } else { names.join(", ") }
                        ),
                    ))
                }
            }
        }
    }
}

/// A keyboard-wedge reader on evdev.
pub struct EvdevKeys {
    sel: DeviceSelector,
    dev: Option<(PathBuf, Device)>,
    grab_wanted: bool,
}

impl EvdevKeys {
    pub fn open(sel: DeviceSelector) -> io::Result<EvdevKeys> {
        let dev = open_device(&sel)?;
        Ok(EvdevKeys { sel, dev: Some(dev), grab_wanted: false })
    }

    pub fn path(&self) -> Option<&Path> {
        self.dev.as_ref().map(|(p, _)| p.as_path())
    }

    fn reopen(&mut self) -> io::Result<()> {
        let (p, mut d) = open_device(&self.sel)?;
        if self.grab_wanted {
            d.grab()?;
        }
        tracing::info!(path = %p.display(), "USB card reader is back");
        self.dev = Some((p, d));
        Ok(())
    }
}

impl KeySource for EvdevKeys {
    fn grab(&mut self) -> io::Result<()> {
        self.grab_wanted = true;
        match self.dev.as_mut() {
            Some((_, d)) => d.grab(),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "device not open")),
        }
    }

    fn wait_events(&mut self, timeout: Duration) -> io::Result<Vec<KeyEvent>> {
        if self.dev.is_none() && self.reopen().is_err() {
            // Unplugged: look again after the timeout.
            std::thread::sleep(timeout);
            return Ok(Vec::new());
        }
        let Some((_, dev)) = self.dev.as_mut() else {
            return Ok(Vec::new());
        };
        let mut pfd = libc::pollfd { fd: dev.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd on a descriptor this struct owns.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted { Ok(Vec::new()) } else { Err(e) };
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        if pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
            self.dev = None;
            return Err(io::Error::from_raw_os_error(libc::ENODEV));
        }
        let read: io::Result<Vec<KeyEvent>> = dev.fetch_events().map(|evs| {
            evs.filter(|e| e.event_type() == EventType::KEY)
                .map(|e| KeyEvent { code: e.code(), value: e.value() })
                .collect()
        });
        if let Err(e) = &read {
            if e.raw_os_error() == Some(libc::ENODEV) {
                self.dev = None;
            }
        }
        read
    }

    fn describe(&self) -> String {
        match &self.dev {
            Some((p, d)) => format!("USB reader {:?} at {}", d.name().unwrap_or("?"), p.display()),
            None => format!("USB reader {:?} (not connected)", self.sel),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selector_starting_with_a_slash_is_a_path_otherwise_a_name() {
        assert_eq!(DeviceSelector::parse("/dev/input/event3"), DeviceSelector::Path("/dev/input/event3".into()));
        assert_eq!(DeviceSelector::parse("IC Reader"), DeviceSelector::Name("IC Reader".into()));
    }

    #[test]
    fn a_missing_device_is_reported_with_what_was_looked_for() {
        let err = EvdevKeys::open(DeviceSelector::Name("No Such Card Reader".into())).err().unwrap().to_string();
        assert!(err.contains("No Such Card Reader"), "{err}");
        let err = EvdevKeys::open(DeviceSelector::Path("/dev/input/event-none".into())).err().unwrap().to_string();
        assert!(err.contains("/dev/input/event-none"), "{err}");
    }
}
