//! The coordinator's run of one test on a fleet: find the agents, split the
//! load, prepare every agent, start them all at one instant, follow them,
//! fetch and merge their figures.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::link::{ActionReply, Link, LinkError};
use super::live::FleetLive;
use super::merge::merge;
use super::options::{split_host_port, FleetOptions, OnLost, StartupPolicy, MAX_AGENTS};
use super::split;
use crate::engine::{dial, Changes, Finished, Network};
use crate::figures::{unix_ms, Figures, TestFigures};

/// How long an agent holds the prepared test before the start must come.
const PREPARE_EXPIRES_S: u64 = 120;
/// The least time between choosing the start instant and it.
const MIN_LEAD: Duration = Duration::from_millis(250);
/// The most.
const MAX_LEAD: Duration = Duration::from_secs(10);
/// How long preparing, stopping and fetching figures may take an agent at
/// least (a large CSV file, a large figures document).
const SLOW_CALL: Duration = Duration::from_secs(30);
/// How often unanswered agents are tried again while starting.
const RETRY: Duration = Duration::from_millis(500);

/// The test the fleet runs.
#[derive(Debug)]
pub struct FleetPlan {
    /// Where the agents are and how to reach them.
    pub options: FleetOptions,
    /// `LD_start_test`'s arguments for the agents (fleet keys, thresholds
    /// and `runner_mode` taken out); user counts and rates are the fleet's.
    pub test: Map<String, Value>,
    /// The fleet's users.
    pub users: u64,
    /// The fleet's spawn rate.
    pub spawn_rate: f64,
    /// The fleet's arrival rate.
    pub arrival_rate: Option<f64>,
    /// The test's length (for the status), `None` for "until stopped".
    pub test_time_s: Option<f64>,
}

/// What a fleet test ends with.
#[derive(Debug)]
pub struct Outcome {
    /// The fleet's figures and series as one test's.
    pub finished: Finished,
    /// The per-agent breakdown and the start (`fleet` in the result).
    pub fleet: Value,
    /// What the agents noted of the test (the first agent's notes) and
    /// what the coordinator noted.
    pub notes: Vec<String>,
    /// Set when the test failed because an agent was lost
    /// (`on_agent_lost: "fail"`).
    pub failure: Option<String>,
    /// The test's parameters as the first agent prepared it (its
    /// credentials masked by the agent), its own share of the load.
    pub parameters: Value,
}

/// How an agent's part ended.
#[derive(Clone, Debug)]
enum End {
    /// It ran to its end (or was stopped) and replied.
    Replied,
    /// It stopped answering, or answered with an error.
    Lost { reason: String, at_s: f64 },
}

/// One agent of the test.
struct Agent {
    /// Its address.
    addr: SocketAddr,
    /// The `agents` entry it was found by.
    via: String,
    link: Link,
    users: u64,
    spawn_rate: f64,
    arrival_rate: Option<f64>,
    end: Option<End>,
    /// `LD_start_prepared`'s result.
    reply: Option<Value>,
    /// Its figures: the last polled, then the final ones.
    figures: Option<TestFigures>,
    /// Its last `LD_test_status`.
    status: Option<Value>,
    last_answer: Instant,
    polling: bool,
    stop_sent: bool,
}

impl Agent {
    fn name(&self) -> String {
        self.addr.to_string()
    }

    fn running(&self) -> bool {
        self.end.is_none()
    }
}

fn parse(line: &str) -> Result<Value, String> {
    serde_json::from_str(line).map_err(|_| format!("not JSON: {line:.200}"))
}

/// The single reply of a one-action call.
fn only(replies: Vec<ActionReply>) -> ActionReply {
    replies
        .into_iter()
        .next()
        .unwrap_or_else(|| Err("no reply".into()))
}

/// An agent found: its address, the entry and the entry's host.
type Found = (SocketAddr, String, String);

