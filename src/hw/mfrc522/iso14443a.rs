//! ISO/IEC 14443-3 type A facts the driver, the simulated card and the
//! benchmark share: PICC command codes, CRC_A, BCC, UID/SAK types and the
//! air-interface timing at 106 kbit/s. Pure functions, no I/O.

use crate::model::CardUid;

pub const REQA: u8 = 0x26;
pub const WUPA: u8 = 0x52;
pub const SEL_CL1: u8 = 0x93;
pub const SEL_CL2: u8 = 0x95;
pub const SEL_CL3: u8 = 0x97;
pub const HLTA: u8 = 0x50;
/// Cascade tag: first byte of a cascade level that is not the last one.
pub const CASCADE_TAG: u8 = 0x88;
/// NVB of a full SELECT frame: 7 bytes (SEL, NVB, 4 UID bytes, BCC).
pub const NVB_SELECT: u8 = 0x70;
/// SAK bit 3: UID not complete, go on with the next cascade level.
pub const SAK_CASCADE_BIT: u8 = 0x04;
/// SAK bit 6: the PICC is ISO/IEC 14443-4 compliant.
pub const SAK_ISO14443_4: u8 = 0x20;
/// HLTA frame including its (constant) CRC_A.
pub const HLTA_FRAME: [u8; 4] = [HLTA, 0x00, 0x57, 0xCD];

/// SEL code of cascade level 1..=3.
pub fn sel_code(level: u8) -> Option<u8> {
    match level {
        1 => Some(SEL_CL1),
        2 => Some(SEL_CL2),
        3 => Some(SEL_CL3),
        _ => None,
    }
}

/// CRC_A (ISO/IEC 14443-3 annex B): CRC-16, reflected polynomial 0x8408,
/// initial value 0x6363, sent low byte first.
pub fn crc_a(data: &[u8]) -> [u8; 2] {
    let mut crc: u16 = 0x6363;
    for &b in data {
        let mut ch = b ^ (crc as u8);
        ch ^= ch << 4;
        crc = (crc >> 8) ^ ((ch as u16) << 8) ^ ((ch as u16) << 3) ^ ((ch as u16) >> 4);
    }
    [crc as u8, (crc >> 8) as u8]
}

/// Block check character of one cascade level: XOR of its four UID bytes.
pub fn bcc(uid_cln: &[u8; 4]) -> u8 {
    uid_cln.iter().fold(0, |a, b| a ^ b)
}

/// A UID as read from a card: 4, 7 or 10 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uid {
    bytes: [u8; 10],
    len: u8,
}

impl Uid {
    /// Builds a UID from 4, 7 or 10 bytes; other lengths are not ISO 14443A UIDs.
    pub fn new(bytes: &[u8]) -> Option<Uid> {
        if !matches!(bytes.len(), 4 | 7 | 10) {
            return None;
        }
        let mut b = [0u8; 10];
        b[..bytes.len()].copy_from_slice(bytes);
        Some(Uid { bytes: b, len: bytes.len() as u8 })
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
    /// Number of cascade levels this UID needs (1, 2 or 3).
    pub fn cascade_levels(&self) -> u8 {
        match self.len {
            4 => 1,
            7 => 2,
            _ => 3,
        }
    }
    /// The four bytes sent at cascade level `level` (1-based), with cascade tags.
    pub fn cascade_bytes(&self, level: u8) -> [u8; 4] {
        let b = self.as_bytes();
        let levels = self.cascade_levels();
        let start = (level as usize - 1) * 3;
        if level < levels {
            [CASCADE_TAG, b[start], b[start + 1], b[start + 2]]
        } else {
            [b[start], b[start + 1], b[start + 2], b[start + 3]]
        }
    }
    /// ATQA bits 8..7 (UID size): 00 single, 01 double, 10 triple.
    pub fn atqa_size_bits(&self) -> u8 {
        (self.cascade_levels() - 1) << 6
    }
    pub fn to_card_uid(&self) -> CardUid {
        CardUid::from_bytes(self.as_bytes())
    }
}

/// A selected card: its UID and the final SAK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub uid: Uid,
    pub sak: u8,
}

/// Answer to request: two bytes, LSB first as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Atqa(pub [u8; 2]);

// Air interface at 106 kbit/s: one elementary time unit is 128/fc.
const FC_HZ: u64 = 13_560_000;
/// One bit on air, in nanoseconds (128 / 13.56 MHz = 9.44 us).
pub const ETU_NS: u64 = 128 * 1_000_000_000 / FC_HZ;
/// Frame delay time PCD -> PICC for REQA/anticollision/select (1236/fc).
pub const FDT_NS: u64 = 1236 * 1_000_000_000 / FC_HZ;

/// Air time of a frame of `bits` data bits: start bit, a parity bit per
/// full byte, end of frame (two etu).
pub fn frame_air_ns(bits: u32) -> u64 {
    let parity = bits / 8;
    (1 + bits + parity + 2) as u64 * ETU_NS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_a_matches_the_iso_examples() {
        // ISO/IEC 14443-3 annex B: CRC_A of 00 00 is 1E A0, of 12 34 is 26 CF.
        assert_eq!(crc_a(&[0x00, 0x00]), [0xA0, 0x1E]);
        assert_eq!(crc_a(&[0x12, 0x34]), [0x26, 0xCF]);
        assert_eq!(crc_a(&[HLTA, 0x00]), [HLTA_FRAME[2], HLTA_FRAME[3]]);
    }

    #[test]
    fn a_seven_byte_uid_starts_with_a_cascade_tag_at_level_one() {
        let uid = Uid::new(&[0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]).unwrap();
        assert_eq!(uid.cascade_levels(), 2);
        assert_eq!(uid.cascade_bytes(1), [CASCADE_TAG, 0x04, 0x11, 0x22]);
        assert_eq!(uid.cascade_bytes(2), [0x33, 0x44, 0x55, 0x66]);
        assert_eq!(uid.to_card_uid().as_str(), "04112233445566");
    }

    #[test]
    fn a_ten_byte_uid_needs_three_levels_with_two_cascade_tags() {
        let uid = Uid::new(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).unwrap();
        assert_eq!(uid.cascade_bytes(1), [CASCADE_TAG, 1, 2, 3]);
        assert_eq!(uid.cascade_bytes(2), [CASCADE_TAG, 4, 5, 6]);
        assert_eq!(uid.cascade_bytes(3), [7, 8, 9, 10]);
        assert!(Uid::new(&[1, 2, 3]).is_none());
    }

    #[test]
    fn the_bcc_is_the_xor_of_the_four_bytes() {
        assert_eq!(bcc(&[0x88, 0x04, 0x11, 0x22]), 0x88 ^ 0x04 ^ 0x11 ^ 0x22);
    }
}
