//! LoadDensity's task keys and `LD_start_test` keywords against a real local
//! target ([`common::target::Target`]): what it received (counts, queries,
//! spacing in time) is what the key means, COMPAT.md's corrections of the
//! original's defects included. And the task model's errors and notes:
//! a mistake's JSON path, an unknown key's closest known one, `strict`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::figures::{count, failure_messages, start_test, statuses};
use common::mtls::{ClientFiles, MutualTls};
use common::target::Target;
use common::{run_cli, run_lines};
use ld_tower::actions::Registry;
use ld_tower::control::Control;
use ld_tower::engine::Network;
use ld_tower::state::State;
use serde_json::{json, Value};

async fn start_test_error(control: &Control, args: Value) -> String {
    let lines = run_lines(control, &json!([["LD_start_test", args]])).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("Error: "),
        "expected an error: {}",
        lines[0]
    );
    lines[0].clone()
}

fn gaps(arrivals: &[tokio::time::Instant]) -> Vec<Duration> {
    arrivals.windows(2).map(|w| w[1] - w[0]).collect()
}

/// One user, `iterations` iterations, no pause between them.
fn once(tasks: Value, iterations: u64) -> Value {
    json!({"user_count": 1, "spawn_rate": 100, "test_time": 30, "wait_time": 0,
           "iterations": iterations, "tasks": tasks})
}

#[tokio::test]
async fn think_time_pauses_after_each_task_also_after_a_failure() {
    let target = Target::start().await;
    let base = target.url();
    let control = Control::default();
    let result = start_test(
        &control,
        once(
            json!([
                {"method": "get", "request_url": format!("{base}/a"), "think_time": 0.4},
                {"method": "get", "request_url": format!("{base}/status/500"), "think_time": {"min": 0.3, "max": 0.35}},
                {"method": "get", "request_url": format!("{base}/b")}
            ]),
            2,
        ),
    )
    .await;
    assert_eq!(result["summary"]["totals"]["requests"], 6);
    let a = target.arrivals("/a");
    let failing = target.arrivals("/status/500");
    let b = target.arrivals("/b");
    assert_eq!((a.len(), failing.len(), b.len()), (2, 2, 2));
    for i in 0..2 {
        let after_a = failing[i] - a[i];
        let after_failure = b[i] - failing[i];
        assert!(
            after_a >= Duration::from_millis(400),
            "A then the next: {after_a:?}"
        );
        assert!(
            after_a < Duration::from_secs(3),
            "A then the next: {after_a:?}"
        );
        assert!(
            after_failure >= Duration::from_millis(300),
            "a failed task pauses too: {after_failure:?}"
        );
        assert!(after_failure < Duration::from_secs(3), "{after_failure:?}");
    }
    // B has no think time: the next iteration starts at once.
    assert!(
        a[1] - b[0] < Duration::from_millis(300),
        "{:?}",
        a[1] - b[0]
    );
}

#[tokio::test]
async fn throttle_caps_the_rate_across_every_user() {
    let target = Target::start().await;
    let base = target.url();
    let control = Control::default();
    // LoadDensity's bucket let all 5 waiting users through at once (~5x the
    // rate); a reserved token per waiter spaces them 1/rps apart.
    let result = start_test(
        &control,
        json!({"user_count": 5, "spawn_rate": 100, "test_time": 2, "wait_time": 0,
               "tasks": [{"method": "get", "request_url": format!("{base}/t"),
                          "throttle": {"rps": 5, "burst": 1}}]}),
    )
    .await;
    let arrivals = target.arrivals("/t");
    let n = arrivals.len() as u64;
    assert_eq!(result["summary"]["totals"]["requests"], n);
    // 1 at once, then one per 200 ms over 2 s: 11 at most.
    assert!((8..=11).contains(&n), "{n} requests in 2 s at 5 rps");
    let gaps = gaps(&arrivals);
    let tightest = gaps.iter().min().copied().unwrap_or_default();
    assert!(
        tightest >= Duration::from_millis(150),
        "requests 1/rps apart, the tightest gap was {tightest:?}: {gaps:?}"
    );
}

