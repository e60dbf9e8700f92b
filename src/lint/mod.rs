//! Checking an action document before running it (`LD_lint_action`,
//! `ld-tower lint`): every problem in one pass, each at its JSON path
//! (`$.load_density[0][1].tasks[2].request_url`), nothing run and nothing
//! sent. LoadDensity's `action_linter.py` finding shape (`rule`,
//! `severity`, `message`, `location`), with the location a JSON path.
//!
//! An action's arguments are checked by the same serde types (and, for
//! `LD_start_test`, the same task compilers) its handler parses them
//! with, through the [`Signature`](crate::actions::Signature) it was
//! registered with; an action with none is checked by its name and the
//! shape of its arguments.
//!
//! ```
//! use std::sync::Arc;
//! use ld_tower::actions::{ActionContext, Registry};
//! use ld_tower::paths::Paths;
//! use ld_tower::state::State;
//!
//! let ctx = ActionContext::new(
//!     Arc::new(Registry::with_builtins()),
//!     Arc::new(State::new(Paths::default())),
//! );
//! let doc = serde_json::json!({"load_density": [["LD_sumary"], ["LD_summary", {"succes": []}]]});
//! let lines: Vec<String> = ld_tower::lint::lint(&ctx, &doc, None)
//!     .iter()
//!     .map(ToString::to_string)
//!     .collect();
//! assert_eq!(lines, [
//!     "$.load_density[0]: LD_sumary: unknown action (did you mean LD_summary?)",
//!     "$.load_density[1][1].succes: unknown key (did you mean \"success\"?)",
//! ]);
//! ```

pub mod format;
pub mod schema;

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::actions::ActionContext;
use crate::spec::{segments_of, Note, Segment, SpecError};

/// Problems listed at most; past it, one last problem says how many more.
pub const MAX_PROBLEMS: usize = 1000;

/// How deeply `LD_execute_action` lists are followed (as they run).
const MAX_DEPTH: usize = 16;

/// Bytes of arguments a document's checks may parse in all (each round
/// of [`every_error`](crate::spec::every_error) parses an action's
/// arguments again): 256 MiB. Past it, actions are checked by name and
/// shape only, and a problem says so.
const MAX_WORK_BYTES: usize = 256 << 20;

/// Rounds one action's checks may take (each finds one more problem).
const MAX_ROUNDS: usize = 100;

/// How serious a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The action would fail, or do something other than written.
    Error,
    /// The action runs, but something given is ignored or suspicious.
    Warning,
}

/// One problem, LoadDensity's `LintFinding`: `{"rule", "severity",
/// "message", "location"}`, the location a JSON path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What kind: `invalid-shape`, `unknown-command`, `unsupported-command`,
    /// `unknown-key` (refused), `ignored`, `invalid-argument`, `missing-tasks`, `relative-url`,
    /// `unknown-threshold-name`, `not-checked`, `too-many-problems`.
    pub rule: &'static str,
    /// How serious.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// Where: a JSON path from the document's root (`$`), or, from an
    /// action's checker, from its arguments (`tasks[2].url`, `""`).
    pub location: String,
}

impl Problem {
    /// An error.
    pub fn error(
        rule: &'static str,
        location: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            rule,
            severity: Severity::Error,
            message: message.into(),
            location: location.into(),
        }
    }

    /// A warning.
    pub fn warning(
        rule: &'static str,
        location: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(rule, location, message)
        }
    }

    /// A mistake in arguments (`invalid-argument`), at its path.
    pub fn invalid(error: SpecError) -> Self {
        Problem::error("invalid-argument", error.path, error.message)
    }

    /// What the action accepts but ignores (`ignored`: an unknown key,
    /// with the closest known one; a key another makes moot): a warning
    /// (the action runs, as LoadDensity's would, and notes it).
    pub fn ignored(note: Note) -> Self {
        Problem::warning("ignored", note.path, note.message)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// What an action's checker can read: the agent (its registry, its
/// state's registered variables) and what the document set before it.
#[derive(Debug)]
pub struct Checking<'a> {
    /// The agent whose actions these are.
    pub ctx: &'a ActionContext,
    /// The `host` variable an earlier action of the document registers
    /// (`LD_register_variable(s)`), which relative URLs are relative to.
    pub host: Option<&'a str>,
    /// How many rounds the checker's [`every_error`](crate::spec::every_error) may take.
    pub rounds: usize,
}

/// Lints `doc` (an action document): every problem, in document order, at
/// most [`MAX_PROBLEMS`] (then one more saying how many were left out).
/// `known`: the action names taken as known instead of the registry's
/// (LoadDensity's `known_commands`); registered ones are still checked
/// deeply.
pub fn lint(ctx: &ActionContext, doc: &Value, known: Option<&[String]>) -> Vec<Problem> {
    lint_within(ctx, doc, known, MAX_WORK_BYTES)
}

/// [`lint`] parsing at most `budget` bytes of arguments in all.
fn lint_within(
    ctx: &ActionContext,
    doc: &Value,
    known: Option<&[String]>,
    budget: usize,
) -> Vec<Problem> {
    let mut linter = Linter {
        ctx,
        known,
        problems: Vec::new(),
        omitted: 0,
        host: None,
        work: 0,
        budget,
    };
    linter.document(doc, "$", 0);
    if linter.omitted > 0 {
        linter.problems.push(Problem::error(
            "too-many-problems",
            "$",
            format!(
                "{} more problem(s) not listed (the first {MAX_PROBLEMS} are)",
                linter.omitted
            ),
        ));
    }
    linter.problems
}

struct Linter<'a> {
    ctx: &'a ActionContext,
    known: Option<&'a [String]>,
    problems: Vec<Problem>,
    omitted: usize,
    /// The `host` variable registered by the actions so far.
    host: Option<String>,
    /// Bytes of arguments parsed so far.
    work: usize,
    /// Bytes of arguments it may parse (see [`MAX_WORK_BYTES`]).
    budget: usize,
}

