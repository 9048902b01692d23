//! Fuzzes the control socket's line parser: every line is a command or a
//! reason, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microclass::app::control::{parse, Command};

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    match parse(line) {
        Ok(Command::Screenshot(p)) => assert!(p.is_absolute()),
        Ok(_) => {}
        Err(why) => assert!(!why.is_empty()),
    }
});
