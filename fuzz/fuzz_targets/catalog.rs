//! Fuzzes the course catalogue parser (JSON or TOML): what parses is valid
//! and survives a round trip through the JSON the device stores.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microclass::library::catalog::Catalog;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(cat) = Catalog::parse(text) {
        cat.validate().expect("a parsed catalogue is valid");
        let again = Catalog::parse(&cat.to_json()).expect("its JSON parses again");
        assert_eq!(again, cat);
    }
});
