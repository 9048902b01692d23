//! MFRC522 driver over embedded-hal 1.0 (`SpiDevice`, `OutputPin` reset,
//! `DelayNs`): reset and init, version check, self-test (datasheet 16.1.1),
//! antenna and gain, the chip's CRC coprocessor and the raw transceive with
//! timeouts from the chip timer. ISO 14443A card selection is in `select.rs`.
//!
//! Owns the bus traffic to the chip and nothing else: no threads, no clock, no
//! kiosk logic, and it must never loop without a bound (a dead chip gives a
//! `ChipNotResponding` error, not a hang).
//!
//! Bus rules: a register write is one transaction `[addr, value]`; reads use
//! `Operation::Transfer` with separate buffers, never `TransferInPlace`,
//! because rppal 0.22's `SimpleHalSpiDevice` maps `TransferInPlace` to a
//! read-only segment and would clock out zeros instead of the address. The
//! MFRC522 returns, for every address byte of a read, the register it names,
//! so one transaction can read several different registers.

pub mod iso14443a;
pub mod regs;
mod select;
mod version;

pub mod bench;
pub mod sim_card;
pub mod sim_chip;

#[cfg(test)]
mod tests_mock;
#[cfg(test)]
mod tests_sim;

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{Error as _, ErrorKind, OutputPin};
use embedded_hal::spi::{Operation, SpiDevice};
pub use iso14443a::{Atqa, Card, Uid};
use regs::*;
pub use select::Wake;
pub use version::ChipVersion;

/// Errors of the driver, wrapping the SPI bus error `E`.
#[derive(Debug, thiserror::Error)]
pub enum Error<E: core::fmt::Debug> {
    #[error("SPI bus error: {0:?}")]
    Spi(E),
    #[error("reset pin error: {0:?}")]
    ResetPin(ErrorKind),
    #[error("no MFRC522 answers on SPI (VersionReg reads {0:#04x}): check the wiring, 3V3 power and dtparam=spi=on")]
    NoChip(u8),
    #[error("the MFRC522 did not come out of reset (PowerDown bit still set)")]
    ResetTimeout,
    #[error("the MFRC522 stopped responding: no answer and no timer interrupt after {0} polls")]
    ChipNotResponding(u32),
    #[error("the CRC coprocessor did not finish")]
    CrcTimeout,
    #[error("the self-test did not fill the FIFO ({0} of 64 bytes)")]
    SelfTestIncomplete(u8),
    #[error("a card answered but left before it was selected")]
    CardLost,
    #[error("bit collision at an invalid position")]
    CollisionUnresolved,
    #[error("anticollision made no progress")]
    AnticollisionStuck,
    #[error("CRC_A of the card's answer is wrong")]
    Crc,
    #[error("parity error in the card's answer")]
    Parity,
    #[error("protocol error in the card's answer")]
    Protocol,
    #[error("FIFO buffer overflow")]
    BufferOverflow,
    #[error("the MFRC522 overheated and switched its antenna off")]
    Temperature,
    #[error("BCC check failed at cascade level {0}")]
    Bcc(u8),
    #[error("cascade tag 0x88 missing at cascade level {0}")]
    CascadeTag(u8),
    #[error("unexpected answer from the card: {0}")]
    Frame(&'static str),
}

impl<E: core::fmt::Debug> Error<E> {
    /// True for faults of the chip or the bus (worth a re-init), false for
    /// card-side glitches (a bad read that the next poll may get right).
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            Error::Spi(_)
                | Error::ResetPin(_)
                | Error::NoChip(_)
                | Error::ResetTimeout
                | Error::ChipNotResponding(_)
                | Error::CrcTimeout
                | Error::SelfTestIncomplete(_)
                | Error::Temperature
        )
    }
}

/// Receiver gain (RFCfgReg RxGain). Higher gain reads farther but is more
/// sensitive to noise; cheap modules with small antennas often need 48 dB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RxGain {
    Db18,
    Db23,
    Db33,
    Db38,
    Db43,
    Db48,
}

