//! The imperative shell around the kiosk core: looks up what a tap needs,
//! asks the core, commits the core's records in one transaction, and only
//! then shows and sounds the result. A failed commit shows an error screen,
//! never a false "signed in", and leaves the core as it was. A shell made for
//! the first-boot wizard (`Shell::first_boot`) asks the core nothing and
//! commits nothing: the device has no identity to record under yet.

use crate::clock::Clock;
use crate::core::{Ctx, Effect, ErrorKind, Event, Holder, Kiosk, Record, Screen};
use crate::hw::{Indicator, Signal};
use crate::model::CardUid;
use crate::store::{Store, StoreError};
use std::sync::Arc;
use ulid::Ulid;

/// Shows screens and plays videos: the UI, or a line printer when headless.
pub trait Presenter: Send {
    /// Called once per decision, after its records are committed.
    fn present(&mut self, shown: &Shown);
}

/// What one decision put on the screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    pub screen: Option<Screen>,
    pub sound: Option<Signal>,
    /// The id of the tap record, when the decision was an accepted tap.
    pub tap_id: Option<String>,
    pub play: Option<String>,
    pub stop_video: bool,
}

/// Counters for diagnostics and telemetry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellStats {
    pub taps: u64,
    pub debounced: u64,
    pub store_errors: u64,
    pub indicator_errors: u64,
}

pub struct Shell {
    kiosk: Kiosk,
    store: Store,
    clock: Arc<dyn Clock>,
    indicator: Box<dyn Indicator>,
    presenter: Box<dyn Presenter>,
    stats: ShellStats,
    /// False while the device has no identity: taps and actions are held back.
    provisioned: bool,
    /// Told after a commit that queued outbox messages (the uplink's nudge).
    on_enqueued: Option<Box<dyn Fn() + Send>>,
    /// The reader-fault screen is what the screen shows now.
    reader_fault_shown: bool,
    /// A fault found at start (damaged database pages): every tap and action
    /// shows it and nothing is recorded until a technician repairs the store.
    held: Option<ErrorKind>,
    /// The data dir whose free space is checked before each record (set by `check_at_start`).
    data_dir: Option<std::path::PathBuf>,
}

/// Below this much free space in the data dir the kiosk shows the disk-full
/// screen and records nothing: a commit could fail half-way through the WAL,
/// and a checkpoint could not grow the database file.
pub const MIN_FREE_BYTES: u64 = 1024 * 1024;

impl Shell {
    /// Builds the shell, resuming a session that was running before a restart.
    pub fn new(kiosk_cfg: crate::core::CoreConfig, store: Store, clock: Arc<dyn Clock>, indicator: Box<dyn Indicator>, presenter: Box<dyn Presenter>) -> Result<Shell, StoreError> {
        let session = store.open_session()?;
        if let Some(s) = &session {
            tracing::info!(session = %s.id, present = s.present.len(), "resuming the session that was running");
        }
        Ok(Shell { kiosk: Kiosk::with_session(kiosk_cfg, session), store, clock, indicator, presenter, stats: ShellStats::default(), provisioned: true, on_enqueued: None, reader_fault_shown: false, held: None, data_dir: None })
    }

    /// A shell for a device that is not provisioned (the first-boot wizard is
    /// up): every tap and action is ignored with a log line and nothing is
    /// written, so no record can exist under a missing identity.
    pub fn first_boot(store: Store, clock: Arc<dyn Clock>, indicator: Box<dyn Indicator>, presenter: Box<dyn Presenter>) -> Shell {
        // The core is never asked while unprovisioned; its config only fills the slot.
        let kiosk = Kiosk::new(crate::core::CoreConfig::unprovisioned());
        Shell { kiosk, store, clock, indicator, presenter, stats: ShellStats::default(), provisioned: false, on_enqueued: None, reader_fault_shown: false, held: None, data_dir: None }
    }

    /// Calls `f` after every commit that queued a message for the hub, so the
    /// uplink sends it at once instead of at its next poll.
    pub fn on_enqueued(&mut self, f: impl Fn() + Send + 'static) {
        self.on_enqueued = Some(Box::new(f));
    }

    fn enqueued(&self, effects: &[Effect]) {
        if let Some(f) = &self.on_enqueued {
            if effects.iter().any(|e| matches!(e, Effect::Enqueue(_))) {
                f();
            }
        }
    }

