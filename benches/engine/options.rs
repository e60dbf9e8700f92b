//! The engine bench's command line.

use clap::{ArgAction, Parser};

/// `cargo bench --bench engine -- [OPTIONS]`.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "engine",
    bin_name = "cargo bench --bench engine --",
    about = "ld-tower's HTTP engine against wrk and Locust's FastHttpUser, on pinned cores",
    long_about = "ld-tower's HTTP engine against wrk and Locust's FastHttpUser, all hitting the \
                  same local HTTP target (nginx, else this bench's own hyper server) pinned to \
                  core 0, each generator pinned to core 1. Prints requests/s, p50/p99 latency, \
                  CPU time per request and peak RSS per generator, the ratios against the \
                  goals, then ld-tower's RSS at the end of a 10 s and of a 60 s test.",
    after_help = "Environment:\n  LD_TOWER_LOCUST  the locust executable (else .peer/bin/locust, else locust on PATH)"
)]
pub(crate) struct Options {
    /// Test time of each generator, in whole seconds (1 to 3600).
    #[arg(long, value_name = "S", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) seconds: u64,

    /// Users of each generator, one connection each (1 to 10000).
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) users: u32,

    /// Skip the 60 s run of the memory-flatness check.
    #[arg(long)]
    pub(crate) quick: bool,

    /// Skip Locust.
    #[arg(long = "no-locust", action = ArgAction::SetFalse)]
    pub(crate) locust: bool,

    /// Record ld-tower with `perf record -g` during a few seconds of its
    /// main run (needs `perf`; its figures are then disturbed).
    #[arg(long)]
    pub(crate) perf: bool,

    /// Runs of a generator at most while other processes keep its cores
    /// busy; the quietest run is shown (1 to 10).
    #[arg(long, value_name = "K", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=10))]
    pub(crate) attempts: u32,

    /// Passed by `cargo bench` to every `harness = false` bench; ignored.
    #[arg(long, hide = true)]
    pub(crate) bench: bool,

    /// Be the fallback target instead: a one-thread hyper server answering
    /// `200 ok`, announcing its port (this bench starts itself so).
    #[arg(long = "hyper-target", hide = true)]
    pub(crate) hyper_target: bool,
}
