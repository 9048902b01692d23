//! Every arrow points down: a module of the kiosk may import only modules of
//! a lower layer (docs/architecture.md has the same table). The workspace
//! split enforces the rest: `microclass-model` and `microclass-core` depend on
//! nothing of the kiosk, `microclass-protocol` on the model alone, and the
//! kiosk does not depend on `microclass-hub` (checked below from Cargo.toml).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Layer of each top-level module of `src/`; lower numbers are lower layers.
const LAYERS: &[(&str, u8)] = &[
    ("model", 0),
    ("core", 0),
    ("clock", 0),
    ("logging", 0),
    ("store", 1),
    ("hw", 1),
    ("player", 1),
    ("service", 1),
    ("clock_watch", 1),
    ("library", 2),
    ("demo", 2),
    ("config", 3),
    ("board", 4),
    ("uplink", 4),
    ("provision", 4),
    ("doctor", 5),
    ("app", 6),
    ("ui", 7),
    ("bench", 8),
];

fn layer(m: &str) -> Option<u8> {
    LAYERS.iter().find(|(n, _)| *n == m).map(|(_, l)| *l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `crate::<module>` references in the non-test part of a file.
fn imports(text: &str) -> Vec<(usize, String)> {
    let code = text.split("\n#[cfg(test)]").next().unwrap_or("");
    let mut out = Vec::new();
    for (no, line) in code.lines().enumerate() {
        let line = line.split("//").next().unwrap_or("");
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + 7..];
            let name: String = after.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            out.push((no + 1, name));
            rest = after;
        }
    }
    out
}

fn upward_imports(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut bad = Vec::new();
    for f in files {
        let rel = f.strip_prefix(src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        let name = rel.to_string_lossy();
        if name.ends_with("_tests.rs") || name.contains("/tests/") {
            continue;
        }
        let Some(own) = layer(&top) else { continue };
        for (line, m) in imports(&std::fs::read_to_string(&f).unwrap()) {
            match layer(&m) {
                Some(l) if m != top && l >= own => bad.push(format!("{name}:{line}: {top} (layer {own}) imports {m} (layer {l})")),
                None if m != top => bad.push(format!("{name}:{line}: {m} is in no layer of tests/layers.rs")),
                _ => {}
            }
        }
    }
    bad
}

#[test]
fn no_module_of_the_kiosk_imports_one_of_its_own_layer_or_above() {
    let bad = upward_imports(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(bad.is_empty(), "imports that run up or sideways:\n{}", bad.join("\n"));
}

#[test]
fn every_top_level_module_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let mods: Vec<&str> = lib.lines().filter_map(|l| l.strip_prefix("pub mod ")).map(|l| l.trim_end_matches(';')).collect();
    assert!(mods.len() > 10, "{mods:?}");
    for m in mods {
        assert!(layer(m).is_some(), "module {m} has no layer in tests/layers.rs");
    }
}

#[test]
fn the_checker_sees_an_upward_import() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("store")).unwrap();
    std::fs::write(d.path().join("store/x.rs"), "use crate::ui::kiosk;\n#[cfg(test)]\nmod t { use crate::app::Shell; }\n").unwrap();
    assert_eq!(upward_imports(d.path()), vec!["store/x.rs:1: store (layer 1) imports ui (layer 7)".to_string()]);
}

/// Dependencies of a manifest's `[dependencies]` table (not dev or build).
fn normal_deps(manifest: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    let deps = doc.get("dependencies").and_then(|d| d.as_table()).cloned().unwrap_or_default();
    deps.into_iter().map(|(k, v)| (k, v.to_string())).collect()
}

#[test]
fn the_kiosk_does_not_depend_on_the_hub_or_a_postgresql_client() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let deps = normal_deps(&root.join("Cargo.toml"));
    for banned in ["microclass-hub", "postgres", "tokio-postgres"] {
        assert!(!deps.contains_key(banned), "the kiosk depends on {banned}");
    }
}

#[test]
fn the_core_and_the_protocol_depend_on_the_model_and_plain_data_crates_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let allowed_core = ["microclass-model", "serde", "serde_json", "ulid", "chrono", "thiserror"];
    for (name, _) in normal_deps(&root.join("crates/core/Cargo.toml")) {
        assert!(allowed_core.contains(&name.as_str()), "microclass-core depends on {name}");
    }
    let allowed_protocol = ["microclass-model", "serde", "serde_json", "thiserror", "itoa", "ed25519-dalek", "rand", "base64", "sha2", "hex"];
    for (name, _) in normal_deps(&root.join("crates/protocol/Cargo.toml")) {
        assert!(allowed_protocol.contains(&name.as_str()), "microclass-protocol depends on {name}");
    }
    for (name, _) in normal_deps(&root.join("crates/model/Cargo.toml")) {
        assert!(["serde", "thiserror", "libc", "hex"].contains(&name.as_str()), "microclass-model depends on {name}");
    }
}
