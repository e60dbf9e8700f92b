//! The fleet bench's command line. Options left out take their default,
//! or their `--quick` value when `--quick` is given.

use clap::{ArgAction, Parser};

/// `cargo bench --bench fleet -- [OPTIONS]`.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "fleet",
    bin_name = "cargo bench --bench fleet --",
    about = "Fleet coordination: merging N agents' figures, a real fetch's bytes, start skew",
    long_about = "Fleet coordination, as a coordinator drives ld-tower agents: \
                  (1) bytes and CPU time of decoding and merging N agents' figures documents \
                  (LD_fetch_figures' reply), built in-process, with the merged quantiles checked \
                  against one histogram that recorded every sample; (2) the bytes of a real \
                  LD_fetch_figures reply from K `ld-tower serve --framed` agents after a short \
                  test against a local hyper target; (3) the start skew and lateness of K agents \
                  started by a real coordinator (LD_start_test, runner_mode \"master\"); (4) beside it, the \
                  p50/p95/p99 error of Locust's distributed stats (latencies bucketed to 2 \
                  significant digits on each worker) on the same samples.",
    after_help = "Environment:\n  LD_TOWER_LOCUST  the locust executable (else /work/.peer/bin/locust, \
                  else .peer/bin/locust under the workspace); its venv's python runs Locust's own \
                  stats functions"
)]
pub(crate) struct Options {
    /// Agent counts N whose figures are merged (comma-separated) [default:
    /// 3,10,50,100; --quick: 3,10].
    #[arg(long = "merge-agents", value_name = "N,..", value_delimiter = ',',
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    merge_agents: Option<Vec<u32>>,

    /// Request names per agent.
    #[arg(long, value_name = "K", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) names: u32,

    /// Requests per name and agent [default: 50000; --quick: 10000].
    #[arg(long, value_name = "R",
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    requests: Option<u64>,

    /// Seconds of each agent's per-second series.
    #[arg(long, value_name = "S", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) seconds: u64,

    /// Failed requests, percent of all.
    #[arg(long = "failure-percent", value_name = "P", default_value_t = 2.0)]
    pub(crate) failure_percent: f64,

    /// Timed rounds of decoding and merging per N [default: 5; --quick: 2].
    #[arg(long, value_name = "R",
          value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: Option<u32>,

    /// Real agents K started for the fetch and the start skew
    /// (comma-separated; the fetch uses the largest).
    #[arg(long, value_name = "K,..", value_delimiter = ',', default_value = "3,10",
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub(crate) agents: Vec<u32>,

    /// Seconds of the real agents' test before the fetch [default: 5;
    /// --quick: 2].
    #[arg(long = "fetch-seconds", value_name = "S",
          value_parser = clap::value_parser!(u64).range(1..=600))]
    fetch_seconds: Option<u64>,

    /// Start-skew rounds per K [default: 5; --quick: 3].
    #[arg(long = "skew-rounds", value_name = "R",
          value_parser = clap::value_parser!(u32).range(1..=100))]
    skew_rounds: Option<u32>,

    /// Skip the real agents (parts 2 and 3).
    #[arg(long = "no-agents", action = ArgAction::SetFalse)]
    pub(crate) real_agents: bool,

    /// Skip Locust (part 4).
    #[arg(long = "no-peer", action = ArgAction::SetFalse)]
    pub(crate) peer: bool,

    /// A short run: the --quick values above.
    #[arg(long)]
    pub(crate) quick: bool,

    /// Passed by `cargo bench` to every `harness = false` bench; ignored.
    #[arg(long, hide = true)]
    pub(crate) bench: bool,

    /// Be the HTTP target instead: a one-thread hyper server answering
    /// `200 ok`, announcing its port (this bench starts itself so).
    #[arg(long = "hyper-target", hide = true)]
    pub(crate) hyper_target: bool,
}

impl Options {
    /// The agent counts to merge, ascending, without repeats.
    pub(crate) fn merge_agents(&self) -> Vec<u32> {
        let mut counts = self.merge_agents.clone().unwrap_or_else(|| {
            if self.quick {
                vec![3, 10]
            } else {
                vec![3, 10, 50, 100]
            }
        });
        counts.sort_unstable();
        counts.dedup();
        counts
    }

    /// Requests per name and agent.
    pub(crate) fn requests(&self) -> u64 {
        self.requests
            .unwrap_or(if self.quick { 10_000 } else { 50_000 })
    }

    /// Timed merge rounds per N.
    pub(crate) fn rounds(&self) -> u32 {
        self.rounds.unwrap_or(if self.quick { 2 } else { 5 })
    }

    /// Seconds of the real agents' test before the fetch.
    pub(crate) fn fetch_seconds(&self) -> u64 {
        self.fetch_seconds.unwrap_or(if self.quick { 2 } else { 5 })
    }

    /// Start-skew rounds per K.
    pub(crate) fn skew_rounds(&self) -> u32 {
        self.skew_rounds.unwrap_or(if self.quick { 3 } else { 5 })
    }
}
