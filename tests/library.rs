//! Course library against real servers and processes: downloads from a loopback
//! HTTP server that misbehaves on purpose, a downloader process killed at random
//! points, and GStreamer playback of clips generated at test time.

mod common {
    use microclass::library::download::Sleeper;
    use std::sync::Mutex;
    use std::time::Duration;

    /// Records waits instead of sleeping.
    #[derive(Default)]
    pub struct NoSleep(pub Mutex<Vec<Duration>>);
    impl Sleeper for NoSleep {
        fn sleep(&self, d: Duration) {
            self.0.lock().unwrap().push(d);
        }
    }

    /// Deterministic pseudo-random bytes (a video stand-in).
    pub fn bytes(n: usize, seed: u8) -> Vec<u8> {
        let mut x = 0x9E37_79B9u32 ^ u32::from(seed);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    pub fn sha(data: &[u8]) -> String {
        microclass::library::disk::hash_reader(data).unwrap().0
    }
}

#[path = "library/download.rs"]
mod download;
#[path = "library/killed.rs"]
mod killed;
#[path = "library/playback.rs"]
mod playback;
