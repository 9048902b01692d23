//! "Sync now" from the technician panel: the screen's monitor of the uplink
//! sees the link go down and up, and a sync request connects at once instead
//! of after the reconnect backoff, then drains the backlog.

use super::*;

#[test]
fn sync_now_connects_without_waiting_for_the_backoff_and_drains() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::plain(&dir.path().join("broker"));
    broker.stop();
    let db = dir.path().join("k.db");
    fill(&db, 20, "sync");
    // A minute between attempts: without "sync now" nothing happens during this test.
    let cfg = HubConfig { reconnect_min_ms: 60_000, reconnect_max_ms: 60_000, ..hub_config(&broker.url()) };
    let up = start(cfg, &db);
    let monitor = up.monitor();
    wait_until(Duration::from_secs(10), "a failed first attempt", || monitor.status().last_error.is_some());
    assert!(!monitor.status().connected);
    broker.start();
    std::thread::sleep(Duration::from_millis(300));
    assert!(!monitor.status().connected, "the uplink is still waiting out its backoff");
    monitor.sync_now();
    wait_until(Duration::from_secs(10), "connected and drained after sync now", || {
        let st = monitor.status();
        st.connected && st.drained
    });
    assert_eq!(records_unsent(&db), 0);
    assert!(monitor.status().last_sync_ms.is_some());
    finish(up);
}
