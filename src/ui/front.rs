//! The screen as the assembly's front: hands the app layer the live screen
//! (for screenshots), the presenter that posts screens to the UI thread, and
//! runs Slint on the calling thread with the assembled kiosk. Builds nothing
//! of the kiosk itself (store, reader, socket, uplink are `app::assemble`'s).

use super::backend::{self, Backend};
use super::kiosk::{self, BridgeInbox, LiveScreen, UiOptions};
use crate::app::assemble::{AssembleError, Front, Kiosk};
use crate::app::{Presenter, ScreenCapture};
use std::sync::Arc;

/// A kiosk shown on the touchscreen. `opts.hub` is filled in from the
/// assembled kiosk's uplink.
pub struct ScreenFront {
    opts: UiOptions,
    inbox: Option<BridgeInbox>,
}

impl ScreenFront {
    pub fn new(opts: UiOptions) -> Self {
        ScreenFront { opts, inbox: None }
    }
}

impl Front for ScreenFront {
    fn preflight(&self) -> Result<(), AssembleError> {
        if self.opts.backend == Backend::Linuxkms {
            // Before the reader, socket and uplink start: a screen that cannot work fails at once.
            backend::preflight(self.opts.backend).map_err(|e| AssembleError::Preflight(e.to_string()))?;
        }
        Ok(())
    }

    fn screen(&self) -> Option<Arc<dyn ScreenCapture>> {
        Some(Arc::new(LiveScreen))
    }

    fn presenter(&mut self) -> Box<dyn Presenter> {
        let (presenter, inbox) = kiosk::presenter();
        self.inbox = Some(inbox);
        presenter
    }

    fn run(self: Box<Self>, k: Kiosk) -> Result<(), AssembleError> {
        let ScreenFront { mut opts, inbox } = *self;
        // Without a presenter there is no bridge: the assembly always asks for one first.
        let inbox = inbox.ok_or_else(|| AssembleError::Front("the screen was run before its presenter was made".into()))?;
        opts.hub = k.hub;
        kiosk::run(opts, k.shell, k.rx, k.tx, k.stop, inbox).map_err(|e| AssembleError::Front(e.to_string()))
    }
}