impl RxGain {
    pub fn bits(self) -> u8 {
        match self {
            RxGain::Db18 => 0b010,
            RxGain::Db23 => 0b011,
            RxGain::Db33 => 0b100,
            RxGain::Db38 => 0b101,
            RxGain::Db43 => 0b110,
            RxGain::Db48 => 0b111,
        }
    }
    pub fn from_bits(bits: u8) -> RxGain {
        match bits & 0b111 {
            0b000 | 0b010 => RxGain::Db18,
            0b001 | 0b011 => RxGain::Db23,
            0b100 => RxGain::Db33,
            0b101 => RxGain::Db38,
            0b110 => RxGain::Db43,
            _ => RxGain::Db48,
        }
    }
    pub fn from_db(db: u8) -> Option<RxGain> {
        Some(match db {
            18 => RxGain::Db18,
            23 => RxGain::Db23,
            33 => RxGain::Db33,
            38 => RxGain::Db38,
            43 => RxGain::Db43,
            48 => RxGain::Db48,
            _ => return None,
        })
    }
    pub fn db(self) -> u8 {
        match self {
            RxGain::Db18 => 18,
            RxGain::Db23 => 23,
            RxGain::Db33 => 33,
            RxGain::Db38 => 38,
            RxGain::Db43 => 43,
            RxGain::Db48 => 48,
        }
    }
}

/// Driver settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mfrc522Config {
    pub rx_gain: RxGain,
    /// How long the chip timer waits for a card's answer after a frame. ISO
    /// 14443A cards answer about 90 us after the frame, so 1 ms is ample.
    pub answer_timeout_us: u32,
    /// Pause between interrupt-register polls while waiting for the chip.
    pub irq_poll_us: u32,
}

impl Default for Mfrc522Config {
    fn default() -> Self {
        Mfrc522Config { rx_gain: RxGain::Db48, answer_timeout_us: 1000, irq_poll_us: 250 }
    }
}

/// Timer prescaler 0xA9: 13.56 MHz / (2 * 169 + 1) = 40 kHz, one tick = 25 us.
const TIMER_PRESCALER: u8 = 0xA9;
const TIMER_TICK_US: u32 = 25;

/// Stand-in reset pin for modules whose RST is tied high.
pub struct NoResetPin;

impl embedded_hal::digital::ErrorType for NoResetPin {
    type Error = core::convert::Infallible;
}
impl OutputPin for NoResetPin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Outcome of the digital self-test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelfTest {
    Passed,
    /// The first byte that differs from the reference.
    Failed { offset: usize, expected: u8, got: u8 },
    /// No reference values are known for this chip version.
    NoReference(ChipVersion),
}

/// The result of one frame exchange with the cards in the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The chip timer ran out: nobody answered.
    Silence,
    /// `data[..len]` as stored in the FIFO; `last_bits` valid bits in the last
    /// byte (0 = all eight).
    Frame { data: [u8; FIFO_SIZE], len: usize, last_bits: u8 },
    /// Cards answered with different bits. `coll_pos` is CollReg's CollPos
    /// (1..=32, counted from bit 0 of the first FIFO byte), None if not valid.
    Collision { data: [u8; FIFO_SIZE], len: usize, coll_pos: Option<u8> },
}

/// The MFRC522 driver.
pub struct Mfrc522<SPI, RST, D> {
    spi: SPI,
    rst: Option<RST>,
    delay: D,
    cfg: Mfrc522Config,
    version: Option<ChipVersion>,
    /// The last `read_card` met a collision: more than one card answered.
    collided: bool,
}

type Res<T, SPI> = Result<T, Error<<SPI as embedded_hal::spi::ErrorType>::Error>>;

impl<SPI: SpiDevice, RST: OutputPin, D: DelayNs> Mfrc522<SPI, RST, D> {
    /// Wraps the parts; nothing is sent until `init`.
    pub fn new(spi: SPI, rst: Option<RST>, delay: D, cfg: Mfrc522Config) -> Self {
        Mfrc522 { spi, rst, delay, cfg, version: None, collided: false }
    }

    /// Hands the parts back (tests check the mock's script is complete).
    pub fn destroy(self) -> (SPI, Option<RST>, D) {
        (self.spi, self.rst, self.delay)
    }

    pub fn config(&self) -> Mfrc522Config {
        self.cfg
    }

    /// Whether more than one card answered during the last `read_card`
    /// (a collision in the request or in anticollision).
    pub fn several_cards_seen(&self) -> bool {
        self.collided
    }

    /// The version read by the last `init`.
    pub fn chip_version(&self) -> Option<ChipVersion> {
        self.version
    }

    /// Hard reset (if a reset pin is wired), soft reset, version check and
    /// configuration for ISO 14443A at 106 kbit/s; switches the antenna on.
    pub fn init(&mut self) -> Res<ChipVersion, SPI> {
        self.hard_reset()?;
        // Version first: with no chip the reset wait would only time out.
        let version = self.version()?;
        self.soft_reset()?;
        self.version = Some(version);
        if !version.is_genuine() {
            tracing::warn!(version = %version.describe(), "MFRC522 is not a genuine NXP part");
        }
        self.configure()?;
        Ok(version)
    }

