//! ISO 14443-3A card activation on the MFRC522: REQA/WUPA, anticollision and
//! select through cascade levels 1-3 (4-, 7- and 10-byte UIDs), HLTA, and
//! `read_card` which chains them and notes whether several cards answered. Relies on `transceive` for all bus traffic;
//! never retries on its own (the poll loop decides what a failed read means).

use super::iso14443a::{self, Atqa, Card, Uid, CASCADE_TAG, HLTA_FRAME, NVB_SELECT, SAK_CASCADE_BIT};
use super::{Answer, Error, Mfrc522, Res};
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::OutputPin;
use embedded_hal::spi::SpiDevice;

/// Which request starts a read. WUPA also wakes halted cards, so a card left
/// on the reader (halted after each read) answers every poll; REQA only
/// reaches idle cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    Reqa,
    Wupa,
}

impl<SPI: SpiDevice, RST: OutputPin, D: DelayNs> Mfrc522<SPI, RST, D> {
    /// Sends REQA (7-bit short frame). `None` when no card answers.
    pub fn reqa(&mut self) -> Res<Option<Atqa>, SPI> {
        self.request(iso14443a::REQA)
    }

    /// Sends WUPA (7-bit short frame). `None` when no card answers.
    pub fn wupa(&mut self) -> Res<Option<Atqa>, SPI> {
        self.request(iso14443a::WUPA)
    }

    fn request(&mut self, cmd: u8) -> Res<Option<Atqa>, SPI> {
        match self.transceive(&[cmd], 7, 0, 16)? {
            Answer::Silence => Ok(None),
            Answer::Frame { data, len: 2, .. } => Ok(Some(Atqa([data[0], data[1]]))),
            Answer::Frame { .. } => Err(Error::Frame("ATQA is not two bytes")),
            // Cards with different ATQAs (e.g. 4- and 7-byte UIDs) collide here;
            // that is normal, anticollision sorts them out.
            Answer::Collision { data, .. } => {
                self.collided = true;
                Ok(Some(Atqa([data[0], data[1]])))
            }
        }
    }

    /// Anticollision and select through all cascade levels of one card in
    /// READY state. With several cards in the field it picks, at every
    /// collision, the card with a 1 at the colliding bit.
    pub fn select(&mut self) -> Res<Card, SPI> {
        let mut uid = [0u8; 10];
        let mut uid_len = 0usize;
        for level in 1..=3u8 {
            let cln = self.anticollision(level)?;
            let sak = self.select_level(level, &cln)?;
            if sak & SAK_CASCADE_BIT != 0 {
                if level == 3 {
                    return Err(Error::Frame("SAK asks for a fourth cascade level"));
                }
                if cln[0] != CASCADE_TAG {
                    return Err(Error::CascadeTag(level));
                }
                uid[uid_len..uid_len + 3].copy_from_slice(&cln[1..4]);
                uid_len += 3;
            } else {
                uid[uid_len..uid_len + 4].copy_from_slice(&cln);
                uid_len += 4;
                let uid = Uid::new(&uid[..uid_len]).ok_or(Error::Frame("UID length"))?;
                return Ok(Card { uid, sak });
            }
        }
        Err(Error::Frame("no complete UID after three cascade levels"))
    }

