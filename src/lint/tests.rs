//! The linter's bounds: rounds per action, bytes parsed per document,
//! nesting depth.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{lint, lint_within, Problem, MAX_DEPTH, MAX_ROUNDS};
use crate::actions::{ActionContext, Registry};
use crate::paths::Paths;
use crate::state::State;

fn ctx() -> ActionContext {
    ActionContext::new(
        Arc::new(Registry::with_builtins()),
        Arc::new(State::new(Paths::default())),
    )
}

/// A test of `n` tasks, each with a bad timeout.
fn bad_tasks(n: usize) -> Value {
    let tasks: Vec<Value> = (0..n)
        .map(|i| json!({"method": "get", "request_url": format!("http://h/{i}"), "timeout": -1}))
        .collect();
    json!([["LD_start_test", {"tasks": tasks}]])
}

fn rules(problems: &[Problem]) -> Vec<&str> {
    problems.iter().map(|p| p.rule).collect()
}

#[test]
fn an_action_takes_at_most_its_rounds_then_says_so() {
    let problems = lint(&ctx(), &bad_tasks(MAX_ROUNDS + 50), None);
    assert_eq!(problems.len(), MAX_ROUNDS + 1);
    assert_eq!(
        problems[99].to_string(),
        "$[0][1].tasks[99].timeout: must be a positive number of seconds"
    );
    assert_eq!(
        problems[MAX_ROUNDS].to_string(),
        "$[0][1]: checks stopped after 100 problems of this action: correct them and lint again"
    );
}

#[test]
fn past_its_byte_budget_a_document_is_checked_by_name_only() {
    let mut doc = bad_tasks(3);
    let list = doc.as_array_mut().map(std::mem::take).unwrap_or_default();
    let mut actions = list.clone();
    actions.extend(list);
    actions.push(json!(["LD_sumary"]));
    let doc = Value::Array(actions);
    // Room for the first action's three rounds and its clean one, none for the second's.
    let size = crate::json_size::json_size(&doc[0][1], usize::MAX).unwrap_or(0);
    let problems = lint_within(&ctx(), &doc, None, size * 4);
    assert_eq!(
        rules(&problems),
        [
            "invalid-argument",
            "invalid-argument",
            "invalid-argument",
            "not-checked",
            "unknown-command"
        ]
    );
    assert!(problems[3]
        .message
        .contains("checked by name and shape only"));
    assert_eq!(problems[3].location, "$[1][1]");
}

#[test]
fn nested_lists_are_followed_as_deep_as_they_run() {
    let mut doc = json!([["LD_nope"]]);
    for _ in 0..MAX_DEPTH + 2 {
        doc = json!([["LD_execute_action", {"action_list": doc}]]);
    }
    let problems = lint(&ctx(), &doc, None);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].message, "action lists nested more than 16 deep");
    let depth = problems[0].location.matches(".action_list").count();
    assert_eq!(depth, MAX_DEPTH);
}
