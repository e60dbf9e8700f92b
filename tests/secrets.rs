//! Nothing secret leaks (issue 11, point 5): a test given credentials in
//! every place a task can carry one (an `Authorization` header with a bad
//! byte, good ones on requests that fail with 500 or a refused connection,
//! URL userinfo, a query `api_key`, a cookie, basic and bearer `auth`, a
//! `${env.NAME}` value, the host's userinfo, a JSON body's password, an
//! expected `Set-Cookie`, a redirect's `Location` quoting one back, a
//! Redis URL's password) runs against a real hyper target through a real
//! `ld-tower serve` (`--log debug`) and a real `ld-tower run`; then every
//! report kind is written, the run is persisted, compared and fetched from
//! its SQLite history, and `LD_summary` is asked. No output holds one of
//! the secrets: the reply's bytes, every file in the working directory
//! (the database read as bytes, the audit log), stdout and stderr. Each
//! output that quotes where a secret was holds the mask instead, and the
//! target served the requests, so the test fails if nothing ran.

mod common;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::target::Target;
use common::{bin, serve_in, DEADLINE};
use serde_json::{json, Value};

type Result<T = ()> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// The environment variable a task reads its API key from.
const ENV_NAME: &str = "LD_TOWER_SECRETS_TEST_KEY";

/// Every secret the test is given; each unique, and long enough to find.
const BAD_BYTE: &str = "tok-badbyte-7f3a9c1e55";
const BEARER: &str = "tok-bearer-2b8d4e6f71";
const USERINFO: &str = "pw-userinfo-5c1a7e9302";
const API_KEY: &str = "key-query-9e4f2a6117";
const COOKIE: &str = "cookie-sess-3d7b0c5844";
const ENV_VALUE: &str = "env-secret-6a2f8d1409";
const BASIC: &str = "basic-pw-8c3e5b2763";
const AUTH_BEARER: &str = "tok-auth-4e9a1c7d05";
const HOST: &str = "pw-host-0d5f3b8e21";
const BODY: &str = "pw-body-1a6c9e4f38";
const EXPECTED_COOKIE: &str = "sid-expected-7b2e5d0c96";
const REDIRECT: &str = "pw-redirect-3f8a0e6b14";
const REDIS: &str = "pw-redis-9d4c2a7e50";

const SECRETS: &[&str] = &[
    BAD_BYTE,
    BEARER,
    USERINFO,
    API_KEY,
    COOKIE,
    ENV_VALUE,
    BASIC,
    AUTH_BEARER,
    HOST,
    BODY,
    EXPECTED_COOKIE,
    REDIRECT,
    REDIS,
];

