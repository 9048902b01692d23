//! Cost of one successful card read on the simulated chip: SPI transactions,
//! bytes, bus time and total time, against the minimum the ISO 14443A
//! exchange needs. `report()` is what `microclass bench reader` prints.
//! Runs only against the simulation; never touches hardware.

use super::iso14443a::{frame_air_ns, Uid, FDT_NS};
use super::sim_card::SimCard;
use super::sim_chip::{SimChip, SimTiming};
use super::{Mfrc522, Mfrc522Config, Wake};
use std::fmt::Write as _;

/// Averages over the measured reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadCost {
    pub uid_len: usize,
    pub rf_frames: f64,
    pub transactions: f64,
    pub bytes: f64,
    pub bus_us: f64,
    pub elapsed_us: f64,
    /// RF frames ISO 14443-3 needs: request, per level anticollision and
    /// select, HLTA.
    pub min_frames: u64,
    /// Bus transactions those frames need at least on an MFRC522: load the
    /// FIFO, start the command and, for frames with an answer, read it back.
    pub min_transactions: u64,
    /// Air time of those frames with the cards' frame delay and answers.
    pub min_air_us: f64,
}

/// The ISO 14443A lower bound of one read of a UID with `levels` cascade levels.
pub fn iso_minimum(levels: u64) -> (u64, u64, f64) {
    let exchange = |tx: u32, rx: u32| frame_air_ns(tx) + FDT_NS + frame_air_ns(rx);
    let air = exchange(7, 16) + levels * (exchange(16, 40) + exchange(72, 24)) + frame_air_ns(32);
    let frames = 2 + 2 * levels;
    let answered = frames - 1;
    (frames, answered * 3 + 2, air as f64 / 1000.0)
}

/// Reads a card with `uid` `reads` times (WUPA, select, HLTA) and averages.
pub fn measure_read(uid: &[u8], timing: SimTiming, reads: u32) -> Result<ReadCost, String> {
    let parsed = Uid::new(uid).ok_or("UID must be 4, 7 or 10 bytes")?;
    let chip = SimChip::with_timing(0x92, timing);
    let card = SimCard::new(uid, 0x08).ok_or("bad UID")?;
    chip.add_card(card);
    let mut d = Mfrc522::new(chip.spi(), Some(chip.reset_pin()), chip.delay(), Mfrc522Config::default());
    d.init().map_err(|e| e.to_string())?;
    chip.reset_stats();
    let t0 = chip.now_ns();
    for _ in 0..reads.max(1) {
        match d.read_card(Wake::Wupa).map_err(|e| e.to_string())? {
            Some(c) if c.uid == parsed => {}
            other => return Err(format!("read returned {other:?}")),
        }
    }
    let n = reads.max(1) as f64;
    let s = chip.stats();
    let (min_frames, min_transactions, min_air_us) = iso_minimum(parsed.cascade_levels() as u64);
    Ok(ReadCost {
        uid_len: uid.len(),
        rf_frames: s.frames as f64 / n,
        transactions: s.transactions as f64 / n,
        bytes: s.bytes as f64 / n,
        bus_us: s.bus_ns as f64 / 1000.0 / n,
        elapsed_us: (chip.now_ns() - t0) as f64 / 1000.0 / n,
        min_frames,
        min_transactions,
        min_air_us,
    })
}

/// A table for 4-, 7- and 10-byte UIDs at 1 MHz SPI, and with 25 us of
/// per-transaction overhead (about what a Linux spidev ioctl costs on a Pi).
pub fn report() -> Result<String, String> {
    let mut out = String::new();
    for (label, timing) in [
        ("SPI 1 MHz, no per-transaction overhead", SimTiming { spi_hz: 1_000_000, transaction_overhead_ns: 0 }),
        ("SPI 1 MHz, 25 us per transaction (Linux spidev)", SimTiming { spi_hz: 1_000_000, transaction_overhead_ns: 25_000 }),
    ] {
        let _ = writeln!(out, "{label}");
        let _ = writeln!(
            out,
            "  uid  frames(min)  spi-transactions(min)  ratio  bytes  bus-us  read-us  iso-air-us  time-ratio"
        );
        for uid in [&[0x11u8, 0x22, 0x33, 0x44][..], &[0x04, 1, 2, 3, 4, 5, 6], &[0x08, 1, 2, 3, 4, 5, 6, 7, 8, 9]] {
            let c = measure_read(uid, timing, 20)?;
            let _ = writeln!(
                out,
                "  {:>2}B  {:>5.1}({:>2})     {:>6.1}({:>2})             {:>5.2}  {:>5.0}  {:>6.0}  {:>7.0}  {:>10.0}  {:>10.2}",
                c.uid_len,
                c.rf_frames,
                c.min_frames,
                c.transactions,
                c.min_transactions,
                c.transactions / c.min_transactions as f64,
                c.bytes,
                c.bus_us,
                c.elapsed_us,
                c.min_air_us,
                c.elapsed_us / c.min_air_us
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_costs_the_iso_frames_and_a_bounded_number_of_transactions() {
        let four = measure_read(&[1, 2, 3, 4], SimTiming::default(), 5).unwrap();
        let seven = measure_read(&[4, 1, 2, 3, 4, 5, 6], SimTiming::default(), 5).unwrap();
        assert_eq!(four.rf_frames, four.min_frames as f64);
        assert_eq!(seven.rf_frames, seven.min_frames as f64);
        assert!(seven.transactions > four.transactions);
        // The driver may spend extra transactions (CRC coprocessor, status
        // polls) but not unboundedly many.
        assert!(four.transactions / (four.min_transactions as f64) < 5.0, "{four:?}");
        assert!(four.elapsed_us > four.min_air_us);
        println!("{}", report().unwrap());
    }
}
