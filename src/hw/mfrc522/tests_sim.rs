//! Driver tests against the simulated chip: version handling, self-test,
//! reads of 4-, 7- and 10-byte UIDs, two cards at once, CRC errors, a card
//! leaving mid-read, dropouts, timeouts and a dead chip.

use super::iso14443a::CASCADE_TAG;
use super::sim_card::{CardFaults, CardState, SimCard};
use super::sim_chip::{SimChip, SimDelay, SimResetPin, SimSpi};
use super::*;

type SimDriver = Mfrc522<SimSpi, SimResetPin, SimDelay>;

fn driver(chip: &SimChip) -> SimDriver {
    Mfrc522::new(chip.spi(), Some(chip.reset_pin()), chip.delay(), Mfrc522Config::default())
}

fn ready(version: u8) -> (SimChip, SimDriver) {
    let chip = SimChip::new(version);
    let mut d = driver(&chip);
    d.init().unwrap();
    (chip, d)
}

fn card(uid: &[u8]) -> SimCard {
    SimCard::new(uid, 0x08).unwrap()
}

fn uid_of(c: &Option<Card>) -> String {
    c.as_ref().map(|c| c.uid.to_card_uid().to_string()).unwrap_or_default()
}

#[test]
fn init_reports_a_genuine_chip_and_switches_the_antenna_on() {
    let (chip, d) = ready(0x92);
    assert_eq!(d.chip_version(), Some(ChipVersion::V2));
    assert_eq!(chip.peek(regs::TX_CONTROL) & 0x03, 0x03);
    assert_eq!(chip.peek(regs::T_MODE), regs::T_MODE_AUTO);
    assert_eq!(chip.peek(regs::RF_CFG), 0x70);
}

#[test]
fn clone_and_counterfeit_versions_are_named_clearly() {
    let (_, d) = ready(0x88);
    assert_eq!(d.chip_version(), Some(ChipVersion::Fm17522));
    assert!(ChipVersion::Fm17522.describe().contains("FM17522"));
    for (v, named) in [(0xB2, ChipVersion::Fm17522B2), (0x89, ChipVersion::Fm17522E)] {
        assert_eq!(ChipVersion::from_register(v), named);
        assert_eq!(named.register_value(), v);
        assert!(named.describe().contains("FM17522") && !named.is_genuine());
        assert_eq!(named.self_test_reference(), None, "no reference measured: a warning, never a failure");
    }
    let (_, d) = ready(0x12);
    assert_eq!(d.chip_version(), Some(ChipVersion::Counterfeit));
    assert!(ChipVersion::Counterfeit.describe().contains("counterfeit"));
    let (_, d) = ready(0x7E);
    assert_eq!(d.chip_version(), Some(ChipVersion::Unknown(0x7E)));
    assert!(ChipVersion::Unknown(0x7E).describe().contains("0x7e"));
}

#[test]
fn a_missing_chip_is_reported_as_no_chip_not_as_a_card_problem() {
    let chip = SimChip::new(0x92);
    chip.set_disconnected(true);
    let mut d = driver(&chip);
    let err = d.init().unwrap_err();
    assert!(matches!(err, Error::NoChip(0x00)), "{err}");
    assert!(err.to_string().contains("dtparam=spi=on"));
    assert!(err.is_fault());
}

#[test]
fn the_self_test_passes_on_genuine_chips_and_the_clone() {
    for v in [0x91, 0x92, 0x88] {
        let (chip, mut d) = ready(v);
        assert_eq!(d.self_test().unwrap(), SelfTest::Passed, "version {v:#x}");
        // Self-test leaves the chip configured again.
        assert_eq!(chip.peek(regs::AUTO_TEST), 0);
        assert_eq!(chip.peek(regs::TX_CONTROL) & 0x03, 0x03);
    }
}

#[test]
fn the_self_test_has_no_reference_for_a_counterfeit() {
    let (_, mut d) = ready(0x12);
    assert_eq!(d.self_test().unwrap(), SelfTest::NoReference(ChipVersion::Counterfeit));
}

#[test]
fn antenna_gain_is_written_and_read_back() {
    let (chip, mut d) = ready(0x92);
    d.set_antenna_gain(RxGain::Db33).unwrap();
    assert_eq!(chip.peek(regs::RF_CFG), 0x40);
    assert_eq!(d.antenna_gain().unwrap(), RxGain::Db33);
}