/// Resolves every entry; an address the network's policy refuses fails the
/// test, a name that does not resolve (yet) is left for the next try.
async fn resolve(
    network: &Network,
    entries: &[String],
    pending: &mut BTreeMap<String, String>,
) -> Result<Vec<Found>, String> {
    let mut found: Vec<Found> = Vec::new();
    for entry in entries {
        let (host, port) = split_host_port(entry)?;
        match dial::addresses(network, host, port).await {
            Ok(addresses) => {
                pending.remove(entry);
                for addr in addresses {
                    if !found.iter().any(|(a, _, _)| *a == addr) {
                        found.push((addr, entry.clone(), host.to_owned()));
                    }
                }
            }
            Err(dial::DialError::Refused(refused)) => {
                return Err(format!("agents: {entry}: {refused}"))
            }
            Err(dial::DialError::Io(e)) => {
                pending.insert(entry.clone(), format!("{entry} does not resolve: {e}"));
            }
        }
        if found.len() > MAX_AGENTS {
            return Err(format!(
                "agents: the entries resolve to more than {MAX_AGENTS} addresses"
            ));
        }
    }
    Ok(found)
}

/// Finds the agents that answer, trying again until enough do or the
/// startup time is up; returns them (address order) and notes.
async fn discover(
    network: &Network,
    options: &FleetOptions,
    stop: &tokio_util::sync::CancellationToken,
) -> Result<(Vec<(SocketAddr, String, Link)>, Vec<String>), String> {
    let deadline = Instant::now() + options.startup_timeout;
    let mut ready: BTreeMap<SocketAddr, (String, Link)> = BTreeMap::new();
    loop {
        let mut pending = BTreeMap::new();
        let found =
            tokio::time::timeout_at(deadline, resolve(network, &options.agents, &mut pending))
                .await
                .unwrap_or_else(|_| Ok(Vec::new()))?;
        let mut waiting = pending;
        let total = found.len();
        let mut probes = JoinSet::new();
        for (addr, entry, host) in found {
            if ready.contains_key(&addr) {
                continue;
            }
            let link = Link::new(
                addr,
                &host,
                options.token.as_deref(),
                options.tls.as_ref(),
                options.lost_timeout.min(SLOW_CALL),
            )?;
            let within = options
                .lost_timeout
                .min(deadline.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(100));
            probes.spawn(async move {
                let reply = link.call(&json!([["LD_test_status", {}]]), within).await;
                (addr, entry, link, reply)
            });
        }
        while let Some(probe) = probes.join_next().await {
            let Ok((addr, entry, link, reply)) = probe else {
                continue;
            };
            let name = addr.to_string();
            match reply.map(only) {
                Ok(Ok(status)) => {
                    if parse(&status)?["running"] == json!(true) {
                        waiting.insert(name, format!("agent {addr}: busy running a test"));
                    } else {
                        waiting.remove(&name);
                        ready.insert(addr, (entry, link));
                    }
                }
                Ok(Err(error)) => return Err(format!("agent {addr}: {error}")),
                Err(LinkError::Refused(why)) => {
                    return Err(format!("agent {addr}: refused the token ({why})"))
                }
                Err(e) => {
                    waiting.insert(name, format!("agent {addr}: {e}"));
                }
            }
        }
        let enough = if options.expected > 0 {
            ready.len() >= options.expected
        } else {
            total > 0 && ready.len() >= total && waiting.is_empty()
        };
        if enough {
            break;
        }
        let short = || {
            let expected = if options.expected > 0 {
                options.expected
            } else {
                total.max(ready.len() + waiting.len())
            };
            let reasons: Vec<&str> = waiting.values().map(String::as_str).collect();
            format!(
                "only {} of {expected} agents answered within {}s (worker_startup_timeout): {}",
                ready.len(),
                options.startup_timeout.as_secs_f64(),
                if reasons.is_empty() {
                    "no more addresses".to_owned()
                } else {
                    reasons.join("; ")
                }
            )
        };
        if Instant::now() >= deadline {
            if options.startup_policy == StartupPolicy::Degraded && !ready.is_empty() {
                let note = format!("worker_startup_policy \"degraded\": {}", short());
                let agents = ready.into_iter().map(|(a, (e, l))| (a, e, l)).collect();
                return Ok((agents, vec![note]));
            }
            return Err(short());
        }
        tokio::select! {
            () = tokio::time::sleep(RETRY.min(deadline.saturating_duration_since(Instant::now()))) => {}
            () = stop.cancelled() => return Err("stopped before the agents started".into()),
        }
    }
    Ok((
        ready.into_iter().map(|(a, (e, l))| (a, e, l)).collect(),
        Vec::new(),
    ))
}

