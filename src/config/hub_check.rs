//! Checks the `[hub]` table of a config file when the file is loaded, before
//! anything starts: every problem names the key and its line (from toml's
//! spans), and TLS and credential mistakes (`mqtts://` without `ca_file`, a
//! CA or key file that cannot be read, a password file without a username)
//! are errors here rather than an uplink that never connects. Reads the named
//! files only to see that they can be read; never connects anywhere.

use crate::config::DeviceConfig;
use super::hub::ConfigError as HubError;
use super::hub::HubConfig;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The `[hub]` table as the uplink reads it; other tables are ignored here.
#[derive(Deserialize)]
struct HubOnly {
    #[serde(default)]
    hub: HubConfig,
}

/// The `[hub]` table's keys with where each value is written.
#[derive(Deserialize)]
struct HubSpans {
    #[serde(default)]
    hub: BTreeMap<String, toml::Spanned<toml::Value>>,
}

/// `line N: ` for a byte offset into `text`.
pub fn line_prefix(text: &str, offset: usize) -> String {
    let line = text[..offset.min(text.len())].matches('\n').count() + 1;
    format!("line {line}: ")
}

/// Checks the `[hub]` table of `text` (a whole config file). `files`: also
/// check that the named files can be read (a file being loaded; not a text
/// `microclass provision` is about to write with its password file).
pub fn check(text: &str, device: &DeviceConfig, files: bool) -> Result<(), String> {
    let mut hub = toml::from_str::<HubOnly>(text)
        .map_err(|e| format!("{}[hub]: {}", e.span().map(|s| line_prefix(text, s.start)).unwrap_or_default(), e.message()))?
        .hub;
    if !hub.enabled() {
        return Ok(());
    }
    let spans = toml::from_str::<HubSpans>(text).map(|h| h.hub).unwrap_or_default();
    let at = |key: &str| spans.get(key).map(|v| line_prefix(text, v.span().start)).unwrap_or_default();
    let fail = |key: &str, msg: String| Err(format!("{}hub.{key}: {msg}", at(key)));
    for (mine, theirs) in [(&mut hub.district, &device.district), (&mut hub.centre, &device.centre), (&mut hub.device, &device.id)] {
        if mine.is_empty() {
            mine.clone_from(theirs);
        }
    }
    if let Err(e) = hub.validate() {
        let key = match &e {
            HubError::Scheme(_) | HubError::Port(_) | HubError::Missing("url host") => "url",
            HubError::Missing(field) | HubError::Zero(field) | HubError::BadSegment { field, .. } => *field,
        };
        return Err(format!("{}{e}", at(key)));
    }
    let tls = hub.broker().map(|b| b.tls).unwrap_or(false);
    match (&hub.ca_file, tls) {
        (None, true) => return fail("url", "mqtts:// needs hub.ca_file: the broker's CA is pinned, the system roots are never used".into()),
        (Some(_), false) => return fail("ca_file", "is set but hub.url is mqtt:// (plain TCP); use mqtts://".into()),
        (Some(p), true) if files => readable(p).or_else(|m| fail("ca_file", m))?,
        (Some(_), true) => {}
        (None, false) => {}
    }
    match (&hub.client_cert_file, &hub.client_key_file) {
        (Some(c), Some(k)) if files => {
            readable(c).or_else(|m| fail("client_cert_file", m))?;
            readable(k).or_else(|m| fail("client_key_file", m))?;
        }
        (Some(_), Some(_)) => {}
        (Some(_), None) => return fail("client_cert_file", "needs hub.client_key_file".into()),
        (None, Some(_)) => return fail("client_key_file", "needs hub.client_cert_file".into()),
        (None, None) => {}
    }
    match (&hub.username, &hub.password_file) {
        (None, Some(_)) => return fail("password_file", "is set but hub.username is not: a password needs a username".into()),
        (_, Some(p)) if files => readable(p).or_else(|m| fail("password_file", m))?,
        _ => {}
    }
    Ok(())
}

/// The file can be opened for reading (its content is checked by the uplink).
fn readable(path: &Path) -> Result<(), String> {
    std::fs::File::open(path).map(drop).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> DeviceConfig {
        DeviceConfig { centre: "c1".into(), id: "pi-1".into(), ..DeviceConfig::default() }
    }

    #[test]
    fn an_unknown_hub_key_is_named_with_its_line() {
        let e = check("[device]\nid = \"x\"\n\n[hub]\nurl = \"mqtt://h\"\nbatch_byte = 1\n", &device(), true).unwrap_err();
        assert!(e.starts_with("line 6: [hub]: unknown field `batch_byte`"), "{e}");
    }

    #[test]
    fn a_wrong_type_in_hub_is_named_with_its_line() {
        let e = check("[hub]\nurl = \"mqtt://h\"\ninflight = \"many\"\n", &device(), true).unwrap_err();
        assert!(e.starts_with("line 3: "), "{e}");
    }

    #[test]
    fn mqtts_without_a_ca_file_is_refused_at_the_url_line() {
        let e = check("[hub]\n\nurl = \"mqtts://h\"\n", &device(), true).unwrap_err();
        assert!(e.starts_with("line 3: hub.url: mqtts:// needs hub.ca_file"), "{e}");
    }

    #[test]
    fn a_missing_ca_file_is_refused_with_its_path_and_line() {
        let e = check("[hub]\nurl = \"mqtts://h\"\nca_file = \"/nonexistent/ca.pem\"\n", &device(), true).unwrap_err();
        assert!(e.starts_with("line 3: hub.ca_file: /nonexistent/ca.pem: No such file"), "{e}");
    }

    #[test]
    fn a_password_file_without_a_username_is_refused() {
        let e = check("[hub]\nurl = \"mqtt://h\"\npassword_file = \"/etc/hostname\"\n", &device(), true).unwrap_err();
        assert!(e.starts_with("line 3: hub.password_file: is set but hub.username is not"), "{e}");
    }

    #[test]
    fn a_bad_url_and_no_hub_at_all() {
        let e = check("[hub]\nurl = \"mqtt://h:99999\"\n", &device(), true).unwrap_err();
        assert!(e.starts_with("line 2: "), "{e}");
        assert_eq!(check("[device]\n", &device(), true), Ok(()));
        assert_eq!(check("[hub]\nurl = \"mqtts://h\"\nca_file = \"/nonexistent/ca.pem\"\n", &device(), false), Ok(()), "files are checked only when loading");
        assert_eq!(check("[hub]\nurl = \"mqtt://h:1883\"\n", &device(), true), Ok(()));
    }
}
