//! Exact bus traffic of init and of 4- and 7-byte reads, as embedded-hal-mock
//! transaction scripts. Bytes are spelled out (SPI address bytes, register
//! values) rather than built from the driver's constants, so a changed
//! constant shows up here.

use super::iso14443a::crc_a;
use super::*;
use embedded_hal_mock::eh1::delay::NoopDelay;
use embedded_hal_mock::eh1::digital::{Mock as PinMock, State, Transaction as Pin};
use embedded_hal_mock::eh1::spi::{Mock as SpiMock, Transaction as Spi};

fn tx(bytes: &[u8]) -> Vec<Spi<u8>> {
    vec![Spi::transaction_start(), Spi::write_vec(bytes.to_vec()), Spi::transaction_end()]
}

fn rx(sent: &[u8], got: &[u8]) -> Vec<Spi<u8>> {
    vec![Spi::transaction_start(), Spi::transfer(sent.to_vec(), got.to_vec()), Spi::transaction_end()]
}

/// Idle, clear IRQs, flush FIFO, load FIFO, framing, Transceive, StartSend.
fn start_transceive(frame: &[u8], framing: u8) -> Vec<Spi<u8>> {
    let mut fifo = vec![0x12];
    fifo.extend_from_slice(frame);
    [
        tx(&[0x02, 0x00]),
        tx(&[0x08, 0x7F]),
        tx(&[0x14, 0x80]),
        tx(&fifo),
        tx(&[0x1A, framing]),
        tx(&[0x02, 0x0C]),
        tx(&[0x1A, framing | 0x80]),
    ]
    .concat()
}

/// One poll of ComIrqReg, ErrorReg, FIFOLevelReg, ControlReg, then the FIFO.
fn answer(data: &[u8]) -> Vec<Spi<u8>> {
    let mut s = rx(&[0x88, 0x8C, 0x94, 0x98, 0x00], &[0x00, 0x60, 0x00, data.len() as u8, 0x00]);
    let mut sent = vec![0x92; data.len()];
    sent.push(0x00);
    let mut got = vec![0x00];
    got.extend_from_slice(data);
    s.extend(rx(&sent, &got));
    s
}

fn calc_crc(data: &[u8]) -> Vec<Spi<u8>> {
    let mut fifo = vec![0x12];
    fifo.extend_from_slice(data);
    let crc = crc_a(data);
    [
        tx(&[0x02, 0x00]),
        tx(&[0x0A, 0x04]),
        tx(&[0x14, 0x80]),
        tx(&fifo),
        tx(&[0x02, 0x03]),
        rx(&[0x8A, 0xC4, 0xC2, 0x00], &[0x00, 0x04, crc[0], crc[1]]),
    ]
    .concat()
}

fn select_level(sel: u8, cln: [u8; 4], sak: u8) -> Vec<Spi<u8>> {
    let bcc = cln.iter().fold(0, |a, b| a ^ b);
    let mut anticoll = start_transceive(&[sel, 0x20], 0x00);
    anticoll.extend(answer(&[cln[0], cln[1], cln[2], cln[3], bcc]));
    let frame = [sel, 0x70, cln[0], cln[1], cln[2], cln[3], bcc];
    let crc = crc_a(&frame);
    let mut full = frame.to_vec();
    full.extend_from_slice(&crc);
    let sak_crc = crc_a(&[sak]);
    [anticoll, calc_crc(&frame), start_transceive(&full, 0x00), answer(&[sak, sak_crc[0], sak_crc[1]])].concat()
}

fn hlta() -> Vec<Spi<u8>> {
    [
        tx(&[0x02, 0x00]),
        tx(&[0x08, 0x7F]),
        tx(&[0x14, 0x80]),
        tx(&[0x12, 0x50, 0x00, 0x57, 0xCD]),
        tx(&[0x1A, 0x00]),
        tx(&[0x02, 0x04]),
        rx(&[0x88, 0x8C, 0x94, 0x98, 0x00], &[0x00, 0x50, 0x00, 0x00, 0x00]),
    ]
    .concat()
}

fn wupa(atqa: [u8; 2]) -> Vec<Spi<u8>> {
    let mut s = start_transceive(&[0x52], 0x07);
    s.extend(answer(&atqa));
    s
}

