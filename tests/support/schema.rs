//! A small JSON Schema checker for the subset docs/schemas/*.json use
//! (draft 2020-12 keywords: type, properties, required, additionalProperties,
//! items, enum, const, minimum, maximum, minLength, maxLength, minItems,
//! maxItems, oneOf, anyOf, $ref to #/$defs/...). A keyword outside the
//! subset is an error, so a schema can never silently pass on it.

use serde_json::Value;
use std::path::PathBuf;

pub fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/schemas")
}

pub fn load(name: &str) -> Value {
    let p = schema_dir().join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The schema file of a record payload of `kind`.
pub fn for_kind(kind: &str) -> String {
    match kind {
        "telemetry" => "telemetry.json".into(),
        k => format!("record-{k}.json"),
    }
}

/// Errors of `v` against `schema` (empty = valid).
pub fn check(schema: &Value, v: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    walk(schema, schema, v, "$", &mut errs);
    errs
}

/// Panics with every error when `v` does not match the named schema file.
pub fn assert_valid(name: &str, v: &Value) {
    let errs = check(&load(name), v);
    assert!(errs.is_empty(), "{name}: {errs:?}\nmessage: {v}");
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    }
}

const KNOWN: &[&str] = &[
    "$schema", "$id", "$defs", "title", "description", "type", "properties", "required", "additionalProperties", "items",
    "enum", "const", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "oneOf", "anyOf", "$ref", "examples",
];

fn walk(root: &Value, s: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    let Some(obj) = s.as_object() else {
        if s == &Value::Bool(false) {
            errs.push(format!("{at}: not allowed"));
        }
        return;
    };
    for k in obj.keys() {
        if !KNOWN.contains(&k.as_str()) {
            errs.push(format!("schema keyword {k:?} is not supported by the checker"));
        }
    }
    if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").unwrap_or_else(|| panic!("unsupported $ref {r}"));
        let target = root["$defs"].get(name).unwrap_or_else(|| panic!("missing $defs/{name}"));
        walk(root, target, v, at, errs);
    }
    if let Some(t) = obj.get("type") {
        let ok = match t {
            Value::String(t) => type_ok(t, v),
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(|t| type_ok(t, v)),
            _ => false,
        };
        if !ok {
            errs.push(format!("{at}: expected type {t}, got {v}"));
            return;
        }
    }
    if let Some(e) = obj.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            errs.push(format!("{at}: {v} not in {e:?}"));
        }
    }
    if let Some(c) = obj.get("const") {
        if c != v {
            errs.push(format!("{at}: expected {c}, got {v}"));
        }
    }
    if let Some(n) = v.as_f64() {
        if obj.get("minimum").and_then(Value::as_f64).is_some_and(|m| n < m) {
            errs.push(format!("{at}: {n} below minimum"));
        }
        if obj.get("maximum").and_then(Value::as_f64).is_some_and(|m| n > m) {
            errs.push(format!("{at}: {n} above maximum"));
        }
    }
    if let Some(st) = v.as_str() {
        let len = st.chars().count() as u64;
        if obj.get("minLength").and_then(Value::as_u64).is_some_and(|m| len < m) {
            errs.push(format!("{at}: string shorter than minLength"));
        }
        if obj.get("maxLength").and_then(Value::as_u64).is_some_and(|m| len > m) {
            errs.push(format!("{at}: string longer than maxLength"));
        }
    }
    if let Some(a) = v.as_array() {
        if obj.get("minItems").and_then(Value::as_u64).is_some_and(|m| (a.len() as u64) < m) {
            errs.push(format!("{at}: fewer than minItems"));
        }
        if obj.get("maxItems").and_then(Value::as_u64).is_some_and(|m| (a.len() as u64) > m) {
            errs.push(format!("{at}: more than maxItems"));
        }
        if let Some(items) = obj.get("items") {
            for (i, x) in a.iter().enumerate() {
                walk(root, items, x, &format!("{at}[{i}]"), errs);
            }
        }
    }
    if let Some(o) = v.as_object() {
        if let Some(req) = obj.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if !o.contains_key(r) {
                    errs.push(format!("{at}: missing required {r:?}"));
                }
            }
        }
        let props = obj.get("properties").and_then(Value::as_object);
        for (k, x) in o {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => walk(root, ps, x, &format!("{at}.{k}"), errs),
                None => match obj.get("additionalProperties") {
                    Some(Value::Bool(false)) => errs.push(format!("{at}: unexpected property {k:?}")),
                    Some(extra @ Value::Object(_)) => walk(root, extra, x, &format!("{at}.{k}"), errs),
                    _ => {}
                },
            }
        }
    }
    for (kw, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(alts) = obj.get(kw).and_then(Value::as_array) {
            let passing = alts.iter().filter(|a| check_sub(root, a, v)).count();
            if (exactly_one && passing != 1) || (!exactly_one && passing == 0) {
                errs.push(format!("{at}: {passing} alternatives of {kw} match"));
            }
        }
    }
}

fn check_sub(root: &Value, s: &Value, v: &Value) -> bool {
    let mut e = Vec::new();
    walk(root, s, v, "$", &mut e);
    e.is_empty()
}

/// Keywords of `schema` (at any depth) that the checker does not support.
pub fn lint(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    lint_at(schema, "$", &mut out);
    out
}

fn lint_at(s: &Value, at: &str, out: &mut Vec<String>) {
    let Some(obj) = s.as_object() else { return };
    for (k, v) in obj {
        if !KNOWN.contains(&k.as_str()) {
            out.push(format!("{at}: unsupported keyword {k:?}"));
        }
        match k.as_str() {
            "properties" | "$defs" => {
                for (name, sub) in v.as_object().into_iter().flatten() {
                    lint_at(sub, &format!("{at}.{k}.{name}"), out);
                }
            }
            "items" | "additionalProperties" => lint_at(v, &format!("{at}.{k}"), out),
            "oneOf" | "anyOf" => {
                for (i, sub) in v.as_array().into_iter().flatten().enumerate() {
                    lint_at(sub, &format!("{at}.{k}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
}
