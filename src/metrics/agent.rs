//! [`AgentCounters`]: what `serve --metrics` shows of the agent itself:
//! control connections (open, accepted, refused), commands by action and
//! outcome and their duration, failed authentications; and
//! [`AgentMetrics`], a scrape's reading of them with the running test's
//! users and rate.
//!
//! Connections and durations are atomics. Commands by action are counted
//! under a short lock on the command path (never the engine's): action
//! names are those of the registry, any other is counted as `(unknown)`,
//! so the series are bounded.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::escape_label_value;
use crate::auth::SecurityFigures;
use crate::engine::Status;

/// The name under which an action not in the registry is counted.
pub const UNKNOWN_ACTION: &str = "(unknown)";

/// The command-duration buckets' upper bounds, in seconds.
const DURATION_BOUNDS_S: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// How an action of a command ended, as the audit trail says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CommandOutcome {
    /// It succeeded.
    Ok,
    /// It failed.
    Error,
    /// The principal lacks its scope.
    Forbidden,
}

impl CommandOutcome {
    fn as_str(self) -> &'static str {
        match self {
            CommandOutcome::Ok => "ok",
            CommandOutcome::Error => "error",
            CommandOutcome::Forbidden => "forbidden",
        }
    }
}

/// The agent's own counters, shared by the server and the command service.
#[derive(Debug, Default)]
pub struct AgentCounters {
    /// Control connections open now.
    open: AtomicU64,
    /// Control connections accepted since start.
    accepted: AtomicU64,
    /// Connections refused at the connection cap.
    refused_at_limit: AtomicU64,
    /// Actions run, by (action, outcome).
    commands: Mutex<BTreeMap<(String, CommandOutcome), u64>>,
    /// Commands by duration: one count per bound, then past the last.
    durations: [AtomicU64; DURATION_BOUNDS_S.len() + 1],
    /// The commands' durations added up, in nanoseconds.
    duration_ns: AtomicU64,
}

/// A connection counted open until dropped.
#[derive(Debug)]
pub struct OpenConnection(Arc<AgentCounters>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AgentCounters {
    /// Counts an accepted connection, open until the guard is dropped.
    pub fn accepted(self: &Arc<Self>) -> OpenConnection {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(Arc::clone(self))
    }

    /// Counts a connection refused at the connection cap.
    pub fn refused_at_limit(&self) {
        self.refused_at_limit.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one action of a command (`action` as the registry names it,
    /// or [`UNKNOWN_ACTION`]).
    pub fn action(&self, action: &str, outcome: CommandOutcome) {
        let mut commands = self.commands.lock().unwrap_or_else(PoisonError::into_inner);
        match commands.get_mut(&(action.to_owned(), outcome)) {
            Some(n) => *n += 1,
            None => {
                commands.insert((action.to_owned(), outcome), 1);
            }
        }
    }

    /// Counts a command that took `took`.
    pub fn command_took(&self, took: Duration) {
        let s = took.as_secs_f64();
        let bucket = DURATION_BOUNDS_S.partition_point(|bound| *bound < s);
        self.durations[bucket].fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.duration_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Control connections open now.
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }
}

/// A scrape's reading of the agent.
#[derive(Debug)]
pub struct AgentMetrics {
    open: u64,
    accepted: u64,
    refused_at_limit: u64,
    commands: BTreeMap<(String, CommandOutcome), u64>,
    durations: Vec<(f64, u64)>,
    duration_s: f64,
    security: SecurityFigures,
    status: Option<Status>,
}

impl AgentMetrics {
    /// Reads `counters`, `security` and the engine's `status` now.
    pub fn read(
        counters: &AgentCounters,
        security: SecurityFigures,
        status: Option<Status>,
    ) -> Self {
        let durations = DURATION_BOUNDS_S
            .iter()
            .copied()
            .chain(std::iter::once(f64::MAX))
            .zip(counters.durations.iter().map(|n| n.load(Ordering::Relaxed)))
            .collect();
        AgentMetrics {
            open: counters.open.load(Ordering::Relaxed),
            accepted: counters.accepted.load(Ordering::Relaxed),
            refused_at_limit: counters.refused_at_limit.load(Ordering::Relaxed),
            commands: counters
                .commands
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            durations,
            duration_s: counters.duration_ns.load(Ordering::Relaxed) as f64 / 1e9,
            security,
            status,
        }
    }
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(metric)
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(value).encode(metric)
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Collector for AgentMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        gauge(
            &mut encoder,
            "ld_tower_connections_open",
            "Control connections open now",
            signed(self.open),
        )?;
        counter(
            &mut encoder,
            "ld_tower_connections",
            "Control connections accepted",
            self.accepted,
        )?;
        {
            let mut metric = encoder.encode_descriptor(
                "ld_tower_connections_refused",
                "Control connections refused or closed by the agent, by reason",
                None,
                MetricType::Counter,
            )?;
            for (reason, n) in [
                ("limit", self.refused_at_limit),
                ("certificate", self.security.certificates_refused),
                ("attempts", self.security.connections_closed_for_attempts),
            ] {
                ConstCounter::new(n).encode(metric.encode_family(&[("reason", reason)])?)?;
            }
        }
        {
            let mut metric = encoder.encode_descriptor(
                "ld_tower_commands",
                "Actions run by the control socket, by action and outcome",
                None,
                MetricType::Counter,
            )?;
            for ((action, outcome), n) in &self.commands {
                let action = escape_label_value(action);
                let labels = [("action", action.as_ref()), ("outcome", outcome.as_str())];
                ConstCounter::new(*n).encode(metric.encode_family(&labels)?)?;
            }
        }
        counter(
            &mut encoder,
            "ld_tower_auth_failures",
            "Requests refused for a missing, wrong or malformed token",
            self.security.auth_failures,
        )?;
        {
            let count = self.durations.iter().map(|(_, n)| n).sum();
            let mut metric = encoder.encode_descriptor(
                "ld_tower_command_duration_seconds",
                "How long commands took to run, in seconds",
                None,
                MetricType::Histogram,
            )?;
            metric.encode_histogram::<NoLabelSet>(self.duration_s, count, &self.durations, None)?;
        }
        let status = self.status.as_ref().filter(|status| status.running);
        gauge(
            &mut encoder,
            "ld_tower_test_running",
            "1 while a load test runs",
            i64::from(status.is_some()),
        )?;
        let (users, target, rps) = status.map_or((0, 0, 0), |s| {
            (s.users as u64, s.target_users as u64, s.current_rps)
        });
        gauge(
            &mut encoder,
            "ld_tower_test_users",
            "Users of the running test",
            signed(users),
        )?;
        gauge(
            &mut encoder,
            "ld_tower_test_target_users",
            "Users the running test is heading for",
            signed(target),
        )?;
        gauge(
            &mut encoder,
            "ld_tower_test_requests_per_second",
            "Requests of the running test in its last complete second",
            signed(rps),
        )
    }
}
