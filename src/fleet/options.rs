//! What `LD_start_test` with `runner_mode: "master"` says about the fleet:
//! where the agents are, how to reach them, and LoadDensity's distributed
//! keywords (how many agents, how long to wait, when one is lost). These
//! keys are taken out of the arguments; the rest is the test the agents run.

use std::io::BufReader;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::state::State;

/// The environment variable holding the agents' token when `agent_token`
/// is not given (the token `ld-tower serve` itself reads).
pub const TOKEN_ENV: &str = "LOAD_DENSITY_SOCKET_TOKEN";

/// The most agents one test may drive.
pub const MAX_AGENTS: usize = 1_000;

/// The longest `worker_startup_timeout`: the agents' prepared tests are
/// held this long and a little more, within `LD_prepare_test`'s 600 s.
pub const MAX_STARTUP_TIMEOUT: Duration = Duration::from_secs(540);

/// The keys this module takes out of `LD_start_test`'s arguments.
pub const KEYS: &[&str] = &[
    "agents",
    "agent_token",
    "agent_ca",
    "agent_server_name",
    "agent_cert",
    "agent_key",
    "expected_workers",
    "worker_startup_timeout",
    "worker_startup_policy",
    "worker_heartbeat_interval",
    "worker_lost_timeout",
    "on_agent_lost",
];

/// What to do when fewer agents than expected answer in time
/// (LoadDensity's `worker_startup_policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartupPolicy {
    /// Fail the test (the default).
    Fail,
    /// Start with the agents that answered, if any.
    Degraded,
}

/// What to do when an agent is lost mid-test (`on_agent_lost`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnLost {
    /// Report it by name; the others go on (the default).
    Continue,
    /// Stop the others; the action fails.
    Fail,
}

/// TLS to the agents: the CA, the name their certificates carry, and a
/// client certificate for mutual TLS.
#[derive(Debug)]
pub struct AgentTls {
    /// The CA certificates (`agent_ca`).
    pub ca: Vec<CertificateDer<'static>>,
    /// `agent_server_name`; none: each `agents` entry's host.
    pub server_name: Option<String>,
    /// `agent_cert` and `agent_key`.
    pub identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
}

/// The fleet's side of a coordinated test.
#[derive(Debug)]
pub struct FleetOptions {
    /// `host:port` entries, each giving an agent per address it resolves to.
    pub agents: Vec<String>,
    /// The agents' token.
    pub token: Option<String>,
    /// TLS to the agents, when `agent_ca` is given.
    pub tls: Option<AgentTls>,
    /// How many agents must answer; 0: every address the entries resolve to.
    pub expected: usize,
    /// How long to wait for them.
    pub startup_timeout: Duration,
    /// When fewer answer in time.
    pub startup_policy: StartupPolicy,
    /// How often each agent's status is polled.
    pub heartbeat: Duration,
    /// How long an agent may not answer before it is lost.
    pub lost_timeout: Duration,
    /// What a lost agent does to the test.
    pub on_lost: OnLost,
}

/// Seconds as a positive, finite duration, or `default` when not given.
fn seconds(map: &mut Map<String, Value>, key: &str, default: f64) -> Result<Duration, String> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(Duration::from_secs_f64(default)),
        Some(value) => value
            .as_f64()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("{key} must be a positive number of seconds, got {value}")),
    }
}

fn text(map: &mut Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if !text.is_empty() => Ok(Some(text)),
        Some(other) => Err(format!("{key} must be a non-empty string, got {other}")),
    }
}

/// The PEM file `key` names, read through the state's path rule.
fn pem_file(state: &State, key: &str, path: &str) -> Result<Vec<u8>, String> {
    let resolved = state
        .paths()
        .resolve(path)
        .map_err(|e| format!("{key}: {e}"))?;
    let file = resolved.open().map_err(|e| format!("{key}: {e}"))?;
    let mut bytes = Vec::new();
    // Certificates and keys are small: a file past 1 MiB is not one.
    std::io::Read::read_to_end(
        &mut std::io::Read::take(BufReader::new(file), 1024 * 1024 + 1),
        &mut bytes,
    )
    .map_err(|e| format!("{key}: cannot read {path}: {e}"))?;
    if bytes.len() > 1024 * 1024 {
        return Err(format!(
            "{key}: {path} is over 1 MiB, not a PEM certificate file"
        ));
    }
    Ok(bytes)
}

