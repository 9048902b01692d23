//! Brokers that answer slowly or not at all: the connect (TCP, CONNACK) runs
//! under one deadline nothing cancels, every failure is counted and backed
//! off, and a link with a 1 s one-way delay still delivers every record.

use super::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

/// Copies `from` to `to`, holding every chunk back by `delay` (a long link).
fn delayed_pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
    });
    std::thread::spawn(move || {
        for (due, bytes) in rx {
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

/// A TCP proxy to `upstream` with `delay` added in each direction.
fn delaying_proxy(upstream: u16, delay: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
            delayed_pipe(client.try_clone().unwrap(), server.try_clone().unwrap(), delay);
            delayed_pipe(server, client, delay);
        }
    });
    port
}

/// A broker that accepts connections and never says a word; counts them.
fn hung_broker() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let a = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming().flatten() {
            a.fetch_add(1, Ordering::SeqCst);
            held.push(c);
        }
    });
    (port, accepted)
}

#[test]
fn a_broker_one_second_away_in_each_direction_gets_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::plain(&dir.path().join("broker"));
    let hub = Hub::connect(broker.port, None);
    let port = delaying_proxy(broker.port, Duration::from_millis(1000));
    let db = dir.path().join("m.db");
    let ids = fill(&db, 60, "slow");
    let mut cfg = hub_config(&format!("mqtt://127.0.0.1:{port}"));
    cfg.connect_timeout_s = 20;
    cfg.keep_alive_s = 30;
    let up = start(cfg, &db);
    assert!(hub.wait_for_ids(&ids, Duration::from_secs(90)), "records missing at the hub");
    hub.assert_complete(&stream_of(&db), &ids);
    wait_until(Duration::from_secs(60), "rows marked sent", || records_unsent(&db) == 0);
    let st = up.status();
    assert!(st.counters.connects >= 1, "{st:?}");
    finish(up);
}

#[test]
fn a_broker_that_never_answers_is_timed_out_counted_and_backed_off() {
    let (port, accepted) = hung_broker();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    fill(&db, 5, "hung");
    let mut cfg = hub_config(&format!("mqtt://127.0.0.1:{port}"));
    cfg.connect_timeout_s = 1;
    cfg.reconnect_min_ms = 200;
    cfg.reconnect_max_ms = 400;
    let up = start(cfg, &db);
    wait_until(Duration::from_secs(60), "three timed-out connects", || up.status().counters.connect_failures >= 3);
    let st = up.status();
    let failures = st.counters.connect_failures as usize;
    // Each attempt ends by its own deadline, so connections and failures match
    // (one more attempt may be under way): nothing restarts a connect early.
    let conns = accepted.load(Ordering::SeqCst);
    assert!(conns <= failures + 1, "{conns} connections for {failures} failures");
    assert!(!st.connected);
    assert!(st.last_error.as_deref().is_some_and(|e| e.contains("Network timeout")), "{st:?}");
    up.stop().unwrap();
}
