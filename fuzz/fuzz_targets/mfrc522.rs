//! Fuzzes the MFRC522 driver against an SPI device whose every read returns
//! fuzz bytes (a broken module, a noisy bus, a card that lies): each call
//! ends with a value or an error, never a panic or an endless poll, and a
//! selected card always has a 4-, 7- or 10-byte UID.
#![no_main]

use embedded_hal::delay::DelayNs;
use embedded_hal::spi::{ErrorKind, ErrorType, Operation, SpiDevice};
use libfuzzer_sys::fuzz_target;
use microclass::hw::mfrc522::{Mfrc522, Mfrc522Config, NoResetPin, RxGain};

/// Answers reads from the fuzz input; once it runs out, the bus fails.
struct FuzzSpi<'a> {
    data: &'a [u8],
    transactions: u32,
}

impl ErrorType for FuzzSpi<'_> {
    type Error = ErrorKind;
}

impl FuzzSpi<'_> {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), ErrorKind> {
        if self.data.len() < buf.len() {
            return Err(ErrorKind::Other);
        }
        let (now, rest) = self.data.split_at(buf.len());
        buf.copy_from_slice(now);
        self.data = rest;
        Ok(())
    }
}

impl SpiDevice for FuzzSpi<'_> {
    fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), ErrorKind> {
        self.transactions += 1;
        // A driver that polls for ever would hang the kiosk's reader thread.
        assert!(self.transactions < 100_000, "the driver does not stop polling");
        for op in ops {
            match op {
                Operation::Read(buf) => self.fill(buf)?,
                Operation::Transfer(read, _) => self.fill(read)?,
                Operation::TransferInPlace(buf) => self.fill(buf)?,
                Operation::Write(_) | Operation::DelayNs(_) => {}
            }
        }
        Ok(())
    }
}

struct NoDelay;
impl DelayNs for NoDelay {
    fn delay_ns(&mut self, _ns: u32) {}
}

fuzz_target!(|data: &[u8]| {
    let Some((&gain, rest)) = data.split_first() else { return };
    let spi = FuzzSpi { data: rest, transactions: 0 };
    let mut d = Mfrc522::new(spi, None::<NoResetPin>, NoDelay, Mfrc522Config::default());
    let _ = d.init();
    let _ = d.version();
    let _ = d.self_test();
    let _ = d.set_antenna_gain(RxGain::from_bits(gain));
    let _ = d.antenna_gain();
    let _ = d.antenna_on();
    let _ = d.calc_crc(&rest[..rest.len().min(64)]);
    for _ in 0..4 {
        let _ = d.reqa();
        let _ = d.wupa();
        if let Ok(card) = d.select() {
            assert!(matches!(card.uid.as_bytes().len(), 4 | 7 | 10), "{card:?}");
        }
        let _ = d.hlta();
    }
    let _ = d.antenna_off();
});
