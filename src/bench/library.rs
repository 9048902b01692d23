//! `microclass bench library`: download + verify throughput against `curl` +
//! `sha256sum` of the same file from the same loopback server (target >= 0.9x),
//! and playback CPU seconds against `gst-launch-1.0 playbin` of the same clip
//! with the same sinks (target <= 1.1x). Both sides run in the same session on
//! the same files. Never touches the device's cache or database.

use crate::library::download::{Backoff, Downloader, Job, RealSleeper};
use crate::library::http::HttpClient;
use crate::library::testserver::TestServer;
use crate::library::disk;
use crate::player::gst::{AudioOut, GstOptions, GstPlayer, VideoOut};
use crate::player::{Player, PlayerEvent};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{tool} is needed for the baseline: {source}")]
    Tool { tool: &'static str, source: std::io::Error },
    #[error("{0}")]
    Failed(String),
    #[error("bench file error: {0}")]
    Io(#[from] std::io::Error),
}

fn failed(s: impl Into<String>) -> BenchError {
    BenchError::Failed(s.into())
}

#[derive(Debug)]
pub struct LibraryBench {
    pub size_mb: u64,
    pub ours_mbps: f64,
    pub curl_mbps: f64,
    pub clip_s: f64,
    pub ours_cpu_s: f64,
    pub gst_cpu_s: f64,
}

impl LibraryBench {
    pub fn report(&self) -> String {
        let dl = self.ours_mbps / self.curl_mbps;
        let cpu = self.ours_cpu_s / self.gst_cpu_s;
        let verdict = |ok: bool| if ok { "ok" } else { "BELOW TARGET" };
        format!(
            "download+verify {} MB: microclass {:.1} MB/s, curl+sha256sum {:.1} MB/s, ratio {:.2}x (target >= 0.9x) {}\n\
             playback {:.0} s clip: microclass {:.2} CPU s, gst-launch playbin {:.2} CPU s, ratio {:.2}x (target <= 1.1x) {}",
            self.size_mb,
            self.ours_mbps,
            self.curl_mbps,
            dl,
            verdict(dl >= 0.9),
            self.clip_s,
            self.ours_cpu_s,
            self.gst_cpu_s,
            cpu,
            verdict(cpu <= 1.1)
        )
    }
}

/// Runs both comparisons in `dir` (created and left for the caller to remove).
pub fn run(dir: &Path, size_mb: u64, clip_s: u32, rounds: u32) -> Result<LibraryBench, BenchError> {
    std::fs::create_dir_all(dir)?;
    let (ours_mbps, curl_mbps) = download(dir, size_mb, rounds.max(1))?;
    let clip = make_clip(dir, clip_s)?;
    let (ours_cpu_s, gst_cpu_s) = playback(&clip, rounds.max(1))?;
    Ok(LibraryBench { size_mb, ours_mbps, curl_mbps, clip_s: f64::from(clip_s), ours_cpu_s, gst_cpu_s })
}

fn download(dir: &Path, size_mb: u64, rounds: u32) -> Result<(f64, f64), BenchError> {
    let src = dir.join("source.bin");
    let size = size_mb * 1024 * 1024;
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&src)?);
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut block = vec![0u8; 1024 * 1024];
        for _ in 0..size_mb {
            for b in block.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.copy_from_slice(&x.to_le_bytes());
            }
            f.write_all(&block)?;
        }
    }
    let (sha, _) = disk::hash_file(&src)?;
    let server = TestServer::start()?;
    server.add_file("/v/bench.mp4", src.clone());
    let url = server.url("/v/bench.mp4");
    let client = HttpClient::new(Duration::from_secs(5), Duration::from_secs(30), None);
    let (mut best_ours, mut best_curl) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        // Baseline: curl to a file, then sha256sum of it.
        let out = dir.join("curl.bin");
        let t = Instant::now();
        let st = Command::new("curl").args(["-s", "-f", "-o"]).arg(&out).arg(&url).status().map_err(|source| BenchError::Tool { tool: "curl", source })?;
        if !st.success() {
            return Err(failed("curl failed"));
        }
        let sum = Command::new("sha256sum").arg(&out).output().map_err(|source| BenchError::Tool { tool: "sha256sum", source })?;
        best_curl = best_curl.min(t.elapsed().as_secs_f64());
        if !String::from_utf8_lossy(&sum.stdout).starts_with(&sha) {
            return Err(failed("sha256sum disagrees with the source file"));
        }
        std::fs::remove_file(&out)?;

        // Ours: resumable download, hashed on the way, fsynced, renamed.
        let dest = dir.join("ours.mp4");
        let d = Downloader { client: &client, sleeper: &RealSleeper, backoff: Backoff { base_ms: 100, max_ms: 1000 }, max_attempts: 1, min_free_bytes: 0, cancel: None };
        let t = Instant::now();
        d.fetch(&Job { url: url.clone(), size, sha256: sha.clone(), dest: dest.clone() }, &mut |_| {}).map_err(|e| failed(e.to_string()))?;
        best_ours = best_ours.min(t.elapsed().as_secs_f64());
        std::fs::remove_file(&dest)?;
    }
    let _ = std::fs::remove_file(&src);
    let mb = size as f64 / 1e6;
    Ok((mb / best_ours, mb / best_curl))
}

