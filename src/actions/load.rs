//! The load-test actions: `LD_start_test`, `LD_stop_test`, `LD_test_status`.

use crate::auth::Scope;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_json::{json, Map, Value};

use super::error;
use super::{ActionContext, ActionError, Args, Registry, Signature};
use crate::engine::dial;
use crate::engine::{
    kinds, Bucket, Finished, Network, Plan, Shape, ShapeError, Wait, DEFAULT_TIMEOUT, MAX_USERS,
    OTHER_NAMES,
};
use crate::engine::{secrets, task};
use crate::policy::Caps;
use crate::redact;
use crate::spec::{parse, strict_check, unknown, Note, Segment, SpecError, Vocabulary};
use crate::state::LastRun;
use crate::thresholds::{LimitsSpec, Thresholds};

pub(super) fn register(registry: &mut Registry) {
    registry
        .register_scoped("LD_start_test", Scope::Run, start_test)
        .register_scoped("LD_stop_test", Scope::Run, stop_test)
        .register_scoped("LD_test_status", Scope::Read, test_status)
        .describe(
            "LD_start_test",
            Signature::of::<StartTest>(POSITIONAL)
                .checked_by(super::start_check::check_start)
                .described_by(super::start_check::describe_start),
        )
        .describe("LD_stop_test", Signature::none())
        .describe("LD_test_status", Signature::none());
    super::steer::register(registry);
}

/// A key given as `null` is `Some(None)`; a key not given is `None`.
fn given<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `LD_start_test`'s keyword arguments: LoadDensity's names and defaults,
/// every keyword it knows (its distributed ones included), and ld-tower's
/// own. A key not here is noted (or, strict, refused), never an error by
/// itself: LoadDensity ignores what it does not know.
#[derive(Default, Deserialize, schemars::JsonSchema)]
#[serde(default)]
#[schemars(deny_unknown_fields)]
pub(super) struct StartTest {
    /// `{"user": "fast_http_user" | "http_user" | ..., "host": ...}`.
    user_detail_dict: Option<Map<String, Value>>,
    user_count: Option<u64>,
    spawn_rate: Option<f64>,
    #[serde(deserialize_with = "given")]
    #[schemars(with = "Option<f64>")]
    test_time: Option<Option<f64>>,
    web_ui_dict: Option<Value>,
    runner_mode: Option<String>,
    load_shape: Option<Value>,
    shape_config: Option<Value>,
    /// The tasks, in the form the user kind (`user_detail_dict.user`) reads.
    pub(super) tasks: Option<Value>,
    host: Option<String>,
    pub(super) variables: Option<Map<String, Value>>,
    csv_sources: Option<Vec<Value>>,
    db_sources: Option<Vec<Value>>,
    wait_time: Option<Wait>,
    arrival_rate: Option<f64>,
    request_timeout: Option<f64>,
    iterations: Option<u64>,
    engine: Option<String>,
    /// `{"p95_ms": .., "failure_rate": .., "per_name": {NAME: {...}}}`.
    pub(super) thresholds: Option<LimitsSpec>,
    max_names: Option<u64>,
    strict: Option<bool>,
    /// HTTP users: every task over HTTP/2 unless it says otherwise.
    pub(super) http2: Option<bool>,
    /// HTTP/2: connections per origin, shared by the users (as h2load's
    /// `-c`); none: one per origin per worker thread.
    h2_connections: Option<u64>,
    master_bind_host: Option<Value>,
    master_bind_port: Option<Value>,
    master_host: Option<Value>,
    master_port: Option<Value>,
    expected_workers: Option<Value>,
    worker_startup_timeout: Option<Value>,
    worker_heartbeat_interval: Option<Value>,
    worker_lost_timeout: Option<Value>,
    worker_startup_policy: Option<Value>,
    stop_requested: Option<Value>,
    on_environment: Option<Value>,
    agents: Option<Value>,
    agent_token: Option<Value>,
    agent_ca: Option<Value>,
    agent_server_name: Option<Value>,
    agent_cert: Option<Value>,
    agent_key: Option<Value>,
    on_agent_lost: Option<Value>,
}

