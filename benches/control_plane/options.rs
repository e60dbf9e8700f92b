//! The control-plane bench's command line.

use clap::{ArgAction, Parser};

use crate::tls::{CertKind, Handshake};

/// `cargo bench --bench control_plane -- [OPTIONS]`.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "control_plane",
    bin_name = "cargo bench --bench control_plane --",
    about = "ld-tower's control socket against LoadDensity's Python server, on pinned cores",
    long_about = "ld-tower's control socket against the original Python je_load_density server \
                  and a bare tokio server, each pinned to core 0 and driven from core 1 by \
                  concurrent framed clients sending LD_summary in a token envelope: one command \
                  per connection and on kept connections, plain and TLS (RSA-2048 and ECDSA P-256 \
                  certificates; full and resumed handshakes). Prints commands/s, p50/p99 latency, \
                  the server's CPU time per command and the share of resumed handshakes, then the \
                  ratios against the goals.",
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

    /// Skip the plain TCP scenarios (and the bare tokio server).
    #[arg(long = "no-plain", action = ArgAction::SetFalse)]
    pub(crate) plain: bool,

    /// Skip the kept-connection scenarios.
    #[arg(long = "no-kept", action = ArgAction::SetFalse)]
    pub(crate) kept: bool,

    /// The TLS servers' certificate kinds, comma-separated (default: both).
    #[arg(long, value_name = "KINDS", value_enum, value_delimiter = ',')]
    certs: Vec<CertKind>,

    /// The TLS handshakes, one command per connection, comma-separated
    /// (default: both): full (the clients remember no session) or resumed
    /// (each client resumes its session from the server's tickets).
    #[arg(long, value_name = "KINDS", value_enum, value_delimiter = ',')]
    handshakes: Vec<Handshake>,

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

    /// The certificate kinds chosen, in order, each once.
    pub(crate) fn certs(&self) -> Vec<CertKind> {
        chosen(&self.certs, &[CertKind::Rsa2048, CertKind::EcdsaP256])
    }

    /// The handshake kinds chosen, in order, each once.
    pub(crate) fn handshakes(&self) -> Vec<Handshake> {
        chosen(&self.handshakes, &[Handshake::Full, Handshake::Resumed])
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

/// `given`, sorted and each once; `all` when none is given.
fn chosen<T: Copy + Ord>(given: &[T], all: &[T]) -> Vec<T> {
    let mut chosen = if given.is_empty() {
        all.to_vec()
    } else {
        given.to_vec()
    };
    chosen.sort();
    chosen.dedup();
    chosen
}

/// `--seconds`: 0.2 to 600.
fn window_seconds(text: &str) -> Result<f64, String> {
    text.parse()
        .ok()
        .filter(|s: &f64| (0.2..=600.0).contains(s))
        .ok_or_else(|| format!("{text:?}: give 0.2 to 600"))
}
