//! Fleet coordination benchmark (issue 13, point 5): what a coordinator
//! pays to drive ld-tower agents with `LD_prepare_test`,
//! `LD_start_prepared` and `LD_fetch_figures`.
//!
//! ```text
//! cargo bench --bench fleet [-- --quick] [-- --merge-agents 3,10,50,100 --agents 3,10 --rounds 5]
//! cargo bench --bench fleet -- --help
//! ```
//!
//! 1. Merge: N agents' figures (default 20 names x 50,000 requests each,
//!    latencies 0.2 ms to 2 s, 2% failures over four kinds, several status
//!    codes, a 60 s series) built in-process and encoded with
//!    `TestFigures::to_json` (the bytes an agent sends per fetch); then,
//!    timed over several rounds, every document decoded
//!    (`TestFigures::from_json`) and merged into one `Figures`: bytes per
//!    agent and in all, this process's CPU time per merge
//!    (`CLOCK_PROCESS_CPUTIME_ID`) and wall time, CPU µs per agent. The
//!    series are decoded but not merged (`ld_tower::figures` has no public
//!    way to). The merged p50/p95/p99/max and counts, per name and over all
//!    names, must equal those of one `Figures` that recorded every sample,
//!    or the bench stops with "NOT EXACT".
//! 2. Fetch: K real agents (`ld-tower serve --framed --token-file`, the
//!    release binary, each in its own directory) run a short test against
//!    this bench's one-thread hyper target (re-executed as a child, as the
//!    engine bench's fallback target), then `LD_fetch_figures`: the reply's
//!    bytes per agent, and the merged count checked against the requests.
//! 3. Start skew: on K agents (each of `--agents`), `LD_prepare_test`, then
//!    `LD_start_prepared` to all at once with one `start_at_unix_ms` 300 ms
//!    ahead; from the replies' `started_at_unix_ms`, the skew (max - min)
//!    and the lateness (max - start_at) per round, min/median/max over the
//!    rounds, against the goal "< 5 ms".
//! 4. Peer: Locust's distributed stats (latencies bucketed to 2 significant
//!    digits on each worker, dicts added by the master) on the same samples
//!    as part 1: its p50/p95/p99 error against the true values, beside
//!    ld-tower's; checked once with Locust's own functions when Locust is
//!    installed.
//!
//! The modules: [`options`] (the command line), [`cpu`] (CPU time),
//! [`synth`] (part 1's agents), [`merge`] (decoding, merging, the
//! exactness check), [`agents`] (parts 2 and 3), [`peer`] (part 4);
//! `child`, `support`, `targets` and `tokens` are the tests' and the other
//! benches' own.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = BoxError> = std::result::Result<T, E>;

#[path = "../../tests/common/child.rs"]
mod child;
#[path = "../support/mod.rs"]
mod support;
#[allow(dead_code)] // nginx is not used here: the hyper target is.
#[path = "../engine/targets.rs"]
mod targets;
#[allow(unreachable_pub, clippy::expect_used)] // The tests' helper, as it is.
#[path = "../../tests/common/tokens.rs"]
mod tokens;

mod agents;
mod cpu;
mod merge;
mod options;
mod peer;
mod synth;

use options::Options;

/// The ld-tower binary under test (the release build under `cargo bench`).
const LD_TOWER: &str = env!("CARGO_BIN_EXE_ld-tower");
/// The workspace root.
const WORKSPACE: &str = env!("CARGO_MANIFEST_DIR");
/// How long a server may take to announce its port.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a process may take to exit on SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

/// Starts `command` as a [`child::Child`] stopped by SIGTERM first.
fn spawn(name: &str, command: &mut std::process::Command) -> Result<child::Child> {
    Ok(child::Child::spawn(name, command)?.with_grace(GRACE))
}

