//! A small demonstration district: a roster with Chinese names, trainers, a
//! technician, a visiting member from another centre, and a few courses. Lets
//! a new user see the kiosk do something real in the first minute.

use crate::model::{CardUid, Course, Member, Role};
use crate::store::{Store, StoreError};

/// (member id, name, branch, home centre, roles, card UID)
const PEOPLE: &[(&str, &str, &str, &str, &[Role], &str)] = &[
    ("m001", "张伟", "第三支部", "demo-centre", &[Role::Member], "04A1B2C3"),
    ("m002", "王芳", "第三支部", "demo-centre", &[Role::Member], "04A1B2C4"),
    ("m003", "李娜", "第一支部", "demo-centre", &[Role::Member], "04A1B2C5"),
    ("m004", "刘洋", "第一支部", "demo-centre", &[Role::Member], "04A1B2C6"),
    ("m005", "陈静", "第二支部", "demo-centre", &[Role::Member], "04A1B2C7"),
    ("m006", "杨磊", "第二支部", "demo-centre", &[Role::Member], "04A1B2C8"),
    ("m007", "赵敏", "第五支部", "east-centre", &[Role::Member], "04A1B2C9"),
    ("m008", "黄海", "第三支部", "demo-centre", &[Role::Member], "3A5F0C21"),
    ("t001", "李老师", "第一支部", "demo-centre", &[Role::Member, Role::Trainer], "0411223344"),
    ("t002", "周老师", "第二支部", "demo-centre", &[Role::Member, Role::Trainer], "0411223355"),
    ("x001", "陈工", "", "demo-centre", &[Role::Technician], "0499887766"),
];

pub fn members() -> Vec<Member> {
    PEOPLE
        .iter()
        .map(|(id, name, branch, centre, roles, card)| Member {
            id: (*id).into(),
            name: (*name).into(),
            branch: (*branch).into(),
            home_centre: (*centre).into(),
            roles: roles.to_vec(),
            cards: vec![CardUid::parse(card).unwrap_or_else(|e| panic!("demo card {card}: {e}"))],
            makeup: if *id == "m004" { vec!["c-rules".into()] } else { vec![] },
        })
        .collect()
}

pub fn courses() -> Vec<Course> {
    let c = |id: &str, title: &str, en: &str, cat: &str, required: bool, minutes: u32| Course {
        id: id.into(),
        title: title.into(),
        title_en: en.into(),
        category: cat.into(),
        required,
        duration_s: minutes * 60,
        credit_minutes: minutes,
        poster: None,
        files: vec![],
    };
    vec![
        c("c-history", "党史学习：百年奋斗", "Party history: a century of struggle", "党史", true, 45),
        c("c-rules", "党章党规微党课", "Micro lesson: Party constitution and rules", "党章党规", true, 15),
        c("c-policy", "基层治理政策解读", "Grassroots governance policy", "政策", false, 90),
        c("c-service", "社区志愿服务实务", "Community volunteering in practice", "实务", false, 15),
        c("c-law", "民法典与社区生活", "The Civil Code and community life", "法律", false, 180),
    ]
}

/// Loads the demo roster and catalogue into an empty store. Returns false
/// (and changes nothing) when a roster is already present.
pub fn load_if_empty(store: &mut Store) -> Result<bool, StoreError> {
    let n: i64 = store.conn().query_row("SELECT count(*) FROM members", [], |r| r.get(0))?;
    if n > 0 {
        return Ok(false);
    }
    store.replace_roster(&members(), 1)?;
    store.replace_courses(&courses(), 1)?;
    Ok(true)
}
