//! A simulated MFRC522 behind embedded-hal 1.0 traits (`SpiDevice`, reset
//! `OutputPin`, `DelayNs`) so the real driver runs unchanged on a PC. It
//! models the SPI framing, the register file, the 64-byte FIFO, the commands
//! Idle, Mem, CalcCRC (and the self-test), Transmit, Transceive and
//! SoftReset, the timer with TAuto, interrupt and error bits, CollReg, and
//! the cards in the field (see `sim_card.rs`). Time is virtual: SPI bytes,
//! delays and air time advance it, so tests are instant and the benchmark
//! can count bus time. It never sleeps and never touches real hardware.

use super::iso14443a::{self, FDT_NS};
use super::regs::*;
use super::sim_card::{merge_answers, Bits, Heard, SimCard};
use embedded_hal::spi::{ErrorKind, ErrorType, Operation, SpiDevice};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

/// SPI clock and per-transaction overhead (CS, driver call) of the model.
#[derive(Debug, Clone, Copy)]
pub struct SimTiming {
    pub spi_hz: u64,
    pub transaction_overhead_ns: u64,
}

impl Default for SimTiming {
    fn default() -> Self {
        SimTiming { spi_hz: 1_000_000, transaction_overhead_ns: 0 }
    }
}

/// Counters of the simulated bus and air interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BusStats {
    pub transactions: u64,
    pub bytes: u64,
    /// Time the SPI bus was busy (bytes at the clock plus overhead).
    pub bus_ns: u64,
    /// RF frames sent by the reader.
    pub frames: u64,
    /// Air time of those frames, the card's frame delay and its answers.
    pub air_ns: u64,
}

/// Errors the simulated bus can return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimBusError {
    /// Injected by a test (`fail_next_transactions`).
    Injected,
    /// The driver used `TransferInPlace`, which rppal 0.22 cannot do right.
    TransferInPlace,
}

impl embedded_hal::spi::Error for SimBusError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

#[derive(Debug, Clone)]
enum Event {
    TxDone { then_idle: bool },
    RxDone { heard: Heard, rx_align: u8 },
    Timer,
    CrcDone { crc: [u8; 2] },
}

struct Model {
    version: u8,
    regs: [u8; REGISTER_COUNT],
    fifo: VecDeque<u8>,
    internal: [u8; 25],
    now_ns: u64,
    events: Vec<(u64, Event)>,
    busy_until_ns: u64,
    in_reset: bool,
    cards: Vec<SimCard>,
    timing: SimTiming,
    stats: BusStats,
    disconnected: bool,
    miso_high: bool,
    fail_transactions: u32,
    allow_in_place: bool,
}

impl Model {
    fn reset_registers(&mut self) {
        for r in 0..REGISTER_COUNT as u8 {
            self.regs[r as usize] = reset_value(r);
        }
        self.fifo.clear();
        self.events.clear();
    }

    fn advance(&mut self) {
        let now = self.now_ns;
        let mut due: Vec<(u64, Event)> = Vec::new();
        self.events.retain(|(t, e)| {
            if *t <= now {
                due.push((*t, e.clone()));
                false
            } else {
                true
            }
        });
        due.sort_by_key(|(t, _)| *t);
        for (_, e) in due {
            self.apply(e);
        }
    }

    fn apply(&mut self, e: Event) {
        match e {
            Event::TxDone { then_idle } => {
                self.regs[COM_IRQ as usize] |= COM_IRQ_TX;
                if then_idle {
                    self.regs[COMMAND as usize] &= !COMMAND_MASK;
                    self.regs[COM_IRQ as usize] |= COM_IRQ_IDLE;
                }
            }
            Event::Timer => self.regs[COM_IRQ as usize] |= COM_IRQ_TIMER,
            Event::CrcDone { crc } => {
                self.regs[CRC_RESULT_L as usize] = crc[0];
                self.regs[CRC_RESULT_H as usize] = crc[1];
                self.regs[DIV_IRQ as usize] |= DIV_IRQ_CRC;
            }
            Event::RxDone { heard, rx_align } => self.receive(heard, rx_align),
        }
    }

