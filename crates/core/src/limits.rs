//! Size limits of the text a record can carry, one named constant each.
//! Every edge (control socket, screen, hub documents, stdin) checks its
//! input against these before it reaches the core, and the core checks
//! again, so no record can grow past what the uplink can send in one packet.
//! Pure checks only: nothing here truncates silently or touches I/O.

/// A session title (trainer panel, control socket, schedule document).
pub const MAX_TITLE_BYTES: usize = 200;
/// One needs-survey topic.
pub const MAX_TOPIC_BYTES: usize = 100;
/// Topics in one survey answer.
pub const MAX_TOPICS: usize = 20;
/// An id that ends up in a record (course, schedule entry, member).
pub const MAX_ID_BYTES: usize = 64;

/// An input longer than its limit, or otherwise unusable as record text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("{what} longer than {max} bytes ({len} bytes)")]
    TooLong { what: &'static str, max: usize, len: usize },
    #[error("more than {max} {what} ({count})")]
    TooMany { what: &'static str, max: usize, count: usize },
    #[error("{what} contains a control character")]
    Control { what: &'static str },
}

/// Checks one text field against its limit; control characters (newlines
/// included) are refused because they would split log and protocol lines.
pub fn check_text(what: &'static str, text: &str, max: usize) -> Result<(), LimitError> {
    if text.len() > max {
        return Err(LimitError::TooLong { what, max, len: text.len() });
    }
    if text.chars().any(char::is_control) {
        return Err(LimitError::Control { what });
    }
    Ok(())
}

pub fn check_title(title: &str) -> Result<(), LimitError> {
    check_text("title", title, MAX_TITLE_BYTES)
}

pub fn check_topics<S: AsRef<str>>(topics: &[S]) -> Result<(), LimitError> {
    if topics.len() > MAX_TOPICS {
        return Err(LimitError::TooMany { what: "survey topics", max: MAX_TOPICS, count: topics.len() });
    }
    topics.iter().try_for_each(|t| check_text("survey topic", t.as_ref(), MAX_TOPIC_BYTES))
}

pub fn check_id(what: &'static str, id: &str) -> Result<(), LimitError> {
    check_text(what, id, MAX_ID_BYTES)
}

/// At most 40 characters of `s`, for naming an offending value in a message.
pub fn shorten(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_at_the_limit_passes_and_one_byte_more_is_named_with_the_limit() {
        assert_eq!(check_title(&"a".repeat(MAX_TITLE_BYTES)), Ok(()));
        let e = check_title(&"a".repeat(MAX_TITLE_BYTES + 1)).unwrap_err();
        assert_eq!(e.to_string(), format!("title longer than {MAX_TITLE_BYTES} bytes ({} bytes)", MAX_TITLE_BYTES + 1));
    }

    #[test]
    fn chinese_titles_are_measured_in_bytes_not_characters() {
        // 67 characters of 3 bytes each: 201 bytes.
        assert!(check_title(&"课".repeat(67)).is_err());
        assert_eq!(check_title(&"课".repeat(66)), Ok(()));
    }

    #[test]
    fn a_newline_inside_a_title_is_refused() {
        assert_eq!(check_title("a\nping"), Err(LimitError::Control { what: "title" }));
    }

    #[test]
    fn a_long_value_is_shortened_for_messages_on_a_character_boundary() {
        assert_eq!(shorten(&"课".repeat(50)), format!("{}...", "课".repeat(40)));
        assert_eq!(shorten("pi-1"), "pi-1");
    }

    #[test]
    fn too_many_or_too_long_survey_topics_are_refused() {
        let many: Vec<String> = (0..=MAX_TOPICS).map(|i| i.to_string()).collect();
        assert!(matches!(check_topics(&many), Err(LimitError::TooMany { .. })));
        assert!(matches!(check_topics(&["x".repeat(MAX_TOPIC_BYTES + 1)]), Err(LimitError::TooLong { what: "survey topic", .. })));
        assert_eq!(check_topics(&["党史", "党章"]), Ok(()));
    }
}