impl StartTest {
    /// ld-tower's fleet keys, when given (a coordinator's; see
    /// [`crate::fleet`]).
    fn fleet_keys(&self) -> Vec<&'static str> {
        given_keys([
            ("agents", &self.agents),
            ("agent_token", &self.agent_token),
            ("agent_ca", &self.agent_ca),
            ("agent_server_name", &self.agent_server_name),
            ("agent_cert", &self.agent_cert),
            ("agent_key", &self.agent_key),
            ("on_agent_lost", &self.on_agent_lost),
        ])
    }

    /// LoadDensity's keywords that a local ld-tower test does not use (its
    /// distributed runner's settings, its Python callbacks), when given.
    fn not_used(&self) -> Vec<&'static str> {
        given_keys([
            ("master_bind_host", &self.master_bind_host),
            ("master_bind_port", &self.master_bind_port),
            ("master_host", &self.master_host),
            ("master_port", &self.master_port),
            ("expected_workers", &self.expected_workers),
            ("worker_startup_timeout", &self.worker_startup_timeout),
            ("worker_heartbeat_interval", &self.worker_heartbeat_interval),
            ("worker_lost_timeout", &self.worker_lost_timeout),
            ("worker_startup_policy", &self.worker_startup_policy),
            ("stop_requested", &self.stop_requested),
            ("on_environment", &self.on_environment),
        ])
    }
}

