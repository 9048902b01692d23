//! Framing of keyboard-wedge readers: which key presses make up one card
//! number. A number ends at its terminator (Enter, Tab, a fixed length, or
//! a pause); the board's prefix and suffix are stripped; the body must have
//! one of the board's exact lengths; then `wedge_decode` makes the UID.
//!
//! Never glued, never guessed: a burst is the keys that follow each other
//! within `partial_timeout_ms`; a partial number is dropped (and counted)
//! before the next burst starts; after lost keystrokes (SYN_DROPPED) the
//! number in progress is dropped and the rest of that burst ignored;
//! auto-repeat and key releases never add characters. Every rejected number
//! comes back as an error for the caller to count. No I/O, never panics.

use super::wedge_decode::{decode, Decoding, WedgeError};
use crate::model::CardUid;
use evdev::Key;

/// What ends a card number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Terminator {
    /// Enter or keypad Enter.
    #[default]
    Enter,
    Tab,
    /// No terminator: the number ends when it reaches `lengths` (one value).
    Length,
    /// No terminator: the number ends after `partial_timeout_ms` without a key.
    Timeout,
}

/// How one board's reader frames a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framing {
    pub terminator: Terminator,
    pub prefix: String,
    pub suffix: String,
    /// Exact body lengths accepted (characters between prefix and suffix); empty: any.
    pub lengths: Vec<usize>,
    /// Longest pause between two keys of one number.
    pub partial_timeout_ms: u64,
    pub decoding: Decoding,
}

impl Default for Framing {
    fn default() -> Self {
        Framing {
            terminator: Terminator::Enter,
            prefix: String::new(),
            suffix: String::new(),
            lengths: Vec::new(),
            partial_timeout_ms: 100,
            decoding: Decoding::default(),
        }
    }
}

/// Longest number kept; anything longer is garbage.
const MAX_TYPED: usize = 64;

/// One event from the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEvent {
    /// EV_KEY: `value` 1 press, 0 release, 2 auto-repeat.
    Key { code: u16, value: i32 },
    /// SYN_DROPPED: the kernel's buffer overflowed and events were lost.
    Dropped,
}

impl KeyEvent {
    pub fn press(key: Key) -> KeyEvent {
        KeyEvent::Key { code: key.code(), value: 1 }
    }
    pub fn release(key: Key) -> KeyEvent {
        KeyEvent::Key { code: key.code(), value: 0 }
    }
}

/// The character a key types on a US layout, with or without Shift.
fn key_char(code: u16, shift: bool) -> Option<char> {
    const DIGITS: [Key; 10] =
        [Key::KEY_0, Key::KEY_1, Key::KEY_2, Key::KEY_3, Key::KEY_4, Key::KEY_5, Key::KEY_6, Key::KEY_7, Key::KEY_8, Key::KEY_9];
    const KEYPAD: [Key; 10] =
        [Key::KEY_KP0, Key::KEY_KP1, Key::KEY_KP2, Key::KEY_KP3, Key::KEY_KP4, Key::KEY_KP5, Key::KEY_KP6, Key::KEY_KP7, Key::KEY_KP8, Key::KEY_KP9];
    const SHIFTED_DIGITS: &[u8; 10] = b")!@#$%^&*(";
    const LETTERS: [Key; 26] = [
        Key::KEY_A, Key::KEY_B, Key::KEY_C, Key::KEY_D, Key::KEY_E, Key::KEY_F, Key::KEY_G, Key::KEY_H, Key::KEY_I,
        Key::KEY_J, Key::KEY_K, Key::KEY_L, Key::KEY_M, Key::KEY_N, Key::KEY_O, Key::KEY_P, Key::KEY_Q, Key::KEY_R,
        Key::KEY_S, Key::KEY_T, Key::KEY_U, Key::KEY_V, Key::KEY_W, Key::KEY_X, Key::KEY_Y, Key::KEY_Z,
    ];
    const SYMBOLS: [(Key, char, char); 11] = [
        (Key::KEY_SEMICOLON, ';', ':'),
        (Key::KEY_SLASH, '/', '?'),
        (Key::KEY_MINUS, '-', '_'),
        (Key::KEY_EQUAL, '=', '+'),
        (Key::KEY_DOT, '.', '>'),
        (Key::KEY_COMMA, ',', '<'),
        (Key::KEY_APOSTROPHE, '\'', '"'),
        (Key::KEY_LEFTBRACE, '[', '{'),
        (Key::KEY_RIGHTBRACE, ']', '}'),
        (Key::KEY_BACKSLASH, '\\', '|'),
        (Key::KEY_SPACE, ' ', ' '),
    ];
    if let Some(i) = DIGITS.iter().position(|k| k.code() == code) {
        return Some(if shift { SHIFTED_DIGITS[i] as char } else { (b'0' + i as u8) as char });
    }
    if let Some(i) = KEYPAD.iter().position(|k| k.code() == code) {
        return Some((b'0' + i as u8) as char);
    }
    if let Some(i) = LETTERS.iter().position(|k| k.code() == code) {
        // Readers type hex in either case; the canonical form is upper case.
        return Some((b'A' + i as u8) as char);
    }
    SYMBOLS.iter().find(|(k, _, _)| k.code() == code).map(|(_, plain, shifted)| if shift { *shifted } else { *plain })
}

