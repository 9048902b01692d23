//! Picking and starting a Slint backend: linuxkms on the Pi (no X or desktop),
//! winit on a desktop, or the headless software renderer when there is no
//! display at all. Decides once at start-up; never switches at run time.

use super::headless::{Headless, HeadlessPlatform};
use super::UiError;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// winit on a desktop session, linuxkms on a console with a GPU, else headless.
    Auto,
    Winit,
    Linuxkms,
    Headless,
}

/// What `Auto` resolves to from the environment.
pub fn detect(env: &dyn Fn(&str) -> Option<String>, dri_present: bool) -> Backend {
    let has = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    if has("WAYLAND_DISPLAY") || has("DISPLAY") {
        Backend::Winit
    } else if dri_present {
        Backend::Linuxkms
    } else {
        Backend::Headless
    }
}

fn has_entry(dir: &str, prefix: &str) -> bool {
    std::fs::read_dir(Path::new(dir))
        .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with(prefix)))
        .unwrap_or(false)
}

fn dri_present() -> bool {
    has_entry("/dev/dri", "card")
}

/// A legacy framebuffer, which Slint's linuxkms backend also drives.
fn fb_present() -> bool {
    has_entry("/dev", "fb")
}

/// What `choice` means on a machine with (or without) a DRM card and a
/// framebuffer: the backend to use, or why it cannot work here.
pub fn resolve(choice: Backend, env: &dyn Fn(&str) -> Option<String>, dri: bool, fb: bool) -> Result<Backend, UiError> {
    match choice {
        Backend::Auto => {
            let chosen = detect(env, dri);
            if chosen == Backend::Headless {
                tracing::info!("no display found (no DISPLAY or WAYLAND_DISPLAY, no /dev/dri/card*): the kiosk runs headless");
            }
            Ok(chosen)
        }
        Backend::Linuxkms if !dri && !fb => Err(UiError::Platform(
            "--ui linuxkms needs a display device, and this machine has none: no /dev/dri/card* (DRM/KMS) and no /dev/fb* framebuffer. \
             Check that the display driver is loaded (on a Pi: dtoverlay=vc4-kms-v3d in config.txt) and that the service user is in the video group, \
             or run with --ui headless (or --ui auto, which falls back to headless)"
                .into(),
        )),
        other => Ok(other),
    }
}

/// Checks `choice` against this machine before anything else starts, so a
/// kiosk that cannot show its screen fails at once with the reason.
pub fn preflight(choice: Backend) -> Result<Backend, UiError> {
    resolve(choice, &|k| std::env::var(k).ok(), dri_present(), fb_present())
}

/// Selects the backend for this thread and returns what was chosen (and, for
/// headless, the handle to its window).
pub fn select(choice: Backend, width: u32, height: u32) -> Result<(Backend, Option<Headless>), UiError> {
    let chosen = preflight(choice)?;
    match chosen {
        Backend::Headless => Ok((chosen, Some(HeadlessPlatform::install_event_loop(width, height)?))),
        Backend::Winit => {
            slint::BackendSelector::new()
                .backend_name("winit".into())
                .renderer_name("software".into())
                .select()
                .map_err(|e| UiError::Platform(e.to_string()))?;
            Ok((chosen, None))
        }
        Backend::Linuxkms => {
            slint::BackendSelector::new()
                .backend_name("linuxkms".into())
                .renderer_name("software".into())
                .select()
                .map_err(|e| UiError::Platform(e.to_string()))?;
            Ok((chosen, None))
        }
        Backend::Auto => Err(UiError::Platform("backend detection returned auto".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn a_desktop_session_gets_a_window() {
        assert_eq!(detect(&env_of(&[("DISPLAY", ":0")]), true), Backend::Winit);
        assert_eq!(detect(&env_of(&[("WAYLAND_DISPLAY", "wayland-0")]), false), Backend::Winit);
    }

    #[test]
    fn kms_without_any_display_device_is_refused_with_the_reason_and_auto_falls_back_to_headless() {
        let e = resolve(Backend::Linuxkms, &env_of(&[]), false, false).unwrap_err().to_string();
        assert!(e.contains("/dev/dri") && e.contains("--ui headless"), "{e}");
        assert_eq!(resolve(Backend::Linuxkms, &env_of(&[]), false, true).unwrap(), Backend::Linuxkms, "a framebuffer is enough");
        assert_eq!(resolve(Backend::Linuxkms, &env_of(&[]), true, false).unwrap(), Backend::Linuxkms);
        assert_eq!(resolve(Backend::Auto, &env_of(&[]), false, false).unwrap(), Backend::Headless);
        assert_eq!(resolve(Backend::Headless, &env_of(&[]), false, false).unwrap(), Backend::Headless);
    }

    #[test]
    fn a_console_with_a_gpu_uses_kms_and_nothing_at_all_runs_headless() {
        assert_eq!(detect(&env_of(&[("DISPLAY", "")]), true), Backend::Linuxkms);
        assert_eq!(detect(&env_of(&[]), false), Backend::Headless);
    }
}