/// The keys of `pairs` given a value other than `null`.
fn given_keys<const N: usize>(pairs: [(&'static str, &Option<Value>); N]) -> Vec<&'static str> {
    pairs
        .into_iter()
        .filter(|(_, value)| value.as_ref().is_some_and(|v| !v.is_null()))
        .map(|(key, _)| key)
        .collect()
}

/// The keys known at each place of `LD_start_test`'s arguments.
pub(super) struct StartWords;

/// `user_detail_dict`'s keys.
const USER_DETAIL_KEYS: &[&str] = &["user", "host", "base_url"];

impl Vocabulary for StartWords {
    fn keys_at(&self, parent: &[Segment]) -> &'static [&'static str] {
        match parent {
            [] => serde_aux::serde_introspection::serde_introspect::<StartTest>(),
            [Segment::Key(key)] if key == "user_detail_dict" => USER_DETAIL_KEYS,
            [Segment::Key(key), ..] if key == "thresholds" => LimitsSpec::keys(),
            // Inside `tasks`: the user kind parses them, and notes its own.
            _ => &[],
        }
    }
}

/// Request names a test keeps apart unless `max_names` says otherwise: each
/// costs about 190 KB per worker thread (its latency histogram).
const DEFAULT_MAX_NAMES: usize = 200;

/// LoadDensity's positional order.
pub(super) const POSITIONAL: &[&str] = &[
    "user_detail_dict",
    "user_count",
    "spawn_rate",
    "test_time",
    "web_ui_dict",
    "runner_mode",
    "load_shape",
    "shape_config",
];

fn spec_error(e: SpecError) -> ActionError {
    error(e.to_string())
}

/// What `plan` makes of the arguments.
struct Planned {
    plan: Plan,
    parameters: Value,
    thresholds: Thresholds,
}

/// Checks the arguments and turns them into a plan. `ignored` collects the
/// keys nobody reads (an error when `strict`, before anything is
/// registered); `notes` what ld-tower accepts but does not honour as
/// written.
async fn plan(
    ctx: &ActionContext,
    args: StartTest,
    strict: bool,
    ignored: &mut Vec<Note>,
    notes: &mut Vec<String>,
) -> Result<Planned, ActionError> {
    let shape = load_shape(&args, ignored, notes)?;
    let detail = detail_of(&args);
    let kind = user_kind(&detail, ignored).map_err(spec_error)?;
    let base = host_given(&args, &detail).or_else(|| registered_host(ctx));
    let runner_mode = args.runner_mode.clone().unwrap_or_else(|| "local".into());
    match runner_mode.as_str() {
        "local" => {}
        "worker" => {
            return Err(error(
                "runner_mode \"worker\" starts nothing in ld-tower: an agent is `ld-tower serve --framed`, driven by a coordinator's runner_mode \"master\"",
            ))
        }
        other => {
            return Err(error(format!(
                "runner_mode {other:?} is not one of \"local\", \"master\" (a coordinator of agents), \"worker\""
            )))
        }
    }
    for key in args.fleet_keys() {
        notes.push(format!(
            "{key}: used only with runner_mode \"master\" (a coordinator of agents); this test runs locally"
        ));
    }
    for key in args.not_used() {
        notes.push(format!(
            "{key}: a LoadDensity keyword for its distributed runner or its Python API; not used by a local ld-tower test"
        ));
    }
    if args.web_ui_dict.as_ref().is_some_and(|v| !v.is_null()) {
        notes.push(
            "web_ui_dict: ld-tower has no web UI; follow a running test with LD_test_status".into(),
        );
    }
    if let Some(engine) = &args.engine {
        if engine != "locust" && engine != "asyncio" {
            return Err(error(format!(
                "engine {engine:?} is not one of \"locust\", \"asyncio\""
            )));
        }
        notes.push(format!(
            "engine {engine:?}: ld-tower runs every test on its own engine"
        ));
    }
    let users = args.user_count.unwrap_or(50);
    if shape.is_none() && (users == 0 || users > MAX_USERS as u64) {
        return Err(error(format!("user_count must be from 1 to {MAX_USERS}")));
    }
    let caps = ctx.state().caps();
    match &shape {
        None => caps.check_users("user_count", users as usize),
        Some(shape) => caps.check_users("the load shape's peak users", shape.max_users()),
    }
    .map_err(error)?;
    let spawn_rate = args.spawn_rate.unwrap_or(10.0);
    if shape.is_none() && !(spawn_rate.is_finite() && spawn_rate > 0.0) {
        return Err(error(
            "spawn_rate must be a positive number of users per second",
        ));
    }
    let test_time = args.test_time.unwrap_or(Some(60.0));
    let duration = test_length(caps, test_time)?;
    if let (None, Some(end)) = (test_time, duration) {
        notes.push(format!(
            "test_time: null; the agent ends the test after {}s (--max-test-time)",
            end.as_secs_f64()
        ));
    }
    let wait = args.wait_time.unwrap_or_default();
    if let Some(rate) = args.arrival_rate {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(error(
                "arrival_rate must be a positive number of iterations per second",
            ));
        }
        caps.check_rate(rate).map_err(error)?;
    }
    let timeout = match args.request_timeout {
        None => DEFAULT_TIMEOUT,
        Some(s) => Duration::try_from_secs_f64(s)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| error("request_timeout must be a positive number of seconds"))?,
    };
    let thresholds = match &args.thresholds {
        None => Thresholds::default(),
        Some(spec) => Thresholds::from_spec(spec).map_err(spec_error)?,
    };
    let tasks = args
        .tasks
        .ok_or_else(|| error("tasks: missing (give a list of tasks)"))?;
    let outline = task::outline::outline(&tasks);
    let max_names = match args.max_names {
        None => DEFAULT_MAX_NAMES,
        Some(0) => return Err(error("max_names must be at least 1")),
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    let http2_settings = crate::engine::Http2Settings {
        connections: match args.h2_connections {
            None => None,
            Some(n) => Some(
                usize::try_from(n)
                    .ok()
                    .filter(|n| *n <= crate::engine::MAX_H2_CONNECTIONS)
                    .and_then(std::num::NonZeroUsize::new)
                    .ok_or_else(|| {
                        error(format!(
                            "h2_connections must be from 1 to {}",
                            crate::engine::MAX_H2_CONNECTIONS
                        ))
                    })?,
            ),
        },
    };
    let given = args.variables.as_ref();
    // The tasks are compiled (unnamed ones named with the test's own
    // variables first) before anything is registered: a refusal, strict
    // included, changes nothing.
    // The test's credentials, masked in its names, reasons and parameters.
    let (mut load, redactor) = ctx
        .state()
        .resolver(|resolver| {
            let fixed = task::Given {
                variables: given,
                resolver,
            };
            let context = kinds::Context {
                base: base.as_deref(),
                fixed: &fixed,
                http2: args.http2.unwrap_or(false),
                http2_settings,
            };
            let written = tasks.clone();
            let load = (kind.compile)(tasks, &context, ignored)?;
            let redactor = secrets::redactor(&written, base.as_deref(), given, resolver, &*load);
            Ok((load, redactor))
        })
        .map_err(|e: SpecError| error(redact::text(&e.to_string())))?;
    load.redact_names(&redactor);
    if strict {
        strict_check(ignored).map_err(spec_error)?;
    }
    let folded = load.cap_names(max_names);
    if folded > 0 {
        notes.push(format!(
            "max_names: the tasks have {} request names; the {folded} past the first {max_names} are counted together as {OTHER_NAMES:?} (raise max_names to see them apart)",
            max_names + folded
        ));
    }
    // Before anything is sent: a `${env.NAME}` the server does not let
    // clients read (`--allow-env`), wherever a task renders it.
    ctx.state()
        .env()
        .check(load.env_names())
        .map_err(|e| error(e.to_string()))?;
    // Before anything is registered: a host the agent's policy refuses.
    if let Some(base) = &base {
        refused_base(&ctx.state().network(), base)
            .await
            .map_err(error)?;
    }
    super::resolver::register(ctx, args.variables.as_ref(), args.csv_sources.as_deref()).await?;
    if let Some(db_sources) = &args.db_sources {
        let registered = super::resolver::register_db_sources(ctx, db_sources).await?;
        if let Some(skipped) = registered.get("skipped").and_then(Value::as_array) {
            for entry in skipped {
                notes.push(format!(
                    "db_sources[{}]: skipped, as LoadDensity does: missing {}",
                    entry["index"], entry["missing"]
                ));
            }
        }
    }
    let mut parameters = json!({
        "user_detail": Value::Object(detail),
        "user_count": users,
        "spawn_rate": spawn_rate,
        "test_time": test_time,
        "web_ui": args.web_ui_dict.unwrap_or(Value::Null),
        "runner_mode": runner_mode,
        "host": base,
        "tasks": outline,
    });
    if let (Some(shape), Value::Object(map)) = (&shape, &mut parameters) {
        map.remove("user_count");
        map.remove("spawn_rate");
        map.insert("load_shape".into(), json!(shape.name()));
        map.insert("shape_config".into(), shape.config());
    }
    // Replies, reports and stored runs show them: no credential in them.
    let parameters = redactor.json(&parameters);
    let network = ctx.state().network();
    load.prepare(&network, ctx.state().paths()).map_err(error)?;
    let plan = Plan {
        users: users as usize,
        spawn_rate,
        shape,
        duration,
        load: Arc::from(load),
        base,
        wait,
        arrival_rate: args.arrival_rate,
        iterations: match args.iterations {
            Some(0) => return Err(error("iterations must be at least 1")),
            n => n,
        },
        timeout,
        network,
        held_names: ctx.state().figures(|f| f.per_name().len()),
        pace: caps.max_rate.map(|rps| Arc::new(Bucket::new(rps, 1))),
        redactor: Arc::new(redactor),
        label: None,
    };
    Ok(Planned {
        plan,
        parameters,
        thresholds,
    })
}

/// `user_detail_dict`, or its default `{"user": "fast_http_user"}`.
pub(super) fn detail_of(args: &StartTest) -> Map<String, Value> {
    args.user_detail_dict.clone().unwrap_or_else(|| {
        json!({"user": kinds::DEFAULT})
            .as_object()
            .cloned()
            .unwrap_or_default()
    })
}

/// The user kind `detail` names (`fast_http_user` by default); its keys
/// nobody reads go to `ignored`.
pub(super) fn user_kind(
    detail: &Map<String, Value>,
    ignored: &mut Vec<Note>,
) -> Result<&'static kinds::Kind, SpecError> {
    let user = match detail.get("user") {
        None | Some(Value::Null) => kinds::DEFAULT,
        Some(Value::String(user)) => user.as_str(),
        Some(_) => return Err(SpecError::at("user_detail_dict.user", "expected a string")),
    };
    let Some(kind) = kinds::find(user) else {
        return Err(SpecError::at(
            "user_detail_dict.user",
            format!(
                "user type {user:?} is not supported by ld-tower; it runs {}",
                kinds::names()
            ),
        ));
    };
    for key in detail
        .keys()
        .filter(|k| !USER_DETAIL_KEYS.contains(&k.as_str()))
    {
        ignored.push(unknown(
            format!("user_detail_dict.{key}"),
            key,
            USER_DETAIL_KEYS,
        ));
    }
    Ok(kind)
}

