//! `redis_user`'s steps as written, and their compiled form: LoadDensity's
//! `redis_user_template.py` (`method`, `key`, `value`, `expect`, `name`),
//! plus `url` and `timeout`, and the keys every task shares.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::command::{Command, COMMANDS};
use crate::engine::kinds::steps::{StepWords, StepsSpec};
use crate::engine::task::spec::{ThinkTimeSpec, ThrottleSpec};
use crate::engine::task::{self, Head, HeadKeys, Mode, Scenario, Step};
use crate::engine::throttle::Throttles;
use crate::resolver::Template;
use crate::spec::{Note, SpecError};

/// LoadDensity's Redis URL when neither the step nor the test names one.
pub(super) const DEFAULT_URL: &str = "redis://127.0.0.1:6379/0";

/// One step as written.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default)]
#[schemars(rename = "RedisStep", deny_unknown_fields)]
pub(super) struct RedisStepSpec {
    /// `get`, `set`, `incr`, `lpush`, `rpop`, `delete`, `exists`.
    method: Option<String>,
    /// The key.
    key: Option<String>,
    /// The value (`set`, `lpush`; default empty).
    value: Option<String>,
    /// The reply must read exactly this.
    expect: Option<String>,
    /// What figures are grouped by (default: the method).
    name: Option<String>,
    /// `redis://[user:password@]host:port/db` (or `rediss://`); default:
    /// the test's host when it is a Redis URL, else LoadDensity's.
    url: Option<String>,
    /// Seconds (default: the test's `request_timeout`).
    timeout: Option<f64>,
    /// Unused: every step is walked in order.
    weight: Option<i64>,
    /// Run only when this holds.
    run_if: Option<Value>,
    /// Skip when this holds.
    skip_if: Option<Value>,
    /// A pause after the step.
    think_time: Option<ThinkTimeSpec>,
    /// A rate cap shared by every user.
    throttle: Option<ThrottleSpec>,
}

/// A compiled step.
#[derive(Debug)]
pub(crate) struct RedisStep {
    /// Name, conditions, think time, throttle.
    pub(super) head: Head,
    /// The command.
    pub(super) command: Command,
    /// Its key.
    pub(super) key: Template,
    /// Its value (`set`, `lpush`).
    pub(super) value: Template,
    /// What the reply must read.
    pub(super) expect: Option<Template>,
    /// Where it goes.
    pub(super) url: Template,
    /// Its timeout, if it sets one.
    pub(super) timeout: Option<Duration>,
}

impl Step for RedisStep {
    fn head(&self) -> &Head {
        &self.head
    }

    fn head_mut(&mut self) -> &mut Head {
        &mut self.head
    }

    fn env_names(&self) -> Vec<&str> {
        [&self.key, &self.value, &self.url]
            .into_iter()
            .chain(&self.expect)
            .flat_map(Template::env_names)
            .chain(self.head.env_names())
            .collect()
    }
}

/// The `tasks` keyword's value parsed (notes at their paths) and compiled;
/// `base` is the test's host.
pub(super) fn parse(
    tasks: Value,
    base: Option<&str>,
    notes: &mut Vec<Note>,
) -> Result<Scenario<RedisStep>, SpecError> {
    #[derive(Deserialize)]
    struct Keyword {
        tasks: StepsSpec<RedisStepSpec>,
    }
    let (keyword, mut found) = crate::spec::parse::<Keyword>(
        serde_json::json!({ "tasks": tasks }),
        &StepWords::<RedisStepSpec>::new(),
    )?;
    notes.append(&mut found);
    let spec = keyword.tasks;
    let prefix = spec.checked("redis_user", notes)?;
    let default_url = base
        .filter(|b| b.starts_with("redis://") || b.starts_with("rediss://"))
        .unwrap_or(DEFAULT_URL);
    let mut throttles = Throttles::default();
    let tasks = spec
        .steps
        .into_iter()
        .enumerate()
        .map(|(index, step)| {
            compile(
                &format!("{prefix}[{index}]"),
                step,
                default_url,
                &mut throttles,
                notes,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Scenario {
        mode: Mode::Sequence,
        tasks,
    })
}

fn compile(
    path: &str,
    spec: RedisStepSpec,
    default_url: &str,
    throttles: &mut Throttles,
    notes: &mut Vec<Note>,
) -> Result<RedisStep, SpecError> {
    let at = |key: &str, message: String| SpecError::at(format!("{path}.{key}"), message);
    let written = spec.method.unwrap_or_default();
    let command = COMMANDS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(&written))
        .map(|(_, command)| *command)
        .ok_or_else(|| {
            let known: Vec<&str> = COMMANDS.iter().map(|(name, _)| *name).collect();
            at(
                "method",
                format!(
                    "unknown method {written:?}; expected one of {}",
                    known.join(", ")
                ),
            )
        })?;
    let key = spec
        .key
        .ok_or_else(|| at("key", "missing (every Redis step names a key)".into()))?;
    let url = spec
        .url
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| default_url.to_owned());
    let url = Template::parse(&url);
    if let Some(text) = url.as_static() {
        super::address::Address::parse(text).map_err(|e| at("url", e))?;
    }
    let timeout = task::timeout(path, spec.timeout)?;
    let named = spec.name.filter(|n| !n.is_empty());
    let head = task::head(
        path,
        named.as_deref().unwrap_or(&written.to_ascii_lowercase()),
        named.is_some(),
        HeadKeys {
            weight: spec.weight,
            run_if: spec.run_if,
            skip_if: spec.skip_if,
            think_time: spec.think_time,
            throttle: spec.throttle,
        },
        throttles,
        notes,
    )?;
    Ok(RedisStep {
        head,
        command,
        key: Template::parse(&key),
        value: Template::parse(&spec.value.unwrap_or_default()),
        expect: spec.expect.as_deref().map(Template::parse),
        url,
        timeout,
    })
}
