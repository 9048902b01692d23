//! `microclass doctor reader` as a process: the exit code and the messages a
//! technician sees, on this machine (a PC without SPI or GPIO).

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_microclass");

fn doctor(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN).args(["doctor", "reader"]).args(args).output().expect("run microclass");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn doctor_reader_on_a_pc_without_spi_fails_with_the_spi_hint() {
    if Path::new("/dev/spidev0.0").exists() {
        panic!("this test expects a machine without /dev/spidev0.0 (CI); run `doctor reader` by hand on a Pi");
    }
    let board = concat!(env!("CARGO_MANIFEST_DIR"), "/board/pi4-mfrc522.toml");
    let (code, text) = doctor(&["--board-file", board, "--wait", "0"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("/dev/spidev0.0") && text.contains("dtparam=spi=on"), "{text}");
}

#[test]
fn doctor_reader_reports_json_and_passes_on_the_sim_board() {
    let board = concat!(env!("CARGO_MANIFEST_DIR"), "/board/sim.toml");
    let (code, text) = doctor(&["--board-file", board, "--json"]);
    assert_eq!(code, 0, "{text}");
    let v: serde_json::Value = serde_json::from_str(text.trim()).expect("JSON");
    assert_eq!(v["verdict"], "ok");
}

#[test]
fn doctor_reader_names_a_broken_board_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\n[reader]\nkind = \"mfrc522\"\nreset_pin = 9\n").unwrap();
    let (code, text) = doctor(&["--board-file", bad.to_str().unwrap(), "--wait", "0"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("bad.toml") && text.contains("GPIO9") && text.contains("MISO"), "{text}");
}