    fn receive(&mut self, heard: Heard, rx_align: u8) {
        let (bits, coll) = match heard {
            Heard::Nothing => return,
            Heard::Frame(b) => (b, None),
            Heard::Collision { bits, first } => (bits, Some(first)),
        };
        let clear_after = self.regs[COLL as usize] & COLL_VALUES_AFTER_COLL == 0;
        let mut stored = Bits::default();
        for _ in 0..rx_align {
            stored.push(false);
        }
        for i in 0..bits.nbits {
            let after = coll.is_some_and(|c| i >= c);
            stored.push(bits.get(i) && !(after && clear_after));
        }
        self.fifo.clear();
        self.fifo.extend(stored.bytes.iter().take(FIFO_SIZE));
        let ctl = self.regs[CONTROL as usize] & !CONTROL_RX_LAST_BITS;
        self.regs[CONTROL as usize] = ctl | (stored.nbits % 8) as u8;
        let mut irq = COM_IRQ_RX;
        if let Some(c) = coll {
            let pos = rx_align as usize + c + 1;
            let keep = self.regs[COLL as usize] & COLL_VALUES_AFTER_COLL;
            self.regs[COLL as usize] = if pos > 32 {
                keep | COLL_POS_NOT_VALID
            } else {
                keep | (pos as u8 & COLL_POS_MASK)
            };
            self.regs[ERROR as usize] |= ERR_COLL;
            irq |= COM_IRQ_ERR;
        }
        self.regs[COM_IRQ as usize] |= irq;
    }

    fn timer_period_ns(&self) -> u64 {
        let pre = (((self.regs[T_MODE as usize] & 0x0F) as u64) << 8) | self.regs[T_PRESCALER as usize] as u64;
        let reload = ((self.regs[T_RELOAD_H as usize] as u64) << 8) | self.regs[T_RELOAD_L as usize] as u64;
        (reload + 1) * (2 * pre + 1) * 1_000_000_000 / 13_560_000
    }

    fn read_reg(&mut self, reg: u8) -> u8 {
        self.advance();
        if self.disconnected || self.in_reset {
            return 0x00;
        }
        match reg {
            FIFO_DATA => self.fifo.pop_front().unwrap_or(0),
            FIFO_LEVEL => self.fifo.len() as u8,
            VERSION => self.version,
            COMMAND if self.now_ns < self.busy_until_ns => self.regs[COMMAND as usize] | COMMAND_POWER_DOWN,
            r => self.regs[r as usize & 0x3F],
        }
    }

    fn write_reg(&mut self, reg: u8, v: u8) {
        self.advance();
        if self.disconnected || self.in_reset || self.now_ns < self.busy_until_ns {
            return;
        }
        match reg {
            COMMAND => self.command(v),
            BIT_FRAMING => {
                self.regs[BIT_FRAMING as usize] = v;
                if v & BIT_FRAMING_START_SEND != 0 && self.regs[COMMAND as usize] & COMMAND_MASK == CMD_TRANSCEIVE {
                    self.send(true);
                }
            }
            COM_IRQ => set_or_clear(&mut self.regs[COM_IRQ as usize], v),
            DIV_IRQ => set_or_clear(&mut self.regs[DIV_IRQ as usize], v),
            FIFO_LEVEL => {
                if v & FIFO_FLUSH != 0 {
                    self.fifo.clear();
                    self.regs[ERROR as usize] &= !ERR_BUFFER_OVFL;
                }
            }
            FIFO_DATA => {
                if self.fifo.len() < FIFO_SIZE {
                    self.fifo.push_back(v);
                } else {
                    self.regs[ERROR as usize] |= ERR_BUFFER_OVFL;
                }
            }
            COLL => {
                let r = &mut self.regs[COLL as usize];
                *r = (*r & !COLL_VALUES_AFTER_COLL) | (v & COLL_VALUES_AFTER_COLL);
            }
            ERROR | STATUS1 | VERSION | CRC_RESULT_H | CRC_RESULT_L | T_COUNTER_VAL_H | T_COUNTER_VAL_L => {}
            r => self.regs[r as usize & 0x3F] = v,
        }
    }