#[tokio::test]
async fn retry_resends_the_same_request_and_records_every_attempt() {
    let target = Target::start().await;
    let base = target.url();
    let control = Control::default();
    // A 503 is a permanent failure: three retries allowed, two needed.
    let result = start_test(
        &control,
        once(
            json!([{"method": "get", "name": "flaky",
                    "request_url": format!("{base}/flaky?key=a&fail=2&id=${{uuid()}}"),
                    "retry": {"permanent": 3, "base_delay": 0.05, "jitter": 0}}]),
            1,
        ),
    )
    .await;
    assert_eq!(count(&result, "flaky"), (3, 1, 2));
    let queries = target.queries();
    assert_eq!(queries.len(), 3, "{queries:?}");
    assert!(
        queries.iter().all(|q| q == &queries[0]),
        "one resolve for every attempt: {queries:?}"
    );
    // The delays: 50 ms, then 100 ms.
    let gaps = gaps(&target.arrivals("/flaky"));
    assert!(
        gaps[0] >= Duration::from_millis(50) && gaps[1] >= Duration::from_millis(100),
        "{gaps:?}"
    );

    // The budget of the class runs out: 1 retry of an assertion failure.
    let result = start_test(
        &control,
        once(
            json!([{"method": "get", "name": "asserted",
                    "request_url": format!("{base}/flaky?key=b&fail=5&status=200"),
                    "assertions": [{"type": "contains", "value": "never"}],
                    "retry": {"flaky": 1, "base_delay": 0}}]),
            1,
        ),
    )
    .await;
    assert_eq!(count(&result, "asserted"), (2, 0, 2));

    // Without `retry`, one request.
    let result = start_test(
        &control,
        once(json!([{"method": "get", "name": "plain", "request_url": format!("{base}/flaky?key=c&fail=1")}]), 1),
    )
    .await;
    assert_eq!(count(&result, "plain"), (1, 0, 1));

    // A transport error is transient: resent while the budget lasts.
    let port = {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let result = start_test(
        &control,
        once(
            json!([{"method": "get", "name": "refused",
                    "request_url": format!("http://127.0.0.1:{port}/"),
                    "retry": {"transient": 2, "base_delay": 0.01}}]),
            1,
        ),
    )
    .await;
    assert_eq!(count(&result, "refused"), (3, 0, 3));
}

#[tokio::test]
async fn unnamed_tasks_keep_one_name_with_fixed_values_resolved() {
    let target = Target::start().await;
    let base = target.url();
    let control = Control::default();
    let tasks = json!([{"method": "get", "request_url": "${var.base}/p/id-${uuid()}"},
                       {"method": "get", "request_url": "/q", "params": {"a": "1"}}]);
    let args = |user: &str| {
        json!({"user_detail_dict": {"user": user}, "host": base, "variables": {"base": base},
               "user_count": 1, "spawn_rate": 100, "test_time": 30, "wait_time": 0,
               "iterations": 3, "tasks": tasks})
    };
    let fast = start_test(&control, args("fast_http_user")).await;
    assert_eq!(count(&fast, &format!("{base}/p/id-${{uuid()}}")).0, 3);
    assert_eq!(count(&fast, &format!("{base}/q")).0, 3);
    assert_eq!(target.count("/q"), 3, "relative URLs resolve against host");
    let http = start_test(&control, args("http_user")).await;
    assert_eq!(count(&http, "/p/id-${uuid()}").0, 3);
    assert_eq!(count(&http, "/q?a=1").0, 3);
}

#[tokio::test]
async fn json_path_queries_and_extractors_that_find_nothing() {
    let target = Target::start().await;
    let base = target.url();
    let control = Control::default();
    let result = start_test(
        &control,
        once(
            json!([
                {"method": "post", "name": "login", "request_url": format!("{base}/login"),
                 "json": {"user": "ann", "password": "secret"},
                 "assertions": [{"type": "json_path", "path": "$.data.token", "value": "tok-ann"},
                                {"type": "json_path", "path": "$.data[?@ == 'tok-ann']", "value": "tok-ann"}],
                 "extract": [{"var": "token", "path": "$.data.token"}]},
                {"method": "get", "name": "profile", "request_url": format!("{base}/profile"),
                 "headers": {"Authorization": "Bearer ${var.token}"},
                 "assertions": [{"type": "json_path", "path": "user", "value": "ann"}]},
                {"method": "post", "name": "missing", "request_url": format!("{base}/login"),
                 "json": {"user": "bob", "password": "secret"},
                 "extract": [{"var": "nothing", "path": "$.data.absent"}]}
            ]),
            1,
        ),
    )
    .await;
    assert_eq!(count(&result, "login"), (1, 1, 0));
    assert_eq!(count(&result, "profile"), (1, 1, 0));
    assert_eq!(count(&result, "missing"), (1, 0, 1));
    assert_eq!(
        failure_messages(&control, "missing"),
        BTreeMap::from([(
            "extract nothing: json_path $.data.absent found nothing".to_owned(),
            1
        )])
    );
}

#[tokio::test]
async fn unknown_keys_run_with_notes_and_fail_when_strict() {
    let target = Target::start().await;
    let base = target.url();
    let control = Control::default();
    let args = json!({"user_cont": 3, "user_count": 1, "spawn_rate": 100, "test_time": 30,
                      "wait_time": 0, "iterations": 1, "master_host": "10.0.0.1",
                      "tasks": [{"method": "get", "request_url": format!("{base}/n"), "think_tim": 1}]});
    let result = start_test(&control, args.clone()).await;
    assert_eq!(target.count("/n"), 1, "the test ran");
    assert_eq!(
        result["notes"],
        json!([
            "user_cont: unknown key, ignored (did you mean \"user_count\"?)",
            "tasks[0].think_tim: unknown key, ignored (did you mean \"think_time\"?)",
            "master_host: a LoadDensity keyword for its distributed runner or its Python API; not used by a local ld-tower test"
        ])
    );
    let mut strict = args.clone();
    strict["strict"] = json!(true);
    strict["variables"] = json!({"only_if_run": "yes"});
    assert_eq!(
        start_test_error(&control, strict).await,
        "Error: LD_start_test: strict: 2 key(s) not used by ld-tower: user_cont: unknown key, ignored (did you mean \"user_count\"?); tasks[0].think_tim: unknown key, ignored (did you mean \"think_time\"?)"
    );
    assert_eq!(target.count("/n"), 1, "a strict refusal sends nothing");
    assert_eq!(
        control
            .state()
            .resolver(|r| r.variables().get("only_if_run").cloned()),
        None,
        "and registers nothing"
    );
    // A mistake is an error at its path.
    assert_eq!(
        start_test_error(
            &control,
            json!({"tasks": [{"method": "get", "request_url": "/", "assertions": [{"type": "status_code", "value": true}]}]})
        )
        .await,
        "Error: LD_start_test: tasks[0].assertions[0].value: expected a status code (a number from 100 to 999)"
    );
}

#[test]
fn run_strict_fails_a_typo_that_run_notes_on_stderr() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("typo.json");
    // No target: the one task's request fails, which is not what is checked.
    let actions = json!({"load_density": [["LD_start_test", {"user_count": 1, "spawn_rate": 100,
        "test_time": 5, "iterations": 1, "wait_time": 0, "spawn_rte": 3,
        "tasks": [{"method": "get", "request_url": "http://127.0.0.1:9/"}]}]]});
    std::fs::write(&file, actions.to_string()).expect("write");
    let path = file.to_str().expect("utf-8 path");
    let (status, stdout, stderr) = run_cli(
        &["run", path, "--no-progress", "--exit-code-on-error", "0"],
        &[],
    );
    assert_eq!(status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(
            "LD_start_test: spawn_rte: unknown key, ignored (did you mean \"spawn_rate\"?)"
        ),
        "{stderr}"
    );
    let (status, stdout, _) = run_cli(&["run", path, "--no-progress", "--strict"], &[]);
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        stdout,
        "Error: LD_start_test: strict: 1 key(s) not used by ld-tower: spawn_rte: unknown key, ignored (did you mean \"spawn_rate\"?)\n"
    );
}

