//! The flags of `serve` and `run*` that say what remote clients' tests may
//! reach and ask for (`--allow-target`, `--deny-target`, `--max-users`,
//! `--max-rate`, `--max-test-time`, `--max-csv-bytes`,
//! `--max-file-bytes`). A served agent has the built-in deny of
//! link-local and cloud metadata addresses and the file caps' defaults;
//! `run*` (the machine's owner) has only what it is given.

use std::time::Duration;

use clap::Args;

use super::duration::parse_duration;
use super::size::parse_size;
use ld_tower::observe::BindRule;
use ld_tower::policy::{Caps, Entry, TargetPolicy, DEFAULT_MAX_CSV_BYTES, DEFAULT_MAX_FILE_BYTES};

/// What load tests may reach and ask for.
#[derive(Debug, Args)]
pub(crate) struct PolicyArgs {
    /// Let load tests connect only to targets this matches: a CIDR block (10.0.0.0/8), an
    /// address (127.0.0.1, ::1), a host name (api.example.com) or the names below a domain
    /// (*.example.com), each with an optional :PORT ([::1]:8080 for IPv6), or :PORT alone.
    /// Repeatable. Checked on the address each connection goes to (after --connect-to and DNS,
    /// on every redirect) and on the host's names. An address or block given here also lifts
    /// the built-in deny of link-local and cloud metadata addresses for what it holds (a host
    /// name does not: its DNS may point anywhere).
    #[arg(long = "allow-target", value_name = "TARGET", value_parser = parse_entry)]
    pub(crate) allow_target: Vec<Entry>,

    /// Refuse load tests' connections to targets this matches (same forms as --allow-target);
    /// repeatable; wins over --allow-target. A served agent also refuses link-local and cloud
    /// metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254, fd20:ce::254,
    /// 100.100.100.200, 0.0.0.0/8, ::) unless --allow-target names them; `run` does not.
    #[arg(long = "deny-target", value_name = "TARGET", value_parser = parse_entry)]
    pub(crate) deny_target: Vec<Entry>,

    /// Refuse a test with more users than this at once (user_count, or a load shape's peak).
    /// Default: no cap but the engine's own (100000) and --max-memory.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_users: Option<u32>,

    /// Hold every test to this many tasks (requests) per second across its users, whatever its
    /// users, wait_time and throttles ask; an arrival_rate above it is refused. Default: none.
    #[arg(long, value_name = "PER_SECOND", value_parser = parse_rate)]
    pub(crate) max_rate: Option<f64>,

    /// Refuse a test whose test_time is longer than this; a test with no end (test_time null)
    /// ends at it. Default: none.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) max_test_time: Option<Duration>,

    /// Refuse a CSV source whose file is larger than this (e.g. 64MiB), before it is read.
    /// Default: 256MiB for serve (--max-source-bytes bounds them all together), none for run.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) max_csv_bytes: Option<usize>,

    /// Refuse a file a client makes the agent read whole that is larger than this: action files
    /// (LD_execute_files), .proto files of gRPC users, tasks' TLS files (CA bundles, client
    /// certificates and keys). Each kind also has its own bound (16MiB, 4MiB, 1MiB), which
    /// holds if lower. Default: 16MiB for serve, none for run.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) max_file_bytes: Option<usize>,

    /// Let a client's action (LD_start_prometheus_exporter, LD_start_dashboard) listen on the
    /// addresses of this CIDR block (10.0.0.0/8; 0.0.0.0/0 or ::/0 also allows the unspecified
    /// address, every interface), as well as on loopback. Repeatable. A served agent's actions
    /// listen on loopback only by default: an observer on a public address shows the test's
    /// names and failures to whoever reaches it. `run` allows any address.
    #[arg(long = "allow-observer-addr", value_name = "CIDR")]
    pub(crate) allow_observer_addr: Vec<ipnet::IpNet>,
}

fn parse_entry(text: &str) -> Result<Entry, String> {
    text.parse()
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!("{text:?} is not a positive number per second")),
    }
}

impl PolicyArgs {
    /// The targets' policy: a served agent's (the built-in deny, then these
    /// entries), or, `served` false, these entries alone.
    pub(crate) fn targets(&self, served: bool) -> TargetPolicy {
        let (allow, deny) = (self.allow_target.clone(), self.deny_target.clone());
        if served {
            TargetPolicy::served(allow, deny)
        } else {
            TargetPolicy::only(allow, deny)
        }
    }

    /// The caps; `served` gives --max-csv-bytes its served default.
    pub(crate) fn caps(&self, served: bool) -> Caps {
        Caps {
            max_users: self.max_users.map(|n| n as usize),
            max_rate: self.max_rate,
            max_test_time: self.max_test_time,
            max_csv_bytes: self
                .max_csv_bytes
                .map(|n| n as u64)
                .or(served.then_some(DEFAULT_MAX_CSV_BYTES)),
        }
    }

    /// Where a client's action may listen: loopback and
    /// `--allow-observer-addr` for a served agent, anywhere for `run`.
    pub(crate) fn observers(&self, served: bool) -> BindRule {
        if served {
            BindRule::allowing(self.allow_observer_addr.clone())
        } else {
            BindRule::any()
        }
    }

    /// `--max-file-bytes`, or its served default.
    pub(crate) fn max_file_bytes(&self, served: bool) -> Option<u64> {
        self.max_file_bytes
            .map(|n| n as u64)
            .or(served.then_some(DEFAULT_MAX_FILE_BYTES))
    }
}
