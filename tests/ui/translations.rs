//! Every `@tr` string in ui/ has an English translation, and every entry of the
//! catalogue is still used: a new or changed Chinese text cannot ship untranslated.

use std::collections::BTreeSet;
use std::path::Path;

fn slint_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("ui dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            slint_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "slint") {
            out.push(p);
        }
    }
}

/// The string literals of `@tr("...")` calls.
fn tr_strings(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find("@tr(\"") {
        rest = &rest[i + 5..];
        let mut s = String::new();
        let mut chars = rest.char_indices();
        while let Some((j, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        s.push(n);
                    }
                }
                '"' => {
                    rest = &rest[j + 1..];
                    break;
                }
                c => s.push(c),
            }
        }
        out.push(s);
    }
    out
}

fn po_entries(po: &str) -> Vec<(String, String)> {
    let unquote = |l: &str, key: &str| l.strip_prefix(key).map(|r| r.trim().trim_matches('"').to_string());
    let mut out = Vec::new();
    let mut id = None;
    for line in po.lines() {
        if let Some(v) = unquote(line, "msgid ") {
            id = Some(v);
        } else if let (Some(v), Some(k)) = (unquote(line, "msgstr "), id.take()) {
            if !k.is_empty() {
                out.push((k, v));
            }
        }
    }
    out
}

#[test]
fn every_ui_text_has_an_english_translation_and_none_is_stale() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    slint_files(&root.join("ui"), &mut files);
    let used: BTreeSet<String> = files.iter().flat_map(|f| tr_strings(&std::fs::read_to_string(f).expect("read"))).collect();
    assert!(used.len() > 50, "found only {} @tr strings", used.len());
    let po = std::fs::read_to_string(root.join("ui/translations/en/LC_MESSAGES/microclass.po")).expect("po");
    let entries = po_entries(&po);
    let have: BTreeSet<String> = entries.iter().map(|(k, _)| k.clone()).collect();
    let missing: Vec<_> = used.difference(&have).collect();
    let stale: Vec<_> = have.difference(&used).collect();
    assert!(missing.is_empty(), "untranslated: {missing:?}");
    assert!(stale.is_empty(), "translated but no longer used: {stale:?}");
    for (k, v) in &entries {
        assert!(!v.is_empty(), "empty translation for {k:?}");
        assert_eq!(k.matches("{}").count(), v.matches("{}").count(), "placeholders differ in {k:?} -> {v:?}");
        assert!(!v.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "English text still has Chinese: {v:?}");
    }
}