    /// False while the first-boot wizard is up (see [`Shell::first_boot`]).
    pub fn provisioned(&self) -> bool {
        self.provisioned
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    pub fn kiosk(&self) -> &Kiosk {
        &self.kiosk
    }

    pub fn stats(&self) -> &ShellStats {
        &self.stats
    }

    /// Checks the store and the disk before the first tap: damaged pages
    /// (`PRAGMA quick_check`) hold the database-fault screen for good; a full
    /// disk shows the disk-full screen, and from now on every record first
    /// checks the free space of `data_dir`. Returns the fault shown, if any.
    pub fn check_at_start(&mut self, data_dir: &std::path::Path) -> Option<ErrorKind> {
        self.data_dir = Some(data_dir.to_path_buf());
        match self.store.damage() {
            Ok(problems) if problems.is_empty() => {}
            Ok(problems) => {
                tracing::error!(problems = %problems.join("; "), "the database is damaged (quick_check); refusing to record until it is repaired");
                return Some(self.hold_fault(ErrorKind::Database));
            }
            Err(e) => {
                tracing::error!(error = %e, "the database check failed; refusing to record until it is repaired");
                return Some(self.hold_fault(ErrorKind::Database));
            }
        }
        if self.disk_full() {
            self.emit_fault(ErrorKind::DiskFull);
            return Some(ErrorKind::DiskFull);
        }
        None
    }

    /// True when the data dir has less than [`MIN_FREE_BYTES`] free (logged).
    fn disk_full(&self) -> bool {
        let Some(dir) = &self.data_dir else { return false };
        match crate::library::disk::free_bytes(dir) {
            Ok(free) if free < MIN_FREE_BYTES => {
                tracing::error!(free_bytes = free, data_dir = %dir.display(), "the disk is full: nothing can be recorded");
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the free space of the data dir");
                false
            }
        }
    }

    /// Holds `kind` on the screen: every later tap and action shows it and records nothing.
    pub fn hold_fault(&mut self, kind: ErrorKind) -> ErrorKind {
        self.held = Some(kind);
        self.emit_fault(kind);
        kind
    }

    fn emit_fault(&mut self, kind: ErrorKind) -> Shown {
        let shown = Shown { screen: Some(Screen::Error(kind)), sound: Some(Signal::Error), tap_id: None, play: None, stop_video: false };
        self.emit(&shown);
        shown
    }

    /// A card was presented.
    pub fn tap(&mut self, uid: CardUid) -> Shown {
        if let Some(kind) = self.held {
            tracing::warn!(%uid, "card not recorded: the store has a fault");
            return self.emit_fault(kind);
        }
        if self.disk_full() {
            self.stats.store_errors += 1;
            return self.emit_fault(ErrorKind::DiskFull);
        }
        if !self.provisioned {
            tracing::warn!(%uid, "card ignored: this device is not provisioned yet (finish the first-boot wizard)");
            let shown = Shown { screen: None, sound: Some(Signal::Error), tap_id: None, play: None, stop_video: false };
            self.emit(&shown);
            return shown;
        }
        let now = self.clock.now();
        let year = self.kiosk.config().year_of(now.wall_ms);
        let holder = match self.lookup(&uid, year) {
            Ok(h) => h,
            Err(e) => return self.fail(&e),
        };
        self.stats.taps += 1;
        let shown = self.event(Event::CardTapped { uid, holder });
        if shown.tap_id.is_none() && shown.screen.is_none() {
            self.stats.debounced += 1;
        }
        shown
    }

    /// The hub's `enrol_card`: the shell looks the member up, the core
    /// decides, the store commits (record and `card_enrolled` message).
    pub fn hub_enrol(&mut self, uid: CardUid, member_id: String) -> Result<(), String> {
        if !self.provisioned {
            return Err("this device is not provisioned yet".into());
        }
        let on_roster = self.store.member(&member_id).map_err(|e| e.to_string())?.is_some();
        let now = self.clock.now();
        let ctx = Ctx { now, fresh: Ulid::from_parts(now.wall_ms.max(0) as u64, rand::random()) };
        let effects = self.kiosk.handle(Event::HubEnrolCard { uid, member_id: member_id.clone(), on_roster }, ctx);
        if effects.is_empty() {
            return Err(format!("member {member_id} is not on this device's roster"));
        }
        // The card was enrolled by the hub, not read here: say so in `cards`.
        let applied = self.store.with_reader_kind("hub", |s| s.apply(&effects, now.wall_ms));
        if let Err(e) = applied {
            self.stats.store_errors += 1;
            self.reload_core();
            return Err(e.to_string());
        }
        self.enqueued(&effects);
        Ok(())
    }

    fn lookup(&self, uid: &CardUid, year: i32) -> Result<Holder, StoreError> {
        Ok(match self.store.member_by_card(uid)? {
            None => Holder::Unknown,
            Some(member) => {
                let summary = self.store.year_summary(&member.id, year)?;
                Holder::Known { member, year: summary }
            }
        })
    }

    /// Any other event (UI actions, ticks, hub updates).
    pub fn event(&mut self, event: Event) -> Shown {
        if !self.provisioned {
            if !matches!(event, Event::Tick) {
                tracing::info!(?event, "ignored: this device is not provisioned yet");
            }
            return Shown { screen: None, sound: None, tap_id: None, play: None, stop_video: false };
        }
        if let Some(kind) = self.held {
            if matches!(event, Event::Tick) {
                return Shown { screen: None, sound: None, tap_id: None, play: None, stop_video: false };
            }
            tracing::warn!(?event, "not recorded: the store has a fault");
            return self.emit_fault(kind);
        }
        if !matches!(event, Event::Tick) && self.disk_full() {
            self.stats.store_errors += 1;
            return self.emit_fault(ErrorKind::DiskFull);
        }
        let now = self.clock.now();
        let ctx = Ctx { now, fresh: Ulid::from_parts(now.wall_ms.max(0) as u64, rand::random()) };
        let effects = self.kiosk.handle(event, ctx);
        if let Err(e) = self.store.apply(&effects, now.wall_ms) {
            // Nothing of this decision is on disk: forget it in memory too, by
            // rebuilding the core from the store (the source of truth). Cheaper
            // than copying the state before every decision, and only on failure.
            self.reload_core();
            return self.fail(&e);
        }
        self.enqueued(&effects);
        let shown = summarize(&effects);
        self.emit(&shown);
        shown
    }

    /// Rebuilds the core's state from the store (running session, who is present).
    fn reload_core(&mut self) {
        let cfg = self.kiosk.config().clone();
        let session = match self.store.open_session() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the running session back; continuing without it");
                None
            }
        };
        self.kiosk = Kiosk::with_session(cfg, session);
    }

    fn fail(&mut self, e: &StoreError) -> Shown {
        self.stats.store_errors += 1;
        tracing::error!(error = %e, "could not record; showing the error screen");
        let kind = match e {
            StoreError::DiskFull(_) => ErrorKind::DiskFull,
            StoreError::ReadOnly(_) => ErrorKind::ReadOnly,
            _ => ErrorKind::Database,
        };
        let shown = Shown { screen: Some(Screen::Error(kind)), sound: Some(Signal::Error), tap_id: None, play: None, stop_video: false };
        self.emit(&shown);
        shown
    }

    /// A course as the core needs it to start playing, if it is in the catalogue.
    pub fn played_course(&self, id: &str) -> Option<crate::core::PlayedCourse> {
        match self.store.course(id) {
            Ok(Some(c)) => Some(crate::core::PlayedCourse { id: c.id, title: c.title, duration_s: c.duration_s, credit_minutes: c.credit_minutes, required: c.required }),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "course lookup failed");
                None
            }
        }
    }

    /// The files of a course in `cache_dir` if every one is verified in the cache index.
    pub fn cached_files(&self, course_id: &str, cache_dir: &std::path::Path) -> Option<Vec<std::path::PathBuf>> {
        crate::store::cache::playable(self.store.conn(), cache_dir, course_id).unwrap_or_else(|e| {
            tracing::warn!(course_id, error = %e, "cache index lookup failed");
            None
        })
    }

    /// Records a wall-clock jump (or sync change) and queues it for the hub.
    pub fn record_clock_event(&mut self, ev: &crate::clock_watch::ClockEvent) {
        if !self.provisioned {
            tracing::warn!(jump_ms = ev.jump_ms, synced = ev.synced_after, "wall clock jumped; not recorded before provisioning");
            return;
        }
        let id = Ulid::from_parts(ev.at_ms.max(0) as u64, rand::random()).to_string();
        let effects = [
            Effect::Write(Record::ClockJump { id: id.clone(), at_ms: ev.at_ms, jump_ms: ev.jump_ms, synced: ev.synced_after }),
            Effect::Enqueue(crate::core::payload::clock_jump(&id, ev.at_ms, ev.jump_ms, ev.synced_before, ev.synced_after)),
        ];
        match self.store.apply(&effects, ev.at_ms) {
            Ok(_) => {
                self.enqueued(&effects);
                tracing::warn!(jump_ms = ev.jump_ms, synced = ev.synced_after, "wall clock jumped; recorded")
            }
            Err(e) => {
                self.stats.store_errors += 1;
                tracing::error!(error = %e, "could not record a clock jump");
            }
        }
    }

    /// Housekeeping for when no input arrived for a tick: the WAL checkpoint,
    /// so that no tap pays for it (see store/checkpoint.rs).
    pub fn idle(&mut self) {
        if let Err(e) = self.store.checkpoint_wal() {
            self.stats.store_errors += 1;
            tracing::warn!(error = %e, "idle WAL checkpoint failed");
        }
    }

    /// Reads the clock for checks outside decisions (clock watch).
    pub fn now(&self) -> crate::clock::Now {
        self.clock.now()
    }

    /// Reports a reader failure on screen.
    pub fn reader_fault(&mut self, message: &str) -> Shown {
        tracing::error!(%message, "card reader fault");
        let shown = Shown { screen: Some(Screen::Error(ErrorKind::ReaderFault)), sound: Some(Signal::Error), tap_id: None, play: None, stop_video: false };
        self.emit(&shown);
        self.reader_fault_shown = true;
        shown
    }

    /// The reader works again: a reader-fault screen still showing goes back to idle.
    pub fn reader_back(&mut self) {
        tracing::info!("card reader is working again");
        if self.reader_fault_shown {
            self.event(Event::Dismiss);
        }
    }

    fn emit(&mut self, shown: &Shown) {
        if shown.screen.is_some() {
            self.reader_fault_shown = false;
        }
        if let Some(sig) = shown.sound {
            if let Err(e) = self.indicator.signal(sig) {
                self.stats.indicator_errors += 1;
                tracing::warn!(error = %e, "indicator failed");
            }
        }
        self.presenter.present(shown);
    }
}

