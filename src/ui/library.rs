//! Course library browsing: categories, the filter by category and search
//! text, required courses first. Pure functions over the course list; never
//! touches the cache or the network.

use super::ambient::LibraryCourse;
use super::lang::Lang;

/// Categories in the order they first appear in the catalogue.
pub fn categories(courses: &[LibraryCourse]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in courses {
        let cat = c.course.category.trim();
        if !cat.is_empty() && !out.iter().any(|o| o == cat) {
            out.push(cat.to_string());
        }
    }
    out
}

/// The title to show in `lang` (English title when there is one).
pub fn title(c: &LibraryCourse, lang: Lang) -> &str {
    match lang {
        Lang::En if !c.course.title_en.trim().is_empty() => &c.course.title_en,
        _ => &c.course.title,
    }
}

/// Courses in `category` (None = all) matching `query` (case-insensitive, on
/// either title or the id), required first, then by title.
pub fn filter<'a>(
    courses: &'a [LibraryCourse],
    category: Option<&str>,
    query: &str,
    lang: Lang,
) -> Vec<&'a LibraryCourse> {
    let q = query.trim().to_lowercase();
    let mut out: Vec<&LibraryCourse> = courses
        .iter()
        .filter(|c| category.is_none_or(|cat| c.course.category.trim() == cat))
        .filter(|c| {
            q.is_empty()
                || c.course.title.to_lowercase().contains(&q)
                || c.course.title_en.to_lowercase().contains(&q)
                || c.course.id.to_lowercase().contains(&q)
        })
        .collect();
    out.sort_by(|a, b| b.course.required.cmp(&a.course.required).then_with(|| title(a, lang).cmp(title(b, lang))));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Course;

    fn course(id: &str, title: &str, en: &str, cat: &str, required: bool) -> LibraryCourse {
        LibraryCourse {
            course: Course {
                id: id.into(),
                title: title.into(),
                title_en: en.into(),
                category: cat.into(),
                required,
                duration_s: 900,
                credit_minutes: 45,
                poster: None,
                files: vec![],
            },
            cached: true,
        }
    }

    fn sample() -> Vec<LibraryCourse> {
        vec![
            course("c1", "乡村振兴", "Rural revival", "政策", false),
            course("c2", "党章学习", "The party constitution", "党史", true),
            course("c3", "民法典", "Civil code", "法律", false),
            course("c4", "党史百年", "A century of history", "党史", false),
            course("c5", "二十大精神", "The 20th congress", "政策", true),
        ]
    }

    #[test]
    fn categories_keep_catalogue_order_without_duplicates() {
        assert_eq!(categories(&sample()), vec!["政策", "党史", "法律"]);
    }

    #[test]
    fn required_courses_come_first() {
        let all = sample();
        let ids: Vec<&str> = filter(&all, None, "", Lang::Zh).iter().map(|c| c.course.id.as_str()).collect();
        assert_eq!(ids, vec!["c5", "c2", "c1", "c4", "c3"]);
    }

    #[test]
    fn a_category_and_a_search_narrow_the_list() {
        let all = sample();
        let in_history: Vec<&str> = filter(&all, Some("党史"), "", Lang::Zh).iter().map(|c| c.course.id.as_str()).collect();
        assert_eq!(in_history, vec!["c2", "c4"]);
        let civil: Vec<&str> = filter(&all, None, "CIVIL", Lang::En).iter().map(|c| c.course.id.as_str()).collect();
        assert_eq!(civil, vec!["c3"]);
        assert!(filter(&all, Some("法律"), "rural", Lang::Zh).is_empty());
    }

    #[test]
    fn english_titles_are_used_when_present() {
        let all = sample();
        assert_eq!(title(&all[0], Lang::En), "Rural revival");
        assert_eq!(title(&all[0], Lang::Zh), "乡村振兴");
        let mut no_en = all[0].clone();
        no_en.course.title_en.clear();
        assert_eq!(title(&no_en, Lang::En), "乡村振兴");
    }
}
