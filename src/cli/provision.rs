//! `microclass provision`: flags for scripts, prompts for people. Gathers the
//! answers, lets `microclass::provision` validate and merge them, runs the hub
//! test unless told not to, and writes the config. Prompting and printing
//! live here; the rules live in the library so the first-boot wizard shares them.

use anyhow::{Context, Result};
use microclass::doctor::{hub, SystemResolver, Verdict};
use microclass::provision::{self, config_file::ConfigFile, DeviceSettings, Field, ProvisionAnswers, ProvisionError};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct ProvisionArgs {
    /// District id (MQTT topic level).
    #[arg(long)]
    pub district: Option<String>,
    /// Centre id of this classroom.
    #[arg(long)]
    pub centre: Option<String>,
    /// Device id, unique within the district.
    #[arg(long)]
    pub device_id: Option<String>,
    /// Hub address: mqtts://host[:port] (or mqtt:// on a closed network).
    #[arg(long)]
    pub hub_url: Option<String>,
    /// PEM CA certificate of the hub; mqtts:// needs it: the hub's CA is pinned, system roots are never used ("" removes it).
    #[arg(long)]
    pub ca_file: Option<String>,
    /// PEM client certificate for mutual TLS ("" removes it).
    #[arg(long)]
    pub client_cert: Option<String>,
    /// PEM private key of the client certificate ("" removes it).
    #[arg(long)]
    pub client_key: Option<String>,
    /// MQTT username ("" removes it).
    #[arg(long)]
    pub username: Option<String>,
    /// MQTT password, kept in a 0600 file next to the config ("" removes it).
    #[arg(long, env = "MICROCLASS_HUB_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// The hub's Ed25519 public key (64 hex digits or base64).
    #[arg(long)]
    pub signing_key: Option<String>,
    /// `sim` or the absolute path of the board file.
    #[arg(long)]
    pub board: Option<String>,
    /// Technician PIN (6-12 digits); stored only as an Argon2 hash.
    #[arg(long, env = "MICROCLASS_TECH_PIN", hide_env_values = true)]
    pub pin: Option<String>,
    /// Do not test the hub connection before writing.
    #[arg(long)]
    pub no_hub_test: bool,
    /// Never prompt; fail on anything missing (default when stdin is not a terminal).
    #[arg(long)]
    pub non_interactive: bool,
    /// Prompt for every value, showing the current one, not only the missing ones.
    #[arg(long)]
    pub all: bool,
    /// Validate and test, print the resulting file, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Seconds per step of the hub test.
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
}

/// Exit codes: 0 written, 2 invalid or incomplete answers, 3 hub test failed.
pub fn run(args: ProvisionArgs, config: Option<&Path>) -> Result<i32> {
    let path = config.unwrap_or(Path::new(provision::DEFAULT_CONFIG_PATH));
    let mut answers = answers_from(&args);
    let interactive = !args.non_interactive && std::io::stdin().is_terminal();
    let mut file = ConfigFile::load(path)?;
    if interactive {
        eprintln!("Provisioning {} (Enter keeps the value in brackets).", path.display());
        let current = DeviceSettings::from_file(&file, None);
        let fields: Vec<Field> = if args.all { ALL_FIELDS.to_vec() } else { missing(&file, &answers) };
        for f in fields {
            if is_given(&answers, f) {
                continue;
            }
            ask(&mut answers, f, &current)?;
        }
    }
    let settings = loop {
        let mut attempt = file.clone();
        match provision::apply(&mut attempt, &answers) {
            Ok(s) => {
                file = attempt;
                break s;
            }
            Err(ProvisionError::Invalid(problems)) => {
                for p in &problems {
                    eprintln!("  {}: {}", label(p.field), p.message);
                }
                if !interactive {
                    eprintln!("nothing written");
                    return Ok(2);
                }
                let current = DeviceSettings::from_file(&file, None);
                for p in problems {
                    ask(&mut answers, p.field, &current)?;
                }
            }
            Err(e) => return Err(e).context("provisioning"),
        }
    };
    if !args.no_hub_test {
        let target = hub::HubTarget::from_settings(&settings).map_err(anyhow::Error::msg)?;
        eprintln!("Testing the hub connection to {} ...", target.url);
        let lines = hub::probe(&target, &SystemResolver, Duration::from_secs(args.timeout.max(1)));
        let report = microclass::doctor::Report::new(lines);
        eprint!("{}", report.to_human());
        if report.verdict == Verdict::Fail {
            eprintln!("nothing written; fix the hub settings, or use --no-hub-test to write anyway");
            return Ok(3);
        }
    }
    if args.dry_run {
        print!("{}", file.render());
        return Ok(0);
    }
    provision::commit(&file, &answers).context("writing the configuration")?;
    eprintln!("wrote {} (mode 0600); check the device with `microclass doctor`", path.display());
    Ok(0)
}

const ALL_FIELDS: [Field; 12] = [
    Field::District,
    Field::Centre,
    Field::DeviceId,
    Field::Board,
    Field::HubUrl,
    Field::CaFile,
    Field::ClientCert,
    Field::ClientKey,
    Field::Username,
    Field::Password,
    Field::SigningKey,
    Field::TechnicianPin,
];