    /// Finds the four UID bytes of one card at `level` (bit-oriented
    /// anticollision, ISO 14443-3 6.5.3) and checks their BCC.
    fn anticollision(&mut self, level: u8) -> Res<[u8; 4], SPI> {
        let sel = iso14443a::sel_code(level).ok_or(Error::Frame("cascade level"))?;
        // Four UID bytes and the BCC as they become known.
        let mut known = [0u8; 5];
        let mut known_bits: u32 = 0;
        // At most one collision per UID bit can be resolved.
        for _ in 0..=32 {
            let full = (known_bits / 8) as usize;
            let part = (known_bits % 8) as u8;
            let mut tx = [0u8; 7];
            tx[0] = sel;
            tx[1] = (((2 + full) as u8) << 4) | part;
            let sent = full + usize::from(part > 0);
            tx[2..2 + sent].copy_from_slice(&known[..sent]);
            let answer = self.transceive(&tx[..2 + sent], part, part, 40 - known_bits)?;
            let (data, len, coll) = match answer {
                Answer::Silence => return Err(Error::CardLost),
                Answer::Frame { data, len, .. } => (data, len, None),
                Answer::Collision { data, len, coll_pos } => {
                    self.collided = true;
                    (data, len, Some(coll_pos.ok_or(Error::CollisionUnresolved)?))
                }
            };
            // FIFO byte 0 holds UID bits from position `part` of byte `full`.
            let keep = (1u8 << part) - 1;
            for (i, b) in data[..len].iter().enumerate() {
                let idx = full + i;
                if idx >= known.len() {
                    break;
                }
                known[idx] = if i == 0 { (known[idx] & keep) | (b & !keep) } else { *b };
            }
            match coll {
                None => {
                    if full + len < known.len() {
                        return Err(Error::Frame("anticollision answer too short"));
                    }
                    let cln = [known[0], known[1], known[2], known[3]];
                    if iso14443a::bcc(&cln) != known[4] {
                        return Err(Error::Bcc(level));
                    }
                    return Ok(cln);
                }
                Some(pos) => {
                    // CollPos counts from bit 0 of the first FIFO byte.
                    let abs = full as u32 * 8 + pos as u32;
                    if abs <= known_bits || abs > 32 {
                        return Err(Error::AnticollisionStuck);
                    }
                    let byte = ((abs - 1) / 8) as usize;
                    let bit = ((abs - 1) % 8) as u8;
                    // Keep the bits before the collision, choose 1 at it.
                    known[byte] = (known[byte] & ((1u8 << bit) - 1)) | (1 << bit);
                    for b in known.iter_mut().skip(byte + 1) {
                        *b = 0;
                    }
                    known_bits = abs;
                }
            }
        }
        Err(Error::AnticollisionStuck)
    }

    /// SELECT with the full UID part of one level; returns the SAK after
    /// checking its CRC_A.
    fn select_level(&mut self, level: u8, cln: &[u8; 4]) -> Res<u8, SPI> {
        let sel = iso14443a::sel_code(level).ok_or(Error::Frame("cascade level"))?;
        let mut tx = [sel, NVB_SELECT, cln[0], cln[1], cln[2], cln[3], iso14443a::bcc(cln), 0, 0];
        let crc = self.calc_crc(&tx[..7])?;
        tx[7..9].copy_from_slice(&crc);
        match self.transceive(&tx, 0, 0, 24)? {
            Answer::Silence => Err(Error::CardLost),
            Answer::Collision { .. } => Err(Error::Frame("collision in SAK")),
            Answer::Frame { data, len: 3, last_bits: 0 } => {
                if iso14443a::crc_a(&data[..1]) != [data[1], data[2]] {
                    return Err(Error::Crc);
                }
                Ok(data[0])
            }
            Answer::Frame { .. } => Err(Error::Frame("SAK is not 1 byte + CRC_A")),
        }
    }

    /// Puts the selected card to sleep (HLTA). Cards do not answer HLTA, so
    /// this only transmits.
    pub fn hlta(&mut self) -> Res<(), SPI> {
        self.transmit(&HLTA_FRAME)
    }

    /// One complete read: request, select through all cascade levels, HLTA.
    /// `Ok(None)` when no card is in the field.
    pub fn read_card(&mut self, wake: Wake) -> Res<Option<Card>, SPI> {
        self.collided = false;
        let atqa = match wake {
            Wake::Reqa => self.reqa()?,
            Wake::Wupa => self.wupa()?,
        };
        if atqa.is_none() {
            return Ok(None);
        }
        let card = self.select()?;
        self.hlta()?;
        Ok(Some(card))
    }
}
