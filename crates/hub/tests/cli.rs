//! The `microclass-hub` program from outside: its commands exist, and keygen
//! writes a key pair the publish step can load.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_microclass-hub");

#[test]
fn every_hub_command_is_listed_in_the_help() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["keygen", "publish", "ingest", "report", "devices", "bench"] {
        assert!(help.contains(cmd), "{cmd} missing from:\n{help}");
    }
}

#[test]
fn keygen_writes_a_private_key_only_its_owner_can_read_and_prints_the_public_key() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let out = Command::new(BIN).args(["keygen", "--out"]).arg(d.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mode = std::fs::metadata(d.path().join("hub.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = String::from_utf8_lossy(&out.stdout);
    let public = text.lines().last().unwrap().trim();
    assert_eq!(public.len(), 64, "{text}");
    assert!(public.chars().all(|c| c.is_ascii_hexdigit()));
}
