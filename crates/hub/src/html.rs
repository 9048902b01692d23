//! The report as one self-contained HTML page (zh-CN first, English second):
//! tables and inline SVG bar charts, no scripts, fonts or images from
//! elsewhere. Every text from the data is escaped. Pure string building.

use super::report::{hours, Report};
use std::fmt::Write as _;

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Horizontal bars with labels, values and an optional target line.
fn bar_chart(title: &str, bars: &[(String, f64, bool)], target: Option<f64>, unit: &str) -> String {
    let row_h = 22.0;
    let (label_w, chart_w) = (160.0, 480.0);
    let height = row_h * bars.len() as f64 + 40.0;
    let max = bars.iter().map(|b| b.1).chain(target).fold(1.0_f64, f64::max);
    let x = |v: f64| label_w + v / max * chart_w;
    let mut s = String::new();
    let _ = write!(s, r#"<figure><figcaption>{}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" role="img" aria-label="{}">"#, esc(title), label_w + chart_w + 80.0, esc(title));
    for (i, (label, v, warn)) in bars.iter().enumerate() {
        let y = 10.0 + row_h * i as f64;
        let colour = if *warn { "#c0392b" } else { "#2e86c1" };
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end" font-size="12">{}</text><rect x="{label_w}" y="{}" width="{:.1}" height="{}" fill="{colour}"/><text x="{:.1}" y="{}" font-size="11">{v:.2}{}</text>"#,
            label_w - 6.0, y + 14.0, esc(label), y + 3.0, (x(*v) - label_w).max(0.0), row_h - 6.0, x(*v) + 4.0, y + 14.0, esc(unit)
        );
    }
    if let Some(t) = target {
        let _ = write!(s, r##"<line x1="{0:.1}" x2="{0:.1}" y1="4" y2="{1}" stroke="#333" stroke-dasharray="4 3"/><text x="{0:.1}" y="{2}" font-size="11" text-anchor="middle">{3}</text>"##, x(t), height - 22.0, height - 8.0, t);
    }
    s.push_str("</svg></figure>\n");
    s
}

/// The whole page.
pub fn render(r: &Report, title: &str, generated: &str) -> String {
    let mph = r.minutes_per_hour;
    let quota_h = r.settings_quota_minutes as f64 / f64::from(mph.max(1));
    let mut h = String::new();
    let _ = write!(h, r#"<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{}</title><style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #bbb;padding:3px 8px;text-align:right}}td:first-child,th:first-child,td.t{{text-align:left}}tr.below td{{background:#fdecea}}
figure{{margin:1em 0}}figcaption{{font-weight:bold}}</style></head><body>
<h1>{}</h1><p>生成时间 Generated: {} · 每学时 {} 分钟 · 年度要求 {} 学时 (minutes per study hour, yearly quota)</p>
"#, esc(title), esc(title), esc(generated), mph, hours(r.settings_quota_minutes, mph));

    let below: Vec<_> = r.below_quota().collect();
    let _ = write!(h, "<h2>学时达标 Study hours</h2><p>未达标 {} 人 / 共 {} 条 (below quota / member-years)</p>\n", below.len(), r.members.len());
    let bars: Vec<(String, f64, bool)> = r.members.iter().map(|m| {
        let label = if m.name.is_empty() { format!("{} {}", m.member, m.year) } else { format!("{} {}", m.name, m.year) };
        (label, m.minutes as f64 / f64::from(mph.max(1)), m.short_minutes > 0)
    }).collect();
    h.push_str(&bar_chart("学时 Hours (红色: 未达标 red: below quota)", &bars, Some(quota_h), " h"));
    h.push_str("<table><tr><th>编号 ID</th><th>姓名 Name</th><th>支部 Branch</th><th>中心 Home</th><th>年度 Year</th><th>学时 Hours</th><th>差额 Short</th></tr>\n");
    for m in &r.members {
        let _ = writeln!(h, r#"<tr{}><td>{}</td><td class="t">{}</td><td class="t">{}</td><td class="t">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            if m.short_minutes > 0 { r#" class="below""# } else { "" }, esc(&m.member), esc(&m.name), esc(&m.branch), esc(&m.home_centre), m.year, hours(m.minutes, mph), hours(m.short_minutes, mph));
    }
    h.push_str("</table>\n<h2>各中心 Centres</h2>\n");
    let bars: Vec<_> = r.centres.iter().map(|c| (c.centre.clone(), c.sign_ins as f64, false)).collect();
    h.push_str(&bar_chart("签到人次 Sign-ins", &bars, None, ""));
    h.push_str("<table><tr><th>中心 Centre</th><th>课次 Sessions</th><th>签到 Sign-ins</th><th>流动 Mobile</th><th>人数 Members</th><th>学时 Hours</th><th>评价 Ratings</th><th>平均 Avg</th></tr>\n");
    for c in &r.centres {
        let avg = c.rating_avg.map(|a| format!("{a:.2}")).unwrap_or_else(|| "-".into());
        let _ = writeln!(h, "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{avg}</td></tr>", esc(&c.centre), c.sessions, c.sign_ins, c.mobile_sign_ins, c.members, hours(c.credited_minutes, mph), c.ratings);
    }
    h.push_str("</table>\n<h2>课程完成 Course completion</h2><table><tr><th>课程 Course</th><th>名称 Title</th><th>必修 Required</th><th>播放 Plays</th><th>完整播放 Completed</th><th>完成人数 Members</th></tr>\n");
    for c in &r.courses {
        let _ = writeln!(h, r#"<tr><td>{}</td><td class="t">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#, esc(&c.course), esc(&c.title), if c.required { "是 yes" } else { "否 no" }, c.plays, c.completed_plays, c.members_completed);
    }
    h.push_str("</table>\n<h2>评价 Ratings</h2>\n");
    let bars: Vec<_> = r.stars.iter().enumerate().map(|(i, n)| (format!("{} ★", i + 1), *n as f64, false)).collect();
    h.push_str(&bar_chart("评分分布 Stars", &bars, None, ""));
    if r.unreadable > 0 {
        let _ = writeln!(h, "<p>无法读取的记录 Unreadable records: {}</p>", r.unreadable);
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{build, Settings};
    use crate::store::RecordRow;
    use serde_json::json;

    #[test]
    fn the_page_is_self_contained_escaped_and_marks_members_below_the_quota() {
        let rows = vec![
            RecordRow { centre: "c<1>".into(), device: "d".into(), kind: "credit".into(), payload: json!({"id": "a", "member": "m<script>", "minutes": 45, "year": 2026}) },
            RecordRow { centre: "c<1>".into(), device: "d".into(), kind: "credit".into(), payload: json!({"id": "b", "member": "m2", "minutes": 1500, "year": 2026}) },
        ];
        let page = render(&build(&rows, None, None, &Settings::default()), "区 District", "2026-11-23");
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(!page.contains("<script"), "data is escaped");
        assert!(page.contains("m&lt;script&gt;"));
        assert!(!page.contains("http://") || page.matches("http://").all(|_| page.contains("xmlns=\"http://www.w3.org/2000/svg\"")));
        assert!(!page.contains("src=") && !page.contains("href="), "no external assets");
        assert_eq!(page.matches("<tr class=\"below\">").count(), 1);
        assert_eq!(page.matches("<svg").count(), 3);
        assert!(page.contains("#c0392b"), "the member below the quota is drawn red");
    }
}