#[tokio::test]
async fn redirects_are_followed_by_default_and_recorded_once() {
    let target = Target::start().await;
    let base = target.url();
    let control = Control::default();
    // A login that answers 303: Locust's users follow it, so the figure is
    // the page it leads to, under the task's name.
    let result = start_test(
        &control,
        once(
            json!([
                {"method": "post", "name": "login", "data": "a=1",
                 "request_url": format!("{base}/redirect?status=303&to=/echo%3Fafter%3Dlogin")},
                {"method": "get", "name": "kept", "allow_redirects": false,
                 "request_url": format!("{base}/redirect?to={base}/never")},
                {"method": "post", "name": "temporary", "json": {"k": "v"},
                 "request_url": format!("{base}/redirect?status=307&to=/echo")}
            ]),
            1,
        ),
    )
    .await;
    assert_eq!(count(&result, "login"), (1, 1, 0));
    assert_eq!(statuses(&control, "login"), BTreeMap::from([(200, 1)]));
    assert_eq!(count(&result, "kept"), (1, 1, 0));
    assert_eq!(statuses(&control, "kept"), BTreeMap::from([(302, 1)]));
    assert_eq!(
        target.count("/never"),
        0,
        "allow_redirects false never fetches Location"
    );
    let echoes = target.echoes();
    assert_eq!(echoes.len(), 2, "{echoes:?}");
    // 303: a GET without the body; 307: the same method and body.
    assert_eq!(
        (
            echoes[0]["method"].as_str(),
            echoes[0]["query"].as_str(),
            echoes[0]["body"].as_str()
        ),
        (Some("GET"), Some("after=login"), Some(""))
    );
    assert_eq!(
        (echoes[1]["method"].as_str(), echoes[1]["body"].as_str()),
        (Some("POST"), Some("{\"k\":\"v\"}"))
    );
    assert_eq!(
        result["summary"]["totals"]["requests"], 3,
        "one record per task, not per hop"
    );
}

