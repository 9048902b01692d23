//! Bounded line framing for the kiosk's text inputs (the control socket and
//! stdin taps): a line is read up to a byte limit, the rest of an overlong
//! line is skipped without being stored, and bytes that are not UTF-8 are
//! reported instead of ending the reader. Never allocates more than the limit.

use std::io::BufRead;

/// One framed line, or why it is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A line without its `\n` (and without a trailing `\r`).
    Line(String),
    /// Longer than the limit: `len` bytes up to the newline (or the end).
    TooLong { len: usize },
    /// Not valid UTF-8.
    NotUtf8,
}

/// Reads the next line of at most `max` bytes. `Ok(None)` at end of input.
pub fn read_frame(r: &mut impl BufRead, max: usize) -> std::io::Result<Option<Frame>> {
    let mut line = Vec::new();
    let mut len = 0usize;
    let mut seen_any = false;
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if !seen_any {
                return Ok(None);
            }
            break;
        }
        seen_any = true;
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        len += chunk.len();
        if len <= max {
            line.extend_from_slice(chunk);
        } else {
            line = Vec::new();
        }
        let used = done.unwrap_or(chunk.len());
        r.consume(used);
        if done.is_some() {
            break;
        }
    }
    if len > max {
        return Ok(Some(Frame::TooLong { len }));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(match String::from_utf8(line) {
        Ok(s) => Frame::Line(s),
        Err(_) => Frame::NotUtf8,
    }))
}

/// Logs a problem the first time, then only every `every`th time with the
/// count, so a flood of bad input cannot flood the log.
#[derive(Debug, Default)]
pub struct Throttle {
    seen: u64,
}

impl Throttle {
    /// True when this occurrence should be logged; `count()` says how many so far.
    pub fn should_log(&mut self, every: u64) -> bool {
        self.seen += 1;
        self.seen == 1 || self.seen % every.max(1) == 0
    }

    pub fn count(&self) -> u64 {
        self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn frames(input: &[u8], max: usize) -> Vec<Frame> {
        // A small buffer so lines cross buffer boundaries.
        let mut r = std::io::BufReader::with_capacity(3, Cursor::new(input.to_vec()));
        std::iter::from_fn(|| read_frame(&mut r, max).unwrap()).collect()
    }

    #[test]
    fn lines_are_split_at_newlines_and_lose_a_trailing_carriage_return() {
        assert_eq!(frames(b"ping\r\ntap 04A1\nlast", 64), vec![Frame::Line("ping".into()), Frame::Line("tap 04A1".into()), Frame::Line("last".into())]);
    }

    #[test]
    fn an_overlong_line_is_reported_with_its_length_and_the_next_line_still_reads() {
        let mut input = vec![b'x'; 100];
        input.extend_from_slice(b"\nping\n");
        assert_eq!(frames(&input, 10), vec![Frame::TooLong { len: 100 }, Frame::Line("ping".into())]);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_reported_and_do_not_end_the_input() {
        assert_eq!(frames(b"\xff\xfe\n04A1\n", 64), vec![Frame::NotUtf8, Frame::Line("04A1".into())]);
    }

    #[test]
    fn the_throttle_logs_the_first_and_then_every_nth() {
        let mut t = Throttle::default();
        let logged: Vec<bool> = (0..5).map(|_| t.should_log(2)).collect();
        assert_eq!(logged, vec![true, true, false, true, false]);
        assert_eq!(t.count(), 5);
    }
}