impl Linter<'_> {
    fn push(&mut self, problem: Problem) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(problem);
        } else {
            self.omitted += 1;
        }
    }

    /// An action list (`{"load_density": [...]}` or `[...]`) at `at`.
    fn document(&mut self, doc: &Value, at: &str, depth: usize) {
        let list = match crate::actions::action_list(doc) {
            Ok(list) => list,
            Err(e) => return self.push(Problem::error("invalid-shape", at, e.to_string())),
        };
        let at = match doc {
            Value::Object(_) => format!("{at}.load_density"),
            _ => at.to_owned(),
        };
        for (index, action) in list.iter().enumerate() {
            self.action(action, &format!("{at}[{index}]"), depth);
        }
    }

    fn action(&mut self, action: &Value, at: &str, depth: usize) {
        let (name, args) = match crate::actions::split_action(action) {
            Ok(parts) => parts,
            Err(message) => return self.push(Problem::error("invalid-shape", at, message)),
        };
        let registry = self.ctx.registry();
        let known = match self.known {
            Some(names) => names.iter().any(|n| n == name),
            None => registry.contains(name),
        };
        if !known {
            let rule = if crate::actions::vocabulary::refusal(name).is_some() {
                "unsupported-command"
            } else {
                "unknown-command"
            };
            let message = match self.known {
                Some(names) if rule == "unknown-command" => {
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    match crate::actions::vocabulary::closest(name, &names) {
                        Some(near) => format!("{name}: unknown action (did you mean {near}?)"),
                        None => format!("{name}: unknown action"),
                    }
                }
                _ => crate::actions::unknown_action(registry, name),
            };
            return self.push(Problem::error(rule, at, message));
        }
        let Some(signature) = registry.signature(name) else {
            return;
        };
        let args_at = format!("{at}[1]");
        let map = match args.into_map(signature.positional()) {
            Ok(map) => map,
            Err(e) => return self.push(Problem::error("invalid-shape", &args_at, e.to_string())),
        };
        self.remember_host(name, &map);
        let size = crate::json_size::json_size(&map, usize::MAX).unwrap_or(usize::MAX);
        let rounds = MAX_ROUNDS.min(self.budget.saturating_sub(self.work) / size.max(1));
        if rounds == 0 {
            if self.work < usize::MAX {
                self.work = usize::MAX;
                self.push(Problem::warning(
                    "not-checked",
                    &args_at,
                    format!(
                        "the document's arguments are over the {} bytes lint parses: this action and the rest are checked by name and shape only",
                        self.budget
                    ),
                ));
            }
            return;
        }
        let nested = (name == "LD_execute_action")
            .then(|| map.get("action_list").cloned())
            .flatten();
        let checking = Checking {
            ctx: self.ctx,
            host: self.host.as_deref(),
            rounds,
        };
        let mut found = signature.check(&checking, map);
        if let Some(written) = action.get(1) {
            found.sort_by_cached_key(|problem| position(written, &problem.location));
        }
        self.work = self
            .work
            .saturating_add(size.saturating_mul(rounds.min(found.len() + 1)));
        if found.len() >= rounds {
            found.push(Problem::warning(
                "not-checked",
                "",
                format!(
                    "checks stopped after {rounds} problems of this action: correct them and lint again"
                ),
            ));
        }
        for mut problem in found {
            problem.location = join(&args_at, &problem.location);
            self.push(problem);
        }
        if let Some(list) = nested {
            if depth + 1 >= MAX_DEPTH {
                return self.push(Problem::error(
                    "invalid-shape",
                    format!("{args_at}.action_list"),
                    format!("action lists nested more than {MAX_DEPTH} deep"),
                ));
            }
            let positional = matches!(action.get(1), Some(Value::Array(_)));
            let list_at = if positional {
                format!("{args_at}[0]")
            } else {
                format!("{args_at}.action_list")
            };
            self.document(&list, &list_at, depth + 1);
        }
    }

    /// The `host` variable `LD_register_variable(s)` registers, which
    /// later tests' relative URLs are relative to.
    fn remember_host(&mut self, name: &str, map: &Map<String, Value>) {
        let host = match name {
            "LD_register_variable" if map.get("name") == Some(&Value::from("host")) => {
                map.get("value")
            }
            "LD_register_variables" => map.get("variables").and_then(|v| v.get("host")),
            "LD_clear_resolver" => {
                self.host = None;
                return;
            }
            _ => return,
        };
        if let Some(Value::String(host)) = host {
            self.host = Some(host.clone());
        }
    }
}

/// Where `location` (a path from an action's arguments, `written`) is in
/// the document: each step's position among its siblings (past them when
/// absent), so problems sort in the order they were written.
fn position(written: &Value, location: &str) -> Vec<usize> {
    let mut here = Some(written);
    segments_of(location)
        .iter()
        .map(|segment| {
            let (index, next) = match (segment, here) {
                (Segment::Key(key), Some(Value::Object(map))) => {
                    match map.keys().position(|k| k == key) {
                        Some(index) => (index, map.get(key)),
                        None => (map.len(), None),
                    }
                }
                (Segment::Index(index), Some(Value::Array(items))) => (*index, items.get(*index)),
                _ => (usize::MAX, None),
            };
            here = next;
            index
        })
        .collect()
}

/// `at` then `relative` (an argument's path from the action's arguments).
fn join(at: &str, relative: &str) -> String {
    match relative {
        "" => at.to_owned(),
        r if r.starts_with('[') => format!("{at}{r}"),
        r => format!("{at}.{r}"),
    }
}

#[cfg(test)]
mod tests;
