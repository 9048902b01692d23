//! Board file parsing and validation, against the shipped board files and
//! broken variants of them.

use super::*;

fn shipped(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("board").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(text: &str) -> Result<Board, BoardError> {
    Board::parse(text, Path::new("test.toml"))
}

#[test]
fn the_shipped_mfrc522_board_parses_with_the_design_wiring() {
    let b = parse(&shipped("pi4-mfrc522.toml")).unwrap();
    let ReaderSpec::Mfrc522(m) = &b.reader else { panic!("not an MFRC522 board") };
    assert_eq!((m.spi_bus, m.chip_select, m.reset_pin, m.irq_pin), (0, 0, Some(25), Some(24)));
    assert_eq!(header_pin(25), Some(22));
    assert_eq!(header_pin(24), Some(18));
    assert!(b.buzzer.is_some());
    assert_eq!(b.presence, PresenceConfig::default());
}

#[test]
fn the_shipped_usb_and_sim_boards_parse() {
    let b = parse(&shipped("pi4-usb-reader.toml")).unwrap();
    assert!(matches!(b.reader, ReaderSpec::Usb(_)));
    let b = parse(&shipped("sim.toml")).unwrap();
    assert_eq!(b.reader, ReaderSpec::Sim(SimSpec::default()));
}

#[test]
fn a_pin_that_is_not_on_the_header_is_rejected() {
    let text = shipped("pi4-mfrc522.toml").replace("pin = 17", "pin = 40");
    let e = parse(&text).unwrap_err().to_string();
    assert!(e.contains("GPIO40") && e.contains("buzzer.pin"), "{e}");
}

#[test]
fn a_pin_used_twice_names_both_uses() {
    let text = shipped("pi4-mfrc522.toml").replace("red = 22", "red = 27");
    let e = parse(&text).unwrap_err().to_string();
    assert!(e.contains("GPIO27") && e.contains("leds.green") && e.contains("leds.red"), "{e}");
}

#[test]
fn spi_pins_cannot_be_reused_as_gpio() {
    let text = shipped("pi4-mfrc522.toml").replace("pin = 17", "pin = 8");
    let e = parse(&text).unwrap_err().to_string();
    assert!(e.contains("GPIO8") && e.contains("CE0") && e.contains("header pin 24"), "{e}");
}

#[test]
fn unknown_keys_and_bad_values_are_rejected_with_the_file_name() {
    let e = parse(&shipped("pi4-mfrc522.toml").replace("rx_gain_db = 48", "rx_gain_db = 40")).unwrap_err();
    assert!(e.to_string().contains("rx_gain_db = 40"), "{e}");
    let e = parse(&shipped("pi4-mfrc522.toml").replace("[buzzer]", "[buzzer]\nvolume = 3")).unwrap_err();
    assert!(e.to_string().contains("test.toml") && e.to_string().contains("volume"), "{e}");
}

#[test]
fn a_pattern_lighting_an_undefined_led_is_rejected() {
    let text = format!("{}\n[patterns]\nok = [{{ leds = [\"blue\"], ms = 100 }}]\n", shipped("pi4-mfrc522.toml"));
    let e = parse(&text).unwrap_err().to_string();
    assert!(e.contains("\"blue\""), "{e}");
}

#[test]
fn the_sim_board_builds_sim_edges() {
    let cfg = BoardConfig { kind: BoardKind::Sim, file: None, usb_reader: None };
    let mut hw = build_hardware(&cfg, Arc::new(crate::clock::TestClock::at(0))).unwrap();
    let taps = hw.sim_taps.take().unwrap();
    taps.send(CardUid::parse("01020304").unwrap()).unwrap();
    let got = hw.reader.next_tap(std::time::Duration::from_millis(10)).unwrap();
    assert_eq!(got.unwrap().as_str(), "01020304");
}

#[test]
fn a_pi_board_without_a_file_fails_clearly_and_one_without_spi_starts_with_the_reader_missing() {
    let cfg = BoardConfig { kind: BoardKind::Pi, file: None, usb_reader: None };
    let e = build_hardware(&cfg, Arc::new(crate::clock::TestClock::at(0))).err().unwrap();
    assert!(matches!(e, BoardError::NoBoardFile));
    if !Path::new("/dev/spidev0.0").exists() {
        // The kiosk still starts: the reader reports why it is missing, and keeps looking.
        let board = parse(&shipped("pi4-mfrc522.toml")).unwrap();
        let mut hw = build_from_board(&board, None, Arc::new(crate::clock::TestClock::at(0))).unwrap();
        let e = hw.reader.next_tap(std::time::Duration::from_millis(1)).err().unwrap().to_string();
        assert!(e.contains("dtparam=spi=on"), "{e}");
        assert!(hw.reader.describe().contains("not available"), "{}", hw.reader.describe());
    }
}

#[test]
fn the_wizard_offers_the_simulated_board_and_each_valid_board_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["pi4-mfrc522.toml", "pi4-usb-reader.toml", "sim.toml"] {
        std::fs::write(dir.path().join(name), shipped(name)).unwrap();
    }
    std::fs::write(dir.path().join("broken.toml"), "[reader\n").unwrap();
    std::fs::write(dir.path().join("README.md"), "not a board").unwrap();
    let got = choices(dir.path());
    let summary: Vec<(&str, &str)> = got.iter().map(|c| (c.name.as_str(), c.reader)).collect();
    assert_eq!(summary, vec![("sim", "sim"), ("pi4-mfrc522", "mfrc522"), ("pi4-usb-reader", "usb")]);
    assert_eq!(got[0].value, "sim");
    assert_eq!(Path::new(&got[1].value), dir.path().join("pi4-mfrc522.toml"));
    assert!(crate::provision::validate::check_board(&got[1].value).is_ok(), "every choice passes the provisioning rules");
}