    fn hard_reset(&mut self) -> Res<(), SPI> {
        if let Some(rst) = self.rst.as_mut() {
            rst.set_low().map_err(|e| Error::ResetPin(e.kind()))?;
            // RST low for at least 100 ns (datasheet 8.8.1).
            self.delay.delay_us(10);
            rst.set_high().map_err(|e| Error::ResetPin(e.kind()))?;
            // Oscillator start-up: the datasheet gives no bound; 50 ms is the common margin.
            self.delay.delay_ms(50);
        }
        Ok(())
    }

    fn soft_reset(&mut self) -> Res<(), SPI> {
        self.write(COMMAND, CMD_SOFT_RESET)?;
        for _ in 0..50 {
            self.delay.delay_ms(1);
            if self.read(COMMAND)? & COMMAND_POWER_DOWN == 0 {
                return Ok(());
            }
        }
        Err(Error::ResetTimeout)
    }

    fn configure(&mut self) -> Res<(), SPI> {
        self.write(TX_MODE, 0x00)?;
        self.write(RX_MODE, 0x00)?;
        self.write(MOD_WIDTH, 0x26)?;
        // Timer starts at the end of every transmission: it is our answer timeout.
        self.write(T_MODE, T_MODE_AUTO)?;
        self.write(T_PRESCALER, TIMER_PRESCALER)?;
        let reload = (self.cfg.answer_timeout_us / TIMER_TICK_US).clamp(1, 0xFFFF) - 1;
        self.write(T_RELOAD_H, (reload >> 8) as u8)?;
        self.write(T_RELOAD_L, reload as u8)?;
        self.write(TX_ASK, TX_ASK_FORCE_100)?;
        // CRC preset 6363h as ISO 14443-3 requires; TxWaitRF; MFIN active high.
        self.write(MODE, 0x3D)?;
        self.write(RF_CFG, self.cfg.rx_gain.bits() << 4)?;
        self.antenna_on()
    }

    /// Reads and classifies VersionReg; 0x00 and 0xFF mean nothing answers.
    pub fn version(&mut self) -> Res<ChipVersion, SPI> {
        match self.read(VERSION)? {
            v @ (0x00 | 0xFF) => Err(Error::NoChip(v)),
            v => Ok(ChipVersion::from_register(v)),
        }
    }

    /// Digital self-test (datasheet 16.1.1). Resets the chip, so it re-runs
    /// `init` afterwards.
    pub fn self_test(&mut self) -> Res<SelfTest, SPI> {
        self.soft_reset()?;
        let version = self.version()?;
        // Clear the 25-byte internal buffer: 25 zeros into the FIFO, then Mem.
        self.write(FIFO_LEVEL, FIFO_FLUSH)?;
        self.write_fifo(&[0u8; 25])?;
        self.write(COMMAND, CMD_MEM)?;
        self.write(AUTO_TEST, AUTO_TEST_SELF_TEST)?;
        self.write_fifo(&[0x00])?;
        self.write(COMMAND, CMD_CALC_CRC)?;
        let mut level = 0;
        for _ in 0..100 {
            self.delay.delay_us(100);
            level = self.read(FIFO_LEVEL)? & FIFO_LEVEL_MASK;
            if level as usize >= FIFO_SIZE {
                break;
            }
        }
        if (level as usize) < FIFO_SIZE {
            return Err(Error::SelfTestIncomplete(level));
        }
        let mut got = [0u8; FIFO_SIZE];
        self.read_fifo(&mut got)?;
        self.write(COMMAND, CMD_IDLE)?;
        self.write(AUTO_TEST, 0x00)?;
        self.init()?;
        let Some(reference) = version.self_test_reference() else {
            return Ok(SelfTest::NoReference(version));
        };
        Ok(match got.iter().zip(reference.iter()).position(|(g, r)| g != r) {
            None => SelfTest::Passed,
            Some(offset) => SelfTest::Failed { offset, expected: reference[offset], got: got[offset] },
        })
    }

    pub fn antenna_on(&mut self) -> Res<(), SPI> {
        let v = self.read(TX_CONTROL)?;
        let on = TX_CONTROL_TX1_RF_EN | TX_CONTROL_TX2_RF_EN;
        if v & on != on {
            self.write(TX_CONTROL, v | on)?;
        }
        Ok(())
    }