fn init_script() -> Vec<Spi<u8>> {
    [
        rx(&[0xEE, 0x00], &[0x00, 0x92]), // VersionReg
        tx(&[0x02, 0x0F]),                // SoftReset
        rx(&[0x82, 0x00], &[0x00, 0x20]), // CommandReg: PowerDown clear
        tx(&[0x24, 0x00]),                // TxModeReg
        tx(&[0x26, 0x00]),                // RxModeReg
        tx(&[0x48, 0x26]),                // ModWidthReg
        tx(&[0x54, 0x80]),                // TModeReg: TAuto
        tx(&[0x56, 0xA9]),                // TPrescalerReg: 25 us ticks
        tx(&[0x58, 0x00]),                // TReloadReg high
        tx(&[0x5A, 0x27]),                // TReloadReg low: 40 ticks = 1 ms
        tx(&[0x2A, 0x40]),                // TxASKReg: 100 % ASK
        tx(&[0x22, 0x3D]),                // ModeReg: CRC preset 6363h
        tx(&[0x4C, 0x70]),                // RFCfgReg: 48 dB
        rx(&[0xA8, 0x00], &[0x00, 0x80]), // TxControlReg
        tx(&[0x28, 0x83]),                // antenna on
    ]
    .concat()
}

fn driver(script: &[Spi<u8>]) -> Mfrc522<SpiMock<u8>, PinMock, NoopDelay> {
    let rst = PinMock::new(&[Pin::set(State::Low), Pin::set(State::High)]);
    Mfrc522::new(SpiMock::new(script), Some(rst), NoopDelay::new(), Mfrc522Config::default())
}

fn finish(d: Mfrc522<SpiMock<u8>, PinMock, NoopDelay>) {
    let (mut spi, rst, _) = d.destroy();
    spi.done();
    if let Some(mut rst) = rst {
        rst.done();
    }
}

#[test]
fn init_pulses_reset_checks_the_version_and_writes_the_configuration() {
    let mut d = driver(&init_script());
    assert_eq!(d.init().unwrap(), ChipVersion::V2);
    finish(d);
}

#[test]
fn a_four_byte_read_is_wupa_one_cascade_level_and_hlta() {
    let script = [
        init_script(),
        wupa([0x04, 0x00]),
        select_level(0x93, [0xDE, 0xAD, 0xBE, 0xEF], 0x08),
        hlta(),
    ]
    .concat();
    let mut d = driver(&script);
    d.init().unwrap();
    let card = d.read_card(Wake::Wupa).unwrap().unwrap();
    assert_eq!(card.uid.as_bytes(), &[0xDE, 0xAD, 0xBE, 0xEF]);
    assert_eq!(card.sak, 0x08);
    finish(d);
}

#[test]
fn a_seven_byte_read_uses_the_cascade_tag_then_level_two() {
    let script = [
        init_script(),
        wupa([0x44, 0x00]),
        select_level(0x93, [0x88, 0x04, 0x52, 0x3A], 0x04),
        select_level(0x95, [0x91, 0x6B, 0x2C, 0x80], 0x00),
        hlta(),
    ]
    .concat();
    let mut d = driver(&script);
    d.init().unwrap();
    let card = d.read_card(Wake::Wupa).unwrap().unwrap();
    assert_eq!(card.uid.to_card_uid().as_str(), "04523A916B2C80");
    finish(d);
}

#[test]
fn silence_after_wupa_is_no_card_after_one_timer_interrupt() {
    let mut script = init_script();
    script.extend(start_transceive(&[0x52], 0x07));
    // Nothing yet, then the timer fires.
    script.extend(rx(&[0x88, 0x8C, 0x94, 0x98, 0x00], &[0x00, 0x40, 0x00, 0x00, 0x00]));
    script.extend(rx(&[0x88, 0x8C, 0x94, 0x98, 0x00], &[0x00, 0x41, 0x00, 0x00, 0x00]));
    let mut d = driver(&script);
    d.init().unwrap();
    assert_eq!(d.read_card(Wake::Wupa).unwrap(), None);
    finish(d);
}

#[test]
fn a_wrong_bcc_from_the_card_is_rejected() {
    let mut script = [init_script(), wupa([0x04, 0x00]), start_transceive(&[0x93, 0x20], 0x00)].concat();
    script.extend(answer(&[0x01, 0x02, 0x03, 0x04, 0xFF]));
    let mut d = driver(&script);
    d.init().unwrap();
    assert!(matches!(d.read_card(Wake::Wupa), Err(Error::Bcc(1))));
    finish(d);
}
