//! The bundled font really draws Chinese: counted in pixels, not judged by eye.

use microclass::ui::generated::GlyphProbe;
use microclass::ui::HeadlessPlatform;
use slint::ComponentHandle;

fn ink(text: &str) -> usize {
    let probe = GlyphProbe::new().expect("probe");
    probe.set_text(text.into());
    probe.show().expect("show");
    let frame = HEADLESS.with(|h| h.render());
    probe.hide().expect("hide");
    frame.rgb.chunks(3).filter(|p| p[0] < 128 && p[1] < 128 && p[2] < 128).count()
}

thread_local! {
    static HEADLESS: microclass::ui::Headless = HeadlessPlatform::install(200, 60).expect("platform");
}

#[test]
fn chinese_text_is_drawn_with_the_bundled_font() {
    HEADLESS.with(|_| ());
    let blank = ink("");
    let hours = ink("学时");
    let tap = ink("请刷卡");
    assert_eq!(blank, 0, "an empty probe draws nothing");
    // a 40px CJK glyph has a few hundred dark pixels; tofu boxes or nothing would not
    assert!(hours > 300, "学时 drew only {hours} dark pixels");
    assert!(tap > hours, "three characters draw more ink than two ({tap} vs {hours})");
    assert_ne!(ink("学"), ink("时"), "different characters draw different shapes");
}