    /// Whether both antenna drivers are on (a chip that reset itself has them off).
    pub fn antenna_is_on(&mut self) -> Res<bool, SPI> {
        let on = TX_CONTROL_TX1_RF_EN | TX_CONTROL_TX2_RF_EN;
        Ok(self.read(TX_CONTROL)? & on == on)
    }

    pub fn antenna_off(&mut self) -> Res<(), SPI> {
        let v = self.read(TX_CONTROL)?;
        self.write(TX_CONTROL, v & !(TX_CONTROL_TX1_RF_EN | TX_CONTROL_TX2_RF_EN))
    }

    pub fn set_antenna_gain(&mut self, gain: RxGain) -> Res<(), SPI> {
        self.cfg.rx_gain = gain;
        self.write(RF_CFG, gain.bits() << 4)
    }

    pub fn antenna_gain(&mut self) -> Res<RxGain, SPI> {
        Ok(RxGain::from_bits((self.read(RF_CFG)? & RF_CFG_RX_GAIN_MASK) >> 4))
    }

    /// CRC_A of `data` computed by the chip's CRC coprocessor (CalcCRC).
    pub fn calc_crc(&mut self, data: &[u8]) -> Res<[u8; 2], SPI> {
        self.write(COMMAND, CMD_IDLE)?;
        self.write(DIV_IRQ, DIV_IRQ_CRC)?;
        self.write(FIFO_LEVEL, FIFO_FLUSH)?;
        self.write_fifo(data)?;
        self.write(COMMAND, CMD_CALC_CRC)?;
        // About 1 us per byte at 13.56 MHz; poll a few times, then give up.
        for _ in 0..10 {
            let mut r = [0u8; 3];
            self.read_many(&[DIV_IRQ, CRC_RESULT_L, CRC_RESULT_H], &mut r)?;
            if r[0] & DIV_IRQ_CRC != 0 {
                return Ok([r[1], r[2]]);
            }
            self.delay.delay_us(20);
        }
        Err(Error::CrcTimeout)
    }

    /// One exchange: sends `tx` (`tx_last_bits` valid bits in its last byte,
    /// 0 = all), stores the answer from bit `rx_align` of the first FIFO byte,
    /// and waits for the answer or the chip timer. `expect_rx_bits` only sets
    /// when the first poll happens.
    pub(crate) fn transceive(
        &mut self,
        tx: &[u8],
        tx_last_bits: u8,
        rx_align: u8,
        expect_rx_bits: u32,
    ) -> Res<Answer, SPI> {
        let framing = ((rx_align & 0x07) << 4) | (tx_last_bits & 0x07);
        self.write(COMMAND, CMD_IDLE)?;
        self.write(COM_IRQ, COM_IRQ_CLEAR_ALL)?;
        self.write(FIFO_LEVEL, FIFO_FLUSH)?;
        self.write_fifo(tx)?;
        self.write(BIT_FRAMING, framing)?;
        self.write(COMMAND, CMD_TRANSCEIVE)?;
        self.write(BIT_FRAMING, framing | BIT_FRAMING_START_SEND)?;
        let tx_bits = tx.len() as u32 * 8 - if tx_last_bits == 0 { 0 } else { 8 - tx_last_bits as u32 };
        let air_ns = iso14443a::frame_air_ns(tx_bits) + iso14443a::FDT_NS + iso14443a::frame_air_ns(expect_rx_bits);
        self.delay.delay_us((air_ns / 1000) as u32 + 1);
        let st = self.wait_done(COM_IRQ_RX | COM_IRQ_IDLE | COM_IRQ_ERR)?;
        let [irq, err, level, control] = st;
        if irq & (COM_IRQ_RX | COM_IRQ_IDLE | COM_IRQ_ERR) == 0 {
            return Ok(Answer::Silence);
        }
        if err & ERR_BUFFER_OVFL != 0 {
            return Err(Error::BufferOverflow);
        }
        if err & ERR_TEMP != 0 {
            return Err(Error::Temperature);
        }
        let len = ((level & FIFO_LEVEL_MASK) as usize).min(FIFO_SIZE);
        let mut data = [0u8; FIFO_SIZE];
        if len > 0 {
            self.read_fifo(&mut data[..len])?;
        }
        if err & ERR_COLL != 0 {
            let coll = self.read(COLL)?;
            let coll_pos = if coll & COLL_POS_NOT_VALID != 0 {
                None
            } else {
                Some(match coll & COLL_POS_MASK {
                    0 => 32,
                    p => p,
                })
            };
            return Ok(Answer::Collision { data, len, coll_pos });
        }
        if err & ERR_PROTOCOL != 0 {
            return Err(Error::Protocol);
        }
        if err & ERR_PARITY != 0 {
            return Err(Error::Parity);
        }
        if err & ERR_CRC != 0 {
            return Err(Error::Crc);
        }
        Ok(Answer::Frame { data, len, last_bits: control & CONTROL_RX_LAST_BITS })
    }