#[test]
fn the_crc_coprocessor_agrees_with_crc_a() {
    let (_, mut d) = ready(0x92);
    let data = [0x93, 0x70, 0x01, 0x02, 0x03, 0x04, 0x04];
    assert_eq!(d.calc_crc(&data).unwrap(), iso14443a::crc_a(&data));
}

#[test]
fn an_empty_field_times_out_cleanly_on_the_chip_timer() {
    let (chip, mut d) = ready(0x92);
    let t0 = chip.now_ns();
    assert_eq!(d.read_card(Wake::Wupa).unwrap(), None);
    let waited_us = (chip.now_ns() - t0) / 1000;
    assert!((1000..3000).contains(&waited_us), "waited {waited_us} us");
}

#[test]
fn a_four_byte_uid_is_read_and_the_card_halted() {
    let (chip, mut d) = ready(0x92);
    let i = chip.add_card(card(&[0xDE, 0xAD, 0xBE, 0xEF]));
    let c = d.read_card(Wake::Reqa).unwrap();
    assert_eq!(uid_of(&c), "DEADBEEF");
    assert_eq!(c.unwrap().sak, 0x08);
    assert_eq!(chip.with_card(i, |c| c.state), Some(CardState::Halt));
    // Halted: REQA no longer sees it, WUPA does.
    assert_eq!(d.read_card(Wake::Reqa).unwrap(), None);
    assert_eq!(uid_of(&d.read_card(Wake::Wupa).unwrap()), "DEADBEEF");
}

