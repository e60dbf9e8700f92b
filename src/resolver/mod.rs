//! LoadDensity's parameter resolver, compiled: `${...}` placeholders in a
//! task's JSON strings are parsed once ([`Template`], [`TemplateValue`]) and
//! rendered on every request by a virtual user's [`Session`].
//!
//! # Placeholders
//!
//! | placeholder | value |
//! |---|---|
//! | `${var.NAME}` (or `${NAME}`) | a registered or extracted variable |
//! | `${session.NAME}` | a variable of this virtual user only |
//! | `${env.NAME}` | an environment variable, read when rendered, if the [`EnvPolicy`] allows it |
//! | `${csv.SOURCE.COLUMN}` | a column of the next row of a CSV source |
//! | `${faker.PROVIDER}` | a fresh fake value from one of Python Faker's providers (`name`, `email`, `uuid4`, ...; see `faker`) |
//! | `${uuid()}` | a random UUID (version 4) |
//! | `${now()}` | local time to the second, `2026-11-24T23:15:02` |
//! | `${randint(a,b)}` | an integer from `a` to `b` inclusive |
//!
//! The prefix and function names are case-insensitive, the body is trimmed.
//! Whatever does not resolve (an unknown prefix, variable, function or column,
//! bad arguments, a Faker provider it does not have, an exhausted
//! non-cycling CSV source, a `null` variable as in LoadDensity) is left
//! exactly as written, so missing data is visible.
//! A variable holding a string renders as that text, any other JSON as
//! compact JSON (`5`, `true`, `{"a":1}`).
//!
//! One resolve call ([`Session::scope`]) takes one row per CSV source: all
//! `${csv.users.*}` of one task render from the same row; the next call takes
//! the next row. The cursor is shared by every session forked from the same
//! [`Resolver`], so users walk through a file together rather than each from
//! the top.
//!
//! ```
//! use ld_tower::resolver::{Resolver, TemplateValue};
//! use serde_json::json;
//!
//! let mut resolver = Resolver::new();
//! resolver.register_variable("base", json!("http://127.0.0.1:8080"));
//! resolver.register_variable("id", json!(5));
//! let task = TemplateValue::parse(&json!({
//!     "method": "get",
//!     "request_url": "${var.base}/items/${var.id}?x=${var.missing}",
//! }));
//!
//! let mut session = resolver.fork();
//! let rendered = session.scope().render_value(&task);
//! assert_eq!(
//!     rendered,
//!     json!({"method": "get", "request_url": "http://127.0.0.1:8080/items/5?x=${var.missing}"})
//! );
//! ```
//!
//! # Layout
//!
//! - [`template`](Template): parsing strings and JSON values;
//! - `session`: [`Session`] and [`Scope`], the rendering;
//! - `csv`: [`CsvSource`], rows in one compact buffer;
//! - `cursor`: the row cursor a source's users share;
//! - `loader`: [`Loader`], sources read off the runtime, counted against a
//!   [`SourceBudget`], cancellable;
//! - `env`: [`EnvPolicy`], which names `${env.NAME}` may read;
//! - `functions`: `uuid()`, `now()`, `randint(a,b)`;
//! - `faker`: `${faker.PROVIDER}`'s providers;
//! - `pystr`: numbers written as Python's `str()` writes them;
//! - `error`: [`ResolverError`].

mod csv;
mod cursor;
mod env;
mod error;
mod faker;
mod functions;
mod loader;
mod pystr;
mod session;
mod template;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_faker_db;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

pub use self::csv::CsvSource;
pub use env::{EnvPolicy, EnvRefused};
pub use error::ResolverError;
pub use loader::{LoadError, Loader, Meter, SourceBudget};
pub use session::{Scope, Session};
pub use template::{Template, TemplateValue};

/// The server's registered data: variables and CSV sources (what
/// `LD_register_variable(s)`, `LD_register_csv_source(s)` and
/// `LD_clear_resolver` act on).
///
/// Cloning is cheap and shares the CSV sources' cursors.
#[derive(Default, Clone)]
pub struct Resolver {
    /// Registered variables; shared copy-on-write with the sessions forked
    /// from it, so a fork costs no copy and a later registration does not
    /// reach sessions already forked.
    variables: Arc<HashMap<String, Value>>,
    /// Registered CSV sources by name; the sources themselves (and their
    /// cursors) are shared with every fork.
    csv: Arc<HashMap<String, Arc<CsvSource>>>,
    /// Which environment variables `${env.NAME}` may read; kept by
    /// [`Resolver::clear`].
    env: EnvPolicy,
}

impl Resolver {
    /// No variables, no CSV sources, no environment variable readable
    /// (see [`Resolver::with_env`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// This resolver with `${env.NAME}` reading what `env` allows.
    pub fn with_env(mut self, env: EnvPolicy) -> Self {
        self.env = env;
        self
    }

    /// Which environment variables `${env.NAME}` may read.
    pub fn env(&self) -> &EnvPolicy {
        &self.env
    }

    /// Registers (or replaces) the variable `name`.
    pub fn register_variable(&mut self, name: impl Into<String>, value: Value) {
        Arc::make_mut(&mut self.variables).insert(name.into(), value);
    }

    /// The registered variables.
    pub fn variables(&self) -> &HashMap<String, Value> {
        &self.variables
    }

    /// Reads the CSV file at `path` into memory (a header row names the
    /// columns; UTF-8) and registers it as `name`, replacing any source of
    /// that name; returns its number of data rows. This blocks while it
    /// reads, with no budget: the server loads sources with a
    /// [`Loader`] and registers them with [`Resolver::insert_csv_source`].
    ///
    /// A cycling source starts again at its first row after the last; a
    /// non-cycling one leaves its placeholders unresolved once exhausted.
    pub fn register_csv_source(
        &mut self,
        name: impl Into<String>,
        path: &Path,
        cycle: bool,
    ) -> Result<usize, ResolverError> {
        let source = CsvSource::read(path, cycle)?;
        Ok(self.insert_csv_source(name, source))
    }

    /// Registers `source` as `name`, replacing any source of that name;
    /// returns its number of data rows.
    pub fn insert_csv_source(&mut self, name: impl Into<String>, source: CsvSource) -> usize {
        let rows = source.rows();
        Arc::make_mut(&mut self.csv).insert(name.into(), Arc::new(source));
        rows
    }

    /// Unregisters the CSV source `name` (sessions already forked keep it).
    pub fn remove_csv_source(&mut self, name: &str) {
        if self.csv.contains_key(name) {
            Arc::make_mut(&mut self.csv).remove(name);
        }
    }

    /// The registered CSV source `name`.
    pub fn csv_source(&self, name: &str) -> Option<&CsvSource> {
        self.csv.get(name).map(|source| &**source)
    }

    /// The registered CSV sources, by name, in no particular order.
    pub fn csv_sources(&self) -> impl Iterator<Item = (&str, &CsvSource)> {
        self.csv
            .iter()
            .map(|(name, source)| (name.as_str(), &**source))
    }

    /// Forgets every variable and CSV source (sessions already forked keep
    /// theirs).
    pub fn clear(&mut self) {
        self.variables = Arc::default();
        self.csv = Arc::default();
    }

    /// A virtual user's own copy: the variables are copied (extractors then
    /// write into the copy only), the CSV sources are shared (one cursor per
    /// source across all users).
    pub fn fork(&self) -> Session {
        Session::new(
            Arc::clone(&self.variables),
            Arc::clone(&self.csv),
            self.env.clone(),
        )
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("variables", &self.variables.len())
            .field("csv_sources", &self.csv.len())
            .field("env", &self.env)
            .finish()
    }
}
