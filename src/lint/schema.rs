//! The action language's JSON Schema (draft 2020-12), for editors to
//! complete and check action files (`LD_export_schema`, `ld-tower
//! schema`): the outer document, each action as `["NAME"]`,
//! `["NAME", {keyword args}]` or `["NAME", [positional args]]` with the
//! known names as an enum, and the keyword arguments of every action
//! registered with a [`Signature`](crate::actions::Signature), generated
//! (schemars) from the serde types its handler parses them into.
//!
//! Stricter than the actions on one point, as an editor should be: a
//! key an action does not know is refused (`LD_start_test` and its tasks
//! ignore one, with a note).

use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

use crate::actions::Registry;

/// The schema's `$id`.
pub const SCHEMA_ID: &str = "https://ld-tower.invalid/schema/action-1.json";

/// The schema of action documents for the actions of `registry` (or only
/// those named in `known`, LoadDensity's `known_commands`).
pub fn action_schema(registry: &Registry, known: Option<&[String]>) -> Value {
    let names: Vec<String> = match known {
        Some(known) => {
            let mut names = known.to_vec();
            names.sort();
            names.dedup();
            names
        }
        None => registry.names().into_iter().map(str::to_owned).collect(),
    };
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let mut cases = Vec::new();
    for name in &names {
        let Some(signature) = registry.signature(name) else {
            continue;
        };
        let keywords = signature.describe(&mut generator).to_value();
        let positional = signature.positional().len();
        cases.push(json!({
            "if": {"prefixItems": [{"const": name}]},
            "then": {"prefixItems": [true, {"anyOf": [
                keywords,
                {"type": "array", "maxItems": positional,
                 "description": format!("positional: {}", signature.positional().join(", "))}
            ]}]}
        }));
    }
    let mut defs: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    defs.insert(
        "ActionList".into(),
        json!({"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Action"}}),
    );
    defs.insert(
        "Action".into(),
        json!({
            "type": "array",
            "minItems": 1,
            "maxItems": 2,
            "prefixItems": [
                {"type": "string", "enum": names, "description": "the action's name"},
                {"type": ["object", "array"],
                 "description": "keyword arguments, or positional ones"}
            ],
            "allOf": cases,
        }),
    );
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "ld-tower action document",
        "description": "An action list, {\"load_density\": [[\"NAME\", {...}], ...]} or [[\"NAME\", {...}], ...], as ld-tower and LoadDensity run it.",
        "oneOf": [
            {"$ref": "#/$defs/ActionList"},
            {
                "type": "object",
                "properties": {
                    "load_density": {"$ref": "#/$defs/ActionList"},
                    "$schema": {"type": "string", "description": "this schema's address, for editors"}
                },
                "required": ["load_density"],
                "additionalProperties": false
            }
        ],
        "$defs": defs,
    });
    drop_null_defaults(&mut schema);
    schema
}

/// Takes out the `"default": null` schemars writes for every optional key
/// (noise in an editor: an absent key is what the action's default is).
fn drop_null_defaults(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("default") == Some(&Value::Null) {
                map.remove("default");
            }
            map.values_mut().for_each(drop_null_defaults);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null_defaults),
        _ => {}
    }
}
