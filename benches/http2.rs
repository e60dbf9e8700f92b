//! HTTP/2 benchmark: ld-tower's HTTP users over HTTP/2 (`"http2": true`)
//! against `h2load` (nghttp2's HTTP/2 load generator), on the same h2c
//! target with the same connections x streams, in the same run.
//!
//! ```text
//! cargo bench --bench http2 -- [--seconds S] [--connections C] [--streams M] [--rounds R] [--quick]
//! ```
//!
//! - The target is this bench's own one-thread hyper HTTP/2 server (h2c,
//!   prior knowledge, answering every request `200 ok`), re-executed from
//!   this binary and pinned to core 0 (`taskset -c 0`).
//! - Each generator runs pinned to core 1 (`taskset -c 1`) for S seconds
//!   (default 10), C connections (default 4) x M concurrent streams
//!   (default 25; 100 in flight, as the HTTP/1.1 bench's 50 connections
//!   are about):
//!   1. `h2load -c C -m M -D S http://127.0.0.1:PORT/`;
//!   2. `ld-tower run` of an action file with `user_count` C x M,
//!      `"http2": true`, `"h2_connections": C`, `wait_time` 0, one
//!      `GET /` task, `test_time` S.
//! - R rounds (default 3) alternate the two; each generator's best
//!   requests/s is kept, and their ratio printed (target >= 0.9x), with
//!   each run's CPU time per request and its and the target's CPU share.
//! - Why several connections: on one, generator and target take turns
//!   (the target answers a batch of streams in one write, the generator
//!   reads them all and sends the next batch in one write), so requests/s
//!   is set by the sum of both sides' cost per batch, not by the slower
//!   side, and neither core is busy; with several, their batches overlap
//!   as under a real load.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Value};

#[path = "../tests/common/child.rs"]
mod child;
mod support;
use child::Child;
use support::{clock_ticks_per_second, cpu_ticks, have, pin_self, Placement};

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

/// How often a generator's CPU time is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// How long a child may take to exit after SIGTERM.
const GRACE: Duration = Duration::from_secs(2);

/// Starts `command` under the shared child guard.
fn spawn(name: &str, command: &mut std::process::Command) -> Result<Child> {
    Ok(Child::spawn(name, command)?.with_grace(GRACE))
}

/// The ld-tower binary under test (the release build under `cargo bench`).
const LD_TOWER: &str = env!("CARGO_BIN_EXE_ld-tower");
/// Set in the re-executed, pinned orchestrator so it does not re-execute again.
const PINNED_ENV: &str = "LD_TOWER_HTTP2_BENCH_PINNED";
/// How long a generator may overrun its test time before it is killed.
const OVERRUN: Duration = Duration::from_secs(45);

/// `cargo bench --bench http2 -- [OPTIONS]`.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "http2",
    bin_name = "cargo bench --bench http2 --",
    about = "ld-tower's HTTP users over HTTP/2 against h2load, on the same h2c target",
    long_about = "ld-tower's HTTP users over HTTP/2 (`\"http2\": true`, C shared connections x M \
                  users each) against h2load -c C -m M, on this bench's own one-thread hyper \
                  h2c target pinned to core 0, each generator pinned to core 1, R rounds \
                  alternating; prints requests/s, CPU per request and the ratio of the best \
                  rounds (target >= 0.9x)."
)]
struct Options {
    /// Seconds each generator runs (1 to 3600).
    #[arg(long, value_name = "S", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: u64,
    /// Connections (1 to 1024).
    #[arg(long, value_name = "C", default_value_t = 4,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    connections: u64,
    /// Concurrent streams per connection (1 to 1000).
    #[arg(long, value_name = "M", default_value_t = 25,
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    streams: u64,
    /// Rounds of both generators; the best of each is compared (1 to 10).
    #[arg(long, value_name = "R", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=10))]
    rounds: u32,
    /// 5 s runs.
    #[arg(long)]
    quick: bool,
    /// Passed by `cargo bench` to every `harness = false` bench; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Internal: be the HTTP/2 target.
    #[arg(long = "h2-target", hide = true)]
    h2_target: bool,
}