/// `csv_sources` for the agent running users `from` to `to - 1` of the
/// fleet's `of`: each source not cycling gets that agent's share of the
/// rows (`share`: row `r` is user `r % of`'s), so no two agents send the
/// same row and each has rows in proportion to its users.
fn shared_sources(sources: &Value, from: u64, to: u64, of: u64) -> Value {
    let Value::Array(list) = sources else {
        return sources.clone();
    };
    Value::Array(
        list.iter()
            .map(|source| match source {
                Value::Object(map) if map.get("cycle") == Some(&json!(false)) => {
                    let mut map = map.clone();
                    map.insert("share".into(), json!({"from": from, "to": to, "of": of}));
                    Value::Object(map)
                }
                other => other.clone(),
            })
            .collect(),
    )
}

/// The fleet's merged status from the agents' last ones.
fn fleet_status(agents: &[Agent], elapsed_s: f64, test_time_s: Option<f64>) -> Value {
    let sum = |key: &str| -> u64 {
        agents
            .iter()
            .filter(|a| a.running())
            .filter_map(|a| a.status.as_ref()?.get(key)?.as_u64())
            .sum()
    };
    let rate = |key: &str| -> f64 {
        agents
            .iter()
            .filter(|a| a.running())
            .filter_map(|a| a.status.as_ref()?.get(key)?.as_f64())
            .sum()
    };
    // The requests so far, each agent's histograms added (exact).
    let mut figures = Figures::default();
    for polled in agents.iter().filter_map(|a| a.figures.as_ref()) {
        figures.merge(&polled.figures);
    }
    let summary = figures.summary();
    let arrival = agents
        .iter()
        .any(|a| a.arrival_rate.is_some())
        .then(|| rate("arrival_rate"));
    let lost: Vec<Value> = agents
        .iter()
        .filter_map(|a| match &a.end {
            Some(End::Lost { reason, at_s }) => {
                Some(json!({"agent": a.name(), "reason": reason, "at_s": at_s}))
            }
            _ => None,
        })
        .collect();
    json!({
        "running": agents.iter().any(Agent::running),
        "users": sum("users"),
        "target_users": sum("target_users"),
        "spawn_rate": rate("spawn_rate"),
        "arrival_rate": arrival,
        "load_shape": null,
        "elapsed_s": elapsed_s,
        "test_time_s": test_time_s,
        "requests": summary.totals.requests,
        "failures": summary.totals.failures,
        "current_rps": sum("current_rps"),
        "p50_ms": summary.latency_overall.p50_ms,
        "p95_ms": summary.latency_overall.p95_ms,
        "p99_ms": summary.latency_overall.p99_ms,
        "fleet": {
            "agents": agents.len(),
            "running": agents.iter().filter(|a| a.running()).count(),
            "lost": lost,
        },
    })
}

/// What one call to an agent brings back to the run loop.
enum Event {
    /// `LD_start_prepared` replied (the agent's test ended) or failed.
    Started(usize, Result<Vec<ActionReply>, LinkError>),
    /// A status poll answered (status, figures so far) or failed.
    Polled(usize, Result<(Value, TestFigures), String>),
}