/// The action list: the test, every report, two persisted runs, the
/// history actions, the summary.
fn actions(target: &str, refused: &str) -> Value {
    let port = target.rsplit(':').next().unwrap_or_default();
    let tasks = json!([
        // The case: the header cannot be rendered.
        {"name": "bad byte", "url": "/", "headers": {"Authorization": format!("Bearer {BAD_BYTE}\u{1}")}},
        {"name": "bearer 500", "url": "/status/500", "headers": {"Authorization": format!("Bearer {BEARER}")}},
        {"name": "bearer refused", "url": format!("{refused}/"), "headers": {"Authorization": format!("Bearer {BEARER}")}},
        // Unnamed: named by their URLs.
        {"url": format!("http://alice:{USERINFO}@127.0.0.1:{port}/status/500")},
        {"url": format!("http://alice:{USERINFO}@{}/", refused.trim_start_matches("http://"))},
        {"url": format!("/status/500?page=2&api_key={API_KEY}")},
        {"url": format!("/status/503?v=${{env.{ENV_NAME}}}"), "headers": {"X-Api-Key": format!("${{env.{ENV_NAME}}}")}},
        {"name": "cookie", "url": "/status/500", "cookies": {"session": COOKIE}},
        {"name": "basic", "url": "/status/401", "auth": {"type": "basic", "username": "bob", "password": BASIC}},
        {"name": "bearer auth", "url": "/", "auth": {"type": "bearer", "token": format!("{AUTH_BEARER}\u{1}")}},
        {"name": "body", "method": "post", "url": "/status/500", "json": {"user": "bob", "password": BODY}},
        // The target's Location quotes a credential back.
        {"name": "redirect", "url": format!("/redirect?to=gopher://dave:{REDIRECT}@h.test/")},
        {"name": "set-cookie", "url": "/session", "assertions": [
            {"type": "header", "name": "Set-Cookie", "value": EXPECTED_COOKIE}
        ]},
    ]);
    let mut tasks = tasks;
    for task in tasks.as_array_mut().into_iter().flatten() {
        if let Some(task) = task.as_object_mut() {
            task.entry("method").or_insert_with(|| json!("get"));
        }
    }
    let host = target.replace("http://", &format!("http://carol:{HOST}@"));
    let db = "runs.db";
    json!({"load_density": [
        ["LD_start_test", {
            "user_detail_dict": {"user": "fast_http_user", "host": host},
            "user_count": 2, "spawn_rate": 100, "iterations": 1, "test_time": 30,
            "tasks": tasks
        }],
        // A Redis URL's password, on a server that does not speak Redis
        // (the HTTP target): the connection fails quoting the URL.
        ["LD_start_test", {
            "user_detail_dict": {"user": "redis_user"},
            "user_count": 1, "spawn_rate": 100, "iterations": 1, "test_time": 30,
            "tasks": [{"method": "get", "key": "k", "url": format!("redis://:{REDIS}@127.0.0.1:{port}/0")}]
        }],
        ["LD_summary", {}],
        ["LD_generate_html_report", {"html_name": "report"}],
        ["LD_generate_json_report", {"json_file_name": "report"}],
        ["LD_generate_xml_report", {"xml_file_name": "report"}],
        ["LD_generate_csv_report", {"csv_name": "report"}],
        ["LD_generate_junit_report", {"report_name": "junit"}],
        ["LD_generate_summary_report", {"report_name": "summary"}],
        ["LD_generate_html", {}],
        ["LD_generate_json", {}],
        ["LD_generate_xml", {}],
        ["LD_persist_records", {"database_path": db, "label": "first"}],
        ["LD_persist_records", {"database_path": db, "label": "second"}],
        ["LD_list_runs", {"database_path": db}],
        ["LD_fetch_run_records", {"database_path": db, "run_id": 1}],
        ["LD_compare_runs", {"database_path": db, "baseline_run_id": 1, "run_id": 2}]
    ]})
}

/// An address nothing listens on (bound, then closed).
fn refused_url() -> Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    drop(listener);
    Ok(format!("http://127.0.0.1:{port}"))
}

/// Every file under `dir`, read as bytes, with its path.
fn files(dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(files(&path)?);
        } else {
            out.push((path.clone(), std::fs::read(&path)?));
        }
    }
    Ok(out)
}