fn answers_from(a: &ProvisionArgs) -> ProvisionAnswers {
    ProvisionAnswers {
        district: a.district.clone(),
        centre: a.centre.clone(),
        device_id: a.device_id.clone(),
        hub_url: a.hub_url.clone(),
        ca_file: a.ca_file.clone(),
        client_cert: a.client_cert.clone(),
        client_key: a.client_key.clone(),
        username: a.username.clone(),
        password: a.password.clone(),
        signing_key: a.signing_key.clone(),
        board: a.board.clone(),
        technician_pin: a.pin.clone(),
    }
}

fn slot(a: &mut ProvisionAnswers, f: Field) -> &mut Option<String> {
    match f {
        Field::District => &mut a.district,
        Field::Centre => &mut a.centre,
        Field::DeviceId => &mut a.device_id,
        Field::HubUrl => &mut a.hub_url,
        Field::CaFile => &mut a.ca_file,
        Field::ClientCert => &mut a.client_cert,
        Field::ClientKey => &mut a.client_key,
        Field::Username => &mut a.username,
        Field::Password => &mut a.password,
        Field::SigningKey => &mut a.signing_key,
        Field::Board => &mut a.board,
        Field::TechnicianPin => &mut a.technician_pin,
    }
}

fn is_given(a: &ProvisionAnswers, f: Field) -> bool {
    slot(&mut a.clone(), f).is_some()
}

/// The required fields neither in the file nor among the answers.
fn missing(file: &ConfigFile, a: &ProvisionAnswers) -> Vec<Field> {
    let mut probe = file.clone();
    // A given PIN counts as set; leaving it out avoids hashing just to find gaps.
    let a = ProvisionAnswers { technician_pin: None, ..a.clone() };
    match provision::apply(&mut probe, &a) {
        Err(ProvisionError::Invalid(v)) => v.into_iter().filter(|e| e.message == provision::NOT_SET).map(|e| e.field).collect(),
        _ => vec![],
    }
}

fn label(f: Field) -> &'static str {
    match f {
        Field::District => "district / 区",
        Field::Centre => "centre / 社区中心",
        Field::DeviceId => "device id / 设备编号",
        Field::HubUrl => "hub URL / 督导平台地址",
        Field::CaFile => "CA certificate file / CA 证书",
        Field::ClientCert => "client certificate file / 客户端证书",
        Field::ClientKey => "client key file / 客户端私钥",
        Field::Username => "MQTT username / 用户名",
        Field::Password => "MQTT password / 密码",
        Field::SigningKey => "hub signing public key / 平台签名公钥",
        Field::Board => "board (sim or board file) / 主板",
        Field::TechnicianPin => "technician PIN / 技术员 PIN",
    }
}

fn current_value(s: &DeviceSettings, f: Field) -> Option<String> {
    let p = |x: &Option<std::path::PathBuf>| x.as_ref().map(|p| p.display().to_string());
    match f {
        Field::District => s.district.clone(),
        Field::Centre => s.centre.clone(),
        Field::DeviceId => s.device_id.clone(),
        Field::HubUrl => s.hub_url.clone(),
        Field::CaFile => p(&s.tls.ca),
        Field::ClientCert => p(&s.tls.client_cert),
        Field::ClientKey => p(&s.tls.client_key),
        Field::Username => s.username.clone(),
        Field::SigningKey => s.signing_key.clone(),
        Field::Board => s.board.clone(),
        Field::Password | Field::TechnicianPin => None,
    }
}

fn ask(a: &mut ProvisionAnswers, f: Field, current: &DeviceSettings) -> Result<()> {
    let secret = matches!(f, Field::Password | Field::TechnicianPin);
    let shown = current_value(current, f).map(|v| format!(" [{v}]")).unwrap_or_default();
    eprint!("{}{}: ", label(f), shown);
    std::io::stderr().flush()?;
    let line = if secret { read_hidden()? } else { read_line()? };
    let line = line.trim().to_string();
    if line.is_empty() && !secret && !shown.is_empty() {
        return Ok(()); // keep the current value
    }
    if line == "-" {
        *slot(a, f) = Some(String::new()); // "-" removes an optional value
    } else if !line.is_empty() {
        *slot(a, f) = Some(line);
    }
    Ok(())
}

fn read_line() -> Result<String> {
    let mut s = String::new();
    if std::io::stdin().lock().read_line(&mut s)? == 0 {
        anyhow::bail!("input closed");
    }
    Ok(s)
}

/// Reads a line with terminal echo off (PINs and passwords).
fn read_hidden() -> Result<String> {
    use std::os::fd::AsRawFd;
    let fd = std::io::stdin().as_raw_fd();
    // SAFETY: termios is a plain C struct filled by tcgetattr on a valid fd.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    let have_tty = unsafe { libc::tcgetattr(fd, &mut old) } == 0;
    if have_tty {
        let mut quiet = old;
        quiet.c_lflag &= !libc::ECHO;
        // SAFETY: same fd, a termios derived from the one just read.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let result = read_line();
    if have_tty {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &old) };
        eprintln!();
    }
    result
}
