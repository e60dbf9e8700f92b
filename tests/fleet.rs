//! The coordinator of a fleet, end to end: three real `ld-tower serve
//! --framed` agents on loopback ports, one local target, and a coordinator
//! (`ld-tower run fleet.json`, or a served `LD_start_test`) with
//! `runner_mode: "master"`. The oracles: what the target received, one
//! histogram holding every agent's samples, and the exact split.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/socket.rs"]
mod servers;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::framed::{framed_client as client, one};
use common::target::Target;
use common::{parse, run_cli, serve_in, ServeProcess, DEADLINE};
use hdrhistogram::Histogram;
use ld_tower::figures::TestFigures;
use serde_json::{json, Value};
use servers::closed_port;
use tokio::time::Instant;

const TOKEN: &str = "fleet-7d1c9a3e5b0f2846-token";

/// `ld-tower serve --framed --token TOKEN` in `dir`.
fn agent(dir: &Path, token: &str) -> ServeProcess {
    serve_in(dir, &["--framed", "--token", token], &[])
}

/// Three agents, each in a directory of its own; `tokens` theirs.
fn agents(tokens: [&str; 3]) -> (Vec<tempfile::TempDir>, Vec<ServeProcess>) {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let agents = dirs
        .iter()
        .zip(tokens)
        .map(|(dir, token)| agent(dir.path(), token))
        .collect();
    (dirs, agents)
}

fn addrs(agents: &[ServeProcess]) -> Vec<String> {
    agents.iter().map(|a| a.addr().to_string()).collect()
}

/// `ld-tower run --json FILE` with `actions` as the file, off the runtime:
/// (exit code, the result lines, stderr).
async fn coordinate(actions: Value, env: Vec<(String, String)>) -> (i32, Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleet.json");
    std::fs::write(&file, actions.to_string()).unwrap();
    let (status, stdout, stderr) = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_cli(&["run", "--json", file.to_str().unwrap()], &env)
    })
    .await
    .unwrap();
    drop(dir);
    (
        status.code().unwrap_or(-1),
        stdout.lines().map(str::to_owned).collect(),
        stderr,
    )
}

/// The fleet's `LD_start_test` arguments: `users` making `iterations`
/// requests each to `/home`, on `agents`.
fn fleet_test(target: &Target, agents: &[String], users: u64, iterations: u64) -> Value {
    json!({
        "runner_mode": "master",
        "agents": agents,
        "agent_token": TOKEN,
        "worker_startup_timeout": 20,
        "user_detail_dict": {"host": target.url()},
        "user_count": users, "spawn_rate": 1000, "iterations": iterations,
        "wait_time": 0, "test_time": 60,
        "tasks": [{"name": "home", "method": "get", "request_url": "/home"}],
    })
}

