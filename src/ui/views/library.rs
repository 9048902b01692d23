//! The `LibraryView` global: the course library's category chips, the
//! courses left after the category and search filter (required first), the
//! search text, and whether a trainer is picking the session's course.
//! Filtering and sorting are `ui::library`'s; never reads the cache itself.

use super::{changed, g, model, ss, strings, Inputs};
use crate::model::fmt_tenths;
use crate::ui::controller::Page;
use crate::ui::library;
use slint::Global;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseRow {
    pub id: String,
    pub title: String,
    pub category: String,
    pub required: bool,
    pub minutes: u32,
    pub credit: String,
    pub cached: bool,
    pub selected: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LibraryState {
    pub categories: Vec<String>,
    /// Index into `categories`; -1 for all.
    pub category: i32,
    pub courses: Vec<CourseRow>,
    pub picking: bool,
    pub query: String,
}

pub fn build(i: &Inputs<'_>) -> LibraryState {
    let (ctl, a) = (i.ctl, i.ambient);
    let mut v = LibraryState { category: ctl.library_category.map_or(-1, |c| c as i32), picking: ctl.picking(), ..Default::default() };
    // The rows only matter while the library is up (the catalogue can be long).
    if i.page != Page::Library {
        return v;
    }
    v.categories = library::categories(&a.courses);
    let cat = ctl.library_category.and_then(|n| v.categories.get(n)).map(String::as_str);
    v.courses = library::filter(&a.courses, cat, &ctl.library_query, i.lang)
        .into_iter()
        .map(|c| CourseRow {
            id: c.course.id.clone(),
            title: library::title(c, i.lang).to_string(),
            category: c.course.category.clone(),
            required: c.course.required,
            minutes: c.course.duration_s.div_ceil(60),
            credit: fmt_tenths(i64::from(c.course.credit_minutes) * 10 / i64::from(a.minutes_per_hour.max(1))),
            cached: c.cached,
            selected: ctl.picked_course.as_deref() == Some(c.course.id.as_str()),
        })
        .collect();
    v.query = ctl.library_query.clone();
    v
}

pub(crate) fn apply(w: &g::KioskWindow, prev: Option<&LibraryState>, v: &LibraryState) {
    let l = g::LibraryView::get(w);
    if changed!(prev, v.categories) {
        l.set_categories(strings(&v.categories));
    }
    if changed!(prev, v.category) {
        l.set_category(v.category);
    }
    if changed!(prev, v.courses) {
        l.set_courses(model(
            v.courses
                .iter()
                .map(|c| g::CourseRow {
                    id: ss(&c.id),
                    title: ss(&c.title),
                    category: ss(&c.category),
                    required: c.required,
                    minutes: c.minutes as i32,
                    credit: ss(&c.credit),
                    cached: c.cached,
                    selected: c.selected,
                })
                .collect(),
        ));
    }
    if changed!(prev, v.picking) {
        l.set_picking(v.picking);
    }
    if changed!(prev, v.query) {
        l.set_query(ss(&v.query));
    }
}
