//! Fuzzes the device config parser: any text is a config or an error naming
//! the problem, never a panic; a text that parses ready also parses "any".
#![no_main]

use libfuzzer_sys::fuzz_target;
use microclass::config::{Config, Loaded};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let ready = Config::parse(text);
    let any = Config::parse_any(text);
    if ready.is_ok() {
        assert!(matches!(any, Ok(Loaded::Ready(_))));
    }
});
