//! Load-engine benchmark: ld-tower's engine against wrk and Locust's
//! `FastHttpUser`, all hitting the same local HTTP target, as real processes.
//!
//! ```text
//! cargo bench --bench engine [-- --seconds S] [-- --users N] [-- --quick] [-- --no-locust] [-- --perf]
//! ```
//!
//! - The target is nginx (Debian's `/usr/sbin/nginx`, or `nginx` on PATH),
//!   started here with its own temporary configuration (one worker, no
//!   access log, keep-alive for ever, `location / { return 200 "ok"; }`)
//!   pinned to core 0 (`taskset -c 0`). Without nginx, this bench serves the
//!   same answer itself with a one-thread hyper server, pinned to core 0.
//! - Each generator runs pinned to core 1 (`taskset -c 1`) for S seconds
//!   (default 10) with N connections (default 50; one per user):
//!   1. `wrk -t1 -cN -dS --latency`;
//!   2. `ld-tower serve --port 0`, sent `LD_start_test` with N
//!      `fast_http_user` users, `wait_time` 0, one `GET /` task;
//!   3. Locust's `FastHttpUser` headless, `constant(0)` wait, one `GET /`
//!      task (found as env `LD_TOWER_LOCUST`, `.peer/bin/locust`, or `locust`
//!      on PATH).
//! - Measured per generator: requests/s, p50/p99 latency, the generator
//!   process's CPU time (utime + stime; ld-tower's over the test from
//!   `/proc/PID/stat`, wrk's and Locust's whole lifetime from this process's
//!   reaped-children times) per request, and its peak RSS (`VmHWM`).
//! - Memory flatness: ld-tower's RSS (`VmRSS`) sampled every 200 ms and
//!   taken just before the end of a 10 s and of a 60 s test (`--quick`
//!   skips the 60 s one), each in a fresh process.
//!
//! `--perf` also records ld-tower with `perf record -g` for a few seconds
//! of its main run and prints how to read the profile.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::proc::{announced_port, descendants, wait_accepting, Proc, Result, SAMPLE_EVERY};
use support::{
    clock_ticks_per_second, core_ticks, cpu_ticks, field, free_port, have, pin_self, stat_fields,
    Placement,
};

/// The ld-tower binary under test (the release build under `cargo bench`).
const LD_TOWER: &str = env!("CARGO_BIN_EXE_ld-tower");
/// The workspace root (`.peer/` lives there).
const WORKSPACE: &str = env!("CARGO_MANIFEST_DIR");
/// Set in the re-executed, pinned orchestrator so it does not re-execute again.
const PINNED_ENV: &str = "LD_TOWER_ENGINE_BENCH_PINNED";
/// The argument that makes this bench binary the fallback hyper target.
const HYPER_TARGET: &str = "--hyper-target";
/// How long a generator may overrun its test time before it is killed.
const OVERRUN: Duration = Duration::from_secs(45);
/// Other processes busy on a core more than this share disturb a run.
const NOISE_LIMIT: f64 = 0.10;
/// The 60 s run of the memory-flatness check.
const LONG_RUN_S: u64 = 60;
/// The 10 s run of the memory-flatness check.
const SHORT_RUN_S: u64 = 10;

// ------------------------------------------------------------------ options

#[derive(Clone, Debug)]
struct Options {
    seconds: u64,
    users: usize,
    quick: bool,
    locust: bool,
    perf: bool,
    /// Runs of a generator at most, while other processes disturb it.
    attempts: u32,
}

fn usage() -> &'static str {
    "usage: cargo bench --bench engine -- [--seconds S] [--users N] [--quick] [--no-locust] [--perf]\n\
     \x20                                      [--attempts K]\n\
     \x20 --seconds S   test time of each generator, whole seconds (default 10)\n\
     \x20 --users N     users = connections of each generator (default 50)\n\
     \x20 --quick       skip the 60 s memory-flatness run\n\
     \x20 --no-locust   skip Locust\n\
     \x20 --perf        perf-record ld-tower during its main run (needs `perf`)\n\
     \x20 --attempts K  runs of a generator at most while other processes disturb it (default 3)\n\
     env LD_TOWER_LOCUST: the locust executable (else .peer/bin/locust, else locust on PATH)"
}

