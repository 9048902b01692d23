//! Fuzzes opening a database file: arbitrary bytes as `microclass.db` make
//! `Store::open` succeed or return an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("microclass.db");
    std::fs::write(&path, data).expect("write the file");
    let _ = microclass::store::Store::open(&path);
});