fn main() -> ExitCode {
    match start() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("http2 bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn start() -> Result<ExitCode> {
    let mut options = Options::parse();
    if options.h2_target {
        h2_target()?;
        return Ok(ExitCode::SUCCESS);
    }
    if options.quick {
        options.seconds = 5;
    }
    let (reexecuted, placement) = pin_self(
        PINNED_ENV,
        |cpus| {
            format!(
                "target on core 0 (taskset -c 0), generators on core 1 (taskset -c 1), \
                 this orchestrator on core(s) {cpus}"
            )
        },
        "target and generators share cores",
    )?;
    if let Some(code) = reexecuted {
        return Ok(code);
    }
    run(&options, &placement)?;
    Ok(ExitCode::SUCCESS)
}

/// The target: hyper over HTTP/2 (h2c), answering every request `200 ok`.
fn h2_target() -> Result<()> {
    Ok(support::ok_target(true)?)
}

/// One generator's run: requests completed, requests/s, and CPU time.
#[derive(Clone, Copy, Debug, Default)]
struct Figures {
    requests: u64,
    failures: u64,
    rps: f64,
    /// The generator's CPU seconds (user + system, sampled every 200 ms
    /// until it exits).
    cpu_s: f64,
    /// The target's CPU seconds over the same time.
    target_cpu_s: f64,
}

impl Figures {
    /// The generator's CPU time per request, µs.
    fn cpu_us_per_request(&self) -> f64 {
        self.cpu_s * 1e6 / self.requests.max(1) as f64
    }
}

/// Waits for `proc` to exit, sampling its CPU time and `target`'s; the
/// CPU seconds of each.
fn wait_measured(proc: &mut Child, target: u32, seconds: u64) -> Result<(f64, f64)> {
    let ticks = clock_ticks_per_second();
    let target = target.to_string();
    let target_before = cpu_ticks(&target).unwrap_or(0);
    let mut last = 0;
    let mut target_last = target_before;
    let deadline = Instant::now() + Duration::from_secs(seconds) + OVERRUN;
    proc.wait_until(deadline, SAMPLE_EVERY, |pid| {
        if let Some(t) = cpu_ticks(&pid.to_string()) {
            last = t;
        }
        if let Some(t) = cpu_ticks(&target) {
            target_last = t;
        }
    })?;
    Ok((
        last as f64 / ticks,
        target_last.saturating_sub(target_before) as f64 / ticks,
    ))
}

fn run_h2load(
    options: &Options,
    placement: &Placement,
    (port, target): (u16, u32),
    dir: &Path,
) -> Result<Figures> {
    let mut command = placement.command(1, "h2load");
    command.args([
        "-c",
        &options.connections.to_string(),
        "-m",
        &options.streams.to_string(),
        "-D",
        &options.seconds.to_string(),
        &format!("http://127.0.0.1:{port}/"),
    ]);
    let _ = dir;
    let mut proc = spawn("h2load", &mut command)?;
    let (cpu_s, target_cpu_s) = wait_measured(&mut proc, target, options.seconds)?;
    let status = proc.wait_until(Instant::now() + OVERRUN, SAMPLE_EVERY, |_| {})?;
    let out = proc.rest_of_stdout(Duration::from_secs(1)).join("\n");
    if !status.success() {
        return Err(proc
            .failure(&format!("exited with {status}; its output:\n{out}"))
            .into());
    }
    // "finished in 10.00s, 123456.70 req/s, 3.21MB/s"
    // "requests: 1234567 total, 1234617 started, 1234567 done, 1234567 succeeded, 0 failed, ..."
    let mut figures = Figures {
        cpu_s,
        target_cpu_s,
        ..Figures::default()
    };
    for line in out.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("finished in ") {
            figures.rps = rest
                .split(", ")
                .nth(1)
                .and_then(|part| part.strip_suffix(" req/s"))
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("cannot read h2load's req/s in {line:?}"))?;
        } else if let Some(rest) = line.strip_prefix("requests: ") {
            for part in rest.split(", ") {
                let mut words = part.split_whitespace();
                let (Some(n), Some(what)) = (words.next(), words.next()) else {
                    continue;
                };
                match what {
                    "succeeded" => figures.requests = n.parse().unwrap_or(0),
                    "failed" => figures.failures = n.parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
    }
    if figures.rps <= 0.0 {
        return Err(format!("no `finished in` line in h2load's output:\n{out}").into());
    }
    Ok(figures)
}

fn run_ld_tower(
    options: &Options,
    placement: &Placement,
    (port, target): (u16, u32),
    dir: &Path,
) -> Result<Figures> {
    let file = dir.join("http2-bench.json");
    let actions = json!({"load_density": [
        ["LD_start_test", {
            "user_detail_dict": {"user": "fast_http_user"},
            "host": format!("http://127.0.0.1:{port}"),
            "user_count": options.connections * options.streams,
            "spawn_rate": 100000,
            "test_time": options.seconds,
            "wait_time": 0,
            "http2": true,
            "h2_connections": options.connections,
            "tasks": [{"method": "get", "request_url": "/"}],
        }],
        ["LD_summary", {}],
    ]});
    std::fs::write(&file, actions.to_string())?;
    let mut command = placement.command(1, LD_TOWER);
    command
        .current_dir(dir)
        .args(["run", "http2-bench.json", "--no-progress"])
        .env("LD_TOWER_LOG", "warn");
    let mut proc = spawn("ld-tower", &mut command)?;
    let (cpu_s, target_cpu_s) = wait_measured(&mut proc, target, options.seconds)?;
    let status = proc.wait_until(Instant::now() + OVERRUN, SAMPLE_EVERY, |_| {})?;
    let out = proc.rest_of_stdout(Duration::from_secs(1)).join("\n");
    if !status.success() {
        return Err(proc
            .failure(&format!("exited with {status}; its output:\n{out}"))
            .into());
    }
    let summary = out
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|value| value.get("totals").is_some() && value.get("per_name").is_some())
        .ok_or_else(|| format!("no LD_summary in ld-tower's output:\n{out}"))?;
    let totals = &summary["totals"];
    let requests = totals["successes"].as_u64().unwrap_or(0);
    let failures = totals["failures"].as_u64().unwrap_or(0);
    Ok(Figures {
        requests,
        failures,
        rps: requests as f64 / options.seconds as f64,
        cpu_s,
        target_cpu_s,
    })
}

fn run(options: &Options, placement: &Placement) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("ld-tower-http2-bench-")
        .tempdir()?;
    println!("ld-tower HTTP/2 benchmark");
    println!("  ld-tower:   {LD_TOWER}");
    println!("  placement:  {}", placement.description);
    println!(
        "  load:       {} connections x {} streams, {} s per run, GET / as fast as answered, {} rounds",
        options.connections, options.streams, options.seconds, options.rounds
    );
    if !have("h2load", "--version") {
        println!("  h2load:     NOT INSTALLED (install it with: apt-get install -y nghttp2-client); skipped");
        return Ok(());
    }
    let mut command = placement.command(0, std::env::current_exe()?);
    command.arg("--h2-target");
    // It announces its port once it listens.
    let mut target = spawn("h2-target", &mut command)?;
    let port = target.announced_port(Duration::from_secs(20))?;
    println!("  target:     this bench's one-thread hyper HTTP/2 server (h2c), 127.0.0.1:{port}");
    // Warm-up: first accepts, page cache, CPU frequency.
    let warm = Options {
        seconds: 1,
        ..options.clone()
    };
    let at = (port, target.pid());
    run_h2load(&warm, placement, at, dir.path())?;

    let mut best_h2load = Figures::default();
    let mut best_ours = Figures::default();
    for round in 1..=options.rounds {
        let theirs = run_h2load(options, placement, at, dir.path())?;
        print_row(round, "h2load", &theirs, options.seconds);
        let ours = run_ld_tower(options, placement, at, dir.path())?;
        print_row(round, "ld-tower", &ours, options.seconds);
        if theirs.rps > best_h2load.rps {
            best_h2load = theirs;
        }
        if ours.rps > best_ours.rps {
            best_ours = ours;
        }
    }
    let ratio = best_ours.rps / best_h2load.rps;
    let verdict = if ratio >= 0.9 { "MET" } else { "NOT MET" };
    println!(
        "  requests/s, ld-tower / h2load: {:.0} / {:.0} = {ratio:.2}x  (target >= 0.90x: {verdict})",
        best_ours.rps, best_h2load.rps
    );
    println!(
        "  CPU per request, ld-tower / h2load: {:.2} us / {:.2} us (best runs)",
        best_ours.cpu_us_per_request(),
        best_h2load.cpu_us_per_request()
    );
    println!(
        "  (gen CPU below 100% with the target's CPU below 100%: other processes held a core;\n   \
         rerun on a quiet machine)"
    );
    Ok(())
}

fn print_row(round: u32, generator: &str, figures: &Figures, seconds: u64) {
    println!(
        "  round {round}: {generator:<8} {:>9.0} req/s  {:>6.2} us CPU/req  gen CPU {:>3.0}%  target CPU {:>3.0}%  ({} succeeded, {} failed)",
        figures.rps,
        figures.cpu_us_per_request(),
        figures.cpu_s * 100.0 / seconds as f64,
        figures.target_cpu_s * 100.0 / seconds as f64,
        figures.requests,
        figures.failures
    );
}