/// Runs `plan` on the fleet; `live` is the coordinator's fleet slot.
pub async fn run(
    network: &Network,
    plan: FleetPlan,
    live: &Arc<FleetLive>,
) -> Result<Outcome, String> {
    let FleetPlan {
        options,
        test,
        users,
        spawn_rate,
        arrival_rate,
        test_time_s,
    } = plan;
    let stop = live.stopping().clone();
    let (found, mut notes) = discover(network, &options, &stop).await?;
    // The load split: whole users; an agent left with none is not used.
    let parts = split::users(users, found.len());
    let idle = parts.iter().filter(|u| **u == 0).count();
    if idle > 0 {
        notes.push(format!(
            "{idle} of {} agents not used: user_count {users} gives them no user",
            found.len()
        ));
    }
    let used: Vec<((SocketAddr, String, Link), u64)> = found
        .into_iter()
        .zip(parts)
        .filter(|(_, users)| *users > 0)
        .collect();
    let counts: Vec<u64> = used.iter().map(|(_, u)| *u).collect();
    let spawn_rates = split::rate("spawn_rate", spawn_rate, &counts).map_err(|e| e.to_string())?;
    let arrival_rates = match arrival_rate {
        None => None,
        Some(rate) => Some(split::rate("arrival_rate", rate, &counts).map_err(|e| e.to_string())?),
    };
    let now = Instant::now();
    let mut agents: Vec<Agent> = used
        .into_iter()
        .enumerate()
        .map(|(i, ((addr, via, link), users))| Agent {
            addr,
            via,
            link,
            users,
            spawn_rate: spawn_rates[i],
            arrival_rate: arrival_rates.as_ref().map(|r| r[i]),
            end: None,
            reply: None,
            figures: None,
            status: None,
            last_answer: now,
            polling: false,
            stop_sent: false,
        })
        .collect();
    let test_id = format!(
        "fleet-{}-{:08x}",
        unix_ms(SystemTime::now()),
        fastrand::u32(..)
    );

    // Prepare every agent; one refusal fails the start, naming it.
    let mut prepares = JoinSet::new();
    let mut first_user = 0;
    for (i, agent) in agents.iter().enumerate() {
        let (from, to) = (first_user, first_user + agent.users);
        first_user = to;
        let mut args = test.clone();
        args.insert("user_count".into(), json!(agent.users));
        args.insert("spawn_rate".into(), json!(agent.spawn_rate));
        if let Some(rate) = agent.arrival_rate {
            args.insert("arrival_rate".into(), json!(rate));
        }
        if let Some(sources) = test.get("csv_sources") {
            args.insert(
                "csv_sources".into(),
                shared_sources(sources, from, to, users),
            );
        }
        args.insert("test_id".into(), json!(test_id));
        args.insert("expires_s".into(), json!(PREPARE_EXPIRES_S));
        let link = agent.link.clone();
        let within = options.lost_timeout.max(SLOW_CALL);
        prepares.spawn(async move {
            let reply = link
                .call(&json!([["LD_prepare_test", Value::Object(args)]]), within)
                .await;
            (i, reply)
        });
    }
    let mut agent_notes: Option<Vec<String>> = None;
    let mut parameters = Value::Null;
    let mut refusals = Vec::new();
    while let Some(joined) = prepares.join_next().await {
        let Ok((i, reply)) = joined else { continue };
        let name = agents[i].name();
        match reply.map(only) {
            Ok(Ok(line)) => {
                let reply = parse(&line)?;
                if i == 0 {
                    parameters = reply.clone();
                }
                if agent_notes.is_none() {
                    agent_notes = Some(
                        reply["notes"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|n| n.as_str().map(str::to_owned))
                            .collect(),
                    );
                }
            }
            Ok(Err(error)) => refusals.push((i, format!("agent {name}: {error}"))),
            Err(LinkError::Refused(why)) => {
                refusals.push((i, format!("agent {name}: refused the token ({why})")))
            }
            Err(e) => refusals.push((i, format!("agent {name}: {e}"))),
        }
    }
    if !refusals.is_empty() {
        refusals.sort();
        let reasons: Vec<String> = refusals.into_iter().map(|(_, r)| r).collect();
        return Err(format!("not started: {}", reasons.join("; ")));
    }
    notes.splice(0..0, agent_notes.unwrap_or_default());

    // Connections first, then one instant for all, far enough ahead for
    // the slowest connection's write to arrive.
    let opened_at = Instant::now();
    let mut opens = JoinSet::new();
    for (i, agent) in agents.iter().enumerate() {
        let link = agent.link.clone();
        opens.spawn(async move { (i, link.open().await) });
    }
    let mut sessions: Vec<Option<crate::client::Session>> = agents.iter().map(|_| None).collect();
    let mut failed = Vec::new();
    while let Some(joined) = opens.join_next().await {
        let Ok((i, session)) = joined else { continue };
        match session {
            Ok(session) => sessions[i] = Some(session),
            Err(e) => failed.push(format!("agent {}: {e}", agents[i].name())),
        }
    }
    if !failed.is_empty() {
        failed.sort();
        return Err(format!("not started: {}", failed.join("; ")));
    }
    let lead = (opened_at.elapsed() * 2).clamp(MIN_LEAD, MAX_LEAD);
    let start_wall = SystemTime::now() + lead;
    let start_at = unix_ms(start_wall);
    let start_instant = Instant::now() + lead;
    let (events, mut inbox) = mpsc::unbounded_channel::<Event>();
    let mut starts = JoinSet::new();
    for (i, session) in sessions.into_iter().enumerate() {
        let Some(mut session) = session else { continue };
        let link = agents[i].link.clone();
        let events = events.clone();
        let actions =
            json!([["LD_start_prepared", {"test_id": test_id, "start_at_unix_ms": start_at}]]);
        starts.spawn(async move {
            let reply = link.send_on(&mut session, &actions).await;
            let _ = events.send(Event::Started(i, reply));
        });
    }
    tracing::info!(
        target: "ld_tower::fleet",
        "test {test_id}: {} agents start at {start_at} (in {} ms)",
        agents.len(),
        lead.as_millis()
    );

    // Follow the agents until each has replied or is lost.
    let mut failure: Option<String> = None;
    let mut stopping = false;
    let mut ticks = tokio::time::interval_at(start_instant, options.heartbeat);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for agent in &mut agents {
        agent.last_answer = start_instant;
    }
    while agents.iter().any(Agent::running) {
        tokio::select! {
            Some(event) = inbox.recv() => match event {
                Event::Started(i, reply) => {
                    let agent = &mut agents[i];
                    agent.last_answer = Instant::now();
                    let at_s = start_instant.elapsed().as_secs_f64();
                    match reply.map(only) {
                        Ok(Ok(line)) => match parse(&line) {
                            Ok(result) => {
                                agent.reply = Some(result);
                                agent.end = Some(End::Replied);
                            }
                            Err(reason) => agent.end = Some(End::Lost { reason, at_s }),
                        },
                        Ok(Err(error)) => agent.end = Some(End::Lost { reason: error, at_s }),
                        Err(e) => agent.end = Some(End::Lost { reason: e.to_string(), at_s }),
                    }
                }
                Event::Polled(i, polled) => {
                    let agent = &mut agents[i];
                    agent.polling = false;
                    if let (Ok((status, figures)), true) = (polled, agent.running()) {
                        agent.last_answer = Instant::now();
                        agent.status = Some(status);
                        agent.figures = Some(figures);
                    }
                }
            },
            _ = ticks.tick() => {
                // The merged status, once per tick (not per reply: it adds
                // every agent's histograms).
                live.set_status(fleet_status(
                    &agents,
                    start_instant.elapsed().as_secs_f64(),
                    test_time_s,
                ));
                for (i, agent) in agents.iter_mut().enumerate() {
                    if !agent.running() || agent.polling {
                        continue;
                    }
                    agent.polling = true;
                    let link = agent.link.clone();
                    let events = events.clone();
                    let within = options.lost_timeout;
                    let actions = json!([
                        ["LD_test_status", {}],
                        ["LD_fetch_figures", {"test_id": test_id, "series": false}],
                    ]);
                    tokio::spawn(async move {
                        let polled = match link.call(&actions, within).await {
                            Ok(replies) => match <[ActionReply; 2]>::try_from(replies) {
                                Ok([Ok(status), Ok(figures)]) => parse(&status).and_then(|status| {
                                    TestFigures::from_json(&figures)
                                        .map(|f| (status, f))
                                        .map_err(|e| e.to_string())
                                }),
                                Ok([status, figures]) => Err(status.err().or(figures.err()).unwrap_or_default()),
                                Err(_) => Err("bad reply".into()),
                            },
                            Err(e) => Err(e.to_string()),
                        };
                        let _ = events.send(Event::Polled(i, polled));
                    });
                }
            }
            () = stop.cancelled(), if !stopping => {
                stopping = true;
            }
        }
        // An agent silent past the limit is lost.
        let at_s = start_instant.elapsed().as_secs_f64();
        for agent in agents.iter_mut().filter(|a| a.running()) {
            let silent = agent.last_answer.elapsed();
            if silent > options.lost_timeout {
                agent.end = Some(End::Lost {
                    reason: format!(
                        "no answer for {:.1}s (worker_lost_timeout)",
                        silent.as_secs_f64()
                    ),
                    at_s,
                });
            }
        }
        let lost: Vec<String> = agents
            .iter()
            .filter_map(|a| match &a.end {
                Some(End::Lost { reason, .. }) => {
                    Some(format!("agent {} lost: {reason}", a.name()))
                }
                _ => None,
            })
            .collect();
        if !lost.is_empty() && options.on_lost == OnLost::Fail && failure.is_none() {
            failure = Some(format!("{} (on_agent_lost \"fail\")", lost.join("; ")));
            stopping = true;
        }
        if stopping {
            for agent in agents.iter_mut().filter(|a| a.running() && !a.stop_sent) {
                agent.stop_sent = true;
                let link = agent.link.clone();
                let within = options.lost_timeout.min(SLOW_CALL);
                tokio::spawn(async move {
                    let _ = link.call(&json!([["LD_stop_test", {}]]), within).await;
                });
            }
        }
    }
    // A lost agent's call is given up on.
    starts.abort_all();

    // The final figures of every agent that replied.
    let mut fetches = JoinSet::new();
    for (i, agent) in agents.iter().enumerate() {
        if matches!(agent.end, Some(End::Replied)) {
            let link = agent.link.clone();
            let actions = json!([["LD_fetch_figures", {"test_id": test_id}]]);
            let within = options.lost_timeout.max(SLOW_CALL);
            fetches.spawn(async move { (i, link.call(&actions, within).await) });
        }
    }
    while let Some(joined) = fetches.join_next().await {
        let Ok((i, reply)) = joined else { continue };
        let agent = &mut agents[i];
        let at_s = start_instant.elapsed().as_secs_f64();
        let fetched = match reply.map(only) {
            Ok(Ok(text)) => TestFigures::from_json(&text).map_err(|e| e.to_string()),
            Ok(Err(error)) => Err(error),
            Err(e) => Err(e.to_string()),
        };
        match fetched {
            Ok(figures) => agent.figures = Some(figures),
            Err(reason) => {
                agent.end = Some(End::Lost {
                    reason: format!("its figures could not be fetched: {reason}"),
                    at_s,
                })
            }
        }
    }
    // The final status: every agent's final figures (or last polled).
    live.set_status(fleet_status(
        &agents,
        start_instant.elapsed().as_secs_f64(),
        test_time_s,
    ));
    let start = Start {
        test_id: &test_id,
        at_unix_ms: start_at,
        wall: start_wall,
    };
    Ok(conclude(
        agents, &start, stopping, notes, failure, parameters,
    ))
}