fn parse_options() -> Result<Options> {
    let mut options = Options {
        seconds: 10,
        users: 50,
        quick: false,
        locust: true,
        perf: false,
        attempts: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // cargo bench passes --bench to every harness = false bench.
            "--bench" => {}
            "--quick" => options.quick = true,
            "--no-locust" => options.locust = false,
            "--perf" => options.perf = true,
            "--attempts" => {
                let value = args.next().ok_or("--attempts needs a number")?;
                options.attempts = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=10).contains(n))
                    .ok_or_else(|| format!("--attempts {value:?}: give 1 to 10"))?;
            }
            "--seconds" => {
                let value = args.next().ok_or("--seconds needs a number")?;
                options.seconds = value
                    .parse()
                    .ok()
                    .filter(|s| (1..=3600).contains(s))
                    .ok_or_else(|| format!("--seconds {value:?}: give a whole number 1 to 3600"))?;
            }
            "--users" => {
                let value = args.next().ok_or("--users needs a number")?;
                options.users = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=10_000).contains(n))
                    .ok_or_else(|| format!("--users {value:?}: give 1 to 10000"))?;
            }
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{}", usage()).into()),
        }
    }
    Ok(options)
}

// ------------------------------------------------------------------ pinning

/// cutime + cstime of this process: the CPU time of its reaped children.
fn reaped_children_ticks() -> Option<u64> {
    let fields = stat_fields("self")?;
    Some(field(&fields, 16)? + field(&fields, 17)?)
}

/// A `/proc/PID/status` figure in kB (`VmRSS`, `VmHWM`).
fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// CPU ticks of a process and its descendants.
fn tree_ticks(root: u32) -> Option<u64> {
    let mut total = cpu_ticks(&root.to_string())?;
    for pid in descendants(root) {
        total += cpu_ticks(&pid.to_string()).unwrap_or(0);
    }
    Some(total)
}

// ------------------------------------------------------------------ the target

/// The HTTP server every generator hits.
struct Target {
    proc: Proc,
    port: u16,
    description: String,
}

impl Target {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn find_nginx() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/sbin/nginx");
    if debian.exists() {
        return Some(debian);
    }
    have("nginx", "-v").then(|| PathBuf::from("nginx"))
}

fn start_nginx(nginx: &Path, placement: &Placement, dir: &Path) -> Result<Target> {
    let prefix = dir.join("nginx");
    std::fs::create_dir_all(&prefix)?;
    let port = free_port()?;
    let p = prefix.display();
    // worker_cpu_affinity pins the worker even if taskset is missing.
    let config = format!(
        "worker_processes 1;\n\
         worker_cpu_affinity 1;\n\
         daemon off;\n\
         pid {p}/nginx.pid;\n\
         error_log {p}/error.log warn;\n\
         events {{ worker_connections 16384; }}\n\
         http {{\n\
         \x20 access_log off;\n\
         \x20 keepalive_requests 10000000;\n\
         \x20 keepalive_timeout 300;\n\
         \x20 client_body_temp_path {p}/client_body;\n\
         \x20 proxy_temp_path {p}/proxy;\n\
         \x20 fastcgi_temp_path {p}/fastcgi;\n\
         \x20 uwsgi_temp_path {p}/uwsgi;\n\
         \x20 scgi_temp_path {p}/scgi;\n\
         \x20 server {{\n\
         \x20   listen 127.0.0.1:{port};\n\
         \x20   location / {{ return 200 \"ok\"; }}\n\
         \x20 }}\n\
         }}\n"
    );
    let conf = prefix.join("nginx.conf");
    std::fs::write(&conf, config)?;
    let mut command = placement.command(0, nginx);
    command
        .arg("-p")
        .arg(&prefix)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(prefix.join("error.log"));
    let mut proc = Proc::spawn("nginx", &mut command, dir)?;
    if let Err(e) = wait_accepting(&mut proc, port) {
        let log = std::fs::read_to_string(prefix.join("error.log")).unwrap_or_default();
        return Err(format!("{e}\n  nginx error.log:\n    {}", log.trim_end()).into());
    }
    Ok(Target {
        proc,
        port,
        description: format!(
            "nginx ({}), 1 worker, `return 200 \"ok\"`, 127.0.0.1:{port}",
            nginx.display()
        ),
    })
}

fn start_hyper_target(placement: &Placement, dir: &Path) -> Result<Target> {
    let mut command = placement.command(0, std::env::current_exe()?);
    command.arg(HYPER_TARGET);
    let mut proc = Proc::spawn("hyper-target", &mut command, dir)?;
    let port = announced_port(&mut proc)?;
    wait_accepting(&mut proc, port)?;
    Ok(Target {
        proc,
        port,
        description: format!(
            "this bench's one-thread hyper server (nginx not installed), 127.0.0.1:{port}"
        ),
    })
}

/// The fallback target: hyper on a current-thread runtime, answering every
/// request `200 ok`.
fn hyper_target() -> Result<()> {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper_util::rt::TokioIo;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        println!(
            "Server started on 127.0.0.1:{}",
            listener.local_addr()?.port()
        );
        loop {
            let (tcp, _) = listener.accept().await?;
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                        Bytes::from_static(b"ok"),
                    )))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    })
}

// ------------------------------------------------------------------ a run

