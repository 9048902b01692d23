//! The headless kiosk in-process (the same run loop, bridge, reader thread and
//! UI as on the device). Real video: a tiny clip made at test time with
//! gst-launch-1.0 is registered as a verified cached course file and played
//! from the trainer panel; decoded, non-black frames must reach the screen,
//! scaled to fit it, and the end of the clip must end the play with the
//! watched time recorded. Reader test: after the technician PIN, the next card
//! on the simulated reader shows on the panel instead of being a tap. Its own
//! test binary: the headless event loop serves other threads for one thread
//! per process, so both run in one test.

use microclass::app::run::spawn_reader;
use microclass::app::{Input, Shell};
use microclass::hw::sim::SimReader;
use microclass::ui::controller::ReaderTestState;
use microclass::clock::{Clock, SystemClock};
use microclass::core::CoreConfig;
use microclass::hw::sim::SimIndicator;
use microclass::library::catalog;
use microclass::store::cache;
use microclass::model::{CardUid, Course, CourseFile};
use microclass::player::gst::AudioOut;
use microclass::store::Store;
use microclass::ui::backend::Backend;
use microclass::ui::kiosk::{self, UiOptions};
use microclass::ui::video::GstVideo;
use microclass::ui::{Page, UiHandle};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const TRAINER: &str = "0411223344";
const W: u32 = 800;
const H: u32 = 480;

/// 3 s of colour bars at 640x360 (H.264 4:2:0, AAC), as the hub would ship.
fn make_clip(path: &Path) {
    let status = Command::new("gst-launch-1.0")
        .args(["-q", "videotestsrc", "num-buffers=90", "pattern=smpte", "!", "video/x-raw,format=I420,width=640,height=360,framerate=30/1", "!", "x264enc", "!", "h264parse", "!", "mp4mux", "name=m", "!"])
        .arg("filesink")
        .arg(format!("location={}", path.display()))
        .args(["audiotestsrc", "num-buffers=130", "!", "audioconvert", "!", "avenc_aac", "!", "m."])
        .status()
        .expect("gst-launch-1.0 is required (apt install gstreamer1.0-tools)");
    assert!(status.success(), "gst-launch-1.0 could not make the clip (needs x264enc, avenc_aac)");
}

/// Adds course `c-clip` with the clip as its one file, verified in the cache.
fn register(store: &Store, cache_dir: &Path, clip: &Path) {
    let bytes = std::fs::read(clip).expect("clip");
    let sha = hex::encode(Sha256::digest(&bytes));
    let name = format!("{sha}.mp4");
    std::fs::create_dir_all(cache_dir).expect("cache dir");
    std::fs::write(cache_dir.join(&name), &bytes).expect("cached file");
    let conn = store.conn();
    let mut cat = catalog::load_from_db(conn).expect("catalogue");
    cat.version += 1;
    let file = CourseFile { url: "https://hub.example/c-clip.mp4".into(), size: bytes.len() as u64, sha256: sha.clone() };
    cat.courses.push(Course {
        id: "c-clip".into(),
        title: "测试视频".into(),
        title_en: "Test clip".into(),
        category: "测试".into(),
        required: false,
        duration_s: 3,
        credit_minutes: 1,
        poster: None,
        files: vec![file],
    });
    catalog::replace(conn, &cat, None).expect("catalogue replaced");
    cache::ensure(conn, &sha, "c-clip", "https://hub.example/c-clip.mp4", bytes.len() as u64, &name).expect("cache row");
    cache::mark_verified(conn, &sha, 0).expect("verified");
}

fn png_pixels(png: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut r = png::Decoder::new(std::io::Cursor::new(png)).read_info().expect("png");
    let mut buf = vec![0; r.output_buffer_size().expect("size")];
    let info = r.next_frame(&mut buf).expect("frame");
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Share of clearly non-black pixels in the band between the title bar and
/// the controls, where only the video is drawn.
fn video_band_lit(png: &[u8]) -> f64 {
    let (w, h, px) = png_pixels(png);
    let bpp = px.len() / (w * h) as usize;
    let (top, bottom) = (h / 4, h / 2);
    let mut lit = 0;
    for y in top..bottom {
        for x in 0..w {
            let i = ((y * w + x) as usize) * bpp;
            if px[i..i + 3].iter().any(|&c| c > 60) {
                lit += 1;
            }
        }
    }
    lit as f64 / ((bottom - top) * w) as f64
}

fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let t = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(40));
    }
}

const PIN: &str = "258036";

