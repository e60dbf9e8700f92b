//! The actions a fleet's coordinator drives an agent with:
//! `LD_prepare_test` (check, compile and hold a test), `LD_start_prepared`
//! (run it at a wall-clock instant) and `LD_fetch_figures` (the test's
//! figures with whole latency histograms, for exact merging).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error;
use super::load::{ready, run_ready, POSITIONAL};
use super::{ActionContext, ActionError, Args, Registry};
use crate::auth::Scope;
use crate::engine::EngineError;
use crate::figures::unix_ms;

/// The longest `test_id`, in characters.
pub const MAX_TEST_ID_CHARS: usize = 64;
/// `expires_s` when not given.
pub const DEFAULT_EXPIRES: Duration = Duration::from_secs(60);
/// The longest `expires_s`.
pub const MAX_EXPIRES: Duration = Duration::from_secs(600);
/// How far ahead `start_at_unix_ms` may be.
pub const MAX_START_AHEAD: Duration = Duration::from_secs(60);

pub(super) fn register(registry: &mut Registry) {
    registry
        .register_scoped("LD_prepare_test", Scope::Run, prepare_test)
        .register_scoped("LD_start_prepared", Scope::Run, start_prepared)
        .register_scoped("LD_fetch_figures", Scope::Read, fetch_figures);
}

/// `test_id`: 1 to [`MAX_TEST_ID_CHARS`] of `A-Z a-z 0-9 . _ : -`.
fn test_id(value: Option<Value>) -> Result<String, ActionError> {
    let refused = || {
        error(format!(
            "test_id must be 1 to {MAX_TEST_ID_CHARS} characters of A-Z, a-z, 0-9, '.', '_', ':', '-'"
        ))
    };
    match value {
        Some(Value::String(id))
            if (1..=MAX_TEST_ID_CHARS).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b)) =>
        {
            Ok(id)
        }
        None => Err(error("test_id: missing (the client's name for the test)")),
        Some(_) => Err(refused()),
    }
}

/// `expires_s`: seconds, more than 0, at most [`MAX_EXPIRES`].
fn expires(value: Option<Value>) -> Result<Duration, ActionError> {
    match value {
        None | Some(Value::Null) => Ok(DEFAULT_EXPIRES),
        Some(value) => value
            .as_f64()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .filter(|d| !d.is_zero() && *d <= MAX_EXPIRES)
            .ok_or_else(|| {
                error(format!(
                    "expires_s must be a number of seconds, more than 0 and at most {}",
                    MAX_EXPIRES.as_secs()
                ))
            }),
    }
}

/// Checks, compiles and holds a test, as `LD_start_test` would start it,
/// until `LD_start_prepared` starts it or it expires.
async fn prepare_test(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let mut map = args.into_map(POSITIONAL)?;
    let id = test_id(map.remove("test_id"))?;
    let expires = expires(map.remove("expires_s"))?;
    let mut ready = ready(&ctx, map, "LD_prepare_test").await?;
    ready.label(&id);
    let mut reply = match ready.parameters() {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    if !ready.notes().is_empty() {
        reply.insert("notes".into(), json!(ready.notes()));
    }
    let state = ctx.state();
    let expires_at = unix_ms(SystemTime::now() + expires);
    let replaced = state.prepared().hold(state, id.clone(), ready, expires);
    reply.insert("test_id".into(), json!(id));
    reply.insert("prepared".into(), json!(true));
    reply.insert("expires_s".into(), json!(expires.as_secs_f64()));
    reply.insert("expires_at_unix_ms".into(), json!(expires_at));
    if let Some(replaced) = replaced {
        reply.insert("replaced".into(), json!(replaced));
    }
    Ok(Value::Object(reply))
}

/// `LD_start_prepared`'s arguments.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartPrepared {
    test_id: String,
    /// When to start, ms since the Unix epoch; none: now.
    start_at_unix_ms: Option<u64>,
}

/// Starts the prepared test at `start_at_unix_ms` (or now) and replies as
/// `LD_start_test` does when it ends, with when it really started.
async fn start_prepared(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let StartPrepared {
        test_id,
        start_at_unix_ms,
    } = args.parse(&["test_id", "start_at_unix_ms"])?;
    // The wall clock is read once, with the monotonic one: the instant to
    // start at is a monotonic one from then on.
    let (wall, now) = (SystemTime::now(), tokio::time::Instant::now());
    let (at, late) = match start_at_unix_ms {
        None => (now, None),
        Some(ms) => {
            let asked = UNIX_EPOCH + Duration::from_millis(ms);
            match asked.duration_since(wall) {
                Ok(ahead) if ahead > MAX_START_AHEAD => {
                    return Err(error(format!(
                        "start_at_unix_ms is {} ms ahead; it may be at most {} ms ahead",
                        ahead.as_millis(),
                        MAX_START_AHEAD.as_millis()
                    )))
                }
                Ok(ahead) => (now + ahead, None),
                Err(past) => (now, Some(past.duration())),
            }
        }
    };
    let state = ctx.state();
    state.prepared().check(&test_id)?;
    if state.test_running() {
        return Err(error(EngineError::Busy.to_string()));
    }
    let ready = state.prepared().take(&test_id)?;
    let shutdown = state.shutdown_signal();
    tokio::select! {
        () = tokio::time::sleep_until(at) => {}
        () = shutdown.cancelled() => {
            return Err(error(format!(
                "test_id {test_id:?}: not started, the agent is shutting down"
            )));
        }
    }
    let (mut result, finished) = run_ready(&ctx, ready).await?;
    if let Value::Object(map) = &mut result {
        map.insert("test_id".into(), json!(test_id));
        map.insert("start_at_unix_ms".into(), json!(start_at_unix_ms));
        map.insert(
            "started_at_unix_ms".into(),
            json!(unix_ms(finished.started_at)),
        );
        if let Some(late) = late {
            map.insert("late_ms".into(), json!(late.as_millis()));
        }
    }
    Ok(result)
}

/// `LD_fetch_figures`' arguments.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FetchFigures {
    /// The test the client expects them of.
    test_id: Option<String>,
    /// Whether to send the per-second series (default true); a
    /// coordinator polling a running test leaves it out.
    series: Option<bool>,
}

/// The running test's figures so far, or the last test's, with whole
/// latency histograms ([`crate::figures::TestFigures`]'s document).
async fn fetch_figures(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let FetchFigures { test_id, series } = args.parse(&["test_id", "series"])?;
    let mut figures = ctx
        .state()
        .engine()
        .test_figures()
        .ok_or_else(|| error("no test has run yet"))?;
    if let Some(asked) = &test_id {
        if figures.test_id.as_ref() != Some(asked) {
            let which = if figures.running { "running" } else { "last" };
            return Err(error(match &figures.test_id {
                Some(id) => format!("test_id {asked:?}: the {which} test is {id:?}"),
                None => format!(
                    "test_id {asked:?}: the {which} test was started by LD_start_test, not prepared"
                ),
            }));
        }
    }
    if series == Some(false) {
        figures.series = Default::default();
    }
    Ok(figures.to_json())
}
