//! Parts 2 and 3: real agents (`ld-tower serve --framed --token-file`,
//! the release binary), driven as a coordinator drives them with
//! `ld_tower::client`: a short test on each and `LD_fetch_figures`'s reply
//! bytes; then fleet tests through a real coordinator (`LD_start_test`
//! with `runner_mode: "master"`), whose result's per-agent
//! `started_at_unix_ms` give the start skew ([`Skew::of`]).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use ld_tower::client::{Client, ClientConfig};
use ld_tower::codec::Framing;
use ld_tower::figures::TestFigures;
use serde_json::{json, Value};

use crate::child::Child;
use crate::cpu::{spread, CpuClock};
use crate::merge::decode_and_merge;
use crate::tokens::principals_file;
use crate::{spawn, Result, LD_TOWER, START_TIMEOUT};

/// The coordinator's token (scopes read and run).
const TOKEN: &str = "fleet-bench-7d41c09e2b8f5a36-token";
/// How long one action may take.
const ACTION_TIMEOUT: Duration = Duration::from_secs(120);
/// The skew goal, ms.
pub(crate) const SKEW_GOAL_MS: u64 = 5;

/// One running agent.
pub(crate) struct Agent {
    /// Kept so the process is stopped when the agent drops.
    _proc: Child,
    client: Client,
}

/// Starts `count` agents, each in its own directory under `dir`, all
/// sharing one token file; waits for each one's `Server started on` line.
pub(crate) fn start_agents(count: usize, dir: &Path) -> Result<Vec<Agent>> {
    let tokens = principals_file(dir, &[("coordinator", TOKEN, &["read", "run"])]);
    let mut procs = Vec::new();
    for i in 0..count {
        let work = dir.join(format!("agent-{i}"));
        std::fs::create_dir_all(&work)?;
        let mut command = std::process::Command::new(LD_TOWER);
        command
            .current_dir(&work)
            .args(["serve", "--framed", "--host", "127.0.0.1", "--port", "0"])
            .args(["--token-file", &tokens])
            .env_remove("LOAD_DENSITY_SOCKET_TOKEN")
            .env("LD_TOWER_LOG", "warn");
        procs.push(spawn(&format!("agent {i}"), &mut command)?);
    }
    let mut agents = Vec::new();
    for mut proc in procs {
        let port = proc.announced_port(START_TIMEOUT)?;
        let config = ClientConfig {
            framing: Framing::Framed,
            token: Some(TOKEN.to_owned()),
            timeout: ACTION_TIMEOUT,
            ..ClientConfig::default()
        };
        let client = Client::new(format!("127.0.0.1:{port}"), config);
        agents.push(Agent {
            _proc: proc,
            client,
        });
    }
    Ok(agents)
}

/// One action on a connection of its own; its one result line, or the
/// agent's error.
async fn action(agent: &Agent, name: &str, args: Value) -> Result<String> {
    let request = json!([[name, args]]).to_string();
    let reply = agent
        .client
        .send(&request)
        .await
        .map_err(|e| format!("{name} to {}: {e}", agent.client.addr()))?;
    match &reply.lines[..] {
        [line] if !line.starts_with("Error") => Ok(line.clone()),
        lines => Err(format!("{name} to {}: {lines:?}", agent.client.addr()).into()),
    }
}

fn json_of(line: &str) -> Result<Value> {
    Ok(serde_json::from_str(line).map_err(|e| format!("not JSON ({e}): {line}"))?)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A test of `users` users over three names (an iteration runs each once): for `seconds` seconds
/// (each user waiting 1 ms between requests), else `iterations` each.
fn test_of(target: &str, users: u64, seconds: Option<u64>, iterations: u64) -> Value {
    let mut test = json!({
        "user_detail_dict": {"host": target},
        "user_count": users, "spawn_rate": 1000, "wait_time": 0, "test_time": 60,
        "tasks": [
            {"name": "home", "method": "get", "request_url": "/"},
            {"name": "search", "method": "get", "request_url": "/search?q=x"},
            {"name": "item", "method": "get", "request_url": "/item/42"},
        ],
    });
    match seconds {
        Some(seconds) => {
            test["test_time"] = json!(seconds);
            test["wait_time"] = json!(0.001);
        }
        None => test["iterations"] = json!(iterations),
    }
    test
}

/// Part 2's figures.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) agents: usize,
    pub(crate) requests_per_agent: u64,
    pub(crate) seconds: u64,
    pub(crate) names: usize,
    pub(crate) series_points: usize,
    pub(crate) bytes: Vec<usize>,
    pub(crate) fetch_wall_ms: Vec<f64>,
    pub(crate) merge_cpu_ms: f64,
    pub(crate) merged_requests: u64,
}

/// Runs a `seconds` test of 10 users on every agent at once, then fetches
/// each one's figures and merges them; the merged count must be what the
/// agents' `LD_start_test` replies counted.
pub(crate) async fn fetch(agents: &[Agent], target: &str, seconds: u64) -> Result<Fetched> {
    let test = test_of(target, 10, Some(seconds), 0);
    let runs = join_all(
        agents
            .iter()
            .map(|agent| action(agent, "LD_start_test", test.clone())),
    )
    .await;
    let mut counted = Vec::new();
    for run in runs {
        let reply = json_of(&run?)?;
        let requests = reply["summary"]["totals"]["requests"]
            .as_u64()
            .ok_or_else(|| format!("no summary.totals.requests in {reply}"))?;
        counted.push(requests);
    }
    let mut documents = Vec::new();
    let mut fetch_wall_ms = Vec::new();
    for agent in agents {
        let clock = CpuClock::start();
        let line = action(agent, "LD_fetch_figures", json!({})).await?;
        fetch_wall_ms.push(clock.wall_ms());
        documents.push(line);
    }
    let first = TestFigures::from_json(documents.first().map_or("", String::as_str))
        .map_err(|e| format!("agent 0's figures document: {e}"))?;
    let clock = CpuClock::start();
    let merged = decode_and_merge(&documents)?;
    let merge_cpu_ms = clock.cpu_ms();
    let merged_requests = merged.summary().totals.requests;
    let expected: u64 = counted.iter().sum();
    if merged_requests != expected {
        return Err(
            format!("the merged figures hold {merged_requests} requests, not {expected}").into(),
        );
    }
    Ok(Fetched {
        agents: agents.len(),
        requests_per_agent: expected / agents.len().max(1) as u64,
        seconds,
        names: first.figures.per_name().len(),
        series_points: first.series.points().len(),
        bytes: documents.iter().map(String::len).collect(),
        fetch_wall_ms,
        merge_cpu_ms,
        merged_requests,
    })
}

