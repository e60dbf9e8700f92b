//! [`EnvPolicy`]: which environment variables `${env.NAME}` may read.
//!
//! A served agent's environment is its owner's (cloud credentials, tokens):
//! an authenticated client may run tests, not read it. `ld-tower serve`
//! lets `${env.NAME}` read only the names given with `--allow-env NAME`;
//! `ld-tower run`, the owner's own process, reads them all.
//!
//! Enforced in two places: [`Session`](super::Session) never reads a name
//! the policy does not allow (the placeholder stays as written), whatever
//! the template and wherever it is rendered; and [`EnvPolicy::check`] refuses
//! a test whose tasks name one, before any request is sent.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use super::Template;

/// Which names `${env.NAME}` may read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvPolicy {
    /// Every name: the owner's own process (`ld-tower run`).
    All,
    /// These names only (`--allow-env NAME`); none when empty, the default.
    Only(Arc<BTreeSet<Box<str>>>),
}

impl Default for EnvPolicy {
    /// No name at all.
    fn default() -> Self {
        EnvPolicy::Only(Arc::default())
    }
}

/// A `${env.NAME}` the policy does not allow.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("${{env.{name}}}: this server does not hand its environment to clients; start it with --allow-env {name} to let tests read that variable")]
pub struct EnvRefused {
    /// The variable's name.
    pub name: String,
}

impl EnvPolicy {
    /// Only `names`.
    pub fn only<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        EnvPolicy::Only(Arc::new(
            names.into_iter().map(|n| Box::from(n.as_ref())).collect(),
        ))
    }

    /// Whether `${env.NAME}` may read `name`.
    pub fn allows(&self, name: &str) -> bool {
        match self {
            EnvPolicy::All => true,
            EnvPolicy::Only(names) => names.contains(name),
        }
    }

    /// The variable `name`, if allowed and set (and valid Unicode).
    pub(super) fn read(&self, name: &str) -> Option<String> {
        if !self.allows(name) {
            return None;
        }
        std::env::var(name).ok()
    }

    /// Refuses `value` (a test's tasks, as JSON) if a `${env.NAME}` in it
    /// names a variable not allowed. Every text a task may render is looked
    /// at: each string and object key, and the compact JSON of each array
    /// and object (a non-string header or parameter is rendered from its
    /// JSON text).
    pub fn check(&self, value: &Value) -> Result<(), EnvRefused> {
        if *self == EnvPolicy::All {
            return Ok(());
        }
        let refused = |text: &str| {
            Template::parse(text)
                .env_names()
                .find(|name| !self.allows(name))
                .map(|name| EnvRefused {
                    name: name.to_owned(),
                })
        };
        let mut pending = vec![value];
        while let Some(value) = pending.pop() {
            let found = match value {
                Value::String(text) => refused(text),
                Value::Array(items) => {
                    pending.extend(items);
                    refused(&value.to_string())
                }
                Value::Object(entries) => {
                    pending.extend(entries.values());
                    entries
                        .keys()
                        .find_map(|key| refused(key))
                        .or_else(|| refused(&value.to_string()))
                }
                Value::Null | Value::Bool(_) | Value::Number(_) => None,
            };
            if let Some(refused) = found {
                return Err(refused);
            }
        }
        Ok(())
    }
}
