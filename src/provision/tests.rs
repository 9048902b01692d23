//! Provisioning tests over real files: a throwaway PKI made with openssl,
//! config files in a temporary directory.

use super::*;
use std::process::Command;

/// A CA, a client certificate signed by it, and a second, unrelated key.
struct Pki {
    dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is needed for these tests (apt-get install openssl; see .ci/install-deps)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        openssl(d, &[&["req", "-x509"][..], &ec, &["-keyout", "ca.key", "-out", "ca.pem", "-days", "3650", "-subj", "/CN=test-ca"]].concat());
        openssl(d, &[&["req"][..], &ec, &["-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=pi-1"]].concat());
        std::fs::write(d.join("client.ext"), "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n").unwrap();
        let sign = ["x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "3650"];
        openssl(d, &[&sign[..], &["-extfile", "client.ext", "-out", "client.pem"]].concat());
        // Without extensions openssl issues an X.509 v1 certificate, which TLS libraries refuse.
        openssl(d, &[&sign[..], &["-out", "client-v1.pem"]].concat());
        openssl(d, &["genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "other.key"]);
        Pki { dir }
    }
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }
}

fn signing_key() -> String {
    hex::encode(ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]).verifying_key().as_bytes())
}

fn full_answers(pki: &Pki) -> ProvisionAnswers {
    ProvisionAnswers {
        district: Some("xh".into()),
        centre: Some("c001".into()),
        device_id: Some("pi-1".into()),
        hub_url: Some("mqtts://hub.example.cn".into()),
        ca_file: Some(pki.path("ca.pem")),
        client_cert: Some(pki.path("client.pem")),
        client_key: Some(pki.path("client.key")),
        signing_key: Some(signing_key()),
        board: Some("sim".into()),
        technician_pin: Some("258071".into()),
        ..Default::default()
    }
}

fn fields(e: ProvisionError) -> Vec<Field> {
    match e {
        ProvisionError::Invalid(v) => v.into_iter().map(|f| f.field).collect(),
        other => panic!("expected invalid answers, got {other}"),
    }
}

#[test]
fn a_complete_set_of_answers_produces_a_0600_file_with_only_the_pin_hash() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let mut f = ConfigFile::load(&path).unwrap();
    let s = apply(&mut f, &full_answers(&pki)).unwrap();
    commit(&f, &full_answers(&pki)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("258071"), "plain PIN written");
    assert!(text.contains("technician_pin_hash = \"$argon2id$"));
    assert!(text.contains("url = \"mqtts://hub.example.cn:8883\""));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(DeviceSettings::load(&path).unwrap(), s);
    assert_eq!(s.client_id().as_deref(), Some("mc-xh-c001-pi-1"));
}

#[test]
fn rerunning_with_one_answer_changes_only_that_value() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let mut f = ConfigFile::load(&path).unwrap();
    let before = apply(&mut f, &full_answers(&pki)).unwrap();
    f.write().unwrap();

    let mut f = ConfigFile::load(&path).unwrap();
    let after = apply(&mut f, &ProvisionAnswers { centre: Some("c002".into()), ..Default::default() }).unwrap();
    f.write().unwrap();
    assert_eq!(after, DeviceSettings { centre: Some("c002".into()), ..before });
}

#[test]
fn a_bad_url_is_reported_against_the_hub_url_field() {
    let pki = Pki::new();
    let a = ProvisionAnswers { hub_url: Some("https://hub.example.cn".into()), ..full_answers(&pki) };
    let mut f = ConfigFile::load(&pki.dir.path().join("c.toml")).unwrap();
    assert_eq!(fields(apply(&mut f, &a).unwrap_err()), vec![Field::HubUrl]);
}