#[test]
fn without_installed_board_files_only_the_simulated_board_is_offered() {
    let got = choices(Path::new("/nonexistent/microclass/board"));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].value, "sim");
}

#[test]
fn the_shipped_usb_board_spells_out_its_decoding_and_framing() {
    let b = parse(&shipped("pi4-usb-reader.toml")).unwrap();
    let ReaderSpec::Usb(u) = &b.reader else { panic!("not a USB board") };
    let f = &u.format;
    assert_eq!((f.format, f.byte_order, f.uid_bytes), (crate::hw::usb_wedge::UidFormat::Decimal10, Some(crate::hw::usb_wedge::ByteOrder::LsbFirst), Some(4)));
    assert_eq!((f.terminator, f.partial_timeout_ms), (crate::hw::usb_wedge::Terminator::Enter, 100));
}

#[test]
fn a_usb_board_ending_numbers_by_length_without_a_length_is_rejected() {
    let text = shipped("pi4-usb-reader.toml").replace("terminator = \"enter\"", "terminator = \"length\"");
    let e = parse(&text).unwrap_err().to_string();
    assert!(e.contains("test.toml") && e.contains("reader.lengths"), "{e}");
}

#[test]
fn outputs_can_be_active_low_per_line() {
    let text = shipped("pi4-mfrc522.toml")
        .replace("pin = 17 ", "pin = 17\nactive_low = true ")
        .replace("red = 22", "red = { pin = 22, active_low = true }");
    let b = parse(&text).unwrap();
    assert!(b.buzzer.as_ref().unwrap().active_low);
    assert_eq!(b.leds["red"], LedSpec::Line { pin: 22, active_low: true });
    assert!(b.leds["red"].active_low() && !b.leds["green"].active_low());
    assert_eq!(b.leds["green"].pin(), 27);
    // A pin given in the table form is still checked like any other.
    let e = parse(&text.replace("pin = 22, active_low", "pin = 9, active_low")).unwrap_err().to_string();
    assert!(e.contains("GPIO9") && e.contains("leds.red"), "{e}");
}
