//! `${env.NAME}` and the agent's environment, over a real `ld-tower serve`
//! process and a local target that records every request it receives: a
//! served agent resolves only the names allowed with `--allow-env`, refusing
//! any other before a request is sent; `ld-tower run`, the owner's own
//! process, resolves them all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::target::Target;
use common::{run_cli, serve_with_env};
use serde_json::{json, Value};

/// The variable set for the server, and its value (never to leave it
/// unless allowed).
const SECRET: (&str, &str) = ("LD_TOWER_TEST_SECRET", "s3cr3t-0f-the-agent-7f1d");

/// A test of one user, one iteration against `target`, its one task
/// carrying `${env.LD_TOWER_TEST_SECRET}` in every place a task renders:
/// URL, query parameters, headers, cookies, body, auth, assertions.
fn start_test(target: &Target) -> Value {
    let env = "${env.LD_TOWER_TEST_SECRET}";
    json!(["LD_start_test", {
        "user_detail_dict": {"user": "fast_http_user", "host": target.url()},
        "user_count": 1, "spawn_rate": 10, "iterations": 1, "wait_time": 0,
        "tasks": [{
            "name": "echo", "method": "post", "request_url": format!("/echo?q={env}"),
            "params": {"p": env},
            "headers": {"X-Secret": env, "X-Object": {"nested": env}},
            "cookies": {"c": env},
            "json": {"body": env},
            "auth": {"type": "basic", "username": "u", "password": env},
            "assertions": [{"type": "not_contains", "value": env}],
        }],
    }])
}

/// Everything the target received, as text.
fn received(target: &Target) -> String {
    serde_json::to_string(&target.echoes()).unwrap()
}

#[test]
fn a_served_agent_does_not_hand_its_environment_to_clients() {
    let (_runtime, target) = Target::in_runtime();
    let server = serve_with_env(&[], &[SECRET]);
    let actions = json!([
        // Not even through a variable: rendering is not recursive.
        ["LD_register_variable", {"name": "indirect", "value": "${env.LD_TOWER_TEST_SECRET}"}],
        start_test(&target),
        ["LD_start_test", {
            "user_detail_dict": {"host": target.url()},
            "user_count": 1, "iterations": 1, "wait_time": 0,
            "tasks": [{"method": "get", "request_url": "/echo?v=${var.indirect}"}],
        }],
        ["LD_summary"],
        ["LD_test_status"],
    ]);
    let reply = server.legacy(&actions.to_string());
    assert!(
        !reply.contains(SECRET.1),
        "the secret is in a reply: {reply}"
    );
    let lines: Vec<&str> = reply.lines().collect();
    assert_eq!(lines.len(), 6, "{reply}");
    assert!(
        lines[1].starts_with("Error: LD_start_test: ${env.LD_TOWER_TEST_SECRET}")
            && lines[1].contains("--allow-env LD_TOWER_TEST_SECRET"),
        "{reply}"
    );
    assert!(lines[2].starts_with('{'), "{reply}");
    // The refused test sent nothing; the other sent the placeholder as
    // written.
    let echoes = target.echoes();
    assert_eq!(echoes.len(), 1, "{echoes:?}");
    assert_eq!(
        echoes[0]["params"]["v"], "${env.LD_TOWER_TEST_SECRET}",
        "{echoes:?}"
    );
    assert!(!received(&target).contains(SECRET.1));
}

#[test]
fn a_name_allowed_with_allow_env_is_resolved() {
    let (_runtime, target) = Target::in_runtime();
    let server = serve_with_env(&["--allow-env", "HOME", "--allow-env", SECRET.0], &[SECRET]);
    let reply = server.legacy(&json!([start_test(&target)]).to_string());
    assert!(reply.starts_with('{'), "{reply}");
    let echoes = target.echoes();
    assert_eq!(echoes.len(), 1, "{echoes:?}");
    let echo = &echoes[0];
    assert_eq!(echo["params"]["q"], SECRET.1);
    assert_eq!(echo["params"]["p"], SECRET.1);
    assert_eq!(echo["headers"]["x-secret"], SECRET.1);
    assert!(received(&target).contains(&format!("{{\\\"nested\\\":\\\"{}\\\"}}", SECRET.1)));
    // A name not allowed is still refused.
    let reply = server.legacy(
        &json!([["LD_start_test", {
            "user_detail_dict": {"host": target.url()}, "iterations": 1,
            "tasks": [{"method": "get", "request_url": "/?p=${env.PATH}"}],
        }]])
        .to_string(),
    );
    assert!(reply.contains("--allow-env PATH"), "{reply}");
    assert_eq!(target.echoes().len(), 1);
}

#[test]
fn run_the_owners_own_process_resolves_every_name() {
    let (runtime, target) = Target::in_runtime();
    let actions = json!([start_test(&target)]).to_string();
    let (status, stdout, stderr) = runtime.block_on(async {
        // Its not_contains assertion fails on purpose (the echo holds the
        // secret: assertion values resolve too), which alone would fail the run.
        tokio::task::spawn_blocking(move || {
            run_cli(
                &["run-str", "--exit-code-on-error", "0", &actions],
                &[SECRET],
            )
        })
        .await
        .unwrap()
    });
    assert!(status.success(), "{stdout}{stderr}");
    let echoes = target.echoes();
    assert_eq!(echoes.len(), 1, "{echoes:?}");
    assert_eq!(echoes[0]["headers"]["x-secret"], SECRET.1);
}