/// Prints part 2.
pub(crate) fn print_fetched(f: &Fetched) {
    let [lo, med, hi] = spread(&f.bytes.iter().map(|b| *b as f64).collect::<Vec<_>>());
    let [_, wall, wall_max] = spread(&f.fetch_wall_ms);
    println!(
        "  {} agents, each ran a {} s test of 10 users: {} requests on average over {} names, {} series points",
        f.agents, f.seconds, f.requests_per_agent, f.names, f.series_points
    );
    println!(
        "  LD_fetch_figures reply (the document line, framing excluded): {med:.0} bytes per agent \
         (min {lo:.0}, max {hi:.0}), {:.0} bytes per name",
        med / f.names.max(1) as f64
    );
    println!(
        "  fetch wall time per agent: median {wall:.1} ms, max {wall_max:.1} ms; decoding + merging all {}: \
         {:.2} ms CPU; merged requests {} (= every agent's)",
        f.agents, f.merge_cpu_ms, f.merged_requests
    );
}

/// One round's start: how far apart the agents started, and how late the
/// last one started after the instant asked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Skew {
    /// max - min of the agents' `started_at_unix_ms`.
    pub(crate) skew_ms: u64,
    /// max `started_at_unix_ms` - `start_at_unix_ms` (negative: early).
    pub(crate) late_ms: i64,
}

impl Skew {
    /// The skew of agents that were asked to start at `start_at` and
    /// started at `started` (ms since the epoch each); `None` without any.
    pub(crate) fn of(start_at: u64, started: &[u64]) -> Option<Skew> {
        let (min, max) = (started.iter().min()?, started.iter().max()?);
        let late = i128::from(*max) - i128::from(start_at);
        Some(Skew {
            skew_ms: max - min,
            late_ms: i64::try_from(late).unwrap_or(i64::MAX),
        })
    }
}

/// `rounds` rounds of a fleet test on `agents`, each through the real
/// coordinator: `LD_start_test` with `runner_mode: "master"` sent to
/// `coordinator` (an `ld-tower serve` like the agents), one user per agent
/// making a few requests. From its result: each agent's
/// `started_at_unix_ms` against the fleet's `start_at_unix_ms` (the skew),
/// and the time from sending the action to the last agent running.
pub(crate) async fn skew_rounds(
    coordinator: &Agent,
    agents: &[Agent],
    target: &str,
    rounds: u32,
) -> Result<Vec<(Skew, u64)>> {
    let addrs: Vec<&str> = agents.iter().map(|a| a.client.addr()).collect();
    let mut skews = Vec::new();
    for _ in 0..rounds {
        let mut test = test_of(target, agents.len() as u64, None, 5);
        test["runner_mode"] = json!("master");
        test["agents"] = json!(addrs);
        test["agent_token"] = json!(TOKEN);
        let sent = now_ms();
        let result = json_of(&action(coordinator, "LD_start_test", test).await?)?;
        let fleet = &result["fleet"];
        let start_at = fleet["start_at_unix_ms"]
            .as_u64()
            .ok_or_else(|| format!("no fleet.start_at_unix_ms in {result}"))?;
        let started: Vec<u64> = fleet["agents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|row| row["started_at_unix_ms"].as_u64())
            .collect();
        if started.len() != agents.len() {
            return Err(format!(
                "{} of {} agents started: {result}",
                started.len(),
                agents.len()
            )
            .into());
        }
        let running = started
            .iter()
            .max()
            .map_or(0, |last| last.saturating_sub(sent));
        skews.extend(Skew::of(start_at, &started).map(|skew| (skew, running)));
    }
    Ok(skews)
}

/// Prints part 3's line for `k` agents.
pub(crate) fn print_skews(k: usize, skews: &[(Skew, u64)]) {
    let skew: Vec<f64> = skews.iter().map(|(s, _)| s.skew_ms as f64).collect();
    let late: Vec<f64> = skews.iter().map(|(s, _)| s.late_ms as f64).collect();
    let running: Vec<f64> = skews.iter().map(|(_, r)| *r as f64).collect();
    let [_, r_med, r_hi] = spread(&running);
    let [s_lo, s_med, s_hi] = spread(&skew);
    let [l_lo, l_med, l_hi] = spread(&late);
    let verdict = if s_hi < SKEW_GOAL_MS as f64 {
        "PASS".to_owned()
    } else {
        format!("over (worst round {s_hi:.0} ms)")
    };
    println!(
        "  {k:>3}  {:>6}  {:>22}  {:>22}  {:>18}  goal < {SKEW_GOAL_MS} ms: {verdict}",
        skews.len(),
        format!("{s_lo:.0} / {s_med:.0} / {s_hi:.0}"),
        format!("{l_lo:.0} / {l_med:.0} / {l_hi:.0}"),
        format!("{r_med:.0} / {r_hi:.0}"),
    );
}
