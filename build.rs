//! Compiles the kiosk's Slint UI (ui/app.slint) with its bundled translations.
//! Kept to one compile call so incremental builds stay fast.

fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_style("fluent".into())
        .with_bundled_translations("ui/translations")
        .with_default_translation_context(slint_build::DefaultTranslationContext::None);
    slint_build::compile_with_config("ui/app.slint", config).expect("Slint UI (ui/app.slint) must compile");
}
