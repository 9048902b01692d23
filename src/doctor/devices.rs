//! Hardware checks: SPI, GPIO, the card reader's device node and the display
//! (KMS/DRM node or an X11/Wayland display). Each opens the node read-write,
//! as the kiosk will, and closes it at once; nothing is written to a device.

use super::{Check, DoctorEnv, ReaderTarget};
use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Why a device node cannot be used, turned into a verdict with advice.
pub fn check_node(id: &str, path: &Path, when_missing: &str) -> Check {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Check::fail(id, format!("{} does not exist", path.display()), when_missing)
        }
        Err(e) => return classify_open_error(id, path, &e, None),
    };
    if !meta.file_type().is_char_device() {
        return Check::fail(
            id,
            format!("{} is not a character device", path.display()),
            "something replaced the device node; reboot, and check udev rules in /etc/udev/rules.d",
        );
    }
    match OpenOptions::new().read(true).write(true).open(path) {
        Ok(_) => Check::ok(id, format!("{} opens read-write", path.display())),
        Err(e) => classify_open_error(id, path, &e, Some(meta.gid())),
    }
}

/// The verdict for an error opening a device node; `gid` is the node's group.
pub fn classify_open_error(id: &str, path: &Path, err: &io::Error, gid: Option<u32>) -> Check {
    match err.kind() {
        io::ErrorKind::PermissionDenied => {
            let group = gid.and_then(group_name).unwrap_or_else(|| "the device's group".into());
            Check::fail(
                id,
                format!("{}: permission denied", path.display()),
                format!("add the service user to {group} (`usermod -aG {group} microclass`) or install the package's udev rules, then restart"),
            )
        }
        _ => Check::fail(
            id,
            format!("{}: {err}", path.display()),
            "the device exists but cannot be opened; check dmesg for driver errors",
        ),
    }
}

/// Group name from /etc/group (no NSS: devices belong to local groups).
fn group_name(gid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/group").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _pw = f.next()?;
        (f.next()?.parse::<u32>().ok()? == gid).then(|| name.to_string())
    })
}

const SPI_HINT: &str = "enable SPI: add `dtparam=spi=on` to /boot/firmware/config.txt and reboot";

pub fn check_spi(env: &DoctorEnv) -> Check {
    match (&env.reader, &env.spi_device) {
        (ReaderTarget::Sim, _) => Check::skip("spi", "simulated board: no SPI needed"),
        (_, None) => Check::skip("spi", "no SPI device in this board"),
        (_, Some(p)) => check_node("spi", p, SPI_HINT),
    }
}

pub fn check_gpio(env: &DoctorEnv) -> Check {
    if env.reader == ReaderTarget::Sim {
        return Check::skip("gpio", "simulated board: no GPIO needed");
    }
    match env.gpio_devices.iter().find(|p| p.exists()) {
        Some(p) => check_node("gpio", p, ""),
        None => Check::fail(
            "gpio",
            format!(
                "none of {} exists",
                env.gpio_devices.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            ),
            "not a Raspberry Pi, or the kernel lacks the gpiomem driver; use Raspberry Pi OS Bookworm",
        ),
    }
}

/// Until the reader driver's own probe is wired in (`doctor reader`), this
/// checks that the reader's device node is there and usable.
pub fn check_reader(env: &DoctorEnv) -> Check {
    match &env.reader {
        ReaderTarget::Sim => Check::skip("reader", "simulated reader"),
        ReaderTarget::Spi(p) => {
            let c = check_node("reader", p, SPI_HINT);
            if c.verdict == super::Verdict::Ok {
                Check::ok("reader", format!("MFRC522 bus {} usable (run `microclass doctor reader` to talk to the chip)", p.display()))
            } else {
                c
            }
        }
        ReaderTarget::Evdev(Some(name)) if name.starts_with('/') => {
            check_node("reader", Path::new(name), "plug the USB reader in, or fix board.usb_reader")
        }
        ReaderTarget::Evdev(name) => check_evdev_any(env, name.as_deref()),
    }
}

fn check_evdev_any(env: &DoctorEnv, name: Option<&str>) -> Check {
    let by_id = env.input_dir.join("by-id");
    let mut nodes: Vec<_> = std::fs::read_dir(&by_id)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("-event-kbd"))
        .filter(|p| name.is_none_or(|n| p.to_string_lossy().contains(n)))
        .collect();
    nodes.sort();
    match nodes.first() {
        Some(p) => check_node("reader", p, ""),
        None => Check::fail(
            "reader",
            format!("no USB keyboard-type reader{} under {}", name.map(|n| format!(" matching {n:?}")).unwrap_or_default(), by_id.display()),
            "plug the USB reader in (it appears as a keyboard), or fix board.usb_reader",
        ),
    }
}

const KMS_HINT: &str = "enable KMS: `dtoverlay=vc4-kms-v3d` in /boot/firmware/config.txt, reboot; or run with --headless";

pub fn check_display(env: &DoctorEnv) -> Check {
    if env.headless {
        return Check::skip("display", "headless: no display needed");
    }
    let mut cards: Vec<_> = std::fs::read_dir(&env.drm_dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("card"))
        .map(|e| e.path())
        .collect();
    cards.sort();
    let mut first_problem = None;
    for card in &cards {
        let c = check_node("display", card, KMS_HINT);
        if c.verdict == super::Verdict::Ok {
            return Check::ok("display", format!("KMS/DRM device {} usable", card.display()));
        }
        first_problem.get_or_insert(c);
    }
    if let Some(var) = &env.display_var {
        return Check::ok("display", format!("desktop display {var} (the kiosk opens a window)"));
    }
    first_problem.unwrap_or_else(|| {
        Check::fail("display", format!("no DRM card in {} and no DISPLAY", env.drm_dir.display()), KMS_HINT)
    })
}
