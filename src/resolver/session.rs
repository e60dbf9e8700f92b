//! A virtual user's resolver state ([`Session`]) and one resolve call
//! ([`Scope`]): where templates are rendered.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::csv::CsvSource;
use super::db::DbSource;
use super::env::EnvPolicy;
use super::template::{Kind, Part, Template, TemplateValue};

/// One virtual user's resolver state, from [`Resolver::fork`](super::Resolver::fork).
///
/// Cloning gives the clone its own random number generator.
pub struct Session {
    /// Registered variables, then extracted ones (scope `var`); copied on the
    /// first write, so writes never reach the resolver or other sessions.
    variables: Arc<HashMap<String, Value>>,
    /// Variables extracted with scope `session`.
    session_variables: HashMap<String, Value>,
    /// The CSV sources, shared with the resolver and its other forks.
    csv: Arc<HashMap<String, Arc<CsvSource>>>,
    /// The database sources, shared likewise.
    db: Arc<HashMap<String, Arc<DbSource>>>,
    /// Which environment variables `${env.NAME}` may read.
    env: EnvPolicy,
    /// Draws `randint` and Faker's values; per session, so users never
    /// contend for it.
    rng: fastrand::Rng,
    /// The rows picked in the current resolve call, one per CSV source
    /// (`None`: the source had none left); kept between calls to reuse its
    /// allocation.
    picks: Vec<(Arc<CsvSource>, Option<usize>)>,
    /// The same for database sources.
    db_picks: Vec<(Arc<DbSource>, Option<usize>)>,
}

impl Session {
    /// A session over these variables and sources.
    pub(super) fn new(
        variables: Arc<HashMap<String, Value>>,
        csv: Arc<HashMap<String, Arc<CsvSource>>>,
        db: Arc<HashMap<String, Arc<DbSource>>>,
        env: EnvPolicy,
    ) -> Self {
        Session {
            variables,
            session_variables: HashMap::new(),
            csv,
            db,
            env,
            rng: fastrand::Rng::new(),
            picks: Vec::new(),
            db_picks: Vec::new(),
        }
    }

    /// Sets `${var.NAME}` for this session only (an extractor with scope
    /// `var`).
    pub fn set_variable(&mut self, name: impl Into<String>, value: Value) {
        Arc::make_mut(&mut self.variables).insert(name.into(), value);
    }

    /// Sets `${session.NAME}` (an extractor with scope `session`).
    pub fn set_session_variable(&mut self, name: impl Into<String>, value: Value) {
        self.session_variables.insert(name.into(), value);
    }

    /// The variable `name` (`${var.NAME}`), registered or set.
    pub fn variable(&self, name: &str) -> Option<&Value> {
        self.variables.get(name)
    }

    /// The session variable `name` (`${session.NAME}`).
    pub fn session_variable(&self, name: &str) -> Option<&Value> {
        self.session_variables.get(name)
    }

    /// Starts one resolve call: the returned [`Scope`] holds the CSV and
    /// database rows picked so far in this call, so every placeholder of one
    /// source renders from the same row until the scope is dropped.
    pub fn scope(&mut self) -> Scope<'_> {
        self.picks.clear();
        self.db_picks.clear();
        Scope { session: self }
    }

    /// Appends what `kind` resolves to, or returns `false` having appended
    /// nothing.
    fn resolve(&mut self, kind: &Kind, out: &mut String) -> bool {
        match kind {
            Kind::Var(name) => push_variable(self.variables.get(&**name), out),
            Kind::Session(name) => push_variable(self.session_variables.get(&**name), out),
            // A name the policy does not allow is never read: it stays as
            // written, like an unset one.
            Kind::Env(name) => match self.env.read(name) {
                Some(value) => {
                    out.push_str(&value);
                    true
                }
                None => false,
            },
            Kind::Csv { source, column } => {
                let Some(source) = self.csv.get(&**source) else {
                    return false;
                };
                let row = pick(&mut self.picks, source, CsvSource::next_row);
                push_field(row.and_then(|row| source.field(row, column)), out)
            }
            Kind::Db { source, column } => {
                let Some(source) = self.db.get(&**source) else {
                    return false;
                };
                let row = pick(&mut self.db_picks, source, DbSource::next_row);
                push_field(row.and_then(|row| source.field(row, column)), out)
            }
            Kind::Faker(faker) => {
                faker.render(&mut self.rng, out);
                true
            }
            Kind::Function(function) => {
                function.render(&mut self.rng, out);
                true
            }
        }
    }
}

