//! Fuzzes a USB stick's manifest: arbitrary bytes as its `catalog.json`
//! (JSON or TOML), imported into a fresh device. The import applies it or
//! refuses it, never panics, and writes nothing outside the device's cache.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microclass::clock::TestClock;
use microclass::library::progress::NoProgress;
use microclass::library::{usb, LibraryConfig};

fuzz_target!(|data: &[u8]| {
    let root = tempfile::tempdir().expect("temp dir");
    let stick = root.path().join("stick");
    let cache = root.path().join("cache");
    std::fs::create_dir_all(stick.join(usb::FILES_DIR)).expect("stick");
    std::fs::write(stick.join(usb::CATALOG_JSON), data).expect("manifest");
    // Files a manifest may name: by URL base name, in files/ and at the top.
    std::fs::write(stick.join(usb::FILES_DIR).join("a.mp4"), b"a").expect("file");
    std::fs::write(stick.join("b.mp4"), b"bb").expect("file");
    let mut conn = rusqlite::Connection::open_in_memory().expect("database");
    microclass::store::migrations::migrate(&mut conn).expect("schema");
    let cfg = LibraryConfig { cache_dir: cache.clone(), min_free_bytes: 0, ..Default::default() };
    let _ = usb::import(&conn, &cfg, &TestClock::at(1_000), &stick, Some("c1"), &mut NoProgress);
    for e in std::fs::read_dir(root.path()).expect("list") {
        let name = e.expect("entry").file_name();
        assert!(name == "stick" || name == "cache", "import wrote {name:?} outside the cache");
    }
    assert!(std::fs::read(stick.join("b.mp4")).expect("stick file") == b"bb", "the stick is read-only to import");
});
