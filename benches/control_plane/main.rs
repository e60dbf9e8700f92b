//! Control-plane benchmark: ld-tower's control socket against the original
//! Python `je_load_density` server, as real processes.
//!
//! ```text
//! cargo bench --bench control_plane [-- --quick] [-- --clients N --seconds S --no-peer]
//! cargo bench --bench control_plane -- --no-plain --no-kept --certs rsa2048 --handshakes full
//! ```
//!
//! The server under test runs pinned to core 0 (`taskset -c 0`); this
//! process re-executes itself under `taskset -c 1` and drives it from a
//! current-thread tokio runtime with N concurrent clients (default 50) for S
//! seconds (default 5) per scenario, after a short warm-up. Every scenario
//! sends the framed, token-wrapped `LD_summary` command:
//!
//! - one command per connection: connect, [TLS handshake], one request,
//!   read frames up to the terminator, close;
//! - kept connections: each client reuses its connection command after
//!   command (a server that closes after every reply, as the original does,
//!   is detected by a probe and measured reconnecting, labelled so).
//!
//! TLS runs with an RSA-2048 and an ECDSA P-256 certificate (`--certs`),
//! one command per connection with full handshakes (the clients remember no
//! session) and resumed ones (each client keeps its own session store and
//! resumes from the server's tickets) (`--handshakes`); the table shows
//! the share of handshakes that did resume.
//!
//! Measured: commands/s, p50/p99 latency, and the server's CPU time per
//! command (utime + stime of its PID from `/proc/PID/stat` over the timed
//! window, divided by the commands completed in it).
//!
//! The original is found as: env `LD_TOWER_PEER_PYTHON`, else
//! `.peer/bin/python` under the workspace root, else `python3`; whichever
//! can `import je_load_density`. Without it only ld-tower's figures print.
//!
//! `cargo bench --bench control_plane -- --help` lists the options.
//!
//! The modules: [`options`] (the command line), [`servers`] (the servers
//! under test as processes), [`tls`] (the TLS material), [`clients`] (the
//! framed clients), [`scenarios`] (one measured window), [`report`] (the
//! table, the ratios and the notes); `child` is the child-process guard
//! the tests share.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = BoxError> = std::result::Result<T, E>;

#[path = "../../tests/common/child.rs"]
mod child;
#[path = "../support/mod.rs"]
mod support;

mod clients;
mod options;
mod report;
mod scenarios;
mod servers;
mod tls;

use options::Options;
use report::{print_notes, print_ratios, print_table};
use scenarios::Bench;
use servers::{find_peer_python, floor_server, Kind};
use support::{clock_ticks_per_second, pin_self, Placement};
use tls::tls_material;

/// The ld-tower binary under test (the release build under `cargo bench`).
const LD_TOWER: &str = env!("CARGO_BIN_EXE_ld-tower");
/// The workspace root (`.peer/` lives there).
const WORKSPACE: &str = env!("CARGO_MANIFEST_DIR");
/// Set in the re-executed, pinned child so it does not re-execute again.
const PINNED_ENV: &str = "LD_TOWER_BENCH_PINNED";
/// The terminator frame's body.
const END: &[u8] = b"Return_Data_Over_JE\n";
/// A reply frame larger than this is a broken server.
const MAX_REPLY_FRAME: usize = 16 * 1024 * 1024;
/// One command (connect, handshake, request, every reply frame) at most.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to print `Server started on`.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Client-side kernel cost of one new loopback TCP connection caps this.
const LOOPBACK_CONNECT_CAP: &str = "~14,000/s";
/// Other processes busy on a core more than this share disturb a scenario.
const NOISE_LIMIT: f64 = 0.10;

fn main() -> ExitCode {
    match start() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("control_plane bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn start() -> Result<ExitCode> {
    let options = Options::parse();
    if options.floor_server {
        floor_server()?;
        return Ok(ExitCode::SUCCESS);
    }
    let (reexecuted, placement) = pin_self(
        PINNED_ENV,
        |cpus| format!("server on core 0 (taskset -c 0), clients on core(s) {cpus}"),
        "server and clients share cores",
    )?;
    if let Some(code) = reexecuted {
        return Ok(code);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(options, placement))?;
    Ok(ExitCode::SUCCESS)
}

async fn run(options: Options, placement: Placement) -> Result<()> {
    let ticks_per_s = clock_ticks_per_second();
    println!("ld-tower control-plane benchmark");
    println!("  ld-tower:  {LD_TOWER}");
    println!("  placement: {}", placement.description);
    println!(
        "  load:      {} concurrent clients, {:.1} s timed (+{:.1} s warm-up) per scenario, \
         framed LD_summary with a token",
        options.clients,
        options.seconds(),
        options.warmup()
    );
    let peer = if options.peer {
        let (found, tried) = find_peer_python();
        match &found {
            Some((python, version)) => println!(
                "  original:  je_load_density {version} via {}",
                python.display()
            ),
            None => {
                println!("  original:  NOT INSTALLED; printing ld-tower's figures only. Tried:");
                for line in &tried {
                    println!("               {line}");
                }
                println!(
                    "             install it with: python3 -m venv .peer && \
                     .peer/bin/pip install je-load-density==0.0.79"
                );
            }
        }
        found
    } else {
        println!("  original:  skipped (--no-peer)");
        None
    };

    let token = format!(
        "bench-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let body = serde_json::json!({
        "token": token,
        "command": {"load_density": [["LD_summary", {}]]},
    })
    .to_string();
    let mut frame = u32::try_from(body.len())?.to_be_bytes().to_vec();
    frame.extend_from_slice(body.as_bytes());
    let mut materials = Vec::new();
    for cert in options.certs() {
        eprintln!("[bench] making {} certificates", cert.name());
        materials.push((cert, Arc::new(tls_material(cert)?)));
    }
    let bench = Bench {
        options: options.clone(),
        ticks_per_s,
        placement,
        token,
        frame,
    };

    let mut rows = Vec::new();
    let mut kinds = vec![Kind::LdTower];
    if options.plain {
        kinds.push(Kind::Floor);
    }
    if peer.is_some() {
        kinds.push(Kind::Original);
    }
    for kind in kinds {
        let python = peer.as_ref().map(|(python, _)| python.as_path());
        if options.plain {
            bench.measure_server(kind, python, None, &mut rows).await?;
        }
        if kind == Kind::Floor {
            continue;
        }
        for (cert, material) in &materials {
            bench
                .measure_server(kind, python, Some((*cert, material)), &mut rows)
                .await?;
        }
    }

    print_table(&rows);
    match &peer {
        Some((_, version)) => print_ratios(&rows, version),
        None => println!("\n(the original is not installed: no ratios)"),
    }
    print_notes(&rows);
    Ok(())
}