/// The row of `source` picked in this resolve call, picking it with `next`
/// on first use.
fn pick<S>(
    picks: &mut Vec<(Arc<S>, Option<usize>)>,
    source: &Arc<S>,
    next: impl FnOnce(&S) -> Option<usize>,
) -> Option<usize> {
    if let Some((_, row)) = picks.iter().find(|(picked, _)| Arc::ptr_eq(picked, source)) {
        return *row;
    }
    let row = next(source);
    picks.push((Arc::clone(source), row));
    row
}

/// Appends a source's field, if there is one; returns whether it did.
fn push_field(field: Option<&str>, out: &mut String) -> bool {
    match field {
        Some(field) => {
            out.push_str(field);
            true
        }
        None => false,
    }
}

/// Appends a variable's text: a string as is, other JSON compact; `null` and
/// a missing variable append nothing and return `false` (LoadDensity left
/// both unresolved).
pub(super) fn push_variable(value: Option<&Value>, out: &mut String) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::String(text)) => {
            out.push_str(text);
            true
        }
        // `Value`'s Display is compact JSON; writing into a String cannot fail.
        Some(other) => write!(out, "{other}").is_ok(),
    }
}

impl Clone for Session {
    fn clone(&self) -> Self {
        Session {
            variables: Arc::clone(&self.variables),
            session_variables: self.session_variables.clone(),
            csv: Arc::clone(&self.csv),
            db: Arc::clone(&self.db),
            env: self.env.clone(),
            rng: fastrand::Rng::new(),
            picks: Vec::new(),
            db_picks: Vec::new(),
        }
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("variables", &self.variables.len())
            .field("session_variables", &self.session_variables.len())
            .field("csv_sources", &self.csv.len())
            .field("db_sources", &self.db.len())
            .finish_non_exhaustive()
    }
}

/// One resolve call of a [`Session`] (typically one task's whole JSON): one
/// row per CSV or database source for every render through it.
#[derive(Debug)]
pub struct Scope<'a> {
    /// The session; its `picks` are this call's rows.
    session: &'a mut Session,
}

impl Scope<'_> {
    /// Sets `${var.NAME}` for the session (see [`Session::set_variable`]).
    pub fn set_variable(&mut self, name: impl Into<String>, value: Value) {
        self.session.set_variable(name, value);
    }

    /// Sets `${session.NAME}` (see [`Session::set_session_variable`]).
    pub fn set_session_variable(&mut self, name: impl Into<String>, value: Value) {
        self.session.set_session_variable(name, value);
    }

    /// Appends `template` rendered to `out`.
    pub fn render(&mut self, template: &Template, out: &mut String) {
        if let Some(text) = template.as_static() {
            out.push_str(text);
            return;
        }
        for part in template.parts() {
            match part {
                Part::Literal(range) => out.push_str(template.text(range)),
                Part::Placeholder(placeholder) => {
                    if !self.session.resolve(&placeholder.kind, out) {
                        out.push_str(template.text(&placeholder.span));
                    }
                }
            }
        }
    }

    /// `template` rendered.
    pub fn render_string(&mut self, template: &Template) -> String {
        if let Some(text) = template.as_static() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(template.source().len());
        self.render(template, &mut out);
        out
    }

    /// `template` rendered into JSON: strings rendered, the rest cloned.
    pub fn render_value(&mut self, template: &TemplateValue) -> Value {
        match template {
            TemplateValue::Static(value) => value.clone(),
            TemplateValue::String(template) => Value::String(self.render_string(template)),
            TemplateValue::Array(items) => {
                Value::Array(items.iter().map(|item| self.render_value(item)).collect())
            }
            TemplateValue::Object(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (key, value) in entries {
                    map.insert(key.clone(), self.render_value(value));
                }
                Value::Object(map)
            }
        }
    }
}
