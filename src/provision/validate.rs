//! Validation of each provisioning answer on its own: identifiers, the hub
//! URL, the hub's signing key, the board, credentials. Pure functions over
//! strings and files: they never write and never connect.

use std::path::Path;

/// The hub address as the device uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl HubUrl {
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "mqtts"
        } else {
            "mqtt"
        }
    }
}

impl std::fmt::Display for HubUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.scheme(), self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.scheme(), self.host, self.port)
        }
    }
}

/// Parses `mqtt://host[:port]` or `mqtts://host[:port]` (IPv6 in brackets).
/// Credentials in the URL are refused: they have their own fields.
pub fn parse_hub_url(text: &str) -> Result<HubUrl, String> {
    let text = text.trim();
    let (scheme, rest) = text
        .split_once("://")
        .ok_or_else(|| format!("{text:?} is not a URL; expected mqtts://host:port"))?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "mqtts" => true,
        "mqtt" => false,
        other => return Err(format!("scheme {other:?} is not supported; use mqtts:// (or mqtt:// on a closed network)")),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('/') || authority.contains('?') || authority.contains('#') {
        return Err("the hub URL must not have a path or query".into());
    }
    if authority.contains('@') {
        return Err("put the username and password in their own fields, not in the URL".into());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or("unclosed [ in the IPv6 address")?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err("the hub URL has no host".into());
    }
    if !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':')) {
        return Err(format!("{host:?} is not a valid host name"));
    }
    let port = match port {
        None => if tls { 8883 } else { 1883 },
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("{p:?} is not a valid port"))?,
    };
    Ok(HubUrl { tls, host, port })
}

/// District, centre and device ids become MQTT topic levels: letters, digits, `-`, `_`.
pub fn check_id(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > 64 {
        return Err("must be at most 64 characters".into());
    }
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!("{value:?} may contain only letters, digits, '-' and '_'"));
    }
    Ok(())
}

/// Parses the hub's Ed25519 public key, given as 64 hex digits or base64 of 32
/// bytes; returns it normalised to lower-case hex.
pub fn parse_signing_key(text: &str) -> Result<String, String> {
    use base64::Engine;
    let t = text.trim();
    let bytes = if t.len() == 64 && t.chars().all(|c| c.is_ascii_hexdigit()) {
        hex::decode(t).map_err(|e| e.to_string())?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(t)
            .map_err(|_| "expected 64 hex digits or base64 of a 32-byte Ed25519 public key".to_string())?
    };
    let arr: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("an Ed25519 public key is 32 bytes, this is {}", bytes.len()))?;
    ed25519_dalek::VerifyingKey::from_bytes(&arr).map_err(|_| "not a valid Ed25519 public key".to_string())?;
    Ok(hex::encode(arr))
}

/// Built-in board names accepted instead of a board file.
pub const BUILTIN_BOARDS: &[&str] = &["sim"];

/// The board is a built-in name or a readable TOML board file.
pub fn check_board(value: &str) -> Result<(), String> {
    if BUILTIN_BOARDS.contains(&value) {
        return Ok(());
    }
    let path = Path::new(value);
    if !path.is_absolute() {
        return Err(format!("{value:?}: give an absolute path to the board file (or one of {BUILTIN_BOARDS:?})"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{value}: cannot read: {e}"))?;
    text.parse::<toml::Table>().map_err(|e| format!("{value}: not a valid TOML board file: {e}"))?;
    Ok(())
}

/// MQTT usernames: printable, no surrounding spaces.
pub fn check_username(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.trim() != value || value.chars().any(char::is_control) {
        return Err("must not have surrounding spaces or control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mqtts_url_without_port_gets_the_tls_port() {
        let u = parse_hub_url("mqtts://hub.example.cn").unwrap();
        assert_eq!(u, HubUrl { tls: true, host: "hub.example.cn".into(), port: 8883 });
        assert_eq!(u.to_string(), "mqtts://hub.example.cn:8883");
    }

    #[test]
    fn a_plain_mqtt_url_with_port_and_trailing_slash_parses() {
        let u = parse_hub_url(" mqtt://10.0.0.5:1884/ ").unwrap();
        assert_eq!(u, HubUrl { tls: false, host: "10.0.0.5".into(), port: 1884 });
    }

    #[test]
    fn an_ipv6_hub_url_parses_and_prints_in_brackets() {
        let u = parse_hub_url("mqtts://[fd00::1]:8884").unwrap();
        assert_eq!(u.host, "fd00::1");
        assert_eq!(u.to_string(), "mqtts://[fd00::1]:8884");
    }

    #[test]
    fn bad_hub_urls_are_refused_with_a_reason() {
        for bad in [
            "hub.example.cn",
            "http://hub.example.cn",
            "mqtts://",
            "mqtts://hub:0",
            "mqtts://hub:99999",
            "mqtts://hub:port",
            "mqtts://user:pw@hub",
            "mqtts://hub/topic",
            "mqtts://hub name",
            "mqtts://[fd00::1",
        ] {
            assert!(parse_hub_url(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn ids_must_be_usable_as_topic_levels() {
        assert!(check_id("xh-c001_a").is_ok());
        for bad in ["", "a/b", "a+b", "a#", "a b", "中心", &"x".repeat(65)] {
            assert!(check_id(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_signing_key_in_hex_or_base64_is_normalised_to_hex() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]).verifying_key();
        let hex_form = hex::encode(key.as_bytes());
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(key.as_bytes());
        assert_eq!(parse_signing_key(&hex_form.to_uppercase()).unwrap(), hex_form);
        assert_eq!(parse_signing_key(&b64).unwrap(), hex_form);
    }

    #[test]
    fn a_signing_key_of_the_wrong_length_or_alphabet_is_refused() {
        assert!(parse_signing_key("abcd").is_err());
        assert!(parse_signing_key(&"zz".repeat(32)).is_err());
        assert!(parse_signing_key("").is_err());
    }

    #[test]
    fn a_board_is_a_builtin_name_or_a_readable_toml_file() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("board.toml");
        std::fs::write(&good, "[reader]\nkind = \"mfrc522\"\n").unwrap();
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[reader\n").unwrap();
        assert!(check_board("sim").is_ok());
        assert!(check_board(good.to_str().unwrap()).is_ok());
        assert!(check_board(bad.to_str().unwrap()).unwrap_err().contains("not a valid TOML"));
        assert!(check_board(dir.path().join("none.toml").to_str().unwrap()).unwrap_err().contains("cannot read"));
        assert!(check_board("board.toml").unwrap_err().contains("absolute"));
    }

    #[test]
    fn usernames_with_spaces_around_or_control_characters_are_refused() {
        assert!(check_username("pi-017").is_ok());
        assert!(check_username(" pi").is_err());
        assert!(check_username("pi\n").is_err());
        assert!(check_username("").is_err());
    }
}
