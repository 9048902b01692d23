//! The hub protocol v1 (docs/protocol.md), shared by the kiosk and the hub:
//! payload types and the batch encoder (`wire`), topic names (`topics`), the
//! signed document envelope (`envelope`), the downlink documents
//! (`documents`) and hub commands (`command`). Pure data and checks: no I/O,
//! no clock, no SQL, and no code of either side.

pub mod command;
pub mod documents;
pub mod envelope;
pub mod topics;
pub mod wire;

/// True when `bytes` hold a JSON object (after whitespace). serde reads a
/// struct from an array positionally too; the protocol's messages are
/// objects only, so everything else is refused before parsing.
pub fn is_json_object(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_an_object_counts_as_a_message() {
        assert!(super::is_json_object(b" \n{\"v\":1}"));
        assert!(!super::is_json_object(b"[1,\"roster\"]"));
        assert!(!super::is_json_object(b""));
    }
}
