//! Fuzzes the downloader against a loopback server that answers with the fuzz
//! bytes as its whole HTTP response (head and body): the download lands a
//! file of exactly the catalogue's size and hash, or fails with an error;
//! never a panic, and never an unverified file under the final name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microclass::library::disk;
use microclass::library::download::{Backoff, Downloader, Job, Sleeper};
use microclass::library::http::HttpClient;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

struct NoSleep;
impl Sleeper for NoSleep {
    fn sleep(&self, _: Duration) {}
}

fuzz_target!(|data: &[u8]| {
    // A redirect could point anywhere; the target only talks to itself.
    if data.windows(8).any(|w| w.eq_ignore_ascii_case(b"location")) {
        return;
    }
    let Some((&size, response)) = data.split_first() else { return };
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let response = response.to_vec();
    let server = std::thread::spawn(move || {
        let Ok((mut conn, _)) = listener.accept() else { return };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf);
        let _ = conn.write_all(&response);
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let dest = dir.path().join("file.mp4");
    let size = u64::from(size % 64) + 1;
    // The hash of `size` bytes of 'x': a response can satisfy it.
    let want = disk::hash_reader(&vec![b'x'; size as usize][..]).expect("hash").0;
    let client = HttpClient::new(Duration::from_secs(2), Duration::from_millis(500), None);
    let d = Downloader {
        client: &client,
        sleeper: &NoSleep,
        backoff: Backoff { base_ms: 1, max_ms: 1 },
        max_attempts: 1,
        min_free_bytes: 0,
        cancel: None,
    };
    let job = Job { url: format!("http://{addr}/v/file.mp4"), size, sha256: want.clone(), dest: dest.clone() };
    match d.fetch(&job, &mut |_| {}) {
        Ok(_) => assert_eq!(disk::hash_file(&dest).expect("landed").0, want),
        Err(_) => assert!(!dest.exists(), "a failed download left a file under its final name"),
    }
    server.join().expect("server thread");
});
