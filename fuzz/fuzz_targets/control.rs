//! Fuzzes the control socket: framing (length limit, UTF-8) and every line's
//! answer. A line is answered with a reason or handed to the kiosk, never a
//! panic; with the kiosk gone (receiver dropped) nothing can block.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microclass::app::control::answer;
use microclass::app::framing::{read_frame, Frame};

fuzz_target!(|data: &[u8]| {
    let (tx, rx) = std::sync::mpsc::channel();
    drop(rx);
    let mut reader = std::io::BufReader::new(data);
    for _ in 0..64 {
        match read_frame(&mut reader, 4096) {
            Ok(Some(Frame::Line(line))) => assert!(!answer(&line, &tx, None).to_string().is_empty()),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
});
