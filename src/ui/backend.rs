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

fn dri_present() -> bool {
    std::fs::read_dir(Path::new("/dev/dri"))
        .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("card")))
        .unwrap_or(false)
}

/// Selects the backend for this thread and returns what was chosen (and, for
/// headless, the handle to its window).
pub fn select(choice: Backend, width: u32, height: u32) -> Result<(Backend, Option<Headless>), UiError> {
    let chosen = match choice {
        Backend::Auto => detect(&|k| std::env::var(k).ok(), dri_present()),
        other => other,
    };
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
    fn a_console_with_a_gpu_uses_kms_and_nothing_at_all_runs_headless() {
        assert_eq!(detect(&env_of(&[("DISPLAY", "")]), true), Backend::Linuxkms);
        assert_eq!(detect(&env_of(&[]), false), Backend::Headless);
    }
}