fn summarize(effects: &[Effect]) -> Shown {
    let mut shown = Shown { screen: None, sound: None, tap_id: None, play: None, stop_video: false };
    for e in effects {
        match e {
            Effect::Show(s) => shown.screen = Some(s.clone()),
            Effect::Sound(s) => shown.sound = Some(*s),
            Effect::Write(Record::Tap { id, .. }) => shown.tap_id = Some(id.clone()),
            Effect::PlayVideo { course_id } => shown.play = Some(course_id.clone()),
            Effect::StopVideo => shown.stop_video = true,
            _ => {}
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TestClock;
    use crate::hw::sim::SimIndicator;

    struct Nothing;
    impl Presenter for Nothing {
        fn present(&mut self, _: &Shown) {}
    }

    fn rows(store: &Store) -> i64 {
        store
            .conn()
            .query_row("SELECT (SELECT count(*) FROM taps) + (SELECT count(*) FROM sessions) + (SELECT count(*) FROM clock_events) + (SELECT count(*) FROM outbox)", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_first_boot_shell_ignores_taps_actions_and_clock_jumps_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("k.db")).unwrap();
        assert!(crate::demo::load_if_empty(&mut store).unwrap());
        let before = rows(&store);
        let indicator = SimIndicator::default();
        let mut sh = Shell::first_boot(store, Arc::new(TestClock::at(1_780_000_000_000)), Box::new(indicator.clone()), Box::new(Nothing));
        assert!(!sh.provisioned());
        let trainer = CardUid::parse("0411223344").unwrap();
        let shown = sh.tap(trainer);
        assert_eq!((shown.screen, shown.tap_id), (None, None));
        assert_eq!(indicator.signals(), vec![Signal::Error], "the person at the reader hears that it did not count");
        assert_eq!(sh.event(Event::StartSession { schedule_id: None, title: "党史".into() }).screen, None);
        sh.event(Event::TechnicianUnlocked { by: crate::core::Unlock::Pin });
        sh.record_clock_event(&crate::clock_watch::ClockEvent { at_ms: 1, jump_ms: 60_000, mono_ms: 1, synced_before: false, synced_after: true });
        assert_eq!(rows(sh.store()), before, "nothing recorded");
        assert_eq!(sh.stats().taps, 0);
    }
}