#[test]
fn a_missing_ca_certificate_is_reported_with_its_path() {
    let pki = Pki::new();
    let a = ProvisionAnswers { ca_file: Some(pki.path("nope.pem")), ..full_answers(&pki) };
    let mut f = ConfigFile::load(&pki.dir.path().join("c.toml")).unwrap();
    match apply(&mut f, &a).unwrap_err() {
        ProvisionError::Invalid(v) => {
            assert_eq!(v.len(), 1);
            assert_eq!(v[0].field, Field::CaFile);
            assert!(v[0].message.contains("nope.pem: file not found"), "{}", v[0].message);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_file_without_a_pem_certificate_is_refused() {
    let pki = Pki::new();
    std::fs::write(pki.path("junk.pem"), "hello\n").unwrap();
    let a = ProvisionAnswers { client_cert: Some(pki.path("junk.pem")), ..full_answers(&pki) };
    let mut f = ConfigFile::load(&pki.dir.path().join("c.toml")).unwrap();
    assert_eq!(fields(apply(&mut f, &a).unwrap_err()), vec![Field::ClientCert]);
}

#[test]
fn a_pem_block_that_is_not_a_certificate_is_refused() {
    let pki = Pki::new();
    let garbage = "-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n";
    std::fs::write(pki.path("bad.pem"), garbage).unwrap();
    let a = ProvisionAnswers { ca_file: Some(pki.path("bad.pem")), ..full_answers(&pki) };
    let mut f = ConfigFile::load(&pki.dir.path().join("c.toml")).unwrap();
    assert_eq!(fields(apply(&mut f, &a).unwrap_err()), vec![Field::CaFile]);
}

#[test]
fn a_client_key_that_does_not_match_the_certificate_is_refused() {
    let pki = Pki::new();
    let a = ProvisionAnswers { client_key: Some(pki.path("other.key")), ..full_answers(&pki) };
    let mut f = ConfigFile::load(&pki.dir.path().join("c.toml")).unwrap();
    assert_eq!(fields(apply(&mut f, &a).unwrap_err()), vec![Field::ClientKey]);
}

#[test]
fn a_weak_pin_is_refused_and_nothing_is_hashed() {
    let pki = Pki::new();
    for weak in ["1234", "111111", "123456", "121212"] {
        let a = ProvisionAnswers { technician_pin: Some(weak.into()), ..full_answers(&pki) };
        let mut f = ConfigFile::load(&pki.dir.path().join("c.toml")).unwrap();
        assert_eq!(fields(apply(&mut f, &a).unwrap_err()), vec![Field::TechnicianPin], "{weak}");
        assert_eq!(f.get(keys::PIN_HASH), None);
    }
}

#[test]
fn every_bad_answer_is_reported_at_once() {
    let a = ProvisionAnswers {
        centre: Some("c/1".into()),
        hub_url: Some("hub".into()),
        signing_key: Some("xyz".into()),
        technician_pin: Some("12".into()),
        ca_file: Some("relative.pem".into()),
        ..Default::default()
    };
    let got: Vec<Field> = check_answers(&a).into_iter().map(|e| e.field).collect();
    assert_eq!(got, vec![Field::Centre, Field::HubUrl, Field::SigningKey, Field::TechnicianPin, Field::CaFile]);
}

#[test]
fn a_first_run_with_only_some_answers_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = ConfigFile::load(&dir.path().join("c.toml")).unwrap();
    let a = ProvisionAnswers { centre: Some("c001".into()), ..Default::default() };
    let missing = fields(apply(&mut f, &a).unwrap_err());
    assert_eq!(
        missing,
        vec![Field::District, Field::DeviceId, Field::HubUrl, Field::SigningKey, Field::Board, Field::TechnicianPin]
    );
}

#[test]
fn a_username_without_password_and_a_cert_without_key_are_inconsistent() {
    let pki = Pki::new();
    let a = ProvisionAnswers { username: Some("pi-1".into()), client_key: Some(String::new()), ..full_answers(&pki) };
    let mut f = ConfigFile::load(&pki.dir.path().join("c.toml")).unwrap();
    assert_eq!(fields(apply(&mut f, &a).unwrap_err()), vec![Field::ClientKey, Field::Password]);
}

#[test]
fn switching_to_plain_mqtt_with_credentials_clears_the_tls_files() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let mut f = ConfigFile::load(&path).unwrap();
    apply(&mut f, &full_answers(&pki)).unwrap();
    let a = ProvisionAnswers {
        hub_url: Some("mqtt://10.1.2.3".into()),
        ca_file: Some(String::new()),
        client_cert: Some(String::new()),
        client_key: Some(String::new()),
        username: Some("pi-1".into()),
        password: Some("s3cret".into()),
        ..Default::default()
    };
    let s = apply(&mut f, &a).unwrap();
    assert_eq!(s.tls, TlsFiles::default());
    assert_eq!(s.hub_url.as_deref(), Some("mqtt://10.1.2.3:1883"));
    commit(&f, &a).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("s3cret"), "password written into the config file");
    let pw = password_file_for(&path);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&pw).unwrap().permissions().mode() & 0o777, 0o600);
    let back = DeviceSettings::load(&path).unwrap();
    assert_eq!(back.password.as_deref(), Some("s3cret"));
    assert_eq!(back.password_file, Some(pw));
}