/// What one generator run measured.
#[derive(Clone, Debug, Default)]
struct Row {
    generator: String,
    requests: u64,
    failures: u64,
    /// Seconds the generator says it ran.
    seconds: f64,
    /// Requests/s as the generator reports it (else requests / seconds).
    rps: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    cpu_s: Option<f64>,
    peak_rss_kb: Option<u64>,
    /// ld-tower: RSS sampled last before the reply.
    end_rss_kb: Option<u64>,
    /// CPU of the target (nginx and its worker) over the run, seconds.
    target_cpu_s: Option<f64>,
    /// Busy seconds of cores 0 and 1 over the run.
    core_busy_s: Option<[f64; 2]>,
    /// Interrupt (irq + softirq) seconds of cores 0 and 1 over the run.
    core_irq_s: Option<[f64; 2]>,
    /// This orchestrator's CPU over the run (it shares core 1).
    self_cpu_s: Option<f64>,
    /// Wall seconds the run took (for the busy shares).
    wall_s: f64,
    note: String,
    /// Runs made (more than one when other processes disturbed it).
    runs: u32,
}

impl Row {
    fn cpu_us_per_request(&self) -> Option<f64> {
        let cpu = self.cpu_s?;
        (self.requests > 0).then(|| cpu * 1e6 / self.requests as f64)
    }

    /// The larger of [`Row::other_load`]'s shares (0 when unknown).
    fn noise(&self) -> f64 {
        self.other_load().map_or(0.0, |[a, b]| a.max(b))
    }

    fn cpu_share(&self) -> Option<f64> {
        Some(self.cpu_s? / self.wall_s)
    }

    /// Share of the run cores 0 and 1 spent on anything else than the
    /// target (core 0) and the generator (core 1).
    fn other_load(&self) -> Option<[f64; 2]> {
        let [c0, c1] = self.core_busy_s?;
        let other0 = (c0 - self.target_cpu_s?).max(0.0) / self.wall_s;
        let other1 = (c1 - self.cpu_s? - self.self_cpu_s.unwrap_or(0.0)).max(0.0) / self.wall_s;
        Some([other0, other1])
    }
}

/// Measures the target and the cores over a run.
struct Meter {
    ticks_per_s: f64,
    target_pid: u32,
    target_before: Option<u64>,
    cores_before: Option<[[u64; 2]; 2]>,
    self_before: Option<u64>,
    started: Instant,
}

impl Meter {
    fn start(ticks_per_s: f64, target: &Target) -> Self {
        let target_pid = target.proc.pid();
        Meter {
            ticks_per_s,
            target_pid,
            target_before: tree_ticks(target_pid),
            cores_before: core_ticks(),
            self_before: cpu_ticks("self"),
            started: Instant::now(),
        }
    }

    fn seconds(&self, before: Option<u64>, after: Option<u64>) -> Option<f64> {
        Some(after?.checked_sub(before?)? as f64 / self.ticks_per_s)
    }

    fn finish(&self, row: &mut Row) {
        let target_after = tree_ticks(self.target_pid);
        let cores_after = core_ticks();
        row.wall_s = self.started.elapsed().as_secs_f64();
        row.target_cpu_s = self.seconds(self.target_before, target_after);
        row.self_cpu_s = self.seconds(self.self_before, cpu_ticks("self"));
        let per_core = |kind: usize| {
            self.cores_before.zip(cores_after).and_then(|(b, a)| {
                Some([
                    self.seconds(Some(b[0][kind]), Some(a[0][kind]))?,
                    self.seconds(Some(b[1][kind]), Some(a[1][kind]))?,
                ])
            })
        };
        row.core_busy_s = per_core(0);
        row.core_irq_s = per_core(1);
    }
}

struct Bench {
    options: Options,
    placement: Placement,
    ticks_per_s: f64,
    dir: PathBuf,
}

/// `12.34us`, `1.20ms`, `2.00s`, `1.00m` (wrk's units) in ms.
fn wrk_time_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match unit {
        "us" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        "m" => 60e3,
        "h" => 3600e3,
        _ => return None,
    };
    Some(number * factor)
}

