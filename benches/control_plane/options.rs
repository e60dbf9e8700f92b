//! The control-plane bench's command line.

use clap::{ArgAction, Parser};

/// `cargo bench --bench control_plane -- [OPTIONS]`.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "control_plane",
    bin_name = "cargo bench --bench control_plane --",
    about = "ld-tower's control socket against LoadDensity's Python server, on pinned cores",
    long_about = "ld-tower's control socket against the original Python je_load_density server \
                  and a bare tokio server, each pinned to core 0 and driven from core 1 by \
                  concurrent framed clients sending LD_summary in a token envelope: one command \
                  per connection and on kept connections, plain and TLS. Prints commands/s, \
                  p50/p99 latency and the server's CPU time per command, then the ratios against \
                  the goals.",
    after_help = "Environment:\n  LD_TOWER_PEER_PYTHON  the python that has je_load_density installed \
                  (else .peer/bin/python, else python3)"
)]
pub(crate) struct Options {
    /// Short run: 2 s per scenario (unless --seconds says), 0.5 s warm-up,
    /// at most 2 runs of a disturbed scenario.
    #[arg(long)]
    pub(crate) quick: bool,

    /// Concurrent clients (1 to 4000).
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=4000))]
    pub(crate) clients: u32,

    /// Timed window per scenario, in seconds (0.2 to 600; default 5, 2
    /// with --quick).
    #[arg(long = "seconds", value_name = "S", value_parser = window_seconds)]
    seconds_given: Option<f64>,

    /// Skip the original Python server.
    #[arg(long = "no-peer", action = ArgAction::SetFalse)]
    pub(crate) peer: bool,

    /// Passed by `cargo bench` to every `harness = false` bench; ignored.
    #[arg(long, hide = true)]
    pub(crate) bench: bool,

    /// Be the bare tokio server instead (this bench starts itself so).
    #[arg(long = "floor-server", hide = true)]
    pub(crate) floor_server: bool,
}

impl Options {
    /// The timed window per scenario, in seconds.
    pub(crate) fn seconds(&self) -> f64 {
        match (self.seconds_given, self.quick) {
            (Some(seconds), _) => seconds,
            (None, true) => 2.0,
            (None, false) => 5.0,
        }
    }

    /// The warm-up before each window, in seconds.
    pub(crate) fn warmup(&self) -> f64 {
        if self.quick {
            0.5
        } else {
            1.0
        }
    }

    /// Runs of a scenario at most, while other processes disturb it.
    pub(crate) fn attempts(&self) -> u32 {
        if self.quick {
            2
        } else {
            3
        }
    }
}

/// `--seconds`: 0.2 to 600.
fn window_seconds(text: &str) -> Result<f64, String> {
    text.parse()
        .ok()
        .filter(|s: &f64| (0.2..=600.0).contains(s))
        .ok_or_else(|| format!("{text:?}: give 0.2 to 600"))
}