    /// Sends a frame without listening (HLTA has no answer to wait for).
    pub(crate) fn transmit(&mut self, tx: &[u8]) -> Res<(), SPI> {
        self.write(COMMAND, CMD_IDLE)?;
        self.write(COM_IRQ, COM_IRQ_CLEAR_ALL)?;
        self.write(FIFO_LEVEL, FIFO_FLUSH)?;
        self.write_fifo(tx)?;
        self.write(BIT_FRAMING, 0x00)?;
        self.write(COMMAND, CMD_TRANSMIT)?;
        let air_ns = iso14443a::frame_air_ns(tx.len() as u32 * 8);
        self.delay.delay_us((air_ns / 1000) as u32 + 1);
        let [irq, ..] = self.wait_done(COM_IRQ_TX)?;
        if irq & COM_IRQ_TX == 0 {
            return Err(Error::ChipNotResponding(0));
        }
        Ok(())
    }

    /// Polls ComIrqReg (with ErrorReg, FIFOLevelReg and ControlReg in the
    /// same transaction) until a bit of `done` or TimerIRq is set. The chip
    /// timer bounds the wait; the poll count bounds it if the chip is gone.
    fn wait_done(&mut self, done: u8) -> Res<[u8; 4], SPI> {
        let step = self.cfg.irq_poll_us.max(1);
        let max_polls = 2 * self.cfg.answer_timeout_us / step + 10;
        for _ in 0..max_polls {
            let mut st = [0u8; 4];
            self.read_many(&[COM_IRQ, ERROR, FIFO_LEVEL, CONTROL], &mut st)?;
            if st[0] & (done | COM_IRQ_TIMER) != 0 {
                return Ok(st);
            }
            self.delay.delay_us(step);
        }
        Err(Error::ChipNotResponding(max_polls))
    }

    // Register access.

    fn write(&mut self, reg: u8, value: u8) -> Res<(), SPI> {
        self.spi.write(&[write_addr(reg), value]).map_err(Error::Spi)
    }

    fn write_fifo(&mut self, data: &[u8]) -> Res<(), SPI> {
        let mut buf = [0u8; FIFO_SIZE + 1];
        let n = data.len().min(FIFO_SIZE);
        buf[0] = write_addr(FIFO_DATA);
        buf[1..=n].copy_from_slice(&data[..n]);
        self.spi.write(&buf[..=n]).map_err(Error::Spi)
    }

    fn read(&mut self, reg: u8) -> Res<u8, SPI> {
        let mut out = [0u8; 1];
        self.read_many(&[reg], &mut out)?;
        Ok(out[0])
    }

    /// Reads several registers in one transaction.
    fn read_many(&mut self, regs_to_read: &[u8], out: &mut [u8]) -> Res<(), SPI> {
        let n = regs_to_read.len().min(out.len()).min(8);
        let mut tx = [0u8; 9];
        let mut rx = [0u8; 9];
        for (i, r) in regs_to_read[..n].iter().enumerate() {
            tx[i] = read_addr(*r);
        }
        self.spi
            .transaction(&mut [Operation::Transfer(&mut rx[..=n], &tx[..=n])])
            .map_err(Error::Spi)?;
        out[..n].copy_from_slice(&rx[1..=n]);
        Ok(())
    }

    fn read_fifo(&mut self, out: &mut [u8]) -> Res<(), SPI> {
        let n = out.len().min(FIFO_SIZE);
        let mut tx = [read_addr(FIFO_DATA); FIFO_SIZE + 1];
        tx[n] = 0;
        let mut rx = [0u8; FIFO_SIZE + 1];
        self.spi
            .transaction(&mut [Operation::Transfer(&mut rx[..=n], &tx[..=n])])
            .map_err(Error::Spi)?;
        out[..n].copy_from_slice(&rx[1..=n]);
        Ok(())
    }
}
