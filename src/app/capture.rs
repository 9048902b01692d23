//! What the app layer needs from a screen: saving what it shows now, for the
//! control socket's `screenshot` command and the hub's `screenshot` command.
//! The UI implements [`ScreenCapture`] and hands it in when the kiosk is
//! assembled; without a screen there is none and both commands answer "no
//! screen". Never depends on the UI module (the arrow goes ui -> app).

use std::path::Path;

/// Why a screenshot could not be saved (the UI's own error, as text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CaptureError(pub String);

/// A live screen that can be saved as a PNG. Called from threads other than
/// the UI thread (control socket connections, the uplink's command runner).
pub trait ScreenCapture: Send + Sync {
    /// Saves what the screen shows now as a PNG at `path`; the bytes written.
    fn save_png(&self, path: &Path) -> Result<usize, CaptureError>;
}

/// The answer both commands give when the kiosk runs without a screen.
pub const NO_SCREEN: &str = "the kiosk runs without a screen";