/// Every agent's last test's figures, fetched directly.
async fn agents_figures(agents: &[ServeProcess]) -> Vec<TestFigures> {
    let mut all = Vec::new();
    for agent in agents {
        let line = one(
            &client(&agent.addr().to_string(), Some(TOKEN)),
            "LD_fetch_figures",
            json!({}),
        )
        .await;
        all.push(TestFigures::from_json(&line).expect("a figures document"));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_three_gives_one_summary_equal_to_the_target_and_the_ground_truth() {
    let target = Target::start().await;
    let (_dirs, agents) = agents([TOKEN; 3]);
    let addrs = addrs(&agents);
    let mut test = fleet_test(&target, &addrs, 7, 30);
    test["thresholds"] = json!({"failure_rate": 0.0});
    let actions = json!({"load_density": [
        ["LD_start_test", test],
        ["LD_summary", {}],
    ]});
    let (code, lines, stderr) = coordinate(actions, Vec::new()).await;
    assert_eq!(code, 0, "{lines:?}\n{stderr}");
    assert_eq!(lines.len(), 2, "{lines:?}");
    let result = parse(&lines[0]);
    let summary = parse(&lines[1]);

    // 7 users on 3 agents: 3, 2, 2, whole; 30 requests each.
    assert_eq!(target.count("/home"), 7 * 30);
    assert_eq!(target.total(), 7 * 30);
    assert_eq!(summary["totals"]["requests"], 7 * 30, "{summary}");
    assert_eq!(result["summary"], summary);
    assert_eq!(result["user_count"], 7);
    assert_eq!(result["runner_mode"], "master");
    assert_eq!(result["users_started"], 7);
    assert_eq!(result["thresholds"]["passed"], true);
    let rows = result["fleet"]["agents"].as_array().expect("agent rows");
    assert_eq!(rows.len(), 3);
    let users: Vec<u64> = rows.iter().map(|r| r["users"].as_u64().unwrap()).collect();
    assert_eq!(users, [3, 2, 2], "{rows:?}");
    let rates: Vec<f64> = rows
        .iter()
        .map(|r| r["spawn_rate"].as_f64().unwrap())
        .collect();
    assert_eq!(
        rates
            .iter()
            .map(|r| (r * 1000.0).round() as u64)
            .sum::<u64>(),
        1_000_000
    );
    let mut named: Vec<&str> = rows.iter().map(|r| r["agent"].as_str().unwrap()).collect();
    named.sort_unstable();
    let mut given: Vec<&str> = addrs.iter().map(String::as_str).collect();
    given.sort_unstable();
    assert_eq!(named, given);
    for row in rows {
        assert_eq!(row["state"], "finished", "{row}");
        assert_eq!(
            row["requests"].as_u64().unwrap(),
            row["users"].as_u64().unwrap() * 30
        );
    }
    let skew = result["fleet"]["start_skew_ms"].as_u64().expect("skew");
    println!("start skew across the three agents: {skew} ms");

    // The ground truth: one histogram holding every agent's samples, each
    // recorded value re-recorded one by one.
    let mut truth = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    let fetched = agents_figures(&agents).await;
    for figures in &fetched {
        let home = figures.figures.per_name()["home"].latency_us();
        for value in home.iter_recorded() {
            truth
                .record_n(value.value_iterated_to(), value.count_at_value())
                .unwrap();
        }
    }
    assert_eq!(truth.len(), 7 * 30);
    let home = &summary["per_name"]["home"];
    assert_eq!(home["count"], 7 * 30);
    for (key, q) in [
        ("p50_ms", 0.5),
        ("p90_ms", 0.9),
        ("p95_ms", 0.95),
        ("p99_ms", 0.99),
    ] {
        let expected = truth.value_at_quantile(q) as f64 / 1000.0;
        assert_eq!(home[key].as_f64(), Some(expected), "{key}: {home}");
        assert_eq!(
            summary["latency_overall"][key].as_f64(),
            Some(expected),
            "{key}"
        );
    }
    // The series: aligned seconds that hold every request.
    let series_requests: u64 = fetched
        .iter()
        .flat_map(|f| f.series.points())
        .map(|p| p.requests)
        .sum();
    assert_eq!(series_requests, 7 * 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_rows_are_dealt_so_no_two_agents_send_the_same_row() {
    let target = Target::start().await;
    let (dirs, agents) = agents([TOKEN; 3]);
    // The same file, at the same path, on every agent.
    let mut rows = String::from("id\n");
    for i in 0..21 {
        rows.push_str(&format!("row{i}\n"));
    }
    for dir in &dirs {
        std::fs::write(dir.path().join("ids.csv"), &rows).unwrap();
    }
    let mut test = fleet_test(&target, &addrs(&agents), 7, 3);
    test["csv_sources"] = json!([{"name": "ids", "file_path": "ids.csv", "cycle": false}]);
    test["tasks"] =
        json!([{"name": "item", "method": "get", "request_url": "/flaky?key=${csv.ids.id}"}]);
    let (code, lines, stderr) = coordinate(json!([["LD_start_test", test]]), Vec::new()).await;
    assert_eq!(code, 0, "{lines:?}\n{stderr}");
    let result = parse(&lines[0]);
    assert_eq!(result["summary"]["totals"]["requests"], 21, "{result}");
    let mut ids: Vec<String> = target.queries();
    assert_eq!(ids.len(), 21, "{ids:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        21,
        "a row was sent twice: {:?}",
        target.queries()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_on_one_agent_fails_the_start_naming_it() {
    let target = Target::start().await;
    let (_dirs, agents) = agents([TOKEN, TOKEN, "another-token-6b2e0d9c41a8f573"]);
    let addrs = addrs(&agents);
    // The token from the coordinator's environment this time.
    let mut test = fleet_test(&target, &addrs, 6, 5);
    test.as_object_mut().unwrap().remove("agent_token");
    let env = vec![("LOAD_DENSITY_SOCKET_TOKEN".to_owned(), TOKEN.to_owned())];
    let (code, lines, _) = coordinate(json!([["LD_start_test", test]]), env).await;
    assert_ne!(code, 0);
    let line = &lines[0];
    assert!(
        line.starts_with("Error: ")
            && line.contains(&format!(
                "agent {}: refused the token (unauthorised)",
                addrs[2]
            )),
        "{line}"
    );
    assert!(
        !line.contains(&addrs[0]) && !line.contains(&addrs[1]),
        "{line}"
    );
    assert_eq!(target.total(), 0, "a refused start sent load");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_mid_test_is_reported_by_name_and_the_others_finish() {
    let target = Target::start().await;
    let (_dirs, mut agents) = agents([TOKEN; 3]);
    let addrs = addrs(&agents);
    let mut test = fleet_test(&target, &addrs, 3, 0);
    let test_map = test.as_object_mut().unwrap();
    test_map.remove("iterations");
    test_map.insert("test_time".into(), json!(4));
    test_map.insert("wait_time".into(), json!(0.05));
    let coordinator = tokio::spawn(coordinate(json!([["LD_start_test", test]]), Vec::new()));

    // Once the third agent runs its part, it is killed.
    let victim = client(&addrs[2], Some(TOKEN));
    let deadline = Instant::now() + DEADLINE;
    loop {
        let status = parse(&one(&victim, "LD_test_status", json!({})).await);
        if status["running"] == true && status["requests"].as_u64() > Some(0) {
            break;
        }
        assert!(Instant::now() < deadline, "the agent never ran: {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    agents[2].signal("KILL");
    let _ = agents[2].wait_exit(DEADLINE);

    let (code, lines, stderr) = tokio::time::timeout(DEADLINE, coordinator)
        .await
        .expect("the coordinator never hangs")
        .unwrap();
    assert_eq!(code, 0, "{lines:?}\n{stderr}");
    let result = parse(&lines[0]);
    let rows = result["fleet"]["agents"].as_array().unwrap();
    let state: BTreeMap<&str, &str> = rows
        .iter()
        .map(|r| (r["agent"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert_eq!(state[addrs[0].as_str()], "finished", "{rows:?}");
    assert_eq!(state[addrs[1].as_str()], "finished", "{rows:?}");
    assert_eq!(state[addrs[2].as_str()], "lost", "{rows:?}");
    assert_eq!(result["fleet"]["lost"], 1);
    let notes = result["notes"].to_string();
    assert!(
        notes.contains(&format!("agent {} lost", addrs[2])),
        "{notes}"
    );
    // The two that finished ran their whole time.
    for row in rows.iter().filter(|r| r["state"] == "finished") {
        assert!(row["elapsed_s"].as_f64().unwrap() >= 3.9, "{row}");
        assert!(row["requests"].as_u64().unwrap() > 0, "{row}");
    }
    // What the fleet counts is at most what the target received (the lost
    // agent's last requests were never reported).
    let counted = result["summary"]["totals"]["requests"].as_u64().unwrap();
    assert!(counted <= target.total(), "{counted} > {}", target.total());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_coordinator_answers_status_for_the_fleet_and_stops_every_agent() {
    let target = Target::start().await;
    let (_dirs, agents) = agents([TOKEN; 3]);
    let addrs = addrs(&agents);
    let dir = tempfile::tempdir().unwrap();
    let coordinator = serve_in(dir.path(), &["--framed"], &[]);
    let control = client(&coordinator.addr().to_string(), None);
    let mut test = fleet_test(&target, &addrs, 6, 0);
    let test_map = test.as_object_mut().unwrap();
    test_map.remove("iterations");
    test_map.insert("test_time".into(), json!(null));
    test_map.insert("wait_time".into(), json!(0.05));
    let running = {
        let control = control.clone();
        tokio::spawn(async move { one(&control, "LD_start_test", test).await })
    };

    // The coordinator's status is the fleet's: 6 users over 3 agents.
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        let status = parse(&one(&control, "LD_test_status", json!({})).await);
        if status["users"] == 6 && status["requests"].as_u64() > Some(0) {
            break status;
        }
        assert!(Instant::now() < deadline, "no fleet status: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status["running"], true);
    assert_eq!(status["fleet"]["agents"], 3);
    assert!(status["p50_ms"].as_f64().unwrap() > 0.0, "{status}");
    // A local test is refused meanwhile: one test at a time.
    let local = json!({
        "user_detail_dict": {"host": target.url()}, "user_count": 1, "test_time": 1,
        "tasks": [{"name": "home", "method": "get", "request_url": "/home"}],
    });
    let refused = one(&control, "LD_start_test", local).await;
    assert!(
        refused.contains("busy") || refused.contains("running"),
        "{refused}"
    );

    let steer = one(&control, "LD_set_users", json!({"user_count": 9})).await;
    assert!(
        steer.starts_with("Error: ") && steer.contains("fleet") && steer.contains("LD_stop_test"),
        "{steer}"
    );

    let stopped = parse(&one(&control, "LD_stop_test", json!({})).await);
    assert_eq!(stopped["stopped"], true);
    let result = tokio::time::timeout(DEADLINE, running)
        .await
        .expect("the fleet stops")
        .unwrap();
    let result = parse(&result);
    assert_eq!(result["stopped_early"], true);
    for row in result["fleet"]["agents"].as_array().unwrap() {
        assert_eq!(row["state"], "stopped", "{row}");
    }
    for agent in &addrs {
        let status = parse(&one(&client(agent, Some(TOKEN)), "LD_test_status", json!({})).await);
        assert_eq!(status["running"], false, "{agent}: {status}");
    }
    // LD_summary on the coordinator holds the fleet's test; each agent
    // stopped, so what the target received may include requests cut off.
    let summary = parse(&one(&control, "LD_summary", json!({})).await);
    assert_eq!(summary, result["summary"]);
    // The coordinator's status after the test is the fleet's final one.
    let after = parse(&one(&control, "LD_test_status", json!({})).await);
    assert_eq!(after["running"], false, "{after}");
    assert_eq!(after["fleet"]["agents"], 3, "{after}");
    assert_eq!(after["requests"], summary["totals"]["requests"], "{after}");
    assert!(summary["totals"]["requests"].as_u64().unwrap() <= target.total());

    // The JSON report and the run history keep it as one test, with the
    // per-agent rows in its parameters.
    let written = parse(
        &one(
            &control,
            "LD_generate_json_report",
            json!({"json_file_name": "fleet"}),
        )
        .await,
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(written[0].as_str().unwrap()).unwrap())
            .unwrap();
    let text = report.to_string();
    for agent in &addrs {
        assert!(
            text.contains(&format!("\"agent\":\"{agent}\"")),
            "{agent} not in the report"
        );
    }
    assert!(text.contains("\"runner_mode\":\"master\""), "{text:.400}");
    let id = one(
        &control,
        "LD_persist_records",
        json!({"database_path": "runs.db"}),
    )
    .await;
    let run = one(
        &control,
        "LD_fetch_run_records",
        json!({"database_path": "runs.db", "run_id": parse(&id)}),
    )
    .await;
    assert!(
        run.contains("start_skew_ms") && run.contains(&addrs[2]),
        "{run:.400}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_never_answers_fails_the_start_by_name_unless_degraded_is_allowed() {
    let target = Target::start().await;
    let (_dirs, agents) = agents([TOKEN; 3]);
    let mut addrs = addrs(&agents)[..2].to_vec();
    // A port nobody listens on.
    let gone_addr = format!("127.0.0.1:{}", closed_port());
    addrs.push(gone_addr.clone());
    let mut test = fleet_test(&target, &addrs, 4, 5);
    test["worker_startup_timeout"] = json!(1);
    let (code, lines, _) = coordinate(json!([["LD_start_test", test.clone()]]), Vec::new()).await;
    assert_ne!(code, 0);
    assert!(
        lines[0].starts_with("Error: ")
            && lines[0].contains("only 2 of 3 agents answered within 1s")
            && lines[0].contains(&format!("agent {gone_addr}: cannot connect")),
        "{}",
        lines[0]
    );
    assert_eq!(target.total(), 0);

    // LoadDensity's degraded startup: the two that answered run it all.
    test["worker_startup_policy"] = json!("degraded");
    let (code, lines, stderr) = coordinate(json!([["LD_start_test", test]]), Vec::new()).await;
    assert_eq!(code, 0, "{lines:?}\n{stderr}");
    let result = parse(&lines[0]);
    assert_eq!(result["fleet"]["agents"].as_array().unwrap().len(), 2);
    assert_eq!(result["summary"]["totals"]["requests"], 4 * 5);
    assert_eq!(target.total(), 4 * 5);
    assert!(result["notes"].to_string().contains("degraded"), "{result}");
}