fn make_clip(dir: &Path, secs: u32) -> Result<PathBuf, BenchError> {
    let out = dir.join("clip.mp4");
    let frames = secs * 30;
    let buffers = secs * 44_100 / 1024;
    let pipeline = format!(
        "videotestsrc num-buffers={frames} pattern=ball ! video/x-raw,format=I420,width=1280,height=720,framerate=30/1 ! x264enc speed-preset=ultrafast ! h264parse ! mp4mux name=m ! filesink location={} audiotestsrc num-buffers={buffers} ! audioconvert ! avenc_aac ! m.",
        out.display()
    );
    let st = Command::new("gst-launch-1.0")
        .arg("-q")
        .args(pipeline.split_whitespace())
        .status()
        .map_err(|source| BenchError::Tool { tool: "gst-launch-1.0", source })?;
    if !st.success() {
        return Err(failed("gst-launch-1.0 could not make the test clip"));
    }
    Ok(out)
}

/// CPU seconds (user + system) of a child process, from wait4's rusage.
fn child_cpu(mut cmd: Command) -> Result<f64, BenchError> {
    let child = cmd.stdout(Stdio::null()).spawn().map_err(|source| BenchError::Tool { tool: "player process", source })?;
    let pid = child.id() as libc::pid_t;
    // SAFETY: waits for our own child and fills a plain C struct.
    let (rc, status, ru) = unsafe {
        let mut status = 0;
        let mut ru: libc::rusage = std::mem::zeroed();
        let rc = libc::wait4(pid, &mut status, 0, &mut ru);
        (rc, status, ru)
    };
    if rc != pid || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(failed(format!("{cmd:?} failed")));
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(tv(ru.ru_utime) + tv(ru.ru_stime))
}

fn playback(clip: &Path, rounds: u32) -> Result<(f64, f64), BenchError> {
    let uri = format!("file://{}", std::path::absolute(clip)?.display());
    let exe = std::env::current_exe()?;
    let (mut ours, mut gst) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        let mut base = Command::new("gst-launch-1.0");
        base.args(["-q", "playbin", &format!("uri={uri}"), "video-sink=fakesink sync=false", "audio-sink=fakesink sync=false"]);
        gst = gst.min(child_cpu(base)?);
        let mut me = Command::new(&exe);
        me.args(["bench", "library", "--play-child"]).arg(clip);
        ours = ours.min(child_cpu(me)?);
    }
    Ok((ours, gst))
}

/// The measured side of the playback comparison: plays `clip` to the end with
/// the same sinks as the baseline, as fast as it decodes.
pub fn play_child(clip: &Path) -> Result<(), BenchError> {
    let opts = GstOptions { video: VideoOut::Fake, audio: AudioOut::Fake, sync: false, wait: Duration::from_secs(10) };
    let mut p = GstPlayer::new(opts).map_err(|e| failed(e.to_string()))?;
    p.play(&[clip.to_path_buf()]).map_err(|e| failed(e.to_string()))?;
    let end = Instant::now() + Duration::from_secs(300);
    while Instant::now() < end {
        match p.next_event(Duration::from_millis(200)) {
            Some(PlayerEvent::EndOfStream) => return Ok(()),
            Some(PlayerEvent::Error { message, .. }) => return Err(failed(message)),
            _ => {}
        }
    }
    Err(failed("playback did not finish"))
}