#[test]
fn the_headless_kiosk_plays_a_cached_course_for_real_and_runs_the_reader_test() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clip = dir.path().join("course.mp4");
    make_clip(&clip);
    let db = dir.path().join("kiosk.db");
    let cache_dir = dir.path().join("cache");
    let mut store = Store::open(&db).expect("store");
    assert!(microclass::demo::load_if_empty(&mut store).expect("demo data"));
    register(&store, &cache_dir, &clip);

    let (presenter, inbox) = kiosk::presenter();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let shell = Shell::new(CoreConfig::defaults("demo-centre", "ui-video"), store, clock, Box::new(SimIndicator::default()), presenter).expect("shell");
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let opts = UiOptions {
        backend: Backend::Headless,
        width: W,
        height: H,
        centre_name: "测试中心".into(),
        utc_offset_s: 8 * 3600,
        quota_hours: 32,
        minutes_per_hour: 45,
        pin_hash: Some(microclass::provision::pin::hash_pin(PIN).expect("PIN hash")),
        device_facts: vec![],
        hub_configured: false,
        hub: None,
        config_path: None,
        first_boot: false,
        boards: vec![],
        cache_dir: Some(cache_dir),
    };
    let (reader, card) = SimReader::new();
    spawn_reader(Box::new(reader), tx.clone(), stop.clone()).expect("reader thread");
    let (ui_tx, ui_stop) = (tx.clone(), stop.clone());
    let kiosk = std::thread::spawn(move || {
        let video = Box::new(GstVideo { max_w: W, max_h: H, audio: AudioOut::Fake });
        kiosk::run_with_video(opts, shell, rx, ui_tx, ui_stop, inbox, video)
    });
    let ui = UiHandle::new();
    let q = Duration::from_secs(5);
    let page = |ui: &UiHandle| ui.query(q, |k| k.page()).ok();
    // The loop answers only once the screen is up: no UI call before that.
    let (rtx, rrx) = mpsc::channel();
    tx.send(Input::Tap { uid: CardUid::parse(TRAINER).expect("uid"), reply: Some(rtx) }).expect("tap");
    rrx.recv_timeout(Duration::from_secs(20)).expect("tap answered");
    wait_for("the trainer panel", q, || page(&ui).filter(|p| *p == Page::Trainer));
    ui.input(microclass::ui::Touch::StartSession { schedule_id: String::new() }).expect("start");
    wait_for("the session", q, || ui.query(q, |k| k.view_state().trainer.session_running).ok().filter(|r| *r));

    ui.input(microclass::ui::Touch::Play("c-clip".into())).expect("play");
    wait_for("the player screen", q, || page(&ui).filter(|p| *p == Page::Player));
    let size = wait_for("a video frame", q, || ui.query(q, |k| k.video_frame_size()).ok().filter(|s| *s != (0, 0)));
    assert_eq!(size, (640, 360), "fits the 800x480 screen as it is: not enlarged, not copied bigger");
    // The player screen is black but for the video: a lit band is the clip's colour bars.
    wait_for("video on the screen", q, || {
        let png = ui.screenshot(q).ok()?;
        Some(video_band_lit(&png)).filter(|l| *l > 0.5)
    });

    // The clip ends by itself: the core hears PlayStopped and shows the panel again.
    wait_for("the end of the clip", Duration::from_secs(10), || page(&ui).filter(|p| *p == Page::Trainer));
    assert_eq!(ui.query(q, |k| k.video_frame_size()).expect("frame size"), (0, 0), "the last frame left the screen");
    ui.input(microclass::ui::Touch::EndSession).expect("end");
    wait_for("the idle screen", q, || page(&ui).filter(|p| *p == Page::Idle));

    // Reader test from the PIN-opened technician panel, with the simulated reader.
    ui.input(microclass::ui::Touch::OpenTechnician).expect("pad");
    for k in PIN.chars().map(String::from).chain(["ok".to_string()]) {
        ui.input(microclass::ui::Touch::PinKey(k)).expect("key");
    }
    wait_for("the technician panel", q, || page(&ui).filter(|p| *p == Page::Technician));
    ui.input(microclass::ui::Touch::ReaderTest).expect("reader test");
    assert_eq!(ui.query(q, |k| k.view_state().technician.reader_test).expect("state"), ReaderTestState::Waiting);
    std::thread::sleep(Duration::from_millis(100)); // the loop arms the test
    card.send(CardUid::parse("0A0B0C0D").expect("uid")).expect("card on the reader");
    let shown = wait_for("the reader test result", q, || ui.query(q, |k| k.view_state().technician.reader_test).ok().filter(|r| *r != ReaderTestState::Waiting));
    assert_eq!(shown, ReaderTestState::Ok("0A0B0C0D".into()));
    assert_eq!(page(&ui), Some(Page::Technician), "the test card was not a tap");

    stop.store(true, Ordering::SeqCst);
    let _ = tx.send(Input::Shutdown);
    kiosk.join().expect("kiosk thread").expect("kiosk ran");

    let store = Store::open(&db).expect("reopen");
    let (watched, end_pos, completed): (i64, i64, i64) =
        store.conn().query_row("SELECT watched_s, end_pos_s, completed FROM plays WHERE course_id = 'c-clip'", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).expect("one play");
    assert!((2..=3).contains(&watched), "watched {watched} s of a 3 s clip");
    assert_eq!((end_pos, completed), (3, 1), "played to the end");
    let test_taps: i64 = store.conn().query_row("SELECT count(*) FROM taps WHERE uid = '0A0B0C0D'", [], |r| r.get(0)).expect("taps");
    assert_eq!(test_taps, 0, "the reader test card is not recorded as a tap");
}