    fn command(&mut self, v: u8) {
        let cmd = v & COMMAND_MASK;
        self.regs[COMMAND as usize] = (v & COMMAND_RCV_OFF) | cmd;
        match cmd {
            CMD_IDLE => self.events.retain(|(_, e)| matches!(e, Event::CrcDone { .. })),
            CMD_SOFT_RESET => {
                self.reset_registers();
                self.busy_until_ns = self.now_ns + 500_000;
            }
            CMD_MEM => {
                if self.fifo.len() >= 25 {
                    for b in self.internal.iter_mut() {
                        *b = self.fifo.pop_front().unwrap_or(0);
                    }
                } else if self.fifo.is_empty() {
                    self.fifo.extend(self.internal);
                }
                self.idle_done();
            }
            CMD_CALC_CRC => self.calc_crc(),
            CMD_TRANSMIT => self.send(false),
            CMD_TRANSCEIVE => {
                if self.regs[BIT_FRAMING as usize] & BIT_FRAMING_START_SEND != 0 {
                    // A StartSend bit left over from the last frame starts at once.
                    self.send(true);
                }
            }
            CMD_GENERATE_RANDOM_ID => {
                for (i, b) in self.internal.iter_mut().enumerate().skip(15) {
                    *b = (self.now_ns as u8).wrapping_mul(31).wrapping_add(i as u8);
                }
                self.idle_done();
            }
            _ => self.idle_done(),
        }
    }

    fn idle_done(&mut self) {
        self.regs[COMMAND as usize] &= !COMMAND_MASK;
        self.regs[COM_IRQ as usize] |= COM_IRQ_IDLE;
    }

    fn calc_crc(&mut self) {
        let data: Vec<u8> = self.fifo.drain(..).collect();
        if self.regs[AUTO_TEST as usize] & 0x0F == AUTO_TEST_SELF_TEST {
            // Digital self-test: the result depends on a cleared internal buffer.
            let clean = self.internal.iter().all(|b| *b == 0);
            let reference = super::ChipVersion::from_register(self.version).self_test_reference();
            for i in 0..FIFO_SIZE {
                let good = reference.map(|r| r[i]).unwrap_or((i as u8).wrapping_mul(37) ^ 0x5A);
                self.fifo.push_back(if clean { good } else { good ^ 0xFF });
            }
            return;
        }
        let preset = match self.regs[MODE as usize] & 0x03 {
            0 => 0x0000,
            1 => 0x6363,
            2 => 0xA671,
            _ => 0xFFFF,
        };
        let crc = crc16(preset, &data);
        let done = self.now_ns + 1_000 * data.len() as u64;
        self.events.push((done, Event::CrcDone { crc }));
    }

    /// Sends the FIFO as one frame; `listen` for Transceive.
    fn send(&mut self, listen: bool) {
        let bytes: Vec<u8> = self.fifo.drain(..).collect();
        if bytes.is_empty() {
            return;
        }
        let framing = self.regs[BIT_FRAMING as usize];
        let last = (framing & 0x07) as usize;
        let nbits = bytes.len() * 8 - if last == 0 { 0 } else { 8 - last };
        let frame = Bits { bytes, nbits };
        self.regs[ERROR as usize] = 0;
        let tx_air = iso14443a::frame_air_ns(nbits as u32);
        let tx_end = self.now_ns + tx_air;
        self.stats.frames += 1;
        self.stats.air_ns += tx_air;
        self.events.push((tx_end, Event::TxDone { then_idle: !listen }));
        let antenna = self.regs[TX_CONTROL as usize] & (TX_CONTROL_TX1_RF_EN | TX_CONTROL_TX2_RF_EN) != 0;
        let answers: Vec<Bits> = if antenna {
            self.cards.iter_mut().filter_map(|c| c.on_frame(&frame)).collect()
        } else {
            Vec::new()
        };
        let heard = merge_answers(&answers);
        let rx_bits = match &heard {
            Heard::Nothing => None,
            Heard::Frame(b) | Heard::Collision { bits: b, .. } => Some(b.nbits),
        };
        match rx_bits {
            Some(n) if listen => {
                let rx_air = FDT_NS + iso14443a::frame_air_ns(n as u32);
                self.stats.air_ns += rx_air;
                let rx_align = (framing >> 4) & 0x07;
                self.events.push((tx_end + rx_air, Event::RxDone { heard, rx_align }));
            }
            _ => {
                if self.regs[T_MODE as usize] & T_MODE_AUTO != 0 {
                    self.events.push((tx_end + self.timer_period_ns(), Event::Timer));
                }
            }
        }
    }

