//! What the doctor looks at, gathered in one struct so tests can point every
//! check at a staged failure: device paths, data paths, the disk, the clock,
//! the name resolver and the hub target. Real implementations of the disk
//! and resolver traits live here too. Nothing here decides a verdict.

use super::hub::HubTarget;
use crate::clock::{Clock, SystemClock};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Looks up the hub's host name.
pub trait Resolver: Send + Sync {
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>>;
}

/// The system resolver (getaddrinfo: /etc/hosts, DNS).
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok((host, port).to_socket_addrs()?.collect())
    }
}

/// Free and total bytes of the file system holding a path.
pub trait DiskSpace: Send + Sync {
    fn space(&self, path: &Path) -> io::Result<(u64, u64)>;
}

/// `statvfs(2)`: bytes available to unprivileged users, and the size.
pub struct StatvfsDisk;

impl DiskSpace for StatvfsDisk {
    fn space(&self, path: &Path) -> io::Result<(u64, u64)> {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
        // SAFETY: `c` is a valid NUL-terminated path and `st` a zeroed out-parameter.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let frsize = st.f_frsize as u64;
        Ok((st.f_bavail as u64 * frsize, st.f_blocks as u64 * frsize))
    }
}

/// How the card reader is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderTarget {
    /// Simulated board: no hardware to check.
    Sim,
    /// MFRC522 on an SPI device node.
    Spi(PathBuf),
    /// USB keyboard-wedge reader: an evdev path or device name; `None` = any keyboard.
    Evdev(Option<String>),
}

impl ReaderTarget {
    /// The reader the kiosk will open: the config's board kind, and for real
    /// hardware the board file's `[reader]` (`board` is that file, when it loaded),
    /// with the config's `usb_reader` taking precedence as it does in the kiosk.
    pub fn for_board(cfg: &crate::config::BoardConfig, board: Option<&crate::board::Board>) -> ReaderTarget {
        use crate::board::ReaderSpec;
        use crate::config::BoardKind;
        if cfg.kind == BoardKind::Sim {
            return ReaderTarget::Sim;
        }
        match (board.map(|b| &b.reader), &cfg.usb_reader) {
            (_, Some(name)) => ReaderTarget::Evdev(Some(name.clone())),
            (Some(ReaderSpec::Sim(_)), None) => ReaderTarget::Sim,
            (Some(ReaderSpec::Usb(u)), None) => ReaderTarget::Evdev(u.device.clone()),
            (Some(ReaderSpec::Mfrc522(m)), None) => ReaderTarget::Spi(PathBuf::from(format!("/dev/spidev{}.{}", m.spi_bus, m.chip_select))),
            (None, None) => ReaderTarget::Spi(PathBuf::from("/dev/spidev0.0")),
        }
    }
}

/// Everything the checks read.
pub struct DoctorEnv {
    pub reader: ReaderTarget,
    /// The SPI node the MFRC522 uses (`/dev/spidev0.0`); `None` when no SPI is needed.
    pub spi_device: Option<PathBuf>,
    /// GPIO nodes tried in order; the first that exists is checked.
    pub gpio_devices: Vec<PathBuf>,
    /// `/dev/input`, where evdev readers appear.
    pub input_dir: PathBuf,
    /// `/dev/dri`, where KMS/DRM card nodes appear.
    pub drm_dir: PathBuf,
    /// `DISPLAY` / `WAYLAND_DISPLAY` as set for the kiosk, if any.
    pub display_var: Option<String>,
    /// The kiosk runs without a screen (`run --headless`): display not needed.
    pub headless: bool,
    pub data_dir: PathBuf,
    pub db_path: PathBuf,
    /// Where course files are cached; index paths are relative to it.
    pub cache_dir: PathBuf,
    pub disk: Arc<dyn DiskSpace>,
    pub clock: Arc<dyn Clock>,
    pub resolver: Arc<dyn Resolver>,
    /// The hub to test; `Err` when the config has no usable hub settings.
    pub hub: Result<HubTarget, String>,
    /// Per network step.
    pub timeout: Duration,
}

impl DoctorEnv {
    /// The real machine's paths and services, for a given data dir and hub.
    pub fn system(data_dir: PathBuf, db_path: PathBuf, hub: Result<HubTarget, String>) -> Self {
        let cache_dir = data_dir.join("cache");
        let display_var = std::env::var("WAYLAND_DISPLAY")
            .ok()
            .or_else(|| std::env::var("DISPLAY").ok())
            .filter(|v| !v.is_empty());
        DoctorEnv {
            reader: ReaderTarget::Spi(PathBuf::from("/dev/spidev0.0")),
            spi_device: Some(PathBuf::from("/dev/spidev0.0")),
            gpio_devices: vec![PathBuf::from("/dev/gpiomem"), PathBuf::from("/dev/gpiomem0")],
            input_dir: PathBuf::from("/dev/input"),
            drm_dir: PathBuf::from("/dev/dri"),
            display_var,
            headless: false,
            data_dir,
            db_path,
            cache_dir,
            disk: Arc::new(StatvfsDisk),
            clock: Arc::new(SystemClock::new()),
            resolver: Arc::new(SystemResolver),
            hub,
            timeout: Duration::from_secs(5),
        }
    }
}