fn is_shift(code: u16) -> bool {
    code == Key::KEY_LEFTSHIFT.code() || code == Key::KEY_RIGHTSHIFT.code()
}

fn is_ignored(code: u16) -> bool {
    [Key::KEY_NUMLOCK, Key::KEY_CAPSLOCK, Key::KEY_LEFTCTRL, Key::KEY_RIGHTCTRL].iter().any(|k| k.code() == code)
}

fn terminator_of(code: u16) -> Option<Terminator> {
    if code == Key::KEY_ENTER.code() || code == Key::KEY_KPENTER.code() {
        Some(Terminator::Enter)
    } else if code == Key::KEY_TAB.code() {
        Some(Terminator::Tab)
    } else {
        None
    }
}

/// Assembles key events into card numbers.
#[derive(Debug)]
pub struct KeyAssembler {
    framing: Framing,
    buf: String,
    garbage: bool,
    /// After SYN_DROPPED: ignore keys until the burst ends.
    discarding: bool,
    shift: bool,
    last_ms: i64,
}

impl KeyAssembler {
    pub fn new(framing: Framing) -> Self {
        KeyAssembler { framing, buf: String::new(), garbage: false, discarding: false, shift: false, last_ms: 0 }
    }

    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty() || self.garbage || self.discarding
    }

    /// When the current burst ends if no key comes (if there is one).
    pub fn expires_at(&self) -> Option<i64> {
        self.has_partial().then_some(self.last_ms + self.framing.partial_timeout_ms as i64)
    }

    /// Ends a burst that has been quiet for longer than the pause: with
    /// `terminator = "timeout"` that completes the number, otherwise a
    /// partial number is dropped and reported.
    pub fn expire(&mut self, now_ms: i64) -> Option<Result<CardUid, WedgeError>> {
        match self.expires_at() {
            Some(t) if now_ms > t => {
                if std::mem::take(&mut self.discarding) {
                    self.clear();
                    return None;
                }
                if self.framing.terminator == Terminator::Timeout {
                    return self.finish();
                }
                let partial = std::mem::take(&mut self.buf);
                self.garbage = false;
                Some(Err(WedgeError::Partial(partial)))
            }
            _ => None,
        }
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.garbage = false;
    }

    fn finish(&mut self) -> Option<Result<CardUid, WedgeError>> {
        let typed = std::mem::take(&mut self.buf);
        let garbage = std::mem::replace(&mut self.garbage, false);
        if typed.is_empty() && !garbage {
            return None;
        }
        if garbage {
            return Some(Err(WedgeError::Garbage(typed)));
        }
        Some(self.unframe(&typed))
    }

    /// Strips prefix and suffix, checks the length, decodes.
    fn unframe(&self, typed: &str) -> Result<CardUid, WedgeError> {
        let f = &self.framing;
        let body = typed
            .strip_prefix(f.prefix.as_str())
            .and_then(|b| b.strip_suffix(f.suffix.as_str()))
            .ok_or_else(|| WedgeError::Framing(typed.into()))?;
        if !f.lengths.is_empty() && !f.lengths.contains(&body.len()) {
            let want = f.lengths.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" or ");
            return Err(WedgeError::WrongDigits { typed: typed.into(), got: body.len(), want });
        }
        if body.is_empty() || !body.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(WedgeError::Garbage(typed.into()));
        }
        decode(body, &f.decoding)
    }

    /// Feeds one event; returns the numbers it completed or rejected (a new
    /// burst can drop the previous partial and complete nothing, so up to two).
    pub fn feed(&mut self, ev: KeyEvent, now_ms: i64) -> Vec<Result<CardUid, WedgeError>> {
        let mut out = Vec::new();
        let (code, value) = match ev {
            KeyEvent::Dropped => {
                let lost = self.has_partial() && !self.discarding;
                self.clear();
                self.discarding = true;
                self.last_ms = now_ms;
                if lost {
                    out.push(Err(WedgeError::Dropped));
                }
                return out;
            }
            KeyEvent::Key { code, value } => (code, value),
        };
        if is_shift(code) {
            self.shift = value != 0;
            return out;
        }
        if value != 1 {
            return out; // releases and auto-repeat type nothing
        }
        out.extend(self.expire(now_ms));
        self.last_ms = now_ms;
        if self.discarding {
            if terminator_of(code).is_some() {
                self.discarding = false;
                self.clear();
            }
            return out;
        }
        if let Some(t) = terminator_of(code) {
            if t == self.framing.terminator {
                out.extend(self.finish());
            } else if self.has_partial() {
                // A terminator this board does not use: end the number, but never accept it.
                let typed = std::mem::take(&mut self.buf);
                self.garbage = false;
                out.push(Err(WedgeError::Framing(format!("{typed}<{t:?}>"))));
            }
            return out;
        }
        match key_char(code, self.shift) {
            Some(c) if self.buf.len() < MAX_TYPED => self.buf.push(c),
            Some(_) => self.garbage = true,
            None if is_ignored(code) => {}
            None => self.garbage = true,
        }
        if self.framing.terminator == Terminator::Length {
            let body = self.framing.lengths.iter().max().copied().unwrap_or(0);
            if body > 0 && self.buf.len() >= self.framing.prefix.len() + body + self.framing.suffix.len() {
                out.extend(self.finish());
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "wedge_framing_tests.rs"]
mod tests;
