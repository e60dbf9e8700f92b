//! [`Signature`]: what an action's arguments look like, told once where
//! the action is registered, from the serde type its handler parses them
//! into: checked without running (`LD_lint_action`), and described in
//! the action language's JSON Schema (`LD_export_schema`).

use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::lint::{Checking, Problem};
use crate::spec::{closest, every_error, parse, Segment, Vocabulary};

/// Checks an action's arguments (as keywords), problems at paths from them.
pub type Check = fn(&Checking<'_>, Map<String, Value>) -> Vec<Problem>;

/// The JSON Schema of an action's keyword arguments.
pub type Describe = fn(&mut SchemaGenerator) -> Schema;

/// An action's arguments: their positional order, how they are checked,
/// and their schema.
#[derive(Clone, Copy)]
pub struct Signature {
    positional: &'static [&'static str],
    check: Check,
    describe: Describe,
}

impl Signature {
    /// Arguments parsed into `T` (as the handler's `args.parse::<T>(positional)`
    /// does): checked by parsing them into `T`, every mistake found (the
    /// keys `T` does not have first, each with the closest it has).
    pub fn of<T: DeserializeOwned + JsonSchema>(positional: &'static [&'static str]) -> Self {
        Signature {
            positional,
            check: typed::<T>,
            describe: describe::<T>,
        }
    }

    /// No arguments (`args.none()`).
    pub fn none() -> Self {
        Signature {
            positional: &[],
            check: no_arguments,
            describe: |_| json_schema!({"type": "object", "maxProperties": 0}),
        }
    }

    /// The same, checked by `check` instead (an action whose handler does
    /// more than parse, such as `LD_start_test` compiling its tasks).
    pub fn checked_by(self, check: Check) -> Self {
        Signature { check, ..self }
    }

    /// The same, described by `describe` instead.
    pub fn described_by(self, describe: Describe) -> Self {
        Signature { describe, ..self }
    }

    /// The keyword names positional values take, in order.
    pub fn positional(&self) -> &'static [&'static str] {
        self.positional
    }

    /// The problems of `args` (keywords).
    pub fn check(&self, checking: &Checking<'_>, args: Map<String, Value>) -> Vec<Problem> {
        (self.check)(checking, args)
    }

    /// The schema of the keyword arguments.
    pub fn describe(&self, generator: &mut SchemaGenerator) -> Schema {
        (self.describe)(generator)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signature")
            .field("positional", &self.positional)
            .finish_non_exhaustive()
    }
}

fn describe<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

fn no_arguments(_: &Checking<'_>, args: Map<String, Value>) -> Vec<Problem> {
    args.keys()
        .map(|key| Problem::error("unknown-key", key.clone(), "takes no arguments"))
        .collect()
}

/// The keys of `T` at the top, for suggestions (none deeper).
struct TopKeys(&'static [&'static str]);

impl Vocabulary for TopKeys {
    fn keys_at(&self, parent: &[Segment]) -> &'static [&'static str] {
        match parent {
            [] => self.0,
            _ => &[],
        }
    }
}

/// `args` parsed into `T`: the unknown top keys (each an error: the
/// handler refuses them), then every mistake of the rest.
fn typed<T: DeserializeOwned>(checking: &Checking<'_>, args: Map<String, Value>) -> Vec<Problem> {
    let known = serde_aux::serde_introspection::serde_introspect::<T>();
    let mut problems = Vec::new();
    let mut value = Value::Object(args);
    if let (false, Value::Object(map)) = (known.is_empty(), &mut value) {
        map.retain(|key, _| {
            let ok = known.contains(&key.as_str());
            if !ok {
                let message = match closest(key, known) {
                    Some(near) => format!("unknown key (did you mean {near:?}?)"),
                    None => format!("unknown key (known: {})", known.join(", ")),
                };
                problems.push(Problem::error("unknown-key", key.clone(), message));
            }
            ok
        });
    }
    let vocabulary = TopKeys(known);
    let (parsed, errors) = every_error(&mut value, checking.rounds, |v| {
        parse::<T>(v.clone(), &vocabulary).map(|(_, notes)| notes)
    });
    problems.extend(errors.into_iter().map(Problem::invalid));
    problems.extend(parsed.into_iter().flatten().map(Problem::ignored));
    problems
}