#[tokio::test]
async fn files_go_in_one_multipart_body_with_the_data_fields() {
    let target = Target::start().await;
    let base = target.url();
    let control = Control::default();
    let result = start_test(
        &control,
        once(
            json!([{"method": "post", "name": "upload", "request_url": format!("{base}/echo"),
                    "data": {"note": "n-${var.who}"},
                    "files": {"plain": "hello", "typed": ["r.csv", "a,b", "text/csv"]}}]),
            1,
        ),
    )
    .await;
    assert_eq!(count(&result, "upload"), (1, 1, 0));
    let echo = &target.echoes()[0];
    let content_type = echo["headers"]["content-type"].as_str().unwrap();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap_or_else(|| panic!("{content_type}"));
    let expected = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nn-${{var.who}}\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"plain\"; filename=\"plain\"\r\n\r\nhello\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"typed\"; filename=\"r.csv\"\r\nContent-Type: text/csv\r\n\r\na,b\r\n\
         --{b}--\r\n",
        b = boundary
    );
    assert_eq!(echo["body"].as_str().unwrap(), expected);
}

#[tokio::test]
async fn verify_false_and_a_ca_bundle_reach_what_the_default_refuses() {
    let files = common::tls_files();
    let target = Target::start_with(files.acceptor()).await;
    // The target's certificate names httpbin.org, signed by a test CA the
    // agent does not trust.
    let to = format!("httpbin.org:443:127.0.0.1:{}", target.addr.port());
    let network = Network::new(&[], vec![to.parse().unwrap()]).unwrap();
    let control = Control::with_state(
        Registry::with_builtins(),
        State::default().with_network(network),
    );
    let ca = files.ca.to_str().unwrap();
    let result = start_test(
        &control,
        once(
            json!([
                {"method": "get", "name": "default", "request_url": "https://httpbin.org/a"},
                {"method": "get", "name": "off", "request_url": "https://httpbin.org/b", "verify": false},
                {"method": "get", "name": "bundle", "request_url": "https://httpbin.org/c", "verify": ca}
            ]),
            1,
        ),
    )
    .await;
    assert_eq!(count(&result, "default"), (1, 0, 1));
    assert_eq!(count(&result, "off"), (1, 1, 0));
    assert_eq!(count(&result, "bundle"), (1, 1, 0));
    assert_eq!(
        (target.count("/a"), target.count("/b"), target.count("/c")),
        (0, 1, 1)
    );
    // A bundle that is not there: refused before anything is sent.
    let error = start_test_error(
        &control,
        once(json!([{"method": "get", "request_url": "https://httpbin.org/d", "verify": "nope.pem"}]), 1),
    )
    .await;
    assert!(
        error.starts_with("Error: LD_start_test: tasks: task 1 (verify, cert): "),
        "{error}"
    );
    assert!(error.contains("nope.pem"), "{error}");
    assert_eq!(target.count("/d"), 0);
}

