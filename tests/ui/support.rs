//! Test kit: a headless kiosk UI on the test's own thread, sample rendering,
//! and the golden-image comparison (grayscale, reduced resolution, 16 levels).

use microclass::clock::{Clock, TestClock};
use microclass::ui::samples::{self, Sample};
use microclass::ui::{Frame, Headless, HeadlessPlatform, KioskUi, Lang, UiAction};
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

pub struct Kit {
    pub headless: Headless,
    pub ui: KioskUi,
    pub actions: Rc<RefCell<Vec<UiAction>>>,
    pub clock: TestClock,
}

impl Kit {
    /// Installs the headless platform on this thread and creates the kiosk UI.
    pub fn new(width: u32, height: u32) -> Kit {
        let headless = HeadlessPlatform::install(width, height).expect("headless platform");
        let clock = TestClock::at(samples::NOW_MS);
        let actions: Rc<RefCell<Vec<UiAction>>> = Rc::default();
        let sink = actions.clone();
        let c: Arc<dyn Clock> = Arc::new(clock.clone());
        let ui = KioskUi::new(c, move |a| sink.borrow_mut().push(a)).expect("kiosk UI");
        slint::ComponentHandle::show(ui.window()).expect("show");
        ui.set_ambient(samples::ambient());
        Kit { headless, ui, actions, clock }
    }

    pub fn take_actions(&self) -> Vec<UiAction> {
        std::mem::take(&mut *self.actions.borrow_mut())
    }

    /// Puts the UI in the sample's state and renders it.
    pub fn render_sample(&self, sample: &Sample, lang: Lang) -> Frame {
        let mut ambient = samples::ambient();
        ambient.first_boot = sample.first_boot;
        // leave the wizard of a previous sample, start a fresh one if needed
        self.ui.update_ambient(|a| a.first_boot = false);
        self.ui.set_ambient(ambient);
        self.ui.set_language(lang);
        self.ui.show(sample.screen.clone());
        for input in &sample.inputs {
            self.ui.input(input.clone());
        }
        self.ui.set_playback(microclass::ui::Playback { position_s: 312, duration_s: 900, paused: false });
        self.take_actions();
        assert_eq!(self.ui.page(), sample.page, "sample {} shows the wrong page", sample.name);
        self.headless.render()
    }
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Reduces a frame to what a golden image keeps: luminance, downscaled by an
/// integer factor to at most 640 px wide, 16 levels.
pub fn reduce(frame: &Frame) -> (u32, u32, Vec<u8>) {
    let f = frame.width.div_ceil(640).max(1);
    let (w, h) = (frame.width / f, frame.height / f);
    let mut out = Vec::with_capacity((w * h) as usize);
    for y in 0..h {
        for x in 0..w {
            let mut sum = 0u32;
            for dy in 0..f {
                for dx in 0..f {
                    let i = (((y * f + dy) * frame.width + (x * f + dx)) * 3) as usize;
                    let (r, g, b) = (frame.rgb[i] as u32, frame.rgb[i + 1] as u32, frame.rgb[i + 2] as u32);
                    sum += (299 * r + 587 * g + 114 * b) / 1000;
                }
            }
            out.push(((sum / (f * f)) >> 4) as u8);
        }
    }
    (w, h, out)
}

fn encode_gray4(w: u32, h: u32, levels: &[u8]) -> Vec<u8> {
    let row = (w as usize).div_ceil(2);
    let mut packed = vec![0u8; row * h as usize];
    for y in 0..h as usize {
        for x in 0..w as usize {
            let v = levels[y * w as usize + x] & 0x0f;
            packed[y * row + x / 2] |= if x % 2 == 0 { v << 4 } else { v };
        }
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Four);
    enc.set_compression(png::Compression::High);
    let mut wr = enc.write_header().expect("png header");
    wr.write_image_data(&packed).expect("png data");
    wr.finish().expect("png end");
    out
}

fn decode_gray4(bytes: &[u8]) -> Result<(u32, u32, Vec<u8>), String> {
    let mut dec = png::Decoder::new(std::io::Cursor::new(bytes));
    dec.set_transformations(png::Transformations::IDENTITY);
    let mut r = dec.read_info().map_err(|e| e.to_string())?;
    let mut buf = vec![0; r.output_buffer_size().ok_or("png too large")?];
    let info = r.next_frame(&mut buf).map_err(|e| e.to_string())?;
    if info.bit_depth != png::BitDepth::Four || info.color_type != png::ColorType::Grayscale {
        return Err("golden is not a 4-bit grayscale PNG".into());
    }
    let (w, h) = (info.width, info.height);
    let row = info.line_size;
    let mut out = Vec::with_capacity((w * h) as usize);
    for y in 0..h as usize {
        for x in 0..w as usize {
            let b = buf[y * row + x / 2];
            out.push(if x % 2 == 0 { b >> 4 } else { b & 0x0f });
        }
    }
    Ok((w, h, out))
}

/// Share of pixels allowed to differ by more than one level (renderer
/// rounding across CPUs); a changed word or moved element exceeds it.
const TOLERANCE: f64 = 0.0005;

/// Compares with tests/golden/<name>.png, or writes it with UPDATE_GOLDEN=1.
/// A failing frame is written to target/golden-failures/ for review.
pub fn check_golden(name: &str, frame: &Frame) -> Result<(), String> {
    let (w, h, levels) = reduce(frame);
    if let Some(dir) = std::env::var_os("UI_DUMP_DIR") {
        // full-resolution colour renders, for reviewing goldens by eye
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(PathBuf::from(dir).join(format!("{name}.png")), frame.png().map_err(|e| e.to_string())?);
    }
    let path = golden_dir().join(format!("{name}.png"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_dir()).map_err(|e| e.to_string())?;
        std::fs::write(&path, encode_gray4(w, h, &levels)).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let failure = |why: String| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/golden-failures");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{name}.png")), encode_gray4(w, h, &levels));
        if let Ok(full) = frame.png() {
            let _ = std::fs::write(dir.join(format!("{name}-full.png")), full);
        }
        format!("{name}: {why} (actual in target/golden-failures/; UPDATE_GOLDEN=1 rewrites goldens)")
    };
    let bytes = std::fs::read(&path).map_err(|e| failure(format!("no golden image {} ({e})", path.display())))?;
    let (gw, gh, golden) = decode_gray4(&bytes).map_err(&failure)?;
    if (gw, gh) != (w, h) {
        return Err(failure(format!("size {w}x{h}, golden {gw}x{gh}")));
    }
    let differing = levels.iter().zip(&golden).filter(|(a, b)| a.abs_diff(**b) > 1).count();
    let share = differing as f64 / levels.len() as f64;
    if share > TOLERANCE {
        return Err(failure(format!("{differing} pixels ({:.3}%) differ", share * 100.0)));
    }
    Ok(())
}