#[test]
fn a_password_file_that_went_missing_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let mut f = ConfigFile::load(&path).unwrap();
    let a = ProvisionAnswers {
        hub_url: Some("mqtt://10.1.2.3".into()),
        username: Some("pi-1".into()),
        password: Some("s3cret".into()),
        ..full_answers_plain()
    };
    apply(&mut f, &a).unwrap();
    commit(&f, &a).unwrap();
    std::fs::remove_file(password_file_for(&path)).unwrap();
    let mut f = ConfigFile::load(&path).unwrap();
    let e = apply(&mut f, &ProvisionAnswers { centre: Some("c9".into()), ..Default::default() }).unwrap_err();
    assert_eq!(fields(e), vec![Field::Password]);
}

#[test]
fn a_board_file_sets_the_pi_board_and_sim_clears_it() {
    let dir = tempfile::tempdir().unwrap();
    let board = dir.path().join("pi4.toml");
    std::fs::write(&board, "[reader]\nkind = \"mfrc522\"\n").unwrap();
    let path = dir.path().join("config.toml");
    let mut f = ConfigFile::load(&path).unwrap();
    let a = ProvisionAnswers { board: Some(board.to_string_lossy().into_owned()), ..full_answers_plain() };
    apply(&mut f, &a).unwrap();
    assert!(f.render().contains("[board]\nkind = \"pi\"\nfile = "), "{}", f.render());
    let s = apply(&mut f, &ProvisionAnswers { board: Some("sim".into()), ..Default::default() }).unwrap();
    assert_eq!(s.board.as_deref(), Some("sim"));
    assert!(!f.render().contains("file ="));
}

#[test]
fn the_written_file_loads_with_the_kiosk_config_loader() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let mut f = ConfigFile::load(&path).unwrap();
    apply(&mut f, &full_answers(&pki)).unwrap();
    commit(&f, &full_answers(&pki)).unwrap();
    let c = crate::config::Config::load(&path).unwrap();
    assert_eq!(c.device.centre, "c001");
    assert_eq!(c.hub.url, "mqtts://hub.example.cn:8883");
    assert!(c.ui.technician_pin_hash.unwrap().starts_with("$argon2id$"));
}

fn full_answers_plain() -> ProvisionAnswers {
    ProvisionAnswers {
        district: Some("xh".into()),
        centre: Some("c001".into()),
        device_id: Some("pi-1".into()),
        hub_url: Some("mqtt://10.1.2.3".into()),
        signing_key: Some(signing_key()),
        board: Some("sim".into()),
        technician_pin: Some("258071".into()),
        ..Default::default()
    }
}

#[test]
fn tls_files_with_a_plain_mqtt_url_are_refused() {
    let pki = Pki::new();
    let a = ProvisionAnswers { hub_url: Some("mqtt://hub".into()), ..full_answers(&pki) };
    let mut f = ConfigFile::load(&pki.dir.path().join("c.toml")).unwrap();
    assert_eq!(fields(apply(&mut f, &a).unwrap_err()), vec![Field::HubUrl]);
}

#[test]
fn an_old_x509_v1_client_certificate_is_refused() {
    let pki = Pki::new();
    let a = ProvisionAnswers { client_cert: Some(pki.path("client-v1.pem")), ..full_answers(&pki) };
    let mut f = ConfigFile::load(&pki.dir.path().join("c.toml")).unwrap();
    assert_eq!(fields(apply(&mut f, &a).unwrap_err()), vec![Field::ClientCert]);
}
