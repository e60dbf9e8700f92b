//! [`Caps`]: what a load test's client may ask of the agent at most
//! (`--max-users`, `--max-rate`, `--max-test-time`, `--max-csv-bytes`,
//! `--max-action-file-bytes`), each refusal naming its flag.

use std::time::Duration;

/// The default `--max-action-file-bytes`: the most an action file of
/// `LD_execute_files` may hold.
pub const DEFAULT_MAX_ACTION_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The default `--max-csv-bytes` of a served agent: the most one CSV
/// source's file may hold.
pub const DEFAULT_MAX_CSV_BYTES: u64 = 256 * 1024 * 1024;

/// What one test (or file) may ask for at most; `None`: no cap.
#[derive(Clone, Debug, PartialEq)]
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
    /// The bytes of one action file (`LD_execute_files`):
    /// `--max-action-file-bytes`.
    pub max_action_file_bytes: u64,
}

impl Default for Caps {
    /// No cap but the action files' default (`ld-tower run`).
    fn default() -> Self {
        Caps {
            max_users: None,
            max_rate: None,
            max_test_time: None,
            max_csv_bytes: None,
            max_action_file_bytes: DEFAULT_MAX_ACTION_FILE_BYTES,
        }
    }
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

    /// The message for an action file (`shown`) over
    /// `--max-action-file-bytes`.
    pub fn action_file_over(&self, shown: &str) -> String {
        over(
            format!("action file {shown}"),
            format_args!("{} bytes", self.max_action_file_bytes),
            "--max-action-file-bytes",
        )
    }
}
