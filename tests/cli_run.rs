//! `ld-tower run`, `run-dir`, `run-str` and `init` as scripts use them: the
//! real binary against a small HTTP target started here, which counts the
//! requests it serves; exit codes, output lines, shared state, interrupts,
//! and the live progress line (only on a terminal).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

mod common;

/// How long any wait in a test may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(30);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ld-tower")
}

// ------------------------------------------------------------------ target

/// An HTTP/1.1 target on 127.0.0.1:0 that counts the requests it answers:
/// `200 ok` to anything, or, with a root, the root's files (a directory as
/// the list of its names, a missing path as 404), like `python3 -m
/// http.server` in that directory.
struct Target {
    addr: SocketAddr,
    served: Arc<AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

impl Target {
    fn start(root: Option<PathBuf>) -> Target {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&served);
        let root = Arc::new(root);
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let counter = Arc::clone(&counter);
                let root = Arc::clone(&root);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let response = answer(root.as_ref().as_deref(), request.uri().path());
                        counter.fetch_add(1, Ordering::SeqCst);
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        Target {
            addr,
            served,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }
}

fn answer(root: Option<&Path>, path: &str) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: Vec<u8>| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
    };
    let Some(root) = root else {
        return reply(StatusCode::OK, b"ok".to_vec());
    };
    let local = root.join(path.trim_start_matches('/'));
    if local.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(&local)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        reply(StatusCode::OK, names.join("\n").into_bytes())
    } else if let Ok(content) = std::fs::read(&local) {
        reply(StatusCode::OK, content)
    } else {
        reply(StatusCode::NOT_FOUND, b"not found".to_vec())
    }
}

// ----------------------------------------------------------------- helpers