/// The paths of `files`, one a line.
fn paths(files: &[(PathBuf, Vec<u8>)]) -> String {
    let paths: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    paths.join("\n")
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// Fails naming the output and the secret if any output holds a secret.
fn assert_no_secret(outputs: &[(String, Vec<u8>)]) {
    for (what, bytes) in outputs {
        for secret in SECRETS {
            assert!(
                !contains(bytes, secret),
                "{what} holds the secret {secret:?}:\n{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}

/// What must be in the reply where secrets were: the masked names and
/// reasons; the requests were made.
fn assert_masked(reply: &str, target: &Target) -> Result {
    let summary: Value = reply
        .lines()
        .nth(2)
        .ok_or("no LD_summary line")
        .map(serde_json::from_str)??;
    let names = summary["per_name"]
        .as_object()
        .ok_or_else(|| format!("no per_name in {summary}"))?;
    let keys: Vec<&str> = names.keys().map(String::as_str).collect();
    for wanted in [
        "http://alice:***@127.0.0.1:",
        "/status/500?page=2&api_key=***",
        "/status/503?v=***",
    ] {
        assert!(
            keys.iter().any(|name| name.contains(wanted)),
            "no name with {wanted:?} in {keys:?}"
        );
    }
    for wanted in [
        "header authorization: *** is not a valid header value",
        "header set-cookie expected ***, got ***",
        "cannot open redis://:***@127.0.0.1:",
        "\\\"gopher://dave:***@h.test/\\\" is a gopher: URL",
        "HTTP 500",
        "\"host\":\"http://carol:***@127.0.0.1:",
    ] {
        assert!(
            reply.contains(wanted),
            "no {wanted:?} in the reply:\n{reply}"
        );
    }
    assert_eq!(reply.matches("Error:").count(), 0, "{reply}");
    // Every request that could be made was: 2 users, one iteration each.
    assert_eq!(target.count_status("/status/500", 500), 2 * 5);
    assert_eq!(target.count_status("/status/503", 503), 2);
    assert_eq!(target.count_status("/status/401", 401), 2);
    Ok(())
}

/// No secret in `streams` nor in any file written in `dir` (the action
/// file aside: it is the user's own input); the masks where they belong.
fn check(dir: &Path, mut outputs: Vec<(String, Vec<u8>)>, reply: &str, target: &Target) -> Result {
    let written: Vec<_> = files(dir)?
        .into_iter()
        .filter(|(path, _)| !path.ends_with("test.json"))
        .collect();
    // Six reports and the database.
    assert!(written.len() >= 7, "{}:\n{reply}", paths(&written));
    outputs.extend(
        written
            .into_iter()
            .map(|(path, bytes)| (path.display().to_string(), bytes)),
    );
    assert_no_secret(&outputs);
    assert_masked(reply, target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_output_of_a_served_test_holds_a_secret() -> Result {
    let target = Target::start().await;
    let url = target.url();
    let refused = refused_url()?;
    let dir = tempfile::tempdir()?;
    let work = dir.path().to_owned();
    let (reply, stdout, stderr) = tokio::task::spawn_blocking(move || {
        let mut server = serve_in(
            &work,
            &[
                "--allow-env",
                ENV_NAME,
                "--log",
                "debug",
                "--audit-log",
                "audit.jsonl",
            ],
            &[(ENV_NAME, ENV_VALUE)],
        );
        let reply = server.legacy(&actions(&url, &refused).to_string());
        let bye = server.legacy("quit_server");
        let (status, stdout) = server.wait_exit(DEADLINE);
        (
            format!("{reply}{bye}"),
            format!("{status}\n{}", stdout.join("\n")),
            server.stderr(),
        )
    })
    .await?;
    assert!(stderr.contains("request served"), "no log lines:\n{stderr}");
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl"))?;
    assert!(audit.contains("LD_start_test"), "{audit}");
    let streams = vec![
        ("the reply".to_owned(), reply.clone().into_bytes()),
        ("stdout".to_owned(), stdout.into_bytes()),
        ("stderr".to_owned(), stderr.into_bytes()),
    ];
    check(dir.path(), streams, &reply, &target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_output_of_a_run_holds_a_secret() -> Result {
    let target = Target::start().await;
    let url = target.url();
    let refused = refused_url()?;
    let dir = tempfile::tempdir()?;
    let work = dir.path().to_owned();
    std::fs::write(work.join("test.json"), actions(&url, &refused).to_string())?;
    let output = tokio::task::spawn_blocking(move || {
        Command::new(bin())
            .args(["run", "test.json"])
            .current_dir(&work)
            .env(ENV_NAME, ENV_VALUE)
            .env("LD_TOWER_LOG", "debug")
            .stdin(Stdio::null())
            .output()
    })
    .await??;
    let reply = String::from_utf8_lossy(&output.stdout).into_owned();
    let streams = vec![
        ("stdout".to_owned(), output.stdout),
        ("stderr".to_owned(), output.stderr),
    ];
    check(dir.path(), streams, &reply, &target)
}
