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

    /// Refuses the first of `names` (the names a test's `${env.NAME}`
    /// placeholders read, as [`Scenario::env_names`] finds them in every
    /// template its tasks render) that the policy does not allow.
    ///
    /// [`Scenario::env_names`]: crate::engine::Scenario::env_names
    pub fn check<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Result<(), EnvRefused> {
        match names.into_iter().find(|name| !self.allows(name)) {
            Some(name) => Err(EnvRefused {
                name: name.to_owned(),
            }),
            None => Ok(()),
        }
    }
}