/// The wrk figures out of its `--latency` report.
fn parse_wrk(out: &str, row: &mut Row) -> Result<()> {
    let mut requests = None;
    for line in out.lines() {
        let line = line.trim();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", value] => row.p50_ms = wrk_time_ms(value),
            ["99%", value] => row.p99_ms = wrk_time_ms(value),
            [count, "requests", "in", time, ..] => {
                requests = count.parse::<u64>().ok();
                row.seconds = time
                    .trim_end_matches(',')
                    .strip_suffix('s')
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0.0);
            }
            ["Requests/sec:", value] => row.rps = value.parse().unwrap_or(0.0),
            ["Non-2xx", "or", "3xx", "responses:", n] => row.failures += n.parse().unwrap_or(0),
            _ => {}
        }
        if let Some(errors) = line.strip_prefix("Socket errors:") {
            // connect 0, read 0, write 0, timeout 0
            for part in errors.split(',') {
                row.failures += part
                    .split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    row.requests =
        requests.ok_or_else(|| format!("no `N requests in` line in wrk's output:\n{out}"))?;
    Ok(())
}

/// The aggregated row of Locust's `--csv` stats.
fn parse_locust(csv_path: &Path, row: &mut Row) -> Result<()> {
    let mut reader = csv::Reader::from_path(csv_path)
        .map_err(|e| format!("cannot read Locust's stats {}: {e}", csv_path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let number = |record: &csv::StringRecord, name: &str| -> Option<f64> {
        record.get(column(name)?)?.trim().parse().ok()
    };
    for record in reader.records() {
        let record = record?;
        if column("Name").and_then(|i| record.get(i)) != Some("Aggregated") {
            continue;
        }
        row.requests = number(&record, "Request Count").unwrap_or(0.0) as u64;
        row.failures = number(&record, "Failure Count").unwrap_or(0.0) as u64;
        row.rps = number(&record, "Requests/s").unwrap_or(0.0);
        row.p50_ms = number(&record, "50%");
        row.p99_ms = number(&record, "99%");
        return Ok(());
    }
    Err(format!("no Aggregated row in {}", csv_path.display()).into())
}

/// The locust executable: env `LD_TOWER_LOCUST`, `.peer/bin/locust`, `locust`.
fn find_locust() -> (Option<PathBuf>, Vec<String>) {
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("LD_TOWER_LOCUST") {
        candidates.push(PathBuf::from(path));
    }
    candidates.push(Path::new(WORKSPACE).join(".peer/bin/locust"));
    candidates.push(PathBuf::from("locust"));
    let mut tried = Vec::new();
    for candidate in candidates {
        match Command::new(&candidate)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
        {
            Ok(out) if out.status.success() => return (Some(candidate), tried),
            Ok(out) => tried.push(format!("{}: exit {}", candidate.display(), out.status)),
            Err(e) => tried.push(format!("{}: {e}", candidate.display())),
        }
    }
    (None, tried)
}

const LOCUSTFILE: &str = "\
from locust import FastHttpUser, constant, task


class Bench(FastHttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get(\"/\")
";

impl Bench {
    fn deadline(&self, seconds: u64) -> Instant {
        Instant::now() + Duration::from_secs(seconds) + OVERRUN
    }

    /// Waits for an external generator, measuring its peak RSS and, once
    /// reaped, its lifetime CPU (the growth of our reaped children's time).
    fn wait_generator(
        &self,
        proc: &mut Proc,
        seconds: u64,
        row: &mut Row,
        children_before: Option<u64>,
    ) -> Result<ExitStatus> {
        let mut peak = None::<u64>;
        let status = proc.wait_until(self.deadline(seconds), |pid| {
            if let Some(hwm) = status_kb(pid, "VmHWM") {
                peak = Some(peak.map_or(hwm, |p| p.max(hwm)));
            }
        })?;
        row.peak_rss_kb = peak;
        row.cpu_s = reaped_children_ticks()
            .zip(children_before)
            .and_then(|(after, before)| after.checked_sub(before))
            .map(|ticks| ticks as f64 / self.ticks_per_s);
        Ok(status)
    }

    fn run_wrk(&self, target: &Target) -> Result<Row> {
        let users = self.options.users;
        let seconds = self.options.seconds;
        let mut command = self.placement.command(1, "wrk");
        command
            .arg("-t1")
            .arg(format!("-c{users}"))
            .arg(format!("-d{seconds}s"))
            .arg("--latency")
            .arg(format!("{}/", target.url()));
        let children_before = reaped_children_ticks();
        let meter = Meter::start(self.ticks_per_s, target);
        let mut proc = Proc::spawn("wrk", &mut command, &self.dir)?;
        let mut row = Row {
            generator: "wrk".into(),
            ..Row::default()
        };
        let status = self.wait_generator(&mut proc, seconds, &mut row, children_before)?;
        meter.finish(&mut row);
        if !status.success() {
            return Err(proc.failure(&format!("exited with {status}")));
        }
        parse_wrk(&proc.output(), &mut row)?;
        Ok(row)
    }

    fn run_locust(&self, locust: &Path, target: &Target) -> Result<Row> {
        let users = self.options.users;
        let seconds = self.options.seconds;
        let dir = self.dir.join("locust");
        std::fs::create_dir_all(&dir)?;
        let locustfile = dir.join("locustfile.py");
        std::fs::write(&locustfile, LOCUSTFILE)?;
        let csv_prefix = dir.join("bench");
        let mut command = self.placement.command(1, locust);
        command
            .current_dir(&dir)
            .arg("-f")
            .arg(&locustfile)
            .arg("--headless")
            .arg("-u")
            .arg(users.to_string())
            .arg("-r")
            .arg("10000")
            .arg("-t")
            .arg(format!("{seconds}s"))
            .arg("--host")
            .arg(target.url())
            .arg("--only-summary")
            .arg("--csv")
            .arg(&csv_prefix)
            .arg("--loglevel")
            .arg("WARNING");
        let children_before = reaped_children_ticks();
        let meter = Meter::start(self.ticks_per_s, target);
        let mut proc = Proc::spawn("locust", &mut command, &self.dir)?;
        let mut row = Row {
            generator: "Locust FastHttpUser".into(),
            note: "CPU includes Python start-up".into(),
            ..Row::default()
        };
        // Locust exits 1 when any request failed; its figures still count.
        let status = self.wait_generator(&mut proc, seconds, &mut row, children_before)?;
        meter.finish(&mut row);
        let stats = Path::new(&format!("{}_stats.csv", csv_prefix.display())).to_path_buf();
        parse_locust(&stats, &mut row).map_err(|e| proc.failure(&format!("({status}): {e}")))?;
        row.seconds = seconds as f64;
        Ok(row)
    }

    /// Starts ld-tower, runs one `LD_start_test`, and stops it.
    fn run_ld_tower(&self, target: &Target, seconds: u64, label: &str, perf: bool) -> Result<Row> {
        let users = self.options.users;
        let workdir = self.dir.join(format!("ld-tower-{label}"));
        std::fs::create_dir_all(&workdir)?;
        let mut command = self.placement.command(1, LD_TOWER);
        command
            .current_dir(&workdir)
            .args(["serve", "--host", "127.0.0.1", "--port", "0"])
            .env("LD_TOWER_LOG", "warn");
        let mut proc = Proc::spawn(&format!("ld-tower-{label}"), &mut command, &self.dir)?;
        let port = announced_port(&mut proc)?;
        let pid = proc.pid();
        let request = serde_json::json!({"load_density": [["LD_start_test", {
            "user_detail_dict": {"user": "fast_http_user", "host": target.url()},
            "user_count": users,
            "spawn_rate": 10000,
            "test_time": seconds,
            "wait_time": 0,
            "tasks": [{"method": "get", "request_url": "/"}],
        }]]})
        .to_string();
        let timeout = Duration::from_secs(seconds) + OVERRUN;
        let cpu_before = cpu_ticks(&pid.to_string());
        let meter = Meter::start(self.ticks_per_s, target);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(send_legacy(port, &request, timeout));
        });
        let mut perf_proc = None;
        let started = Instant::now();
        let mut last_rss = None;
        let mut peak = None;
        let reply = loop {
            match rx.recv_timeout(SAMPLE_EVERY) {
                Ok(reply) => break reply,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err("the request thread ended without a reply".into())
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if let Some(rss) = status_kb(pid, "VmRSS") {
                last_rss = Some(rss);
            }
            if let Some(hwm) = status_kb(pid, "VmHWM") {
                peak = Some(hwm);
            }
            if perf && perf_proc.is_none() && started.elapsed() > Duration::from_secs(1) {
                perf_proc = Some(self.start_perf(pid, seconds)?);
            }
            if let Some(status) = proc.exited() {
                return Err(proc.failure(&format!("exited ({status}) during the test")));
            }
            if started.elapsed() > timeout + Duration::from_secs(5) {
                return Err(proc.failure("sent no reply in time"));
            }
        };
        let cpu_after = cpu_ticks(&pid.to_string());
        let mut row = Row {
            generator: "ld-tower".into(),
            ..Row::default()
        };
        meter.finish(&mut row);
        if let Some(hwm) = status_kb(pid, "VmHWM") {
            peak = Some(hwm);
        }
        row.peak_rss_kb = peak;
        row.end_rss_kb = last_rss;
        row.cpu_s = cpu_after
            .zip(cpu_before)
            .and_then(|(a, b)| a.checked_sub(b))
            .map(|t| t as f64 / self.ticks_per_s);
        let lines = reply?;
        let result = lines
            .iter()
            .find(|line| line.starts_with('{') || line.starts_with("Error"))
            .ok_or_else(|| format!("ld-tower replied no result line: {lines:?}"))?;
        if result.starts_with("Error") {
            return Err(format!("ld-tower: {result}").into());
        }
        let value: Value = serde_json::from_str(result)
            .map_err(|e| format!("ld-tower's result is not JSON ({e}): {result}"))?;
        let summary = &value["summary"];
        row.requests = summary["totals"]["requests"].as_u64().unwrap_or(0);
        row.failures = summary["totals"]["failures"].as_u64().unwrap_or(0);
        row.p50_ms = summary["latency_overall"]["p50_ms"].as_f64();
        row.p99_ms = summary["latency_overall"]["p99_ms"].as_f64();
        row.seconds = value["elapsed_s"].as_f64().unwrap_or(seconds as f64);
        row.rps = if row.seconds > 0.0 {
            row.requests as f64 / row.seconds
        } else {
            0.0
        };
        if let Some(mut perf_proc) = perf_proc {
            let _ = perf_proc.wait_until(Instant::now() + Duration::from_secs(30), |_| {});
            row.note = "perf-recorded (figures disturbed)".into();
        }
        drop(proc);
        Ok(row)
    }

    fn start_perf(&self, pid: u32, seconds: u64) -> Result<Proc> {
        let record_s = seconds.saturating_sub(2).clamp(1, 5);
        let data = self.perf_data();
        let mut command = self.placement.command(1, "perf");
        command
            .arg("record")
            .arg("-g")
            .arg("-o")
            .arg(&data)
            .arg("-p")
            .arg(pid.to_string())
            .arg("--")
            .arg("sleep")
            .arg(record_s.to_string());
        Proc::spawn("perf", &mut command, &self.dir)
    }

    fn perf_data(&self) -> PathBuf {
        std::env::temp_dir().join("ld-tower-engine-bench.perf.data")
    }
}

/// Runs `run` up to `attempts` times while other processes disturb it;
/// the quietest run.
fn quietest(what: &str, attempts: u32, mut run: impl FnMut() -> Result<Row>) -> Result<Row> {
    let mut best: Option<Row> = None;
    for attempt in 1..=attempts {
        eprintln!("[{what}] run {attempt}");
        let mut row = run()?;
        row.runs = attempt;
        let quiet = row.noise() <= NOISE_LIMIT;
        if attempt > 1 {
            eprintln!(
                "[{what}] run {attempt}: other load {:.0}%",
                100.0 * row.noise()
            );
        }
        if best.as_ref().is_none_or(|best| row.noise() < best.noise()) {
            best = Some(row);
        }
        if quiet {
            break;
        }
    }
    best.ok_or_else(|| format!("{what}: no run").into())
}

/// Sends one request in legacy framing and reads the reply to its end;
/// the result lines, without the terminator.
fn send_legacy(port: u16, request: &str, timeout: Duration) -> Result<Vec<String>, String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("cannot connect to ld-tower on {addr}: {e}"))?;
    tcp.set_read_timeout(Some(timeout))
        .and_then(|()| tcp.set_write_timeout(Some(Duration::from_secs(5))))
        .map_err(|e| e.to_string())?;
    tcp.write_all(request.as_bytes())
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut reply = Vec::new();
    tcp.read_to_end(&mut reply)
        .map_err(|e| format!("no complete reply from ld-tower: {e}"))?;
    let text = String::from_utf8_lossy(&reply);
    if !text.contains("Return_Data_Over_JE") {
        return Err(format!("reply without the terminator: {text:?}"));
    }
    Ok(text
        .lines()
        .filter(|line| *line != "Return_Data_Over_JE")
        .map(str::to_owned)
        .collect())
}

// ------------------------------------------------------------------ output

fn fmt_opt(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.digits$}"))
}

fn mb(kb: Option<u64>) -> String {
    kb.map_or_else(
        || "n/a".to_owned(),
        |kb| format!("{:.1}", kb as f64 / 1024.0),
    )
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<20} {:>10} {:>9} {:>8} {:>8} {:>10} {:>8} {:>8} {:>8} {:>11} {:>10} {:>9} {:>4}",
        "generator",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "CPU us/req",
        "gen CPU",
        "peak MB",
        "tgt CPU",
        "other c0/c1",
        "sirq c0/c1",
        "failures",
        "runs"
    );
    println!("{}", "-".repeat(136));
    let mut noisy = false;
    for row in rows {
        let share = |s: Option<f64>| {
            s.map_or_else(
                || "n/a".to_owned(),
                |s| format!("{:.0}%", 100.0 * s / row.wall_s),
            )
        };
        let other = row.other_load().map_or_else(
            || "n/a".to_owned(),
            |[c0, c1]| {
                let mark = if c0.max(c1) > NOISE_LIMIT { "!" } else { "" };
                noisy |= !mark.is_empty();
                format!("{:.0}%/{:.0}%{mark}", 100.0 * c0, 100.0 * c1)
            },
        );
        let irq = row.core_irq_s.map_or_else(
            || "n/a".to_owned(),
            |[c0, c1]| {
                format!(
                    "{:.0}%/{:.0}%",
                    100.0 * c0 / row.wall_s,
                    100.0 * c1 / row.wall_s
                )
            },
        );
        println!(
            "{:<20} {:>10} {:>9.0} {:>8} {:>8} {:>10} {:>8} {:>8} {:>8} {:>11} {:>10} {:>9} {:>4}{}",
            row.generator,
            row.requests,
            row.rps,
            fmt_opt(row.p50_ms, 2),
            fmt_opt(row.p99_ms, 2),
            fmt_opt(row.cpu_us_per_request(), 2),
            row.cpu_share()
                .map_or_else(|| "n/a".to_owned(), |s| format!("{:.0}%", 100.0 * s)),
            mb(row.peak_rss_kb),
            share(row.target_cpu_s),
            other,
            irq,
            row.failures,
            row.runs,
            if row.note.is_empty() {
                String::new()
            } else {
                format!("  ({})", row.note)
            }
        );
    }
    println!(
        "\n  gen CPU: the generator's CPU time as a share of the run (100% = core 1 saturated);\n  \
         tgt CPU: the target's (core 0); other c0/c1: busy time of cores 0/1 not spent by the target /\n  \
         the generator or this orchestrator (other processes, kernel threads); sirq c0/c1: the part of\n  \
         the cores' time in irq + softirq (mostly loopback packet delivery; the process in whose\n  \
         context a softirq ran is charged for it, so it is in gen CPU and CPU us/req too)."
    );
    if noisy {
        println!(
            "  ! other processes kept core 0 or 1 more than 10% busy in every run of that generator: its\n    \
             figures are disturbed (the quietest run is shown); rerun on a quiet machine"
        );
    }
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

