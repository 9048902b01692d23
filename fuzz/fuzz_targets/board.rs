//! Fuzzes board files (TOML): a board or an error, never a panic; what
//! parses lists its GPIO uses without panicking either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microclass::board::Board;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(board) = Board::parse(text, Path::new("fuzz.toml")) {
        let _ = board.gpio_uses();
    }
});
