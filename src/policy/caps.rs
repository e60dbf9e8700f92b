//! [`Caps`]: what a load test's client may ask of the agent at most
//! (`--max-users`, `--max-rate`, `--max-test-time`, `--max-csv-bytes`,
//! and, through [`Paths`](crate::paths::Paths), `--max-file-bytes`), each
//! refusal naming its flag.

use std::time::Duration;

/// The default `--max-file-bytes` of a served agent: the most a file read
/// whole (an action file, a `.proto` file, a TLS file) may hold.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The default `--max-csv-bytes` of a served agent: the most one CSV
/// source's file may hold.
pub const DEFAULT_MAX_CSV_BYTES: u64 = 256 * 1024 * 1024;

/// What one test (or file) may ask for at most; `None`: no cap.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Caps {
    /// Users at once (`user_count`, a load shape's peak): `--max-users`.
    pub max_users: Option<usize>,
    /// Tasks started per second across all users (`arrival_rate` above it
    /// is refused; the engine holds every test to it): `--max-rate`.
    pub max_rate: Option<f64>,
    /// How long a test may run (`test_time` above it is refused; a test
    /// with no end, `test_time: null`, ends at it): `--max-test-time`.
    pub max_test_time: Option<Duration>,
    /// The bytes of one CSV source's file: `--max-csv-bytes`.
    pub max_csv_bytes: Option<u64>,
}

/// "`what` is over the agent's limit of `limit` (`flag`)".
fn over(what: String, limit: impl std::fmt::Display, flag: &str) -> String {
    format!("{what} is over the agent's limit of {limit} ({flag})")
}

impl Caps {
    /// Whether a test of `users` at once is within `--max-users`; `key`
    /// names where the count comes from (`user_count`, `load_shape`).
    pub fn check_users(&self, key: &str, users: usize) -> Result<(), String> {
        match self.max_users {
            Some(max) if users > max => Err(over(format!("{key} {users}"), max, "--max-users")),
            _ => Ok(()),
        }
    }

    /// Whether an `arrival_rate` of `rate` iterations per second is within
    /// `--max-rate`.
    pub fn check_rate(&self, rate: f64) -> Result<(), String> {
        match self.max_rate {
            Some(max) if rate > max => Err(over(
                format!("arrival_rate {rate}"),
                format_args!("{max} per second"),
                "--max-rate",
            )),
            _ => Ok(()),
        }
    }

    /// The test's run time: `requested` if within `--max-test-time`, the
    /// cap itself for a test with no end; a longer one is refused.
    pub fn test_time(&self, requested: Option<Duration>) -> Result<Option<Duration>, String> {
        match (requested, self.max_test_time) {
            (Some(time), Some(max)) if time > max => Err(over(
                format!("test_time {}s", time.as_secs_f64()),
                format_args!("{}s", max.as_secs_f64()),
                "--max-test-time",
            )),
            (None, max) => Ok(max),
            (time, _) => Ok(time),
        }
    }

    /// Whether a CSV file of `bytes` is within `--max-csv-bytes`.
    pub fn check_csv(&self, bytes: u64) -> Result<(), String> {
        match self.max_csv_bytes {
            Some(max) if bytes > max => Err(over(
                format!("its size, {bytes} bytes,"),
                format_args!("{max} bytes"),
                "--max-csv-bytes",
            )),
            _ => Ok(()),
        }
    }
}

/// The most bytes a file of a format whose own bound is `format_max` may
/// hold on an agent whose `--max-file-bytes` is `agent_max`, and whether
/// that flag is what binds (then a file over it is refused with
/// [`file_over`]; else with the format's own message).
pub fn file_limit(agent_max: Option<u64>, format_max: u64) -> (u64, bool) {
    match agent_max {
        Some(max) if max <= format_max => (max, true),
        _ => (format_max, false),
    }
}

/// The message for a file (`shown`) over the agent's `--max-file-bytes`
/// of `max`.
pub fn file_over(shown: &str, max: u64) -> String {
    over(
        shown.to_owned(),
        format_args!("{max} bytes"),
        "--max-file-bytes",
    )
}