#[test]
fn seven_and_ten_byte_uids_go_through_the_cascade_levels() {
    let (chip, mut d) = ready(0x92);
    let seven = chip.add_card(card(&[0x04, 0x52, 0x3A, 0x91, 0x6B, 0x2C, 0x80]));
    assert_eq!(uid_of(&d.read_card(Wake::Wupa).unwrap()), "04523A916B2C80");
    chip.remove_card(seven);
    chip.add_card(card(&[0x08, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    assert_eq!(uid_of(&d.read_card(Wake::Wupa).unwrap()), "08010203040506070809");
}

#[test]
fn a_single_size_uid_may_not_hide_behind_a_cascade_tag() {
    // A 4-byte UID starting with 0x88 is read as it is (SAK says complete).
    let (chip, mut d) = ready(0x92);
    chip.add_card(card(&[CASCADE_TAG, 1, 2, 3]));
    assert_eq!(uid_of(&d.read_card(Wake::Wupa).unwrap()), "88010203");
}

#[test]
fn two_cards_at_once_are_resolved_one_after_the_other() {
    let (chip, mut d) = ready(0x92);
    chip.add_card(card(&[0x11, 0x22, 0x33, 0x44]));
    chip.add_card(card(&[0x11, 0x22, 0x37, 0x44]));
    let first = uid_of(&d.read_card(Wake::Reqa).unwrap());
    assert!(d.several_cards_seen(), "the read that met both cards says so");
    // The first is halted now; REQA reaches only the other one.
    let second = uid_of(&d.read_card(Wake::Reqa).unwrap());
    assert!(!d.several_cards_seen());
    let mut got = vec![first, second];
    got.sort();
    assert_eq!(got, vec!["11223344", "11223744"]);
    assert_eq!(d.read_card(Wake::Reqa).unwrap(), None);
}

#[test]
fn a_four_and_a_seven_byte_card_together_collide_in_atqa_and_still_resolve() {
    let (chip, mut d) = ready(0x92);
    chip.add_card(card(&[0x2A, 0x00, 0x00, 0x01]));
    chip.add_card(card(&[0x04, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60]));
    let mut got = vec![
        uid_of(&d.read_card(Wake::Reqa).unwrap()),
        uid_of(&d.read_card(Wake::Reqa).unwrap()),
    ];
    got.sort();
    assert_eq!(got, vec!["04102030405060", "2A000001"]);
}

#[test]
fn three_cards_needing_several_collisions_per_level_all_resolve() {
    let (chip, mut d) = ready(0x92);
    for uid in [[0x10, 0x00, 0x00, 0x00], [0x10, 0x80, 0x00, 0x00], [0x10, 0x80, 0x01, 0x00]] {
        chip.add_card(card(&uid));
    }
    let mut got: Vec<String> = (0..3).map(|_| uid_of(&d.read_card(Wake::Reqa).unwrap())).collect();
    got.sort();
    assert_eq!(got, vec!["10000000", "10800000", "10800100"]);
}

#[test]
fn a_corrupted_sak_crc_is_a_crc_error_and_a_later_read_succeeds() {
    let (chip, mut d) = ready(0x92);
    let faults = CardFaults { corrupt_sak_crc: 1, ..Default::default() };
    chip.add_card(card(&[1, 2, 3, 4]).with_faults(faults));
    let err = d.read_card(Wake::Wupa).unwrap_err();
    assert!(matches!(err, Error::Crc), "{err}");
    assert!(!err.is_fault());
    // The card was left ACTIVE, so it ignores the next WUPA; the one after reads it.
    assert_eq!(d.read_card(Wake::Wupa).unwrap(), None);
    assert_eq!(uid_of(&d.read_card(Wake::Wupa).unwrap()), "01020304");
}

#[test]
fn a_card_pulled_away_mid_read_is_card_lost() {
    let (chip, mut d) = ready(0x92);
    let faults = CardFaults { leave_after_answers: Some(2), ..Default::default() };
    chip.add_card(card(&[0x04, 1, 2, 3, 4, 5, 6]).with_faults(faults));
    let err = d.read_card(Wake::Wupa).unwrap_err();
    assert!(matches!(err, Error::CardLost), "{err}");
    assert_eq!(d.read_card(Wake::Wupa).unwrap(), None);
}

#[test]
fn a_card_left_active_drops_out_every_other_reqa_as_real_readers_do() {
    let (chip, mut d) = ready(0x92);
    chip.add_card(card(&[1, 2, 3, 4]));
    // Select without HLTA leaves the card ACTIVE.
    assert!(d.reqa().unwrap().is_some());
    d.select().unwrap();
    assert_eq!(d.reqa().unwrap(), None);
    assert!(d.reqa().unwrap().is_some());
}

#[test]
fn a_flaky_card_misses_polls_but_is_read_on_the_others() {
    let (chip, mut d) = ready(0x92);
    let faults = CardFaults { miss_every_nth_request: Some(3), ..Default::default() };
    chip.add_card(card(&[9, 9, 9, 9]).with_faults(faults));
    let reads: Vec<bool> = (0..6).map(|_| d.read_card(Wake::Wupa).unwrap().is_some()).collect();
    assert_eq!(reads, vec![true, true, false, true, true, false]);
}

#[test]
fn a_bus_error_is_wrapped_and_counts_as_a_fault() {
    let (chip, mut d) = ready(0x92);
    chip.fail_next_transactions(1);
    let err = d.read_card(Wake::Wupa).unwrap_err();
    assert!(matches!(err, Error::Spi(sim_chip::SimBusError::Injected)));
    assert!(err.is_fault());
}

#[test]
fn a_chip_that_stops_answering_mid_poll_gives_a_bounded_error() {
    let (chip, mut d) = ready(0x92);
    // No timer: the chip never raises TimerIRq, the poll bound must end the wait.
    chip.spi().write(&[regs::write_addr(regs::T_MODE), 0x00]).unwrap();
    let err = d.read_card(Wake::Wupa).unwrap_err();
    assert!(matches!(err, Error::ChipNotResponding(_)), "{err}");
}

#[test]
fn the_driver_never_uses_transfer_in_place() {
    // The sim refuses TransferInPlace like a misbehaving rppal bus would; a
    // full init + self-test + read must not trip it.
    let (chip, mut d) = ready(0x92);
    chip.add_card(card(&[0x04, 1, 2, 3, 4, 5, 6]));
    d.self_test().unwrap();
    assert!(d.read_card(Wake::Wupa).unwrap().is_some());
}

#[test]
fn destroy_hands_back_the_parts() {
    let (chip, d) = ready(0x92);
    let (mut spi, rst, _delay) = d.destroy();
    assert!(rst.is_some());
    let mut rx = [0u8; 2];
    spi.transfer(&mut rx, &[regs::read_addr(regs::VERSION), 0]).unwrap();
    assert_eq!(rx[1], 0x92);
    drop(chip);
}
