//! Pure arithmetic of credited minutes: presence intervals against a session,
//! never negative, never beyond the session, never counting a minute twice.

use crate::model::Millis;

/// A half-open time interval `[start, end)` in wall-clock ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub start: Millis,
    pub end: Millis,
}

impl Interval {
    pub fn new(start: Millis, end: Millis) -> Self {
        // A clock that stepped backwards gives an empty interval, never a negative one.
        Interval { start, end: end.max(start) }
    }
    pub fn len(&self) -> Millis {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
    pub fn intersect(&self, other: &Interval) -> Interval {
        Interval::new(self.start.max(other.start), self.end.min(other.end))
    }
}

/// Milliseconds of `new` inside `session` that none of `earlier` already covers.
pub fn uncredited_ms(earlier: &[Interval], new: Interval, session: Interval) -> Millis {
    let part = new.intersect(&session);
    if part.is_empty() {
        return 0;
    }
    // Subtract the union of earlier intervals from `part`.
    let mut covered: Vec<Interval> = earlier
        .iter()
        .map(|e| e.intersect(&part))
        .filter(|e| !e.is_empty())
        .collect();
    covered.sort_by_key(|i| i.start);
    let mut free = 0;
    let mut cursor = part.start;
    for c in covered {
        if c.start > cursor {
            free += c.start - cursor;
        }
        cursor = cursor.max(c.end);
    }
    free + (part.end - cursor).max(0)
}

/// Whole minutes credited for `new`, given the member's `earlier` intervals in
/// the same session.
pub fn credited_minutes(earlier: &[Interval], new: Interval, session: Interval) -> u32 {
    (uncredited_ms(earlier, new, session) / 60_000) as u32
}

/// Whole minutes credited for self-study: watched time, capped at the course length.
pub fn self_study_minutes(watched_s: u32, duration_s: u32) -> u32 {
    watched_s.min(duration_s) / 60
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(a: i64, b: i64) -> Interval {
        Interval::new(a * 60_000, b * 60_000)
    }

    #[test]
    fn presence_inside_the_session_is_credited_in_whole_minutes() {
        assert_eq!(credited_minutes(&[], iv(10, 55), iv(0, 90)), 45);
        assert_eq!(credited_minutes(&[], Interval::new(0, 119_999), iv(0, 90)), 1);
    }

    #[test]
    fn presence_beyond_the_session_is_cut_to_the_session() {
        assert_eq!(credited_minutes(&[], iv(-30, 200), iv(0, 90)), 90);
    }

    #[test]
    fn a_backwards_clock_step_credits_nothing_rather_than_negative() {
        assert_eq!(credited_minutes(&[], iv(50, 20), iv(0, 90)), 0);
    }

    #[test]
    fn minutes_already_credited_are_not_credited_again() {
        let earlier = [iv(0, 30)];
        assert_eq!(credited_minutes(&earlier, iv(20, 60), iv(0, 90)), 30);
        assert_eq!(credited_minutes(&[iv(0, 30), iv(40, 50)], iv(0, 90), iv(0, 90)), 50);
    }

    #[test]
    fn self_study_credit_is_capped_at_the_course_length() {
        assert_eq!(self_study_minutes(3_000, 900), 15);
        assert_eq!(self_study_minutes(119, 900), 1);
    }
}
