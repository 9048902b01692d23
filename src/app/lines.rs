//! One readable line per screen, for the headless kiosk and the logs
//! (e.g. `signed in: 张伟 (第三支部) 18.5/32 h`).

use crate::core::{ErrorKind, MemberOutcome, Screen};
use crate::model::fmt_tenths;

pub fn screen_line(s: &Screen) -> String {
    match s {
        Screen::Idle => "idle".into(),
        Screen::Member(v) => {
            let what = match &v.outcome {
                MemberOutcome::SignedIn => "signed in".to_string(),
                MemberOutcome::SignedOut { credited_minutes } => format!("signed out (+{credited_minutes} min)"),
                MemberOutcome::AlreadySignedIn { .. } => "already signed in".to_string(),
                MemberOutcome::Status => "status".to_string(),
                MemberOutcome::AlreadyRated => "already rated".to_string(),
            };
            let branch = if v.branch.is_empty() { String::new() } else { format!(" ({})", v.branch) };
            let mut line = format!("{what}: {}{branch} {}/{} h", v.name, fmt_tenths(v.hours_tenths), v.quota_hours);
            if v.mobile {
                line.push_str(" [mobile]");
            }
            if !v.owed.is_empty() {
                let titles: Vec<&str> = v.owed.iter().map(|c| c.title.as_str()).collect();
                line.push_str(&format!("; required still owed: {}", titles.join(", ")));
            }
            if !v.makeup.is_empty() {
                line.push_str(&format!("; make-up: {}", v.makeup.join(", ")));
            }
            line
        }
        Screen::UnknownCard { uid } => format!("card not registered: {uid}"),
        Screen::Trainer(t) => match &t.session {
            Some(s) => format!("trainer panel: {} - session {} running, {} present", t.name, s.title, s.present.len()),
            None => format!("trainer panel: {} - no session running", t.name),
        },
        Screen::Technician { name } => format!("technician panel: {name}"),
        Screen::Enrol { uid: None } => "enrol: tap the new card".into(),
        Screen::Enrol { uid: Some(u) } => format!("enrol: card {u} - choose the member"),
        Screen::RatingPrompt { member_name, session_title } => format!("rate the session: {member_name}, {session_title} (1-5)"),
        Screen::RatingThanks { member_name, stars } => format!("rated: {member_name} {stars}/5"),
        Screen::SurveyThanks => "survey recorded".into(),
        Screen::Player { title, .. } => format!("playing: {title}"),
        Screen::Error(k) => format!(
            "error: {}",
            match k {
                ErrorKind::Database => "database error - call the technician",
                ErrorKind::DiskFull => "disk full - call the technician",
                ErrorKind::ReadOnly => "storage is read-only - call the technician",
                ErrorKind::ReaderFault => "card reader fault - call the technician",
                ErrorKind::RandomUid => "this card has a random UID (phone or bank card) and cannot be enrolled",
                ErrorKind::TwoCards => "more than one card on the reader: nobody signed in - tap one card at a time",
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::MemberView;

    #[test]
    fn a_sign_in_reads_as_one_line_with_hours_against_the_quota() {
        let v = MemberView {
            name: "张伟".into(),
            branch: "第三支部".into(),
            outcome: MemberOutcome::SignedIn,
            hours_tenths: 185,
            quota_hours: 32,
            owed: vec![],
            makeup: vec![],
            mobile: false,
        };
        assert_eq!(screen_line(&Screen::Member(v)), "signed in: 张伟 (第三支部) 18.5/32 h");
    }
}
