//! Load-engine benchmark: ld-tower's engine against wrk and Locust's
//! `FastHttpUser`, all hitting the same local HTTP target, as real processes.
//!
//! ```text
//! cargo bench --bench engine [-- --seconds S] [-- --users N] [-- --quick] [-- --no-locust] [-- --perf]
//! cargo bench --bench engine -- --help
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
//!
//! The modules: [`options`] (the command line), [`targets`] (nginx or the
//! hyper fallback), [`peers`] (wrk and Locust runs and their output),
//! [`agent`] (ld-tower's runs through its control socket), [`measure`]
//! (a run's figures from `/proc`), [`report`] (the table and the ratios);
//! `child` is the child-process guard the tests share.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = BoxError> = std::result::Result<T, E>;

#[path = "../../tests/common/child.rs"]
mod child;
#[path = "../support/mod.rs"]
mod support;

mod agent;
mod measure;
mod options;
mod peers;
mod report;
mod targets;

use measure::Row;
use options::Options;
use report::{mb, print_ratios, print_table, verdict};
use support::{clock_ticks_per_second, have, pin_self, Placement};
use targets::{find_nginx, start_hyper_target, start_nginx};

/// The ld-tower binary under test (the release build under `cargo bench`).
const LD_TOWER: &str = env!("CARGO_BIN_EXE_ld-tower");
/// The workspace root (`.peer/` lives there).
const WORKSPACE: &str = env!("CARGO_MANIFEST_DIR");
/// Set in the re-executed, pinned orchestrator so it does not re-execute again.
const PINNED_ENV: &str = "LD_TOWER_ENGINE_BENCH_PINNED";
/// How long a server may take to accept connections / announce its port.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a generator may overrun its test time before it is killed.
const OVERRUN: Duration = Duration::from_secs(45);
/// How often RSS is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// How long a process may take to exit on SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(2);
/// Other processes busy on a core more than this share disturb a run.
const NOISE_LIMIT: f64 = 0.10;
/// The 60 s run of the memory-flatness check.
const LONG_RUN_S: u64 = 60;
/// The 10 s run of the memory-flatness check.
const SHORT_RUN_S: u64 = 10;

/// Starts `command` as a [`child::Child`] stopped by SIGTERM first, as
/// every process of this bench is.
fn spawn(name: &str, command: &mut std::process::Command) -> Result<child::Child> {
    Ok(child::Child::spawn(name, command)?.with_grace(GRACE))
}

/// What every run needs.
struct Bench {
    options: Options,
    placement: Placement,
    ticks_per_s: f64,
    /// The run's temporary directory (nginx's prefix, Locust's files).
    dir: PathBuf,
}

impl Bench {
    /// When a generator running `seconds` must have finished.
    fn deadline(&self, seconds: u64) -> Instant {
        Instant::now() + Duration::from_secs(seconds) + OVERRUN
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
    let options = Options::parse();
    if options.hyper_target {
        targets::hyper_target()?;
        return Ok(ExitCode::SUCCESS);
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
            start_hyper_target(&bench.placement)?
        }
    };
    println!("  target:     {}", target.description);

    let wrk_found = have("wrk", "--version");
    if !wrk_found {
        println!("  wrk:        NOT INSTALLED (install it with: apt-get install -y wrk); skipped");
    }
    let locust = if options.locust {
        let (found, tried) = peers::find_locust();
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
        let mut warm = spawn("wrk-warmup", &mut command)?;
        warm.wait_until(bench.deadline(1), SAMPLE_EVERY, |_| {})?;
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
