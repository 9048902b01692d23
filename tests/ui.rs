//! UI tests: every screen rendered by the software renderer in both languages
//! at the three panel sizes and compared with reviewed golden images
//! (tests/golden/, `UPDATE_GOLDEN=1` rewrites them); glyphs of the bundled CJK
//! font checked by pixels; the translation catalogue checked against the
//! .slint sources; and flows driven through the UI's Actions global into the
//! real kiosk core and store; and the kiosk process answering `screenshot`.

#[path = "ui/support.rs"]
mod ui_support;

mod golden {
    use super::ui_support::*;
    use microclass::ui::{samples, Lang};

    fn render_all_at(width: u32, height: u32) {
        let kit = Kit::new(width, height);
        let mut failures = Vec::new();
        for lang in Lang::all() {
            for sample in samples::all() {
                let frame = kit.render_sample(&sample, lang);
                let name = format!("{}-{}-{}x{}", sample.name, lang.code(), width, height);
                if let Err(e) = check_golden(&name, &frame) {
                    failures.push(e);
                }
            }
        }
        assert!(failures.is_empty(), "{} screen(s) differ from their golden image:\n{}", failures.len(), failures.join("\n"));
    }

    #[test]
    fn every_screen_matches_its_golden_image_at_800x480() {
        render_all_at(800, 480);
    }

    #[test]
    fn every_screen_matches_its_golden_image_at_1280x800() {
        render_all_at(1280, 800);
    }

    #[test]
    fn every_screen_matches_its_golden_image_at_1920x1080() {
        render_all_at(1920, 1080);
    }
}

#[path = "ui/glyphs.rs"]
mod glyphs;
#[path = "ui/translations.rs"]
mod translations;
#[path = "ui/flows.rs"]
mod flows;
#[path = "ui/process.rs"]
mod process;