fn print_ratios(ld: Option<&Row>, wrk: Option<&Row>, locust: Option<&Row>) {
    println!("\nratios:");
    let Some(ld) = ld else {
        println!("  no ld-tower figures: no ratios");
        return;
    };
    match wrk {
        Some(wrk) if wrk.rps > 0.0 => {
            let ratio = ld.rps / wrk.rps;
            println!(
                "  requests/s, ld-tower / wrk:        {:.0} / {:.0} = {ratio:.2}x  (target >= 0.95x, redirects on: {})",
                ld.rps,
                wrk.rps,
                verdict(ratio >= 0.95)
            );
            match (ld.cpu_us_per_request(), wrk.cpu_us_per_request()) {
                (Some(ours), Some(theirs)) if theirs > 0.0 => {
                    let ratio = ours / theirs;
                    println!(
                        "  CPU per request, ld-tower / wrk:   {ours:.2} us / {theirs:.2} us = {ratio:.2}x  \
                         (target <= 1.1x: {})",
                        verdict(ratio <= 1.1)
                    );
                }
                _ => println!("  CPU per request, ld-tower / wrk:   n/a (no CPU figure)"),
            }
        }
        _ => println!("  vs wrk: n/a (wrk did not run)"),
    }
    match locust {
        Some(locust) if locust.rps > 0.0 => {
            let ratio = ld.rps / locust.rps;
            println!(
                "  requests/s, ld-tower / Locust:     {:.0} / {:.0} = {ratio:.1}x  (target >= 10x: {})",
                ld.rps,
                locust.rps,
                verdict(ratio >= 10.0)
            );
            if let (Some(ours), Some(theirs)) =
                (ld.cpu_us_per_request(), locust.cpu_us_per_request())
            {
                if ours > 0.0 {
                    println!(
                        "  CPU per request, Locust / ld-tower: {theirs:.2} us / {ours:.2} us = {:.1}x lower \
                         for ld-tower (no target)",
                        theirs / ours
                    );
                }
            }
        }
        _ => println!("  vs Locust: n/a (Locust did not run)"),
    }
}