/// The instant the agents were asked to start at, and the test's name.
struct Start<'a> {
    test_id: &'a str,
    at_unix_ms: u64,
    wall: SystemTime,
}

/// The fleet's test from the agents' parts.
fn conclude(
    agents: Vec<Agent>,
    start: &Start<'_>,
    stopped: bool,
    mut notes: Vec<String>,
    failure: Option<String>,
    parameters: Value,
) -> Outcome {
    let documents: Vec<&TestFigures> = agents.iter().filter_map(|a| a.figures.as_ref()).collect();
    let (figures, series, started_at) = merge(&documents);
    let reply_u64 = |a: &Agent, key: &str| a.reply.as_ref().and_then(|r| r[key].as_u64());
    let started: Vec<u64> = agents
        .iter()
        .filter_map(|a| reply_u64(a, "started_at_unix_ms"))
        .collect();
    let skew_ms = match (started.iter().min(), started.iter().max()) {
        (Some(min), Some(max)) => Some(max - min),
        _ => None,
    };
    let mut rows = Vec::new();
    for agent in &agents {
        let summary = agent
            .figures
            .as_ref()
            .map_or_else(|| Figures::default().summary(), |f| f.figures.summary());
        let mut row = json!({
            "agent": agent.name(),
            "via": agent.via,
            "users": agent.users,
            "spawn_rate": agent.spawn_rate,
            "arrival_rate": agent.arrival_rate,
            "state": match &agent.end {
                Some(End::Lost { .. }) => "lost",
                _ if agent.reply.as_ref().is_some_and(|r| r["stopped_early"] == json!(true)) => "stopped",
                _ => "finished",
            },
            "started_at_unix_ms": reply_u64(agent, "started_at_unix_ms"),
            "late_ms": reply_u64(agent, "late_ms"),
            "elapsed_s": agent.reply.as_ref().and_then(|r| r["elapsed_s"].as_f64()),
            "users_started": reply_u64(agent, "users_started"),
            "requests": summary.totals.requests,
            "failures": summary.totals.failures,
            "p50_ms": summary.latency_overall.p50_ms,
            "p95_ms": summary.latency_overall.p95_ms,
            "p99_ms": summary.latency_overall.p99_ms,
        });
        if let (Some(End::Lost { reason, at_s }), Value::Object(map)) = (&agent.end, &mut row) {
            map.insert("lost_reason".into(), json!(reason));
            map.insert("lost_at_s".into(), json!(at_s));
            map.insert(
                "figures".into(),
                json!(if agent.figures.is_some() {
                    "as of its last answer"
                } else {
                    "none"
                }),
            );
            notes.push(format!(
                "agent {} lost at {at_s:.1}s: {reason}",
                agent.name()
            ));
        }
        rows.push(row);
    }
    let elapsed = agents
        .iter()
        .filter_map(|a| a.figures.as_ref().map(|f| f.elapsed))
        .max()
        .unwrap_or_default();
    let finished = Finished {
        id: 0,
        figures,
        abandoned: agents
            .iter()
            .filter_map(|a| reply_u64(a, "abandoned"))
            .sum(),
        series,
        elapsed,
        started_at: started_at.unwrap_or(start.wall),
        users_started: agents
            .iter()
            .filter_map(|a| a.figures.as_ref())
            .map(|f| usize::try_from(f.users_started).unwrap_or(usize::MAX))
            .sum(),
        stopped_early: stopped
            || agents.iter().any(|a| {
                a.reply
                    .as_ref()
                    .is_some_and(|r| r["stopped_early"] == json!(true))
            }),
        changes: Changes::default(),
    };
    let fleet = json!({
        "test_id": start.test_id,
        "start_at_unix_ms": start.at_unix_ms,
        "start_skew_ms": skew_ms,
        "agents": rows,
        "lost": agents.iter().filter(|a| matches!(a.end, Some(End::Lost { .. }))).count(),
    });
    Outcome {
        finished,
        fleet,
        notes,
        failure,
        parameters,
    }
}
