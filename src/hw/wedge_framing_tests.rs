//! Framing cases from recorded key-event sequences (`testdata/*.events`)
//! replayed through the USB reader on a test clock, and a few assembler cases.

use super::*;
use crate::clock::{Clock, TestClock};
use crate::hw::usb_wedge::{RecordedKeys, UidFormat, UsbWedgeReader, WedgeFormat, WedgeStats};
use crate::hw::wedge_decode::ByteOrder;
use crate::hw::CardReader;
use std::sync::Arc;
use std::time::Duration;

fn decimal() -> WedgeFormat {
    WedgeFormat { format: UidFormat::Decimal10, byte_order: Some(ByteOrder::LsbFirst), ..WedgeFormat::default() }
}

fn hex() -> WedgeFormat {
    WedgeFormat { format: UidFormat::Hex, ..WedgeFormat::default() }
}

/// Every UID the reader produces from a recording, and its counters.
fn replay(text: &str, f: WedgeFormat) -> (Vec<String>, WedgeStats) {
    let clock = TestClock::at(0);
    let keys = RecordedKeys::parse("recording", text, clock.clone()).unwrap();
    let mut r = UsbWedgeReader::new(keys, f, Arc::new(clock.clone())).unwrap();
    let mut uids = Vec::new();
    while clock.now().mono_ms < 10_000 {
        if let Some(u) = r.next_tap(Duration::from_millis(250)).unwrap() {
            uids.push(u.to_string());
        }
    }
    (uids, r.stats())
}

#[test]
fn a_tab_terminated_reader_reads_every_card_when_the_board_says_tab() {
    let text = include_str!("testdata/usb-tab.events");
    let (uids, stats) = replay(text, WedgeFormat { terminator: Terminator::Tab, ..decimal() });
    assert_eq!(uids, ["04A1B2C3", "DEADBEEF"]);
    assert_eq!(stats.rejects, 0);
}

#[test]
fn a_tab_terminated_reader_on_an_enter_board_is_rejected_and_counted_never_read() {
    let text = include_str!("testdata/usb-tab.events");
    let (uids, stats) = replay(text, decimal());
    assert!(uids.is_empty(), "{uids:?}");
    assert_eq!((stats.rejects, stats.framing), (2, 2), "{stats:?}");
}

#[test]
fn prefix_and_suffix_are_stripped_and_a_number_without_them_is_rejected() {
    let text = include_str!("testdata/usb-prefix-suffix.events");
    let f = WedgeFormat { prefix: ";".into(), suffix: "?".into(), ..decimal() };
    let (uids, stats) = replay(text, f);
    assert_eq!(uids, ["04A1B2C3", "04A1B2C3"]);
    assert_eq!((stats.rejects, stats.framing), (1, 1), "{stats:?}");
}

#[test]
fn a_shifted_id_prefix_before_a_hex_uid_is_stripped() {
    let text = include_str!("testdata/usb-id-prefix.events");
    let (uids, _) = replay(text, WedgeFormat { prefix: "id:".into(), ..hex() });
    assert_eq!(uids, ["04A1B2C3D4E5F6"]);
}

#[test]
fn a_cut_burst_is_dropped_before_the_next_card_and_exact_lengths_refuse_a_glued_one() {
    let text = include_str!("testdata/usb-glued.events");
    let (uids, stats) = replay(text, WedgeFormat { lengths: vec![8], ..hex() });
    assert_eq!(uids, ["DEADBEEF"], "never 04A1B2DEADBEEF");
    assert_eq!(stats.partials, 1, "{stats:?}");
    assert_eq!(stats.rejects, 2, "the cut burst and the glued number: {stats:?}");
}

#[test]
fn without_exact_lengths_a_number_glued_inside_the_key_pause_is_a_wrong_uid_which_is_why_boards_set_them() {
    let text = include_str!("testdata/usb-glued.events");
    let (uids, _) = replay(text, hex());
    assert_eq!(uids, ["DEADBEEF", "04A1B2DEADBEEF"]);
}

#[test]
fn lost_keystrokes_drop_the_number_in_progress_and_the_rest_of_its_burst() {
    let text = include_str!("testdata/usb-syn-dropped.events");
    let (uids, stats) = replay(text, decimal());
    assert_eq!(uids, ["04A1B2C3"], "only the next, complete tap");
    assert_eq!((stats.dropped, stats.rejects, stats.reads), (1, 1, 1), "{stats:?}");
}

#[test]
fn auto_repeat_of_a_held_key_types_nothing() {
    let text = include_str!("testdata/usb-autorepeat.events");
    let (uids, stats) = replay(text, decimal());
    assert_eq!(uids, ["04A1B2C3"]);
    assert_eq!(stats.rejects, 0);
}

#[test]
fn two_numbers_in_one_read_are_two_sightings_in_order() {
    let text = include_str!("testdata/usb-two-in-one-read.events");
    let (uids, _) = replay(text, decimal());
    assert_eq!(uids, ["DEADBEEF", "04A1B2C3"]);
}

#[test]
fn without_a_terminator_a_number_ends_at_its_fixed_length_or_after_the_pause() {
    let text = include_str!("testdata/usb-no-terminator.events");
    let (by_length, _) = replay(text, WedgeFormat { terminator: Terminator::Length, lengths: vec![10], ..decimal() });
    assert_eq!(by_length, ["04A1B2C3", "DEADBEEF"]);
    let (by_pause, _) = replay(text, WedgeFormat { terminator: Terminator::Timeout, ..decimal() });
    assert_eq!(by_pause, ["04A1B2C3", "DEADBEEF"]);
    let (on_enter_board, stats) = replay(text, decimal());
    assert!(on_enter_board.is_empty());
    assert_eq!(stats.partials, 2);
}

#[test]
fn the_fixed_length_terminator_completes_at_the_last_digit_not_later() {
    let framing = Framing { terminator: Terminator::Length, lengths: vec![8], decoding: Decoding { format: super::super::wedge_decode::UidFormat::Hex, ..Decoding::default() }, ..Framing::default() };
    let mut a = KeyAssembler::new(framing);
    let keys = [Key::KEY_0, Key::KEY_4, Key::KEY_A, Key::KEY_1, Key::KEY_B, Key::KEY_2, Key::KEY_C];
    for (i, k) in keys.iter().enumerate() {
        assert!(a.feed(KeyEvent::press(*k), i as i64).is_empty());
    }
    let done = a.feed(KeyEvent::press(Key::KEY_3), 7);
    assert_eq!(done, vec![Ok(crate::model::CardUid::parse("04A1B2C3").unwrap())]);
    assert!(!a.has_partial());
}

#[test]
fn letters_that_are_not_hex_reject_the_number_and_an_empty_enter_is_nothing() {
    let mut a = KeyAssembler::new(Framing::default());
    a.feed(KeyEvent::press(Key::KEY_Q), 0);
    assert!(matches!(a.feed(KeyEvent::press(Key::KEY_ENTER), 1).as_slice(), [Err(WedgeError::Garbage(_))]));
    assert!(a.feed(KeyEvent::press(Key::KEY_ENTER), 2).is_empty());
}

#[test]
fn a_board_with_an_impossible_framing_is_named() {
    let bad = WedgeFormat { terminator: Terminator::Length, ..WedgeFormat::default() };
    assert!(bad.problem().unwrap().contains("lengths"));
    assert!(WedgeFormat { uid_bytes: Some(5), ..WedgeFormat::default() }.problem().unwrap().contains("uid_bytes"));
    assert_eq!(WedgeFormat::default().problem(), None);
}
