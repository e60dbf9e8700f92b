//! `LD_start_test`'s arguments checked without running (`LD_lint_action`)
//! and described (`LD_export_schema`): the same parse its handler does,
//! the same user kind's task compiler, and what only shows when the test
//! runs (a relative URL with no host, a threshold for a name no task has).

use schemars::{json_schema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::load::{
    detail_of, host_given, load_shape, registered_host, user_kind, StartTest, StartWords,
};
use crate::engine::{kinds, task};
use crate::lint::{Checking, Problem};
use crate::spec::{closest, every_error, parse};
use crate::thresholds::Thresholds;

/// The user kinds whose tasks are HTTP requests (the task schema's).
const HTTP_KINDS: &[&str] = &["fast_http_user", "http_user"];

/// Every problem of `LD_start_test`'s arguments, at paths from them.
pub(super) fn check_start(checking: &Checking<'_>, args: Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut value = Value::Object(args);
    let (parsed, errors) = every_error(&mut value, checking.rounds, |v| {
        parse::<StartTest>(v.clone(), &StartWords)
    });
    problems.extend(errors.into_iter().map(Problem::invalid));
    let Some((args, mut ignored)) = parsed else {
        return problems;
    };
    let detail = detail_of(&args);
    let kind = user_kind(&detail, &mut ignored)
        .map_err(|e| problems.push(Problem::invalid(e)))
        .ok();
    if let Err(e) = load_shape(&args, &mut ignored, &mut Vec::new()) {
        problems.push(Problem::error(
            "invalid-argument",
            "load_shape",
            e.message(),
        ));
    }
    if let Some(Err(e)) = args.thresholds.as_ref().map(Thresholds::from_spec) {
        problems.push(Problem::invalid(e));
    }
    problems.extend(ignored.into_iter().map(Problem::ignored));
    let (Some(tasks), Some(kind)) = (&args.tasks, kind) else {
        if args.tasks.is_none() {
            problems.push(Problem::error(
                "missing-tasks",
                "",
                "tasks: missing (give a list of tasks)",
            ));
        }
        return problems;
    };
    let base = host_given(&args, &detail)
        .or_else(|| checking.host.map(str::to_owned))
        .or_else(|| registered_host(checking.ctx));
    let mut written = json!({ "tasks": tasks });
    let (compiled, errors) = checking.ctx.state().resolver(|resolver| {
        let fixed = task::Given {
            variables: args.variables.as_ref(),
            resolver,
        };
        let context = kinds::Context {
            base: base.as_deref(),
            fixed: &fixed,
            http2: args.http2.unwrap_or(false),
            http2_settings: Default::default(),
        };
        every_error(&mut written, checking.rounds, |v| {
            let mut notes = Vec::new();
            let load = (kind.compile)(v["tasks"].clone(), &context, &mut notes)?;
            let names: Vec<String> = load.names().into_iter().map(str::to_owned).collect();
            Ok::<_, crate::spec::SpecError>((names, notes))
        })
    });
    problems.extend(errors.into_iter().map(Problem::invalid));
    let Some((names, notes)) = compiled else {
        return problems;
    };
    problems.extend(notes.into_iter().map(Problem::ignored));
    if base.is_none() && HTTP_KINDS.contains(&kind.name) {
        problems.extend(relative_urls(&written["tasks"]));
    }
    problems.extend(unknown_threshold_names(&value, &names));
    problems
}

/// The tasks whose URL is relative (with no placeholder that could make
/// it absolute), when the test has no host: each request would fail.
fn relative_urls(tasks: &Value) -> Vec<Problem> {
    let Ok(spec) = serde_json::from_value::<task::spec::TasksSpec>(tasks.clone()) else {
        return Vec::new();
    };
    spec.tasks
        .into_iter()
        .filter_map(|(written, task)| {
            let (key, url) = match (task.request_url, task.url) {
                (Some(url), _) => ("request_url", url),
                (None, Some(url)) => ("url", url),
                (None, None) => return None,
            };
            if url.starts_with("${") {
                return None;
            }
            let message = task::absolute(url, None).err()?;
            Some(Problem::error(
                "relative-url",
                format!("{}.{key}", written.path()),
                message,
            ))
        })
        .collect()
}

/// `thresholds.per_name` entries naming no task of the test.
fn unknown_threshold_names(args: &Value, names: &[String]) -> Vec<Problem> {
    let Some(per_name) = args
        .pointer("/thresholds/per_name")
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    let known: Vec<&str> = names.iter().map(String::as_str).collect();
    per_name
        .keys()
        .filter(|name| !known.contains(&name.as_str()))
        .map(|name| {
            let near = match closest(name, &known) {
                Some(near) => format!(" (did you mean {near:?}?)"),
                None => format!(" (the test's names: {})", known.join(", ")),
            };
            Problem::error(
                "unknown-threshold-name",
                format!("thresholds.per_name.{name}"),
                format!("no task of this test is named {name:?}{near}"),
            )
        })
        .collect()
}

/// `LD_start_test`'s schema: its keys, and `tasks` as the user kind
/// `user_detail_dict.user` names reads them, picked as [`user_kind`]
/// picks it (no `user_detail_dict`, no `user` or `null`: the default
/// kind); a `user` naming no kind is refused with the kinds ld-tower runs.
pub(super) fn describe_start(generator: &mut SchemaGenerator) -> Schema {
    let mut cases = vec![generator.subschema_for::<StartTest>().to_value()];
    let mut users: Vec<Value> = kinds::KINDS.iter().map(|kind| json!(kind.name)).collect();
    users.push(Value::Null);
    cases.push(json!({"properties": {"user_detail_dict": {"properties": {"user": {
        "enum": users,
        "description": "the user kind: what the virtual users speak, and so what their tasks are"
    }}}}}));
    let default = json!({"anyOf": [
        {"not": {"required": ["user_detail_dict"]}},
        {"properties": {"user_detail_dict": {"anyOf": [
            {"type": "null"},
            {"not": {"required": ["user"]}},
            {"properties": {"user": {"type": "null"}}}
        ]}}}
    ]});
    for kind in kinds::KINDS {
        let named = json!({
            "properties": {"user_detail_dict": {
                "properties": {"user": {"const": kind.name}},
                "required": ["user"]
            }},
            "required": ["user_detail_dict"]
        });
        let picked = if kind.name == kinds::DEFAULT {
            json!({"anyOf": [named, default]})
        } else {
            named
        };
        cases.push(json!({
            "if": picked,
            "then": {"properties": {"tasks": (kind.tasks_schema)(generator)}}
        }));
    }
    json_schema!({ "allOf": cases })
}