/// Runs `ld-tower ARGS` to its end, stdin empty, stdout and stderr piped.
fn ld(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ld-tower")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

/// stdout's lines.
fn stdout_lines(output: &Output) -> Vec<String> {
    text(&output.stdout).lines().map(str::to_owned).collect()
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// An action list with one test of `users` users making `iterations`
/// iterations each of one GET of `url`, then `LD_summary`.
fn counted_test(url: &str, users: u64, iterations: u64) -> Value {
    json!({"load_density": [
        ["LD_start_test", {
            "user_count": users, "spawn_rate": 100, "test_time": 60,
            "iterations": iterations, "wait_time": 0,
            "tasks": [{"method": "get", "request_url": format!("{url}/"), "name": "home",
                       "assertions": [{"type": "status_code", "value": 200}]}]
        }],
        ["LD_summary", {}]
    ]})
}

fn requests(summary: &Value) -> u64 {
    summary["totals"]["requests"]
        .as_u64()
        .expect("totals.requests")
}

/// No escape sequence on stderr: nothing was drawn for a terminal.
fn assert_no_progress(output: &Output) {
    let stderr = text(&output.stderr);
    assert!(
        !stderr.contains("\x1b["),
        "progress drawn on a pipe: {stderr:?}"
    );
}

/// Runs the shell `command` with a terminal as its stdin, stdout and stderr
/// (`script`); its output is what the terminal showed.
fn on_terminal(command: &str) -> Output {
    Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn wait_with_deadline(child: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(start.elapsed() < DEADLINE, "ld-tower did not exit in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ------------------------------------------------------------------- tests

#[test]
fn run_file_counts_exactly_what_the_target_served() {
    let target = Target::start(None);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("count.json");
    std::fs::write(&file, counted_test(&target.url(), 3, 7).to_string()).unwrap();

    let output = ld(&["run", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let started = parse(&lines[0]);
    assert_eq!(started["stopped_early"], false);
    assert_eq!(requests(&started["summary"]), 21);
    let summary = parse(&lines[1]);
    assert_eq!(requests(&summary), 21);
    assert_eq!(summary["totals"]["failures"], 0);
    assert_eq!(target.served(), 21);
    // On a pipe: no progress line, nothing at all on stderr.
    assert_no_progress(&output);
    assert_eq!(text(&output.stderr), "");
}

#[test]
fn run_reads_stdin_and_bare_lists() {
    let mut child = Command::new(bin())
        .args(["run", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(br#"[["LD_clear_records"], ["LD_summary", {}]]"#)
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let lines = stdout_lines(&output);
    assert_eq!(lines[0], r#"{"status":"cleared"}"#);
    assert_eq!(requests(&parse(&lines[1])), 0);
}

#[test]
fn run_str_with_a_failing_action_exits_one_with_error_lines() {
    let output = ld(&[
        "run-str",
        r#"{"load_density": [["LD_summary", {}], ["LD_no_such_action", {}], ["LD_start_test", {"user_count": 0}], ["LD_clear_records"]]}"#,
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(requests(&parse(&lines[0])), 0);
    assert_eq!(lines[1], "Error: LD_no_such_action: unknown action");
    assert!(
        lines[2].starts_with("Error: LD_start_test: ") && lines[2].contains("user_count"),
        "{}",
        lines[2]
    );
    // The actions after a failed one still run.
    assert_eq!(lines[3], r#"{"status":"cleared"}"#);
    assert_no_progress(&output);

    // Valid JSON that is not an action list: one error line, exit 1.
    let output = ld(&["run-str", r#"{"not": "actions"}"#]);
    assert_eq!(output.status.code(), Some(1));
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with("Error: not an action list"),
        "{lines:?}"
    );
}

/// A dead target fails the run though every action succeeded, unless the
/// test judged its failures by thresholds or --exit-code-on-error says so.
#[test]
fn failed_requests_without_thresholds_fail_the_run() {
    // A port nothing listens on: bound, then closed.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", dead.local_addr().expect("addr"));
    drop(dead);
    let test = |thresholds: &str| {
        format!(
            r#"[["LD_start_test", {{"user_count": 1, "spawn_rate": 100, "iterations": 2, "wait_time": 0,
                "tasks": [{{"method": "get", "request_url": "{url}/"}}]{thresholds}}}]]"#
        )
    };
    let output = ld(&["run-str", &test("")]);
    let lines = stdout_lines(&output);
    assert!(!lines[0].starts_with("Error"), "{lines:?}");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let output = ld(&["run-str", "--exit-code-on-error", "7", &test("")]);
    assert_eq!(output.status.code(), Some(7));
    let output = ld(&["run-str", "--exit-code-on-error", "0", &test("")]);
    assert_eq!(output.status.code(), Some(0));
    // Thresholds that allow the failures: they alone judge the test.
    let allowed = r#", "thresholds": {"failure_rate": 1.0}"#;
    let output = ld(&["run-str", &test(allowed)]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
}

#[test]
fn unreadable_or_non_json_input_exits_three_with_one_stderr_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"load_density\": [").unwrap();
    let empty_dir = dir.path().join("empty");
    std::fs::create_dir(&empty_dir).unwrap();
    let cases: [(&[&str], &str); 6] = [
        (&["run", missing.to_str().unwrap()], "cannot read"),
        (
            &["run-str", "[]", "--ca-file", garbage.to_str().unwrap()],
            "no CERTIFICATE block found",
        ),
        (&["run", garbage.to_str().unwrap()], "is not JSON"),
        (&["run-str", "not json"], "is not JSON"),
        (&["run-dir", missing.to_str().unwrap()], "cannot read"),
        (
            &["run-dir", empty_dir.to_str().unwrap()],
            "holds no action file (*.json, *.yaml",
        ),
    ];
    for (args, needle) in cases {
        let output = ld(args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(3), "{args:?}: {stderr}");
        assert_eq!(text(&output.stdout), "", "{args:?}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr:?}");
        assert!(stderr.starts_with("ld-tower: "), "{args:?}: {stderr:?}");
        assert!(
            stderr.contains(needle),
            "{args:?}: {stderr:?} lacks {needle:?}"
        );
    }
}

#[test]
fn bad_usage_exits_two() {
    assert_eq!(ld(&["run"]).status.code(), Some(2));
    assert_eq!(ld(&["run-str"]).status.code(), Some(2));
    assert_eq!(ld(&["run", "a.json", "--nope"]).status.code(), Some(2));
    let output = ld(&["run-str", "[]", "--connect-to", "httpbin.org:443"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("expected HOST1:PORT1:HOST2:PORT2"));
}

/// LoadDensity's project template, unchanged (its host is
/// `https://httpbin.org`), run against a local https target by
/// `--connect-to` and `--ca-file`: every request reaches the target.
#[test]
fn connect_to_and_ca_file_run_a_file_unchanged_against_a_local_https_target() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let files = common::tls_files();
    let target = runtime.block_on(common::target::Target::start_with(files.acceptor()));
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/loaddensity_keyword1.json"
    );
    let to = format!("httpbin.org:443:127.0.0.1:{}", target.addr.port());
    let ca = files.ca.to_str().unwrap();
    let output = ld(&["run", "--ca-file", ca, "--connect-to", &to, fixture]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let summary = &parse(&lines[0])["summary"];
    assert_eq!(summary["totals"]["failures"], 0, "{summary}");
    assert!(requests(summary) > 100, "{summary}");
    assert_eq!(requests(summary), target.total());

    // Without the CA, the certificate is refused: every request fails and
    // none reaches the target.
    let served = target.total();
    let output = ld(&["run", "--connect-to", &to, fixture]);
    let lines = stdout_lines(&output);
    let summary = &parse(&lines[0])["summary"];
    assert!(requests(summary) > 0, "{summary}");
    assert_eq!(summary["totals"]["failures"], summary["totals"]["requests"]);
    assert_eq!(target.total(), served);
}

#[test]
fn run_dir_runs_files_in_name_order_on_one_state() {
    let target = Target::start(None);
    let dir = tempfile::tempdir().unwrap();
    // Written out of order: the names decide.
    std::fs::write(dir.path().join("b_summary.json"), r#"[["LD_summary", {}]]"#).unwrap();
    std::fs::write(
        dir.path().join("a_test.json"),
        counted_test(&target.url(), 2, 5).to_string(),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not an action file").unwrap();

    let output = ld(&["run-dir", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    let headers: Vec<&str> = stderr.lines().collect();
    let a = dir.path().join("a_test.json");
    let b = dir.path().join("b_summary.json");
    assert_eq!(
        headers,
        [
            format!("== {} ==", a.display()),
            format!("== {} ==", b.display())
        ]
    );
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 3, "{lines:?}");
    // The second file's summary sees the first file's requests.
    assert_eq!(requests(&parse(&lines[2])), 10);
    assert_eq!(target.served(), 10);
    assert_no_progress(&output);

    // A failing action in any file: exit 1, and the other files still run.
    std::fs::write(dir.path().join("a0_fail.json"), r#"[["LD_nope"]]"#).unwrap();
    let output = ld(&["run-dir", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let lines = stdout_lines(&output);
    assert_eq!(lines[0], "Error: LD_nope: unknown action");
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(requests(&parse(&lines[3])), 10);
}

#[test]
fn init_makes_a_project_whose_files_run_against_a_local_target() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("proj");
    let output = ld(&["init", project.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
    assert!(readme.contains("python3 -m http.server 8000"), "{readme}");
    assert!(readme.contains("ld-tower run"), "{readme}");
    let mut files: Vec<PathBuf> = std::fs::read_dir(project.join("actions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!((2..=3).contains(&files.len()), "{files:?}");

    // Not over an existing project, nor over a file; an empty directory is fine.
    for taken in [project.clone(), project.join("README.md")] {
        let output = ld(&["init", taken.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(1), "{taken:?}");
        assert_eq!(text(&output.stderr).lines().count(), 1);
    }
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_eq!(
        ld(&["init", empty.to_str().unwrap()]).status.code(),
        Some(0)
    );

    // Each file, aimed at a target serving the project directory (as
    // `python3 -m http.server 8000` there would), runs without a failure.
    let target = Target::start(Some(project.clone()));
    let url = target.url();
    let runs: Vec<_> = files
        .iter()
        .map(|file| {
            let content = std::fs::read_to_string(file).unwrap();
            assert!(content.contains("${var.host}"), "{file:?}");
            assert!(content.contains("http://127.0.0.1:8000"), "{file:?}");
            let content = content.replace("http://127.0.0.1:8000", &url);
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            std::thread::spawn(move || (name, ld(&["run-str", &content])))
        })
        .collect();
    let mut total = 0;
    for run in runs {
        let (name, output) = run.join().unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{name}: {}\n{}",
            text(&output.stdout),
            text(&output.stderr)
        );
        let lines = stdout_lines(&output);
        assert!(
            !lines.iter().any(|l| l.starts_with("Error")),
            "{name}: {lines:?}"
        );
        let summary = parse(lines.last().unwrap());
        assert_eq!(summary["totals"]["failures"], 0, "{name}: {summary}");
        let count = requests(&summary);
        assert!(count > 0, "{name}: {summary}");
        if name.contains("exact") {
            assert_eq!(count, 100, "{name}");
        }
        total += count;
    }
    assert_eq!(target.served(), total);
}

/// Starts a long test, waits for the target to see requests, sends `signal`.
fn interrupted(signal: &str) -> (Output, u64) {
    let target = Target::start(None);
    let actions = json!({"load_density": [
        ["LD_start_test", {"user_count": 2, "spawn_rate": 100, "test_time": 60,
                           "wait_time": 0.02,
                           "tasks": [{"method": "get", "request_url": format!("{}/", target.url())}]}],
        ["LD_summary", {}]
    ]});
    let child = Command::new(bin())
        .args(["run-str", &actions.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while target.served() < 5 {
        assert!(start.elapsed() < DEADLINE, "the test sent no request");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut child = child;
    let status = wait_with_deadline(&mut child);
    let output = child.wait_with_output().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "the test was not stopped"
    );
    (
        Output {
            status,
            stdout: output.stdout,
            stderr: output.stderr,
        },
        target.served(),
    )
}

#[test]
fn ctrl_c_stops_the_test_prints_its_results_and_exits_130() {
    let (output, served) = interrupted("-INT");
    assert_eq!(output.status.code(), Some(130), "{}", text(&output.stderr));
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let started = parse(&lines[0]);
    assert_eq!(started["stopped_early"], true);
    let summary = parse(&lines[1]);
    // Requests abandoned at the stop were served but not recorded.
    let recorded = requests(&summary);
    assert!(recorded > 0 && recorded <= served, "{recorded} of {served}");
    assert!(text(&output.stderr).contains("SIGINT received"));
}

#[test]
fn sigterm_stops_the_test_and_exits_143() {
    let (output, _) = interrupted("-TERM");
    assert_eq!(output.status.code(), Some(143), "{}", text(&output.stderr));
    let lines = stdout_lines(&output);
    assert_eq!(parse(&lines[0])["stopped_early"], true);
    assert_eq!(lines.len(), 2);
}

/// On a terminal (util-linux `script` gives one), the live line is drawn
/// and cleared; ignored where `script` is missing.
#[test]
#[cfg_attr(
    no_script,
    ignore = "no util-linux `script` here to give ld-tower a terminal (build.rs probed it)"
)]
fn progress_is_drawn_on_a_terminal() {
    let target = Target::start(None);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("two_seconds.json");
    let actions = json!([
        ["LD_start_test", {"user_count": 2, "spawn_rate": 100, "test_time": 2, "wait_time": 0.05,
                           "tasks": [{"method": "get", "request_url": format!("{}/", target.url())}]}]
    ]);
    std::fs::write(&file, actions.to_string()).unwrap();
    let out = dir.path().join("stdout");
    // stdout to a file: the transcript holds stderr's drawing only.
    let command = format!(
        "stty cols 120; {} run {} > {}",
        bin(),
        file.display(),
        out.display()
    );
    let output = on_terminal(&command);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let drawn = String::from_utf8_lossy(&output.stdout);
    assert!(drawn.contains("users 2/2"), "{drawn:?}");
    assert!(drawn.contains("/2s"), "{drawn:?}");
    assert!(drawn.contains("failures 0"), "{drawn:?}");
    // Cleared at the end: the last thing drawn erases the line.
    assert!(drawn.trim_end().ends_with("\x1b[2K"), "{drawn:?}");
    let result = std::fs::read_to_string(&out).unwrap();
    assert_eq!(result.lines().count(), 1);
    assert_eq!(parse(result.trim_end())["stopped_early"], false);

    // --no-progress: nothing drawn even there.
    let command = format!(
        "{} run --no-progress {} > {}",
        bin(),
        file.display(),
        out.display()
    );
    let output = on_terminal(&command);
    assert_eq!(output.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&output.stdout).contains("users"));
}

#[test]
fn help_explains_the_subcommands_and_exit_codes() {
    let top = text(&ld(&["--help"]).stdout);
    for word in ["run ", "run-dir", "run-str", "init"] {
        assert!(top.contains(word), "{word}: {top}");
    }
    for sub in ["run", "run-dir", "run-str"] {
        let help = text(&ld(&[sub, "--help"]).stdout);
        for needle in ["Exit: 0", "130", "143", "--no-progress", "Ctrl-C"] {
            assert!(help.contains(needle), "{sub}: {needle}: {help}");
        }
    }
    let help = text(&ld(&["init", "--help"]).stdout);
    assert!(help.contains("http.server 8000"), "{help}");
}