    /// One CS-low session: the MOSI bytes in, the MISO bytes out.
    fn session(&mut self, mosi: &[u8]) -> Vec<u8> {
        let mut miso = vec![0u8; mosi.len()];
        let Some(&first) = mosi.first() else {
            return miso;
        };
        if first & 0x80 != 0 {
            for i in 0..mosi.len() - 1 {
                if mosi[i] & 0x80 == 0 {
                    break;
                }
                miso[i + 1] = self.read_reg((mosi[i] >> 1) & 0x3F);
            }
        } else {
            let reg = (first >> 1) & 0x3F;
            for &b in &mosi[1..] {
                self.write_reg(reg, b);
            }
        }
        miso
    }
}

fn set_or_clear(reg: &mut u8, v: u8) {
    if v & 0x80 != 0 {
        *reg |= v & 0x7F;
    } else {
        *reg &= !(v & 0x7F);
    }
}

fn crc16(preset: u16, data: &[u8]) -> [u8; 2] {
    let mut crc = preset;
    for &b in data {
        let mut ch = b ^ (crc as u8);
        ch ^= ch << 4;
        crc = (crc >> 8) ^ ((ch as u16) << 8) ^ ((ch as u16) << 3) ^ ((ch as u16) >> 4);
    }
    [crc as u8, (crc >> 8) as u8]
}

/// The simulated chip; clones share it. Hand out `spi()`, `reset_pin()` and
/// `delay()` to the driver and keep a clone to place cards and read stats.
#[derive(Clone)]
pub struct SimChip {
    m: Arc<Mutex<Model>>,
}

impl SimChip {
    /// A chip reporting `version` in VersionReg (0x92 for a genuine v2.0).
    pub fn new(version: u8) -> SimChip {
        Self::with_timing(version, SimTiming::default())
    }

    pub fn with_timing(version: u8, timing: SimTiming) -> SimChip {
        let mut m = Model {
            version,
            regs: [0; REGISTER_COUNT],
            fifo: VecDeque::new(),
            // Power-on content of the internal buffer is not zero.
            internal: [0xA5; 25],
            now_ns: 0,
            events: Vec::new(),
            busy_until_ns: 0,
            in_reset: false,
            cards: Vec::new(),
            timing,
            stats: BusStats::default(),
            disconnected: false,
            miso_high: false,
            fail_transactions: 0,
            allow_in_place: false,
        };
        m.reset_registers();
        SimChip { m: Arc::new(Mutex::new(m)) }
    }

    fn lock(&self) -> MutexGuard<'_, Model> {
        self.m.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn spi(&self) -> SimSpi {
        SimSpi { chip: self.clone() }
    }
    pub fn reset_pin(&self) -> SimResetPin {
        SimResetPin { chip: self.clone() }
    }
    pub fn delay(&self) -> SimDelay {
        SimDelay { chip: self.clone() }
    }

    /// Puts a card in the field; returns its index.
    pub fn add_card(&self, card: SimCard) -> usize {
        let mut m = self.lock();
        m.cards.push(card);
        m.cards.len() - 1
    }
    /// Takes a card out of the field.
    pub fn remove_card(&self, idx: usize) {
        if let Some(c) = self.lock().cards.get_mut(idx) {
            c.in_field = false;
        }
    }
    /// Puts a removed card back (in IDLE state, as a card entering the field).
    pub fn return_card(&self, idx: usize) {
        if let Some(c) = self.lock().cards.get_mut(idx) {
            c.in_field = true;
            c.state = super::sim_card::CardState::Idle;
        }
    }
    pub fn clear_field(&self) {
        self.lock().cards.clear();
    }
    pub fn with_card<R>(&self, idx: usize, f: impl FnOnce(&mut SimCard) -> R) -> Option<R> {
        self.lock().cards.get_mut(idx).map(f)
    }

