//! The evdev side of USB keyboard-wedge readers: picks the input node, grabs
//! it exclusively (EVIOCGRAB) and waits for key events with poll(2) and a
//! timeout; reports SYN_DROPPED (raw device, no resync) so a number that
//! lost keys is dropped; reopens the device after it is unplugged.
//!
//! Node choice: a reader shows up as several nodes (keyboard, consumer
//! control, sometimes a mouse). Only a node that can type digits is taken,
//! and among those `/dev/input/by-id/*-event-kbd` links win. Assembling keys
//! into UIDs is `wedge_framing.rs`'s job, not this file's.

use super::wedge_framing::KeyEvent;
use super::usb_wedge::KeySource;
use evdev::raw_stream::RawDevice;
use evdev::{EventType, Key};
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

/// One input node as the choice sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: PathBuf,
    pub name: String,
    /// `/dev/input/by-id` links pointing at this node.
    pub by_id: Vec<String>,
    /// Whether the node can emit the digit keys 0-9 (main row or keypad).
    pub types_digits: bool,
}

/// Picks the reader among the nodes matching `name`: exact names before
/// substrings, digit-typing nodes only, `*-event-kbd` links first.
pub fn choose(name: &str, all: &[Candidate]) -> Result<usize, String> {
    let exact: Vec<usize> = (0..all.len()).filter(|&i| all[i].name == name).collect();
    let named = if exact.is_empty() { (0..all.len()).filter(|&i| all[i].name.contains(name)).collect() } else { exact };
    if named.is_empty() {
        let found: Vec<String> = all.iter().map(|c| format!("{} ({})", c.name, c.path.display())).collect();
        return Err(format!(
            "no input device named {name:?}; found: {}",
            if found.is_empty() { "none (is /dev/input readable?)".into() } else { found.join(", ") }
        ));
    }
    let typing: Vec<usize> = named.iter().copied().filter(|&i| all[i].types_digits).collect();
    if typing.is_empty() {
        let nodes: Vec<String> = named.iter().map(|&i| all[i].path.display().to_string()).collect();
        return Err(format!("input device {name:?} has no node that can type digits ({}): not a card reader?", nodes.join(", ")));
    }
    let kbd = typing.iter().copied().find(|&i| all[i].by_id.iter().any(|l| l.ends_with("-event-kbd")));
    Ok(kbd.unwrap_or(typing[0]))
}

fn types_digits(dev: &RawDevice) -> bool {
    dev.supported_keys().is_some_and(|keys| {
        let row = [Key::KEY_0, Key::KEY_1, Key::KEY_5, Key::KEY_9].iter().all(|k| keys.contains(*k));
        let pad = [Key::KEY_KP0, Key::KEY_KP1, Key::KEY_KP5, Key::KEY_KP9].iter().all(|k| keys.contains(*k));
        row || pad
    })
}

/// by-id links per target node.
fn by_id_links() -> Vec<(PathBuf, String)> {
    let Ok(dir) = std::fs::read_dir("/dev/input/by-id") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| {
            let link = e.path();
            let target = std::fs::canonicalize(&link).ok()?;
            Some((target, e.file_name().to_string_lossy().into_owned()))
        })
        .collect()
}

/// Finds and opens the device; the error says what was looked for and what exists.
pub fn open_device(sel: &DeviceSelector) -> io::Result<(PathBuf, RawDevice)> {
    match sel {
        DeviceSelector::Path(p) => {
            let d = RawDevice::open(p).map_err(|e| io::Error::new(e.kind(), format!("cannot open {}: {e}", p.display())))?;
            if !types_digits(&d) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{} cannot type digits (a mouse or consumer-control node of the reader?): use its /dev/input/by-id/...-event-kbd link", p.display()),
                ));
            }
            Ok((p.clone(), d))
        }
        DeviceSelector::Name(name) => {
            let mut all: Vec<(PathBuf, RawDevice)> = evdev::raw_stream::enumerate().collect();
            let links = by_id_links();
            let cands: Vec<Candidate> = all
                .iter()
                .map(|(p, d)| Candidate {
                    path: p.clone(),
                    name: d.name().unwrap_or("?").to_string(),
                    by_id: links.iter().filter(|(t, _)| t == p).map(|(_, l)| l.clone()).collect(),
                    types_digits: types_digits(d),
                })
                .collect();
            let i = choose(name, &cands).map_err(|e| io::Error::new(io::ErrorKind::NotFound, e))?;
            Ok(all.swap_remove(i))
        }
    }
}

/// A keyboard-wedge reader on evdev.
pub struct EvdevKeys {
    sel: DeviceSelector,
    dev: Option<(PathBuf, RawDevice)>,
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
        const SYN_DROPPED: u16 = 3;
        let read: io::Result<Vec<KeyEvent>> = dev.fetch_events().map(|evs| {
            evs.filter_map(|e| match e.event_type() {
                EventType::KEY => Some(KeyEvent::Key { code: e.code(), value: e.value() }),
                EventType::SYNCHRONIZATION if e.code() == SYN_DROPPED => Some(KeyEvent::Dropped),
                _ => None,
            })
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

    fn node(n: u8, name: &str, link: Option<&str>, digits: bool) -> Candidate {
        Candidate { path: format!("/dev/input/event{n}").into(), name: name.into(), by_id: link.map(String::from).into_iter().collect(), types_digits: digits }
    }

    #[test]
    fn of_a_readers_sibling_nodes_the_one_that_types_digits_with_an_event_kbd_link_is_chosen() {
        let nodes = [
            node(3, "IC Reader", Some("usb-IC_Reader-event-mouse"), false),
            node(4, "IC Reader Consumer Control", Some("usb-IC_Reader-if01-event-kbd"), false),
            node(5, "IC Reader", None, true),
            node(6, "IC Reader", Some("usb-IC_Reader-event-kbd"), true),
        ];
        assert_eq!(choose("IC Reader", &nodes), Ok(3));
        assert_eq!(choose("IC Reader", &nodes[..3]), Ok(2), "without a kbd link, the first digit-typing node");
    }

    #[test]
    fn a_reader_whose_nodes_cannot_type_digits_is_refused_with_the_nodes_named() {
        let nodes = [node(3, "IC Reader", None, false), node(4, "Keyboard", None, true)];
        let err = choose("IC Reader", &nodes).unwrap_err();
        assert!(err.contains("/dev/input/event3") && err.contains("digits"), "{err}");
        assert!(choose("Scanner", &nodes).unwrap_err().contains("found: IC Reader"));
    }

    #[test]
    fn an_exact_name_wins_over_a_longer_name_containing_it() {
        let nodes = [node(3, "IC Reader Keyboard", None, true), node(4, "IC Reader", None, true)];
        assert_eq!(choose("IC Reader", &nodes), Ok(1));
    }
}
