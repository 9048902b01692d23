//! UI languages and the locale-dependent text the Rust side formats (dates,
//! times). Owns the switch between bundled translations; must never hold UI
//! strings that belong in the .slint files (those go through `@tr`).

use crate::model::Millis;
use chrono::{DateTime, Datelike, FixedOffset, Weekday};

/// The kiosk's languages: Chinese first, English second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh_cn" | "cn" => Some(Lang::Zh),
            "en" | "en-us" | "en_us" | "en-gb" => Some(Lang::En),
            _ => None,
        }
    }
    pub fn all() -> [Lang; 2] {
        [Lang::Zh, Lang::En]
    }
}

/// Selects the bundled translation for `lang` in this thread's Slint context.
/// Must be called after the first component is created (Slint picks the
/// system locale then, which the kiosk must override).
pub fn apply(lang: Lang) -> Result<(), slint::SelectBundledTranslationError> {
    // The zh-CN text is the source language: index 0, selected by "".
    let code = match lang {
        Lang::Zh => "",
        Lang::En => "en",
    };
    slint::select_bundled_translation(code)
}

fn local(ms: Millis, utc_offset_s: i32) -> Option<DateTime<FixedOffset>> {
    let off = FixedOffset::east_opt(utc_offset_s)?;
    Some(DateTime::from_timestamp_millis(ms)?.with_timezone(&off))
}

/// `14:05` in local time; empty when the instant is out of range.
pub fn fmt_time(ms: Millis, utc_offset_s: i32) -> String {
    local(ms, utc_offset_s).map(|t| t.format("%H:%M").to_string()).unwrap_or_default()
}

/// The header's date: `2026年3月5日 星期四` or `Thu 5 Mar 2026`.
pub fn fmt_date(ms: Millis, utc_offset_s: i32, lang: Lang) -> String {
    let Some(t) = local(ms, utc_offset_s) else { return String::new() };
    match lang {
        Lang::Zh => {
            let wd = match t.weekday() {
                Weekday::Mon => "一",
                Weekday::Tue => "二",
                Weekday::Wed => "三",
                Weekday::Thu => "四",
                Weekday::Fri => "五",
                Weekday::Sat => "六",
                Weekday::Sun => "日",
            };
            format!("{}年{}月{}日 星期{}", t.year(), t.month(), t.day(), wd)
        }
        Lang::En => t.format("%a %-d %b %Y").to_string(),
    }
}

/// `mm:ss`, or `h:mm:ss` from one hour on, for the player.
pub fn fmt_clock(seconds: u32) -> String {
    let (h, m, s) = (seconds / 3600, (seconds / 60) % 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEIJING: i32 = 8 * 3600;
    // 2026-03-05 06:05:00 UTC = 14:05 in Beijing, a Thursday
    const T: Millis = 1_772_690_700_000;

    #[test]
    fn the_header_date_is_written_the_chinese_way_first() {
        assert_eq!(fmt_date(T, BEIJING, Lang::Zh), "2026年3月5日 星期四");
        assert_eq!(fmt_date(T, BEIJING, Lang::En), "Thu 5 Mar 2026");
    }

    #[test]
    fn times_are_shown_in_the_centres_local_time() {
        assert_eq!(fmt_time(T, BEIJING), "14:05");
        assert_eq!(fmt_time(T, 0), "06:05");
    }

    #[test]
    fn player_positions_switch_to_hours_after_an_hour() {
        assert_eq!(fmt_clock(65), "01:05");
        assert_eq!(fmt_clock(3725), "1:02:05");
    }

    #[test]
    fn language_codes_round_trip() {
        for l in Lang::all() {
            assert_eq!(Lang::parse(l.code()), Some(l));
        }
        assert_eq!(Lang::parse("zh-CN"), Some(Lang::Zh));
        assert_eq!(Lang::parse("fr"), None);
    }
}
