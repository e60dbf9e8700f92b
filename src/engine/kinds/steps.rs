//! What the kinds that walk a list of steps share: the `tasks` keyword's
//! two forms ([`StepsSpec`]), the keys every task has ([`heads`]), and why
//! a step failed ([`Failure`]).

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::Arc;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;

use crate::engine::task::spec::ThrottleSpec;
use crate::engine::task::{self, Head, HeadKeys};
use crate::engine::throttle::Throttles;
use crate::resolver::Template;
use crate::spec::{Note, SpecError};
use crate::spec::{Segment, Vocabulary};

/// The heads of a task list: `steps` holds each step's `name` (when given)
/// and shared keys; `nested` says the list was written under
/// `{"tasks": [...]}` (paths then read `tasks.tasks[i]`). A step's head is
/// named by its `name`, else `"-"` (the caller names it). Compiled by
/// [`task::head`], as every kind's: the same checks and messages, the
/// throttles of one key shared by the test's steps.
pub(in crate::engine::kinds) fn heads(
    steps: Vec<(Option<String>, HeadKeys)>,
    nested: bool,
    notes: &mut Vec<Note>,
) -> Result<Vec<Head>, SpecError> {
    let prefix = if nested { "tasks.tasks" } else { "tasks" };
    let mut throttles = Throttles::default();
    steps
        .into_iter()
        .enumerate()
        .map(|(index, (name, keys))| {
            task::head(
                &format!("{prefix}[{index}]"),
                name.as_deref().unwrap_or("-"),
                name.is_some(),
                keys,
                &mut throttles,
                notes,
            )
        })
        .collect()
}

/// What an unnamed step of a URL-speaking kind is named, as LoadDensity
/// names it: its URL (fixed values resolved), else the URL the user is on
/// (the last one an earlier step names), else the test's host, else its
/// method. `steps` gives each step's head, whether it was named, its URL
/// and its method's name, in order.
pub(in crate::engine::kinds) fn name_by_url<'a>(
    steps: impl IntoIterator<Item = (&'a mut Head, bool, Option<&'a Template>, &'a str)>,
    ctx: &super::Context<'_>,
) {
    let changing = HashSet::new();
    let mut last_url: Option<String> = None;
    for (head, named, url, method) in steps {
        let url = url.map(|url| ctx.fixed.render(url, &changing));
        if !named {
            let name = url
                .clone()
                .or_else(|| last_url.clone())
                .or_else(|| ctx.base.map(str::to_owned))
                .unwrap_or_else(|| method.to_owned());
            head.name = Arc::from(name);
        }
        if url.is_some() {
            last_url = url;
        }
    }
}

/// The keys known at each place of a step list of `S` (the step as
/// written), for suggestions: `mode` and `tasks` beside the list, a
/// throttle's and a think time's own, and `S`'s everywhere else.
pub(in crate::engine::kinds) struct StepWords<S>(PhantomData<fn() -> S>);

impl<S> StepWords<S> {
    /// The vocabulary of `S` steps.
    pub(in crate::engine::kinds) fn new() -> Self {
        StepWords(PhantomData)
    }
}

impl<S: DeserializeOwned> Vocabulary for StepWords<S> {
    fn keys_at(&self, parent: &[Segment]) -> &'static [&'static str] {
        use serde_aux::serde_introspection::serde_introspect;
        match parent {
            [Segment::Key(k)] if k == "tasks" => &["mode", "tasks"],
            [.., Segment::Key(k)] if k == "throttle" => serde_introspect::<ThrottleSpec>(),
            [.., Segment::Key(k)] if k == "think_time" => &["min", "max"],
            _ => serde_introspect::<S>(),
        }
    }
}

/// The `tasks` keyword of a kind that walks every step in order: a list of
/// steps, or `{"tasks": [...]}` (LoadDensity's templates accept both; a
/// `mode` beside it is noted, other keys are noted as unknown).
#[derive(Debug)]
pub(in crate::engine::kinds) struct StepsSpec<S> {
    /// `mode`, as written.
    pub(in crate::engine::kinds) mode: Option<String>,
    /// Written as `{"tasks": [...]}`.
    pub(in crate::engine::kinds) nested: bool,
    /// The steps.
    pub(in crate::engine::kinds) steps: Vec<S>,
}

impl<S> StepsSpec<S> {
    /// The path of the list (`tasks` or `tasks.tasks`), once `mode` is
    /// noted when it asks for anything but walking in order, and an empty
    /// list refused.
    pub(in crate::engine::kinds) fn checked(
        &self,
        kind: &str,
        notes: &mut Vec<Note>,
    ) -> Result<&'static str, SpecError> {
        let prefix = if self.nested { "tasks.tasks" } else { "tasks" };
        if let Some(mode) = &self.mode {
            if !["sequence", "conditional"].contains(&mode.to_ascii_lowercase().as_str()) {
                notes.push(Note::new(
                    "tasks.mode",
                    format!(
                        "{mode:?} ignored: a {kind} walks every step in order, as LoadDensity's does"
                    ),
                ));
            }
        }
        if self.steps.is_empty() {
            return Err(SpecError::at(prefix, "no step given"));
        }
        Ok(prefix)
    }
}

impl<'de, S: DeserializeOwned> Deserialize<'de> for StepsSpec<S> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<S>(std::marker::PhantomData<S>);
        impl<'de, S: DeserializeOwned> Visitor<'de> for V<S> {
            type Value = StepsSpec<S>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of steps, or {\"tasks\": [...]}")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut steps = Vec::new();
                while let Some(step) = seq.next_element::<S>()? {
                    steps.push(step);
                }
                Ok(StepsSpec {
                    mode: None,
                    nested: false,
                    steps,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut mode = None;
                let mut steps = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "tasks" if steps.is_none() => steps = Some(map.next_value()?),
                        "mode" => mode = Some(map.next_value()?),
                        // Noted (serde_ignored sees it skipped).
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                let steps = steps.ok_or_else(|| {
                    de::Error::custom(
                        "no \"tasks\" list (write a list of steps, or {\"tasks\": [...]})",
                    )
                })?;
                Ok(StepsSpec {
                    mode,
                    nested: true,
                    steps,
                })
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The modes a kind that walks every step in order reads without a note.
pub(in crate::engine::kinds) const WALKED: &[&str] = &["sequence", "conditional"];

/// The JSON Schema of a [`StepsSpec`] of `S` steps (a kind's `tasks`): a
/// non-empty list of them, or `{"mode": one of modes, "tasks": [...]}`.
pub(in crate::engine::kinds) fn steps_schema<S: JsonSchema>(
    generator: &mut SchemaGenerator,
    modes: &[&str],
) -> Schema {
    let step = generator.subschema_for::<S>();
    let list = json_schema!({"type": "array", "minItems": 1, "items": step});
    json_schema!({
        "description": "The tasks: a non-empty list, or {\"mode\": ..., \"tasks\": [...]}",
        "anyOf": [
            list,
            {"type": "object",
             "properties": {
                 "mode": {"type": "string", "enum": modes},
                 "tasks": list
             },
             "required": ["tasks"],
             "additionalProperties": false}
        ]
    })
}

/// Why a step failed: the reason, and the status of a handshake's HTTP
/// refusal.
#[derive(Debug)]
pub(in crate::engine::kinds) struct Failure {
    /// The status the server refused the upgrade with.
    pub(in crate::engine::kinds) status: Option<u16>,
    /// What happened.
    pub(in crate::engine::kinds) reason: String,
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Failure {
            status: None,
            reason,
        }
    }
}
