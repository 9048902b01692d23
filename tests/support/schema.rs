//! Checks messages against docs/schemas/*.json with the `jsonschema` crate
//! (a full draft 2020-12 validator, formats asserted, no remote `$ref`s), and
//! lints schemas for keywords outside the 2020-12 vocabulary: a validator
//! ignores an unknown keyword, so a misspelt `additionalProperties` would
//! otherwise silently let anything through.

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

/// The validator for `schema`, as draft 2020-12 whatever `$schema` says.
pub fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("not a usable schema: {e}\nschema: {schema}"))
}

/// Errors of `v` against `schema` (empty = valid).
pub fn check(schema: &Value, v: &Value) -> Vec<String> {
    validator(schema).iter_errors(v).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

/// Panics with every error when `v` does not match the named schema file.
pub fn assert_valid(name: &str, v: &Value) {
    let errs = check(&load(name), v);
    assert!(errs.is_empty(), "{name}: {errs:?}\nmessage: {v}");
}

/// Every keyword of draft 2020-12 (core, applicator, unevaluated, validation,
/// meta-data, format and content vocabularies).
const KNOWN: &[&str] = &[
    "$schema", "$id", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary", "$comment", "$defs",
    "prefixItems", "items", "contains", "additionalProperties", "properties", "patternProperties", "dependentSchemas",
    "propertyNames", "if", "then", "else", "allOf", "anyOf", "oneOf", "not", "unevaluatedItems", "unevaluatedProperties",
    "type", "const", "enum", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength",
    "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains", "minContains", "maxProperties",
    "minProperties", "required", "dependentRequired", "title", "description", "default", "deprecated", "readOnly",
    "writeOnly", "examples", "format", "contentEncoding", "contentMediaType", "contentSchema",
];

/// Keywords of `schema` (at any depth) that are not draft 2020-12 keywords.
pub fn lint(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    lint_at(schema, "$", &mut out);
    out
}

fn lint_at(s: &Value, at: &str, out: &mut Vec<String>) {
    let Some(obj) = s.as_object() else { return };
    for (k, v) in obj {
        if !KNOWN.contains(&k.as_str()) {
            out.push(format!("{at}: unknown keyword {k:?}"));
        }
        match k.as_str() {
            // Maps of name to subschema.
            "properties" | "$defs" | "patternProperties" | "dependentSchemas" => {
                for (name, sub) in v.as_object().into_iter().flatten() {
                    lint_at(sub, &format!("{at}.{k}.{name}"), out);
                }
            }
            // One subschema.
            "items" | "additionalProperties" | "contains" | "propertyNames" | "if" | "then" | "else" | "not"
            | "unevaluatedItems" | "unevaluatedProperties" | "contentSchema" => lint_at(v, &format!("{at}.{k}"), out),
            // Lists of subschemas.
            "oneOf" | "anyOf" | "allOf" | "prefixItems" => {
                for (i, sub) in v.as_array().into_iter().flatten().enumerate() {
                    lint_at(sub, &format!("{at}.{k}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
}
