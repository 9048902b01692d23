//! Simulated ISO 14443-3A cards (PICCs) for the simulated MFRC522: the card
//! state machine (IDLE, READY, ACTIVE, HALT), answers to REQA/WUPA,
//! bit-oriented anticollision, SELECT and HLTA, and faults seen in the field
//! (dropouts, corrupted CRC, a card pulled away mid-read). Frames are bit
//! strings, so two cards answering at once can be merged bit by bit.
//! Test and benchmark support only: it never touches real hardware.

use super::iso14443a::{self, Uid, CASCADE_TAG, HLTA, NVB_SELECT, REQA, SAK_CASCADE_BIT, WUPA};

/// A frame on the air: `nbits` bits, LSB of `bytes[0]` first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bits {
    pub bytes: Vec<u8>,
    pub nbits: usize,
}

impl Bits {
    pub fn from_bytes(bytes: &[u8]) -> Bits {
        Bits { bytes: bytes.to_vec(), nbits: bytes.len() * 8 }
    }
    pub fn get(&self, i: usize) -> bool {
        self.bytes.get(i / 8).is_some_and(|b| b >> (i % 8) & 1 == 1)
    }
    pub fn push(&mut self, bit: bool) {
        if self.nbits % 8 == 0 {
            self.bytes.push(0);
        }
        if bit {
            let last = self.bytes.len() - 1;
            self.bytes[last] |= 1 << (self.nbits % 8);
        }
        self.nbits += 1;
    }
    /// Bits `from..` of `self`.
    pub fn tail(&self, from: usize) -> Bits {
        let mut out = Bits::default();
        for i in from..self.nbits {
            out.push(self.get(i));
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardState {
    Idle,
    /// Waiting for anticollision/select at this cascade level.
    Ready(u8),
    Active,
    Halt,
}

/// Faults a card shows in the field.
#[derive(Debug, Clone, Default)]
pub struct CardFaults {
    /// Ignore every n-th REQA/WUPA (n >= 2), as a card at the edge of the
    /// field does.
    pub miss_every_nth_request: Option<u32>,
    /// Ignore REQA/WUPA with this probability (seeded, reproducible).
    pub miss_probability: Option<(f64, u64)>,
    /// Corrupt the CRC_A of this many SAK answers.
    pub corrupt_sak_crc: u32,
    /// Leave the field after answering this many frames.
    pub leave_after_answers: Option<u32>,
}

/// One card in the simulated field.
#[derive(Debug, Clone)]
pub struct SimCard {
    pub uid: Uid,
    /// SAK of the last cascade level (0x08 MIFARE Classic 1K, 0x00 Ultralight).
    pub sak: u8,
    pub state: CardState,
    /// Entered READY/ACTIVE from HALT (falls back to HALT, not IDLE).
    woken_from_halt: bool,
    pub faults: CardFaults,
    requests_seen: u32,
    answers: u32,
    rng: u64,
    /// False once the card has left the field.
    pub in_field: bool,
}

impl SimCard {
    /// A card with a 4-, 7- or 10-byte UID (None for other lengths).
    pub fn new(uid_bytes: &[u8], sak: u8) -> Option<SimCard> {
        let uid = Uid::new(uid_bytes)?;
        Some(SimCard {
            uid,
            sak,
            state: CardState::Idle,
            woken_from_halt: false,
            faults: CardFaults::default(),
            requests_seen: 0,
            answers: 0,
            rng: 0,
            in_field: true,
        })
    }

    pub fn with_faults(mut self, faults: CardFaults) -> SimCard {
        if let Some((_, seed)) = faults.miss_probability {
            self.rng = seed | 1;
        }
        self.faults = faults;
        self
    }

    fn atqa(&self) -> [u8; 2] {
        // Bit frame anticollision (b3) plus the UID size bits.
        [0x04 | self.uid.atqa_size_bits(), 0x00]
    }

    /// The 40-bit anticollision string of a level: four bytes and BCC.
    fn cln_bits(&self, level: u8) -> Bits {
        let b = self.uid.cascade_bytes(level);
        Bits::from_bytes(&[b[0], b[1], b[2], b[3], iso14443a::bcc(&b)])
    }

    fn fall_back(&mut self) {
        self.state = if self.woken_from_halt { CardState::Halt } else { CardState::Idle };
    }

    fn next_random(&mut self) -> f64 {
        // xorshift64: reproducible noise without a dependency.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Handles one frame from the reader; returns the card's answer, if any.
    pub fn on_frame(&mut self, frame: &Bits) -> Option<Bits> {
        if !self.in_field {
            return None;
        }
        let answer = self.answer(frame);
        if answer.is_some() {
            self.answers += 1;
            if let Some(n) = self.faults.leave_after_answers {
                if self.answers >= n {
                    self.in_field = false;
                }
            }
        }
        answer
    }

    fn answer(&mut self, frame: &Bits) -> Option<Bits> {
        let first = *frame.bytes.first()?;
        if frame.nbits == 7 {
            let cmd = first & 0x7F;
            if cmd != REQA && cmd != WUPA {
                self.fall_back();
                return None;
            }
            let wakes = match self.state {
                CardState::Idle => true,
                CardState::Halt => cmd == WUPA,
                // REQA/WUPA out of place: back to IDLE/HALT without answering.
                // This is why a card left ACTIVE answers only every other REQA.
                CardState::Ready(_) | CardState::Active => {
                    self.fall_back();
                    return None;
                }
            };
            if !wakes {
                return None;
            }
            self.requests_seen += 1;
            if let Some(n) = self.faults.miss_every_nth_request {
                if n >= 2 && self.requests_seen % n == 0 {
                    return None;
                }
            }
            if let Some((p, _)) = self.faults.miss_probability {
                if self.next_random() < p {
                    return None;
                }
            }
            self.woken_from_halt = self.state == CardState::Halt;
            self.state = CardState::Ready(1);
            return Some(Bits::from_bytes(&self.atqa()));
        }
        if frame.nbits == 32 && first == HLTA {
            if self.state == CardState::Active && frame.bytes[..4] == iso14443a::HLTA_FRAME {
                self.state = CardState::Halt;
                self.woken_from_halt = true;
            } else {
                self.fall_back();
            }
            return None;
        }
        let CardState::Ready(level) = self.state else {
            self.fall_back();
            return None;
        };
        if iso14443a::sel_code(level) != Some(first) || frame.nbits < 16 {
            self.fall_back();
            return None;
        }
        let nvb = frame.bytes[1];
        if nvb == NVB_SELECT {
            return self.on_select(level, frame);
        }
        let known = ((nvb >> 4) as usize).saturating_sub(2) * 8 + (nvb & 0x0F) as usize;
        if known > 32 || frame.nbits != 16 + known {
            self.fall_back();
            return None;
        }
        let mine = self.cln_bits(level);
        // Only cards whose UID starts with the known bits answer.
        if (0..known).any(|i| frame.get(16 + i) != mine.get(i)) {
            return None;
        }
        Some(mine.tail(known))
    }

    fn on_select(&mut self, level: u8, frame: &Bits) -> Option<Bits> {
        if frame.nbits != 72 {
            self.fall_back();
            return None;
        }
        let f = &frame.bytes;
        if iso14443a::crc_a(&f[..7]) != [f[7], f[8]] {
            self.fall_back();
            return None;
        }
        let mine = self.uid.cascade_bytes(level);
        if f[2..6] != mine || f[6] != iso14443a::bcc(&mine) {
            // Another card's UID: stay READY and keep quiet.
            return None;
        }
        let sak = if level < self.uid.cascade_levels() {
            self.state = CardState::Ready(level + 1);
            debug_assert_eq!(mine[0], CASCADE_TAG);
            SAK_CASCADE_BIT
        } else {
            self.state = CardState::Active;
            self.sak & !SAK_CASCADE_BIT
        };
        let mut crc = iso14443a::crc_a(&[sak]);
        if self.faults.corrupt_sak_crc > 0 {
            self.faults.corrupt_sak_crc -= 1;
            crc[0] ^= 0x5A;
        }
        Some(Bits::from_bytes(&[sak, crc[0], crc[1]]))
    }
}

/// What the reader's antenna hears when several cards answer one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    Nothing,
    Frame(Bits),
    /// Bits merged (OR) and the index of the first bit where answers differ.
    Collision { bits: Bits, first: usize },
}

/// Merges the answers of all cards that answered one frame.
pub fn merge_answers(answers: &[Bits]) -> Heard {
    let Some(first) = answers.first() else {
        return Heard::Nothing;
    };
    if answers.len() == 1 {
        return Heard::Frame(first.clone());
    }
    let n = answers.iter().map(|a| a.nbits).max().unwrap_or(0);
    let mut bits = Bits::default();
    let mut coll = None;
    for i in 0..n {
        let ones = answers.iter().filter(|a| i < a.nbits && a.get(i)).count();
        let present = answers.iter().filter(|a| i < a.nbits).count();
        if coll.is_none() && (ones != 0 && ones != present || present != answers.len()) {
            coll = Some(i);
        }
        bits.push(ones > 0);
    }
    match coll {
        None => Heard::Frame(bits),
        Some(first) => Heard::Collision { bits, first },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short(cmd: u8) -> Bits {
        Bits { bytes: vec![cmd], nbits: 7 }
    }

    #[test]
    fn a_card_left_active_ignores_the_next_reqa_then_answers_again() {
        let mut c = SimCard::new(&[1, 2, 3, 4], 0x08).unwrap();
        assert!(c.on_frame(&short(REQA)).is_some());
        c.state = CardState::Active;
        assert!(c.on_frame(&short(REQA)).is_none());
        assert!(c.on_frame(&short(REQA)).is_some());
    }

    #[test]
    fn a_halted_card_wakes_only_on_wupa() {
        let mut c = SimCard::new(&[1, 2, 3, 4], 0x08).unwrap();
        c.state = CardState::Halt;
        assert!(c.on_frame(&short(REQA)).is_none());
        assert_eq!(c.on_frame(&short(WUPA)).unwrap().bytes, vec![0x04, 0x00]);
    }

    #[test]
    fn answers_that_differ_collide_at_the_first_differing_bit() {
        let a = Bits::from_bytes(&[0b0000_0101]);
        let b = Bits::from_bytes(&[0b0000_0001]);
        assert_eq!(
            merge_answers(&[a.clone(), b]),
            Heard::Collision { bits: Bits::from_bytes(&[0b101]), first: 2 }
        );
        assert_eq!(merge_answers(&[a.clone(), a.clone()]), Heard::Frame(a));
    }
}