/// The host the test's own arguments give: `host`, else
/// `user_detail_dict`'s `host` or `base_url`, else `variables.host`.
pub(super) fn host_given(args: &StartTest, detail: &Map<String, Value>) -> Option<String> {
    let text = |key: &str| match detail.get(key) {
        Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
        _ => None,
    };
    args.host
        .clone()
        .filter(|h| !h.is_empty())
        .or_else(|| text("host"))
        .or_else(|| text("base_url"))
        .or_else(|| {
            args.variables
                .as_ref()
                .and_then(|v| v.get("host"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
}

/// The `host` variable registered on the agent (`LD_register_variables`).
pub(super) fn registered_host(ctx: &ActionContext) -> Option<String> {
    ctx.state().resolver(|r| {
        r.variables()
            .get("host")
            .and_then(Value::as_str)
            .map(str::to_owned)
    })
}

/// A test's length from `test_time` (seconds; `None`: until stopped),
/// within the agent's `--max-test-time` (a test with no end gets the cap).
pub(super) fn test_length(
    caps: &Caps,
    test_time: Option<f64>,
) -> Result<Option<Duration>, ActionError> {
    let duration = match test_time {
        None => None,
        Some(s) => Some(
            Duration::try_from_secs_f64(s)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| error("test_time must be a positive number of seconds, or null"))?,
        ),
    };
    caps.test_time(duration).map_err(error)
}

/// Refuses a test whose base URL's host the agent's policy refuses, before
/// it starts (a connection's own check, at each dial, still holds for
/// redirects, other hosts and a name resolving elsewhere later). A base
/// that is neither a URL nor `host:port`, has no port, or does not resolve
/// is left to the requests to report.
async fn refused_base(network: &Network, base: &str) -> Result<(), String> {
    if network.policy().is_open() {
        return Ok(());
    }
    // A URL, or the `host:port` of socket users.
    let Ok(url) = url::Url::parse(base).or_else(|_| url::Url::parse(&format!("tcp://{base}")))
    else {
        return Ok(());
    };
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return Ok(());
    };
    match dial::addresses(network, host, port).await {
        Err(dial::DialError::Refused(refused)) => Err(refused.to_string()),
        _ => Ok(()),
    }
}

/// Parses `LD_start_test`'s arguments (as keywords); the keys nobody
/// reads are noted (on stderr too), or refused when strict (`"strict":
/// true`, `run --strict`).
fn parse_start(map: Map<String, Value>) -> Result<(StartTest, Vec<Note>), ActionError> {
    let (start, ignored) =
        parse::<StartTest>(Value::Object(map), &StartWords).map_err(spec_error)?;
    Ok((start, ignored))
}

/// `load_shape` with `shape_config`, if a shape is given: it then sets the
/// users and spawn rate, and `notes` says `user_count`/`spawn_rate` are
/// ignored when they were given.
pub(super) fn load_shape(
    args: &StartTest,
    ignored: &mut Vec<Note>,
    notes: &mut Vec<String>,
) -> Result<Option<Shape>, ActionError> {
    let config = args.shape_config.as_ref().unwrap_or(&Value::Null);
    let name = match &args.load_shape {
        None | Some(Value::Null) => {
            if !(config.is_null() || config.as_object().is_some_and(Map::is_empty)) {
                notes.push("shape_config: ignored, no load_shape given".into());
            }
            return Ok(None);
        }
        Some(Value::String(name)) => name,
        Some(other) => {
            return Err(error(
                ShapeError::UnknownName(other.to_string()).to_string(),
            ))
        }
    };
    ignored.extend(Shape::ignored_keys(name, config));
    let shape = Shape::parse(name, config).map_err(|e| error(e.to_string()))?;
    if args.iterations.is_some() {
        return Err(error(
            "iterations cannot be combined with load_shape: the shape says when the test ends",
        ));
    }
    let ignored: Vec<&str> = [
        ("user_count", args.user_count.is_some()),
        ("spawn_rate", args.spawn_rate.is_some()),
    ]
    .into_iter()
    .filter_map(|(key, given)| given.then_some(key))
    .collect();
    if !ignored.is_empty() {
        notes.push(format!(
            "{}: ignored, load_shape {:?} sets the users and spawn rate each second",
            ignored.join(", "),
            shape.name()
        ));
    }
    Ok(Some(shape))
}

/// A test parsed, checked against the agent's policy and caps, compiled
/// and admitted by the engine: what `LD_start_test` runs at once and
/// `LD_prepare_test` holds for `LD_start_prepared`.
pub(super) struct Ready {
    planned: Planned,
    /// What the reply notes: keys nobody reads, what is not honoured as written.
    notes: Vec<String>,
}

impl Ready {
    /// Names the test (`LD_prepare_test`'s `test_id`) in its figures.
    pub(super) fn label(&mut self, test_id: &str) {
        self.planned.plan.label = Some(test_id.to_owned());
    }

    /// The test's parameters, as its reply will show them.
    pub(super) fn parameters(&self) -> &Value {
        &self.planned.parameters
    }

    /// The notes its reply will carry.
    pub(super) fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The plan to run and its parameters, for a caller that runs the
    /// plan itself (a breaking-point search's probe).
    pub(super) fn into_plan(self) -> (Plan, Value) {
        (self.planned.plan, self.planned.parameters)
    }
}

/// `LD_start_test`'s arguments (keywords; `action` names the action in the
/// log) made a [`Ready`] test: every refusal `LD_start_test` gives, with
/// its text, the engine's (busy, over budget) included.
pub(super) async fn ready(
    ctx: &ActionContext,
    map: Map<String, Value>,
    action: &str,
) -> Result<Ready, ActionError> {
    make_ready(ctx, map, action, false).await
}

/// A probe of the breaking-point search under way made [`ready`]: every
/// refusal the same, but the search itself is not a test running, and the
/// keys nobody reads are not logged again (the search's first check did).
pub(super) async fn probe_ready(
    ctx: &ActionContext,
    map: Map<String, Value>,
    action: &str,
) -> Result<Ready, ActionError> {
    make_ready(ctx, map, action, true).await
}

async fn make_ready(
    ctx: &ActionContext,
    map: Map<String, Value>,
    action: &str,
    probe: bool,
) -> Result<Ready, ActionError> {
    let (args, mut ignored) = parse_start(map)?;
    let strict = args.strict.unwrap_or_else(|| ctx.state().strict());
    let mut notes = Vec::new();
    let planned = plan(ctx, args, strict, &mut ignored, &mut notes).await;
    for note in ignored.iter().filter(|_| !probe) {
        tracing::warn!(target: "ld_tower::spec", "{action}: {note}");
    }
    let planned = planned?;
    if ctx.state().fleet().running().is_some() || (!probe && ctx.state().search().running()) {
        return Err(error(crate::engine::EngineError::Busy.to_string()));
    }
    ctx.state()
        .engine()
        .check(&planned.plan)
        .map_err(|e| error(e.to_string()))?;
    let mut notes: Vec<String> = ignored.iter().map(Note::to_string).chain(notes).collect();
    notes.dedup();
    Ok(Ready { planned, notes })
}

/// Runs a [`Ready`] test to its end; returns its parameters and summary
/// (`LD_start_test`'s reply), and what it finished with.
pub(super) async fn run_ready(
    ctx: &ActionContext,
    ready: Ready,
) -> Result<(Value, Finished), ActionError> {
    let Ready {
        planned:
            Planned {
                plan,
                parameters,
                thresholds,
            },
        notes,
    } = ready;
    let resolver = ctx.state().resolver(|r| r.clone());
    let state = ctx.state().clone();
    state.fleet().forget_last();
    let keep_state = state.clone();
    let finished = state
        .engine()
        .run(plan, &resolver, state.shutdown_signal(), move |finished| {
            keep_state.keep_figures(finished)
        })
        .await
        .map_err(|e| error(e.to_string()))?;
    let result = conclude(ctx, parameters, &thresholds, &notes, &finished)?;
    Ok((result, finished))
}

/// A finished test's result (`LD_start_test`'s reply), its thresholds
/// evaluated on its figures; the state's last run set for the reports
/// and history (its figures are kept already). A fleet's test ends here
/// too, with the agents' figures merged.
pub(super) fn conclude(
    ctx: &ActionContext,
    parameters: Value,
    thresholds: &Thresholds,
    notes: &[String],
    finished: &Finished,
) -> Result<Value, ActionError> {
    let state = ctx.state();
    let summary = finished.figures.summary();
    let elapsed_s = finished.elapsed.as_secs_f64();
    let verdicts = thresholds.evaluate(&summary, elapsed_s);
    if verdicts.is_empty() && summary.totals.failures > 0 {
        state.note_unguarded_failures();
    }
    // The changes made while it ran (LD_set_users and co.), in the
    // parameters the reports and the run history show.
    let mut parameters = parameters;
    if let (false, Value::Object(map)) = (finished.changes.is_empty(), &mut parameters) {
        map.insert("changes".into(), json!(finished.changes.kept));
        if finished.changes.not_kept > 0 {
            map.insert("changes_not_kept".into(), json!(finished.changes.not_kept));
        }
    }
    state.set_last_run(LastRun {
        parameters: parameters.clone(),
        elapsed_s,
        verdicts: verdicts.clone(),
    });
    let mut result = parameters;
    if let Value::Object(map) = &mut result {
        map.insert("elapsed_s".into(), json!(finished.elapsed.as_secs_f64()));
        map.insert("users_started".into(), json!(finished.users_started));
        map.insert("stopped_early".into(), json!(finished.stopped_early));
        map.insert("abandoned".into(), json!(finished.abandoned));
        map.insert(
            "summary".into(),
            serde_json::to_value(&summary).map_err(|e| error(e.to_string()))?,
        );
        if !thresholds.is_empty() {
            map.insert(
                "thresholds".into(),
                json!({
                    "passed": verdicts.iter().all(|v| v.passed),
                    "results": verdicts,
                }),
            );
        }
        if !notes.is_empty() {
            map.insert("notes".into(), json!(notes));
        }
    }
    Ok(result)
}

/// Runs a load test to its end; returns its parameters and summary.
async fn start_test(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let map = args.into_map(POSITIONAL)?;
    if map.get("runner_mode") == Some(&json!("master")) {
        return super::coordinate::start_fleet(&ctx, map).await;
    }
    let ready = ready(&ctx, map, "LD_start_test").await?;
    Ok(run_ready(&ctx, ready).await?.0)
}

/// Stops the running test early.
async fn stop_test(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    if let Some(fleet) = ctx.state().fleet().running() {
        fleet.stop();
        return Ok(json!({"stopped": true, "fleet": true}));
    }
    if ctx.state().search().stop() {
        return Ok(json!({"stopped": true, "search": true}));
    }
    Ok(if ctx.state().engine().stop() {
        json!({"stopped": true})
    } else {
        json!({"stopped": false, "reason": "no test is running"})
    })
}

/// The running test's live figures (or the last test's final ones).
async fn test_status(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    let fleet = ctx.state().fleet();
    if let Some(status) = fleet.running().map(|f| f.status()).or_else(|| fleet.last()) {
        return Ok(status);
    }
    let status = ctx.state().engine().status().unwrap_or_default();
    serde_json::to_value(status).map_err(|e| error(e.to_string()))
}