fn certificates(
    state: &State,
    key: &str,
    path: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = pem_file(state, key, path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{key}: {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{key}: no CERTIFICATE block in {path}"));
    }
    Ok(certs)
}

impl FleetOptions {
    /// Takes the fleet's keys out of `map` (`LD_start_test`'s arguments),
    /// checked; files are read by `state`'s path rule, the token from the
    /// environment only if `state`'s policy lets clients read it.
    pub fn take(state: &State, map: &mut Map<String, Value>) -> Result<FleetOptions, String> {
        let agents = match map.remove("agents") {
            None | Some(Value::Null) => {
                return Err(
                    "agents: missing (runner_mode \"master\" runs the test on agents: give [\"host:port\", ...])"
                        .into(),
                )
            }
            Some(Value::String(one)) => vec![one],
            Some(Value::Array(list)) => list
                .into_iter()
                .map(|entry| match entry {
                    Value::String(text) => Ok(text),
                    other => Err(format!("agents: {other} is not a \"host:port\" string")),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("agents: expected a list of \"host:port\", got {other}")),
        };
        if agents.is_empty() {
            return Err("agents: the list is empty".into());
        }
        if agents.len() > MAX_AGENTS {
            return Err(format!(
                "agents: {} entries, at most {MAX_AGENTS}",
                agents.len()
            ));
        }
        for entry in &agents {
            split_host_port(entry)?;
        }
        let token = match text(map, "agent_token")? {
            Some(token) => Some(token),
            None => match std::env::var(TOKEN_ENV) {
                Ok(token) if !token.is_empty() => {
                    state.env().check([TOKEN_ENV]).map_err(|_| {
                        format!(
                            "agent_token: not given, and this agent does not let clients use its {TOKEN_ENV} (serve --allow-env {TOKEN_ENV})"
                        )
                    })?;
                    Some(token)
                }
                _ => None,
            },
        };
        let ca = text(map, "agent_ca")?;
        let server_name = text(map, "agent_server_name")?;
        let cert = text(map, "agent_cert")?;
        let key = text(map, "agent_key")?;
        let identity = match (&cert, &key) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                let chain = certificates(state, "agent_cert", cert)?;
                let bytes = pem_file(state, "agent_key", key)?;
                let key = PrivateKeyDer::from_pem_slice(&bytes)
                    .map_err(|e| format!("agent_key: {key}: {e}"))?;
                Some((chain, key))
            }
            _ => return Err("agent_cert and agent_key go together".into()),
        };
        let tls = match ca {
            Some(ca) => Some(AgentTls {
                ca: certificates(state, "agent_ca", &ca)?,
                server_name,
                identity,
            }),
            None if identity.is_some() || server_name.is_some() => {
                return Err(
                    "agent_cert, agent_key and agent_server_name need agent_ca (the CA of the agents' certificates)"
                        .into(),
                )
            }
            None => None,
        };
        let expected = match map.remove("expected_workers") {
            None | Some(Value::Null) => 0,
            Some(value) => value
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n <= MAX_AGENTS)
                .ok_or_else(|| {
                    format!("expected_workers must be a whole number from 0 to {MAX_AGENTS}, got {value}")
                })?,
        };
        let startup_timeout = seconds(map, "worker_startup_timeout", 60.0)?;
        if startup_timeout > MAX_STARTUP_TIMEOUT {
            return Err(format!(
                "worker_startup_timeout may be at most {} seconds",
                MAX_STARTUP_TIMEOUT.as_secs()
            ));
        }
        let startup_policy = match text(map, "worker_startup_policy")?.as_deref() {
            None | Some("fail") => StartupPolicy::Fail,
            Some("degraded") => StartupPolicy::Degraded,
            Some(other) => {
                return Err(format!(
                    "worker_startup_policy must be \"fail\" or \"degraded\", got {other:?}"
                ))
            }
        };
        let heartbeat = seconds(map, "worker_heartbeat_interval", 1.0)?;
        let lost_timeout = seconds(map, "worker_lost_timeout", 15.0)?;
        if lost_timeout <= heartbeat {
            return Err(
                "worker_lost_timeout must be greater than worker_heartbeat_interval".into(),
            );
        }
        let on_lost = match text(map, "on_agent_lost")?.as_deref() {
            None | Some("continue") => OnLost::Continue,
            Some("fail") => OnLost::Fail,
            Some(other) => {
                return Err(format!(
                    "on_agent_lost must be \"continue\" or \"fail\", got {other:?}"
                ))
            }
        };
        Ok(FleetOptions {
            agents,
            token,
            tls,
            expected,
            startup_timeout,
            startup_policy,
            heartbeat,
            lost_timeout,
            on_lost,
        })
    }
}

/// `host:port` (`[v6]:port` too) split; the port must be given.
pub fn split_host_port(entry: &str) -> Result<(&str, u16), String> {
    let bad = || format!("agents: {entry:?} is not \"host:port\"");
    let (host, port) = entry.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((host, port))
}
