//! Fuzzes the command handler: every payload gets an ack, the executor runs
//! at most once, and a repeated id is answered without running again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microclass::uplink::command::{respond, RecentAcks};

fuzz_target!(|data: &[u8]| {
    let mut recent = RecentAcks::default();
    let mut runs = 0;
    let ack = respond(data, 64 * 1024, 0, &mut recent, |_| {
        runs += 1;
        Ok(serde_json::json!({}))
    });
    assert!(runs <= 1);
    assert_eq!(ack.ok, runs == 1);
    let again = respond(data, 64 * 1024, 0, &mut recent, |_| {
        runs += 1;
        Ok(serde_json::json!({}))
    });
    assert!(runs <= 1);
    if ack.id.is_some() {
        assert_eq!(again, ack);
    }
});