    pub fn stats(&self) -> BusStats {
        self.lock().stats
    }
    pub fn reset_stats(&self) {
        self.lock().stats = BusStats::default();
    }
    pub fn now_ns(&self) -> u64 {
        self.lock().now_ns
    }
    /// Register content as the chip holds it (no read side effects).
    pub fn peek(&self, reg: u8) -> u8 {
        self.lock().regs[reg as usize & 0x3F]
    }
    /// Simulates a loose wire: every read returns 0x00, writes are lost.
    pub fn set_disconnected(&self, gone: bool) {
        self.lock().disconnected = gone;
    }
    /// Simulates MISO stuck high: every byte read is 0xFF; writes still arrive.
    pub fn set_miso_stuck_high(&self, stuck: bool) {
        self.lock().miso_high = stuck;
    }
    /// The RF side dies: both antenna drivers switch off while every other
    /// register keeps its value, so the timer still ends each wait and reads
    /// look like an empty field (the "stops after hours" failure).
    pub fn kill_antenna(&self) {
        self.lock().regs[TX_CONTROL as usize] &= !(TX_CONTROL_TX1_RF_EN | TX_CONTROL_TX2_RF_EN);
    }
    /// The next `n` SPI transactions fail with a bus error.
    pub fn fail_next_transactions(&self, n: u32) {
        self.lock().fail_transactions = n;
    }
    /// Accept `TransferInPlace` (refused by default, as rppal mishandles it).
    pub fn allow_transfer_in_place(&self, allow: bool) {
        self.lock().allow_in_place = allow;
    }
}

/// The chip's SPI side.
pub struct SimSpi {
    chip: SimChip,
}

impl ErrorType for SimSpi {
    type Error = SimBusError;
}

impl SpiDevice for SimSpi {
    fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), SimBusError> {
        let mut m = self.chip.lock();
        if m.fail_transactions > 0 {
            m.fail_transactions -= 1;
            return Err(SimBusError::Injected);
        }
        let mut mosi = Vec::new();
        let mut delay_ns = 0u64;
        for op in ops.iter() {
            match op {
                Operation::Write(w) => mosi.extend_from_slice(w),
                Operation::Transfer(r, w) => {
                    mosi.extend_from_slice(w);
                    mosi.extend(std::iter::repeat_n(0, r.len().saturating_sub(w.len())));
                }
                Operation::TransferInPlace(b) => {
                    if !m.allow_in_place {
                        return Err(SimBusError::TransferInPlace);
                    }
                    mosi.extend_from_slice(b);
                }
                Operation::Read(r) => mosi.extend(std::iter::repeat_n(0, r.len())),
                Operation::DelayNs(ns) => delay_ns += *ns as u64,
            }
        }
        let bus_ns = mosi.len() as u64 * 8 * 1_000_000_000 / m.timing.spi_hz + m.timing.transaction_overhead_ns;
        m.now_ns += bus_ns + delay_ns;
        m.stats.transactions += 1;
        m.stats.bytes += mosi.len() as u64;
        m.stats.bus_ns += bus_ns;
        let miso = m.session(&mosi);
        let miso = if m.miso_high { vec![0xFF; miso.len()] } else { miso };
        let mut pos = 0;
        for op in ops.iter_mut() {
            match op {
                Operation::Write(w) => pos += w.len(),
                Operation::Transfer(r, w) => {
                    let n = r.len();
                    r.copy_from_slice(&miso[pos..pos + n]);
                    pos += n.max(w.len());
                }
                Operation::TransferInPlace(b) => {
                    let n = b.len();
                    b.copy_from_slice(&miso[pos..pos + n]);
                    pos += n;
                }
                Operation::Read(r) => {
                    let n = r.len();
                    r.copy_from_slice(&miso[pos..pos + n]);
                    pos += n;
                }
                Operation::DelayNs(_) => {}
            }
        }
        Ok(())
    }
}

/// The chip's NRSTPD pin: low holds the chip in reset.
pub struct SimResetPin {
    chip: SimChip,
}

impl embedded_hal::digital::ErrorType for SimResetPin {
    type Error = core::convert::Infallible;
}

impl embedded_hal::digital::OutputPin for SimResetPin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        let mut m = self.chip.lock();
        m.in_reset = true;
        m.reset_registers();
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        let mut m = self.chip.lock();
        if m.in_reset {
            m.in_reset = false;
            m.busy_until_ns = m.now_ns + 1_000_000;
        }
        Ok(())
    }
}

/// Delay that advances the chip's virtual clock.
pub struct SimDelay {
    chip: SimChip,
}

impl embedded_hal::delay::DelayNs for SimDelay {
    fn delay_ns(&mut self, ns: u32) {
        self.chip.lock().now_ns += ns as u64;
    }
}