fn main() -> ExitCode {
    let options = Options::parse();
    if options.hyper_target {
        return match targets::hyper_target() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("fleet bench target: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: &Options) -> Result<()> {
    println!("ld-tower fleet coordination benchmark");
    println!("  ld-tower:  {LD_TOWER}");
    println!(
        "  machine:   {} CPU(s) allowed ({}), nothing pinned: agents, target and this process share them",
        std::thread::available_parallelism().map_or(1, usize::from),
        support::allowed_cpus().unwrap_or_else(|| "?".into())
    );

    // Part 1 (and the samples part 4 compares).
    let shape = synth::Shape::of(options);
    let counts: Vec<usize> = options.merge_agents().iter().map(|n| *n as usize).collect();
    let most = counts.iter().copied().max().unwrap_or(0);
    println!(
        "\n1. merging N agents' figures documents (decode with TestFigures::from_json, Figures::merge)"
    );
    println!("  each agent: {}", shape.describe());
    eprintln!("[merge] building {most} agents' figures...");
    let clock = cpu::CpuClock::start();
    let fleet = synth::build(&shape, most, &counts);
    eprintln!("[merge] built in {:.1} s", clock.wall_ms() / 1000.0);
    let mut rows = Vec::new();
    for (n, single, _) in &fleet.oracles {
        eprintln!("[merge] N = {n}: {} rounds", options.rounds());
        rows.push(merge::measure(
            &fleet.documents[..*n],
            single,
            options.rounds(),
        )?);
    }
    merge::print_rows(&rows, &fleet.encode_cpu_ms);
    println!(
        "  exact: yes: for every N, per name and over all names, the merged count, p50, p95, p99 \
         and max equal those of one histogram that recorded every sample (the number of values \
         compared in brackets)"
    );
    println!(
        "  CPU: this process's CPU time (CLOCK_PROCESS_CPUTIME_ID) over a whole merge (decode all N, \
         then the coordinator's merge: ld_tower::fleet::merge, histograms added and the 60 s \
         series aligned), {} rounds",
        options.rounds()
    );

    // Parts 2 and 3.
    if options.real_agents {
        real_agents(options)?;
    } else {
        println!("\n2./3. real agents: skipped (--no-agents)");
    }

    // Part 4.
    peer_part(options, &fleet)?;
    Ok(())
}

/// Parts 2 and 3, on real agents and a real target.
fn real_agents(options: &Options) -> Result<()> {
    let mut ks: Vec<usize> = options.agents.iter().map(|k| *k as usize).collect();
    ks.sort_unstable();
    ks.dedup();
    let most = ks.last().copied().unwrap_or(1);
    let dir = tempfile::Builder::new()
        .prefix("ld-tower-fleet-bench-")
        .tempdir()?;
    let placement = support::Placement {
        pin: false,
        description: String::new(),
    };
    let target = targets::start_hyper_target(&placement)?;
    let url = target.url();
    eprintln!("[agents] starting {most} agents");
    let agents = agents::start_agents(most, dir.path())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;

    println!("\n2. a real LD_fetch_figures: {most} agents, target {url} (one-thread hyper)");
    let fetched = runtime.block_on(agents::fetch(&agents, &url, options.fetch_seconds()))?;
    agents::print_fetched(&fetched);

    println!(
        "\n3. start skew: a coordinator (ld-tower serve) runs LD_start_test with runner_mode \
         \"master\" on K agents: it prepares each, then starts all at one start_at_unix_ms"
    );
    println!(
        "  {:>3}  {:>6}  {:>22}  {:>22}  {:>18}",
        "K", "rounds", "skew ms min/med/max", "late ms min/med/max", "sent→running med/max"
    );
    let coordinator_dir = dir.path().join("coordinator");
    std::fs::create_dir_all(&coordinator_dir)?;
    let coordinator = agents::start_agents(1, &coordinator_dir)?;
    for k in &ks {
        eprintln!("[skew] K = {k}");
        let skews = runtime.block_on(agents::skew_rounds(
            &coordinator[0],
            &agents[..*k],
            &url,
            options.skew_rounds(),
        ))?;
        agents::print_skews(*k, &skews);
    }
    println!(
        "  skew: max - min of the agents' started_at_unix_ms (whole ms); late: the last start - \
         start_at_unix_ms; sent→running: from sending LD_start_test to the last agent's start \
         (finding, preparing and connecting to the agents, and the lead the coordinator chose). \
         All agents read this machine's one clock: this is the agents' timer \
         precision under load, not clock synchronisation between machines."
    );
    drop(agents);
    drop(target);
    Ok(())
}

/// Part 4: Locust's bucketed merge beside ld-tower's, on part 1's samples.
fn peer_part(options: &Options, fleet: &synth::Fleet) -> Result<()> {
    println!(
        "\n4. peer: Locust's distributed stats on the same samples (each worker buckets latencies \
         to ~2 significant digits, the master adds the dicts)"
    );
    let locust = if options.peer {
        match peer::find_locust(WORKSPACE) {
            Ok(path) => Some(path),
            Err(why) => {
                println!(
                    "  peer skipped: {why}; the Rust re-implementation of its bucketing follows"
                );
                None
            }
        }
    } else {
        println!("  peer skipped: --no-peer; the Rust re-implementation of its bucketing follows");
        None
    };
    println!(
        "  {:>4}  {:>14}  {:>24}  {:>24}  {:>24}",
        "N", "", "p50 ms (error)", "p95 ms (error)", "p99 ms (error)"
    );
    for (n, single, exact) in &fleet.oracles {
        let merged = merge::decode_and_merge(&fleet.documents[..*n])?;
        let ours = merge::overall(&merged)?;
        let theirs = merge::overall(single)?;
        let dict = peer::locust_dict(exact);
        let cell = |value_ms: f64, true_ms: f64| {
            format!(
                "{value_ms:.3} ({:+.2}%)",
                100.0 * (value_ms - true_ms) / true_ms
            )
        };
        let mut lines = [
            format!("  {n:>4}  {:>14}", "true"),
            format!("  {:>4}  {:>14}", "", "ld-tower"),
            format!("  {:>4}  {:>14}", "", "Locust-style"),
        ];
        for (q, _) in merge::QUANTILES {
            let true_ms = exact.quantile_us(q) as f64 / 1000.0;
            let ld_ms = ours.value_at_quantile(q) as f64 / 1000.0;
            let single_ms = theirs.value_at_quantile(q) as f64 / 1000.0;
            if ld_ms != single_ms {
                return Err(
                    format!("NOT EXACT: merged p{q} {ld_ms} ms, single {single_ms}").into(),
                );
            }
            let locust_ms = peer::locust_percentile(&dict, exact.total(), q) as f64;
            lines[0].push_str(&format!("  {:>24}", format!("{true_ms:.3}")));
            lines[1].push_str(&format!("  {:>24}", cell(ld_ms, true_ms)));
            lines[2].push_str(&format!("  {:>24}", cell(locust_ms, true_ms)));
        }
        for line in lines {
            println!("{line}");
        }
    }
    println!(
        "  ld-tower's merge adds no error (merged = one histogram of every sample, checked above); \
         its only error is the histogram's 3 significant digits (< 0.1%), the same on one agent. \
         Locust's dict-adding merge is exact too, over values already bucketed on each worker \
         to whole ms below 100 ms and 2 significant digits above."
    );
    if let (Some(locust), Some((n, _, exact))) = (&locust, fleet.oracles.first()) {
        let dict = peer::locust_dict(exact);
        let ours: Vec<u64> = merge::QUANTILES
            .iter()
            .map(|(q, _)| peer::locust_percentile(&dict, exact.total(), *q))
            .collect();
        match peer::locust_own(locust, exact, *n) {
            Ok((version, theirs)) => {
                let agree = if ours == theirs { "yes" } else { "NO" };
                println!(
                    "  checked against Locust {version}'s own bucket_response_time and \
                     calculate_response_time_percentile ({}), N = {n}: p50/p95/p99 {:?} ms; \
                     the Rust re-implementation agrees: {agree}",
                    locust.display(),
                    theirs
                );
            }
            Err(e) => println!("  peer check skipped: {e}"),
        }
    }
    println!(
        "  not compared: Locust's master/worker start skew (a master has no common start instant: \
         each worker spawns users when its spawn message arrives) and its report bytes (a worker \
         sends its stats every 3 s, each report reset after sending, so they are not one fetch's \
         bytes); left for a later run."
    );
    Ok(())
}