// ------------------------------------------------------------------ main

fn main() -> ExitCode {
    match start() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("engine bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn start() -> Result<ExitCode> {
    if std::env::args().any(|arg| arg == HYPER_TARGET) {
        hyper_target()?;
        return Ok(ExitCode::SUCCESS);
    }
    let options = parse_options()?;
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
    run(options, placement)?;
    Ok(ExitCode::SUCCESS)
}

fn run(options: Options, placement: Placement) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("ld-tower-engine-bench-")
        .tempdir()?;
    let bench = Bench {
        options: options.clone(),
        placement,
        ticks_per_s: clock_ticks_per_second(),
        dir: dir.path().to_path_buf(),
    };
    println!("ld-tower engine benchmark");
    println!("  ld-tower:   {LD_TOWER}");
    println!("  placement:  {}", bench.placement.description);
    println!(
        "  load:       {} users = {} connections per generator, {} s each, GET / as fast as answered",
        options.users, options.users, options.seconds
    );

    let target = match find_nginx() {
        Some(nginx) => start_nginx(&nginx, &bench.placement, dir.path())?,
        None => {
            println!(
                "  nginx:      NOT INSTALLED (install it with: apt-get update && apt-get install -y nginx);\n              \
                 falling back to this bench's own hyper server"
            );
            start_hyper_target(&bench.placement, dir.path())?
        }
    };
    println!("  target:     {}", target.description);

    let wrk_found = have("wrk", "--version");
    if !wrk_found {
        println!("  wrk:        NOT INSTALLED (install it with: apt-get install -y wrk); skipped");
    }
    let locust = if options.locust {
        let (found, tried) = find_locust();
        match &found {
            Some(path) => println!("  locust:     {}", path.display()),
            None => {
                println!("  locust:     NOT INSTALLED; skipped. Tried:");
                for line in &tried {
                    println!("                {line}");
                }
                println!(
                    "              install it with: python3 -m venv .peer && .peer/bin/pip install locust\n              \
                     (or set LD_TOWER_LOCUST to a locust executable)"
                );
            }
        }
        found
    } else {
        println!("  locust:     skipped (--no-locust)");
        None
    };
    if options.perf && !have("perf", "--version") {
        return Err("--perf: perf not found (apt-get install -y linux-perf)".into());
    }

    // A short warm-up of the target (page cache, first accepts).
    if wrk_found {
        let mut command = bench.placement.command(1, "wrk");
        command
            .args(["-t1", "-c4", "-d1s"])
            .arg(format!("{}/", target.url()));
        let mut warm = Proc::spawn("wrk-warmup", &mut command, dir.path())?;
        warm.wait_until(bench.deadline(1), |_| {})?;
    }

    let mut rows = Vec::new();
    let mut wrk_row = None;
    if wrk_found {
        match quietest("wrk", options.attempts, || bench.run_wrk(&target)) {
            Ok(row) => {
                rows.push(row.clone());
                wrk_row = Some(row);
            }
            Err(e) => println!("  wrk failed: {e}"),
        }
    }
    let ld_row = quietest("ld-tower", options.attempts, || {
        bench.run_ld_tower(&target, options.seconds, "main", options.perf)
    })?;
    rows.push(ld_row.clone());
    let mut locust_row = None;
    if let Some(locust) = &locust {
        match quietest("locust", options.attempts, || {
            bench.run_locust(locust, &target)
        }) {
            Ok(row) => {
                rows.push(row.clone());
                locust_row = Some(row);
            }
            Err(e) => println!("  Locust failed: {e}"),
        }
    }
    print_table(&rows);
    print_ratios(Some(&ld_row), wrk_row.as_ref(), locust_row.as_ref());

    // Memory flatness: RSS just before the end of a short and a long test.
    println!(
        "\nmemory flatness (ld-tower RSS sampled every 200 ms, last sample before the reply):"
    );
    let short = if options.seconds == SHORT_RUN_S && !options.perf {
        ld_row.clone()
    } else {
        eprintln!("[ld-tower] {SHORT_RUN_S} s (memory)");
        bench.run_ld_tower(&target, SHORT_RUN_S, "short", false)?
    };
    let print_rss = |row: &Row, seconds: u64| {
        println!(
            "  {seconds:>3} s test: RSS at the end {} MB, peak {} MB, {} requests",
            mb(row.end_rss_kb),
            mb(row.peak_rss_kb),
            row.requests
        );
    };
    print_rss(&short, SHORT_RUN_S);
    if options.quick {
        println!("  {LONG_RUN_S} s test: skipped (--quick)");
    } else {
        eprintln!("[ld-tower] {LONG_RUN_S} s (memory)");
        let long = bench.run_ld_tower(&target, LONG_RUN_S, "long", false)?;
        print_rss(&long, LONG_RUN_S);
        match (short.end_rss_kb, long.end_rss_kb) {
            (Some(s), Some(l)) if s > 0 => {
                let ratio = l as f64 / s as f64;
                println!(
                    "  RSS {LONG_RUN_S} s / {SHORT_RUN_S} s = {ratio:.3}  (target within 10%: {})",
                    verdict((ratio - 1.0).abs() <= 0.10)
                );
            }
            _ => println!("  RSS ratio: n/a (no RSS sample)"),
        }
    }
    if options.perf {
        println!(
            "\nperf profile of ld-tower's main run: {}\n  read it with: perf report -i {} --no-children --sort dso,sym",
            bench.perf_data().display(),
            bench.perf_data().display()
        );
    }
    println!(
        "\nnotes:\n  \
         - CPU us/req: the generator process's CPU time (user + system) / its requests; ld-tower's over the\n    \
         test (sent to replied), wrk's and Locust's over their whole life (Locust's includes starting Python).\n  \
         - latency: wrk and ld-tower to the microsecond; Locust rounds its percentiles to whole ms.\n  \
         - when the target's core (tgt CPU) is near 100%, the target, not the generator, sets requests/s."
    );
    drop(target);
    Ok(())
}
