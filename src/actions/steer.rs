//! Changing the running test from any connection (scope `run`), while
//! `LD_start_test` still runs on the one that started it: `LD_set_users`
//! (`user_count`, `spawn_rate`), `LD_set_rate` (`arrival_rate`),
//! `LD_set_load_shape` (`load_shape`, `shape_config`, as `LD_start_test`
//! takes them). Each checks its values against the agent's caps
//! (`--max-users`, `--max-rate`), hands them to the engine
//! ([`Engine::set_users`](crate::engine::Engine::set_users) and co.) and
//! replies with what is now in effect.

use serde_json::{Map, Value};

use super::error;
use super::{ActionContext, ActionError, Args, Registry};
use crate::auth::Scope;
use crate::engine::{InEffect, Shape, ShapeError, SteerError};

pub(super) fn register(registry: &mut Registry) {
    registry
        .register_scoped("LD_set_users", Scope::Run, set_users)
        .register_scoped("LD_set_rate", Scope::Run, set_rate)
        .register_scoped("LD_set_load_shape", Scope::Run, set_load_shape);
}

/// The keyword arguments, positional ones bound to `names` in order; a
/// keyword not among `names` is refused, naming it.
fn keywords(args: Args, names: &[&str]) -> Result<Map<String, Value>, ActionError> {
    let map = args.into_map(names)?;
    match map.keys().find(|key| !names.contains(&key.as_str())) {
        Some(key) => Err(error(format!(
            "{key}: not a keyword of this action (it takes {})",
            names.join(", ")
        ))),
        None => Ok(map),
    }
}

/// `key`'s number, `None` when not given (or `null`).
fn number(map: &Map<String, Value>, key: &str) -> Result<Option<f64>, ActionError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| error(format!("{key}: {n} is not a number"))),
        Some(other) => Err(error(format!("{key}: {other} is not a number"))),
    }
}

/// `key`'s number, refused when missing.
fn required(map: &Map<String, Value>, key: &str, what: &str) -> Result<f64, ActionError> {
    number(map, key)?.ok_or_else(|| error(format!("{key}: missing (give {what})")))
}

/// Refused while this process coordinates a fleet test: its users run on
/// the agents, whose splits the coordinator does not change mid-test.
fn not_a_fleet(ctx: &ActionContext, action: &str) -> Result<(), ActionError> {
    match ctx.state().fleet().running() {
        Some(_) => Err(error(format!(
            "{action}: the running test is a fleet's (runner_mode \"master\"), which is not steered from the coordinator; send {action} to each agent, or LD_stop_test here to stop them all"
        ))),
        None => Ok(()),
    }
}

fn steered(result: Result<InEffect, SteerError>) -> Result<Value, ActionError> {
    let effect = result.map_err(|e| error(e.to_string()))?;
    serde_json::to_value(effect).map_err(|e| error(e.to_string()))
}

/// Holds the running test at `user_count` users (0 pauses it), reached at
/// `spawn_rate` users per second (by default the rate in effect); a load
/// shape running is dropped.
async fn set_users(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    not_a_fleet(&ctx, "LD_set_users")?;
    let map = keywords(args, &["user_count", "spawn_rate"])?;
    let users = required(&map, "user_count", "the users to run, from 0")?;
    if users < 0.0 || users.fract() != 0.0 {
        return Err(error(format!(
            "user_count: {users} is not a whole number of users from 0"
        )));
    }
    // Above usize::MAX it saturates, and the engine refuses it.
    let users = users as usize;
    let spawn_rate = number(&map, "spawn_rate")?;
    ctx.state()
        .caps()
        .check_users("user_count", users)
        .map_err(error)?;
    steered(ctx.state().engine().set_users(users, spawn_rate))
}

/// Runs the test's arrivals at `arrival_rate` iterations per second from now.
async fn set_rate(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    not_a_fleet(&ctx, "LD_set_rate")?;
    let map = keywords(args, &["arrival_rate"])?;
    let rate = required(&map, "arrival_rate", "iterations per second")?;
    if rate.is_finite() && rate > 0.0 {
        ctx.state().caps().check_rate(rate).map_err(error)?;
    }
    steered(ctx.state().engine().set_rate(rate))
}

/// Runs a load shape from its second 0 now, instead of the test's count or
/// shape; the test ends when the shape does (or at its `test_time`). A key
/// of `shape_config` the shape does not know is refused.
async fn set_load_shape(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    not_a_fleet(&ctx, "LD_set_load_shape")?;
    let map = keywords(args, &["load_shape", "shape_config"])?;
    let name = match map.get("load_shape") {
        Some(Value::String(name)) => name,
        None | Some(Value::Null) => return Err(error(
            "load_shape: missing (give \"stages\", \"spike\" or \"soak\", with its shape_config)",
        )),
        Some(other) => {
            return Err(error(
                ShapeError::UnknownName(other.to_string()).to_string(),
            ))
        }
    };
    let config = map.get("shape_config").unwrap_or(&Value::Null);
    if let Some(note) = Shape::ignored_keys(name, config).first() {
        return Err(error(note.to_string()));
    }
    let shape = Shape::parse(name, config).map_err(|e| error(e.to_string()))?;
    ctx.state()
        .caps()
        .check_users("the load shape's peak users", shape.max_users())
        .map_err(error)?;
    steered(ctx.state().engine().set_shape(shape))
}
