//! One scenario: a server, a transport and a mode, measured over a timed
//! window (commands, latency, the server's and this client's CPU, the
//! cores' busy time).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_rustls::rustls::pki_types::ServerName;

use crate::clients::{client, histogram, keeps_connections, Mode, Target, TargetTls, Window};
use crate::options::Options;
use crate::servers::{server_command, Kind, Server};
use crate::support::{core_ticks, cpu_ticks, Placement};
use crate::tls::{CertKind, Handshake, TlsCase, TlsMaterial};
use crate::{Result, COMMAND_TIMEOUT, NOISE_LIMIT};

/// Busy (non-idle) clock ticks of cores 0 and 1 (`support::core_ticks`).
fn core_busy_ticks() -> Option<[u64; 2]> {
    core_ticks().map(|[core0, core1]| [core0[0], core1[0]])
}

/// One row of the table.
#[derive(Debug)]
pub(crate) struct Row {
    /// The server.
    pub(crate) server: Kind,
    /// Over TLS: the certificate kind and the handshakes; `None`: plain.
    pub(crate) tls: Option<TlsCase>,
    /// One command per connection, or kept connections.
    pub(crate) mode: Mode,
    /// The server closes after every reply: "kept" reconnected.
    pub(crate) reconnects: bool,
    /// Commands completed in the window.
    pub(crate) commands: u64,
    /// Of those, the ones whose connection's TLS handshake resumed.
    pub(crate) resumed: u64,
    /// The window measured, seconds.
    pub(crate) seconds: f64,
    /// Median latency, ms.
    pub(crate) p50_ms: f64,
    /// 99th percentile latency, ms.
    pub(crate) p99_ms: f64,
    /// The server's CPU time over the window, seconds.
    pub(crate) server_cpu_s: Option<f64>,
    /// This process's CPU time over the window, seconds.
    pub(crate) client_cpu_s: Option<f64>,
    /// Busy time of cores 0 and 1 over the window, in seconds.
    pub(crate) core_busy_s: Option<[f64; 2]>,
    /// Failed commands by reason.
    pub(crate) errors: BTreeMap<String, u64>,
    /// Runs made (more than one when other processes disturbed it).
    pub(crate) runs: u32,
}

impl Row {
    /// Commands per second.
    pub(crate) fn rate(&self) -> f64 {
        self.commands as f64 / self.seconds
    }

    /// The server's CPU microseconds per command.
    pub(crate) fn cpu_us_per_command(&self) -> Option<f64> {
        let cpu = self.server_cpu_s?;
        (self.commands > 0).then(|| cpu * 1e6 / self.commands as f64)
    }

    /// Share of the window cores 0 and 1 spent on other processes (core 0
    /// minus the server, core 1 minus this client).
    pub(crate) fn other_load(&self) -> Option<[f64; 2]> {
        let [c0, c1] = self.core_busy_s?;
        let server = (c0 - self.server_cpu_s?).max(0.0) / self.seconds;
        let client = (c1 - self.client_cpu_s?).max(0.0) / self.seconds;
        Some([server, client])
    }

    /// "plain, one per connection", "TLS RSA-2048 full, one per
    /// connection" and so on.
    pub(crate) fn scenario(&self) -> String {
        let mode = match (self.mode, self.reconnects) {
            (Mode::PerConnection, _) => "one per connection",
            (Mode::Kept, false) => "kept connections",
            (Mode::Kept, true) => "kept -> reconnects*",
        };
        match self.tls {
            None => format!("plain, {mode}"),
            Some(case) if self.mode == Mode::Kept => format!("TLS {}, {mode}", case.cert.name()),
            Some(case) => format!("TLS {} {}, {mode}", case.cert.name(), case.handshake.name()),
        }
    }

    /// The share of commands whose TLS handshake resumed, one command per
    /// connection over TLS only.
    pub(crate) fn resumed_share(&self) -> Option<f64> {
        let per_connection = self.mode == Mode::PerConnection || self.reconnects;
        (self.tls.is_some() && per_connection && self.commands > 0)
            .then(|| self.resumed as f64 / self.commands as f64)
    }

    /// How far other processes disturbed it: the larger of [`Row::other_load`].
    fn noise(&self) -> f64 {
        self.other_load().map_or(0.0, |[a, b]| a.max(b))
    }
}

/// What every scenario needs.
pub(crate) struct Bench {
    pub(crate) options: Options,
    pub(crate) ticks_per_s: f64,
    /// Where the servers run.
    pub(crate) placement: Placement,
    /// The servers' token.
    pub(crate) token: String,
    /// The request frame the clients send.
    pub(crate) frame: Vec<u8>,
}