#[tokio::test]
async fn a_client_certificate_reaches_a_target_that_requires_one() {
    let server = common::tls_files();
    let clients = ClientFiles::new();
    let mutual = MutualTls::new(&server, &clients.ca);
    let seen = std::sync::Arc::clone(&mutual.clients);
    let target = Target::start_with(mutual).await;
    let to = format!("httpbin.org:443:127.0.0.1:{}", target.addr.port());
    let network =
        Network::new(std::slice::from_ref(&server.ca), vec![to.parse().unwrap()]).unwrap();
    // A served agent's rule: the certificate files relative to its folder.
    let state = State::new(clients.paths()).with_network(network);
    let control = Control::with_state(Registry::with_builtins(), state);
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let result = start_test(
        &control,
        once(
            json!([
                {"method": "get", "name": "none", "request_url": "https://httpbin.org/none"},
                {"method": "get", "name": "combined", "request_url": "https://httpbin.org/combined",
                 "cert": path(&clients.ec_combined)},
                {"method": "get", "name": "pair", "request_url": "https://httpbin.org/pair",
                 "client_cert": [path(&clients.rsa_cert), path(&clients.rsa_pkcs1_key)]}
            ]),
            1,
        ),
    )
    .await;
    assert_eq!(
        count(&result, "none"),
        (1, 0, 1),
        "the target requires a certificate"
    );
    assert_eq!(count(&result, "combined"), (1, 1, 0));
    assert_eq!(count(&result, "pair"), (1, 1, 0));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, [clients.ec_der.clone(), clients.rsa_der.clone()]);
}

/// Every LoadDensity user type ld-tower does not run is refused, named, with
/// the kinds it runs listed (from the registry); nothing is sent.
#[tokio::test]
async fn other_user_types_are_errors_naming_them_and_listing_the_kinds() {
    let kinds = ld_tower::engine::kinds::names();
    assert!(kinds.starts_with("fast_http_user, http_user"), "{kinds}");
    let control = Control::default();
    // LoadDensity 0.0.79's user templates that ld-tower does not run.
    for user in [
        "mqtt_user",
        "sql_user",
        "kafka_user",
        "amqp_user",
        "http3_user",
        "graphql_ws_user",
        "no_such_user",
    ] {
        let error = start_test_error(
            &control,
            json!({"user_detail_dict": {"user": user}, "tasks": [{"method": "get", "request_url": "http://127.0.0.1:9/"}]}),
        )
        .await;
        assert_eq!(
            error,
            format!(
                "Error: LD_start_test: user_detail_dict.user: user type {user:?} is not supported by ld-tower; it runs {kinds}"
            )
        );
    }
}