impl Bench {
    /// Starts a `kind` server (plain, or TLS with `tls`'s certificate) and
    /// measures its scenarios into `rows`: plain, one per connection and
    /// kept connections; TLS, one per connection with each handshake kind
    /// chosen, then kept connections. An original that fails to start or
    /// answer is reported and skipped.
    pub(crate) async fn measure_server(
        &self,
        kind: Kind,
        python: Option<&Path>,
        tls: Option<(CertKind, &Arc<TlsMaterial>)>,
        rows: &mut Vec<Row>,
    ) -> Result<()> {
        let files = tls.map(|(_, material)| (material.cert.as_path(), material.key.as_path()));
        let (program, args, what) = server_command(kind, python, files, &self.token)?;
        let transport = tls.map_or_else(
            || "plain".to_owned(),
            |(cert, _)| format!("TLS {}", cert.name()),
        );
        eprintln!("[{}] starting {transport} server", kind.name());
        let mut server = match Server::start(&program, &args, &self.placement, what) {
            Ok(server) => server,
            Err(e) if kind == Kind::Original => {
                println!("  original {transport} server failed to start: {e}");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let name = ServerName::try_from("localhost")?;
        let target = |handshake| {
            Arc::new(Target {
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, server.port)),
                tls: tls.map(|(cert, material)| TargetTls {
                    case: TlsCase { cert, handshake },
                    material: Arc::clone(material),
                    name: name.clone(),
                }),
                frame: self.frame.clone(),
            })
        };
        let mut runs = Vec::new();
        match tls {
            None => runs.push((Mode::PerConnection, target(Handshake::Full))),
            Some(_) => {
                for handshake in self.options.handshakes() {
                    runs.push((Mode::PerConnection, target(handshake)));
                }
            }
        }
        if self.options.kept {
            // Kept connections rarely reconnect: as a control tool would,
            // the clients resume when they do.
            runs.push((Mode::Kept, target(Handshake::Resumed)));
        }
        let keeps = match keeps_connections(&runs[0].1).await {
            Ok(keeps) => keeps,
            Err(e) if kind == Kind::Original => {
                println!("  original {transport} server does not answer: {e}");
                return Ok(());
            }
            Err(e) => return Err(format!("{} {transport}: {e}", kind.name()).into()),
        };
        for (mode, target) in runs {
            let reconnects = mode == Mode::Kept && !keeps;
            // Another process busy on our cores disturbs the figures: run
            // again, keep the quietest run.
            let mut best: Option<Row> = None;
            for attempt in 1..=self.options.attempts() {
                eprintln!("[{}] {transport} {mode:?} (run {attempt})", kind.name());
                let mut row = self
                    .run_scenario(&mut server, kind, &target, mode, reconnects)
                    .await?;
                row.runs = attempt;
                let quiet = row.noise() <= NOISE_LIMIT;
                if best.as_ref().is_none_or(|best| row.noise() < best.noise()) {
                    best = Some(row);
                }
                if quiet {
                    break;
                }
            }
            rows.extend(best);
        }
        Ok(())
    }

    /// Runs one scenario against `server`: clients for the warm-up and
    /// the window, figures taken at the window's ends.
    pub(crate) async fn run_scenario(
        &self,
        server: &mut Server,
        kind: Kind,
        target: &Arc<Target>,
        mode: Mode,
        reconnects: bool,
    ) -> Result<Row> {
        let effective = if reconnects {
            Mode::PerConnection
        } else {
            mode
        };
        let now = Instant::now();
        let window = Window {
            start: now + Duration::from_secs_f64(self.options.warmup()),
            end: now + Duration::from_secs_f64(self.options.warmup() + self.options.seconds()),
        };
        let tasks: Vec<_> = (0..self.options.clients)
            .map(|_| tokio::spawn(client(Arc::clone(target), effective, window)))
            .collect();
        let pid = server.proc.pid().to_string();
        tokio::time::sleep_until(window.start.into()).await;
        let server_before = cpu_ticks(&pid);
        let client_before = cpu_ticks("self");
        let cores_before = core_busy_ticks();
        let measured_from = Instant::now();
        tokio::time::sleep_until(window.end.into()).await;
        let server_after = cpu_ticks(&pid);
        let client_after = cpu_ticks("self");
        let cores_after = core_busy_ticks();
        let measured = measured_from.elapsed().as_secs_f64();

        let mut latency = histogram()?;
        let mut commands = 0;
        let mut resumed = 0;
        let mut errors = BTreeMap::new();
        let deadline = tokio::time::Instant::from(window.end) + COMMAND_TIMEOUT * 2;
        for task in tasks {
            let abort = task.abort_handle();
            match tokio::time::timeout_at(deadline, task).await {
                Ok(Ok(Ok(stats))) => {
                    latency.add(&stats.latency_us)?;
                    commands += stats.commands;
                    resumed += stats.resumed;
                    for (why, n) in stats.errors {
                        *errors.entry(why).or_insert(0) += n;
                    }
                }
                Ok(Ok(Err(e))) => *errors.entry(format!("client failed: {e}")).or_insert(0) += 1,
                Ok(Err(e)) => *errors.entry(format!("client task: {e}")).or_insert(0) += 1,
                Err(_) => {
                    abort.abort();
                    *errors
                        .entry("client stuck past the deadline".into())
                        .or_insert(0) += 1;
                }
            }
        }
        if !server.proc.alive() {
            *errors.entry("server process died".into()).or_insert(0) += 1;
        }
        let ticks = |before: Option<u64>, after: Option<u64>| {
            Some(after?.checked_sub(before?)? as f64 / self.ticks_per_s)
        };
        let quantile_ms = |q: f64| {
            if latency.is_empty() {
                f64::NAN
            } else {
                latency.value_at_quantile(q) as f64 / 1000.0
            }
        };
        Ok(Row {
            server: kind,
            tls: target.tls.as_ref().map(|tls| tls.case),
            mode,
            reconnects,
            commands,
            resumed,
            seconds: measured,
            p50_ms: quantile_ms(0.50),
            p99_ms: quantile_ms(0.99),
            server_cpu_s: ticks(server_before, server_after),
            client_cpu_s: ticks(client_before, client_after),
            core_busy_s: cores_before.zip(cores_after).and_then(|(before, after)| {
                Some([
                    ticks(Some(before[0]), Some(after[0]))?,
                    ticks(Some(before[1]), Some(after[1]))?,
                ])
            }),
            errors,
            runs: 1,
        })
    }
}
