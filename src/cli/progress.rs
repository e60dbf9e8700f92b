//! The live progress line of `ld-tower run`, `run-dir` and `run-str`: while
//! a load test runs and stderr is a terminal, one line (indicatif) shows
//!
//! ```text
//! ⠙ [====>       ] 12s/30s  users 10/10  rps 523  p95 4.2 ms  failures 0  requests 6283
//! ```
//!
//! polled from the engine's status four times a second, and cleared when
//! the test ends. A test without an end (`test_time: null`) gets a spinner
//! without a bar. On a pipe nothing is drawn: the caller does not start it.
//!
//! The line fits the terminal's width, read at every redraw: the bar goes
//! first, then whole fields, least important first (p95, users, rps,
//! failures, requests; the time stays); a number is never cut.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use ld_tower::engine::Status;
use ld_tower::state::State;

/// How often the engine's status is polled and the line redrawn.
const EVERY: Duration = Duration::from_millis(250);

/// The line with a bar, for a test with an end.
const WITH_BAR: &str = "{spinner:.cyan} [{bar:12.cyan/blue}] {wide_msg}";

/// The columns [`WITH_BAR`] takes before its message.
const WITH_BAR_COLUMNS: usize = 17;

/// The line without a bar, for a test that runs until stopped or a
/// terminal too narrow for the bar.
const WITHOUT_BAR: &str = "{spinner:.cyan} {wide_msg}";

/// The columns [`WITHOUT_BAR`] takes before its message.
const WITHOUT_BAR_COLUMNS: usize = 2;

/// The line on screen, if any: the bar and the test length it was drawn for.
#[derive(Debug)]
struct Shown {
    bar: ProgressBar,
    /// The test's length in milliseconds; `None`: until stopped.
    total_ms: Option<u64>,
    /// Whether the bar is drawn (the test has an end and the terminal room).
    with_bar: bool,
}

/// The live line, shared by the polling task and whoever else writes to
/// stderr meanwhile (so a message does not tear the line).
#[derive(Clone, Debug, Default)]
pub(super) struct Line(Arc<Mutex<Option<Shown>>>);

impl Line {
    fn lock(&self) -> MutexGuard<'_, Option<Shown>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Prints `message` on stderr: above the live line when one is shown.
    pub(super) fn note(&self, message: &str) {
        match self.lock().as_ref() {
            Some(shown) => shown.bar.suspend(|| eprintln!("{message}")),
            None => eprintln!("{message}"),
        }
    }

    /// Draws `status` (a running test's), creating the line if needed,
    /// fitted to the terminal's width now.
    fn update(&self, status: &Status) {
        let total_ms = status.test_time_s.map(|s| (s * 1000.0).round() as u64);
        let columns = usize::from(console::Term::stderr().size().1);
        let (with_bar, message) = layout(status, columns);
        let mut shown = self.lock();
        if shown.as_ref().map(|s| s.total_ms) != Some(total_ms) {
            if let Some(old) = shown.take() {
                old.bar.finish_and_clear();
            }
            *shown = Some(Shown {
                bar: new_bar(total_ms),
                total_ms,
                with_bar: false,
            });
        }
        if let Some(shown) = shown.as_mut() {
            if shown.with_bar != with_bar {
                shown.bar.set_style(style(with_bar));
                shown.with_bar = with_bar;
            }
            shown.bar.set_message(message);
            if let Some(total) = shown.total_ms {
                let elapsed_ms = (status.elapsed_s * 1000.0) as u64;
                shown.bar.set_position(elapsed_ms.min(total));
            }
            shown.bar.tick();
        }
    }

    /// Clears the line, if one is shown.
    fn clear(&self) {
        if let Some(shown) = self.lock().take() {
            shown.bar.finish_and_clear();
        }
    }
}

fn new_bar(total_ms: Option<u64>) -> ProgressBar {
    let target = ProgressDrawTarget::stderr_with_hz(8);
    let bar = ProgressBar::with_draw_target(total_ms, target);
    bar.set_style(style(false));
    bar
}

fn style(with_bar: bool) -> ProgressStyle {
    let template = if with_bar { WITH_BAR } else { WITHOUT_BAR };
    ProgressStyle::with_template(template)
        .map(|style| style.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// Whether to draw the bar, and the message, for a terminal of `columns`:
/// the bar when the test has an end and every field fits beside it; else
/// the fields that fit without it (the last column left free, as a line
/// that fills it wraps on some terminals).
fn layout(status: &Status, columns: usize) -> (bool, String) {
    let room = columns.saturating_sub(1);
    if status.test_time_s.is_some() {
        let beside_bar = room.saturating_sub(WITH_BAR_COLUMNS);
        let (all, message) = describe(status, beside_bar);
        if all {
            return (true, message);
        }
    }
    let (_, message) = describe(status, room.saturating_sub(WITHOUT_BAR_COLUMNS));
    (false, message)
}

/// The line's text, `12s/30s  users 10/10  rps 523  p95 4.2 ms  failures 0
/// requests 6283`, in at most `width` columns: whole fields are left out,
/// least important first (p95, users, rps, failures, requests), never cut;
/// the time is always there. Whether every field is.
fn describe(status: &Status, width: usize) -> (bool, String) {
    let total = status
        .test_time_s
        .map_or_else(|| "∞".to_owned(), |s| clock(s.round() as u64));
    let time = format!("{}/{total}", clock(status.elapsed_s as u64));
    // In the order shown, each with its rank: 1 is left out last.
    let fields = [
        (4, format!("users {}/{}", status.users, status.target_users)),
        (3, format!("rps {}", status.current_rps)),
        (5, format!("p95 {:.1} ms", status.p95_ms)),
        (2, format!("failures {}", status.failures)),
        (1, format!("requests {}", status.requests)),
    ];
    let mut kept = fields.len();
    loop {
        let line = std::iter::once(time.as_str())
            .chain(
                fields
                    .iter()
                    .filter(|(rank, _)| *rank <= kept)
                    .map(|(_, text)| text.as_str()),
            )
            .collect::<Vec<_>>()
            .join("  ");
        if kept == 0 || line.chars().count() <= width {
            return (kept == fields.len(), line);
        }
        kept -= 1;
    }
}

/// Whole seconds as `42s`, `3m05s` or `1h02m09s`.
fn clock(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s:02}s"),
        _ => format!("{h}h{m:02}m{s:02}s"),
    }
}

/// The polling task of one action list; [`Progress::finish`] ends it.
#[derive(Debug)]
pub(super) struct Progress {
    /// Cancelled when the action list ended.
    stop: CancellationToken,
    /// The task; `None` when progress is off.
    task: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts polling `state`'s engine into `line` when `enabled` (stderr is
    /// a terminal and progress was not turned off); otherwise does nothing.
    pub(super) fn start(state: Arc<State>, line: Line, enabled: bool) -> Progress {
        let stop = CancellationToken::new();
        let task = enabled.then(|| tokio::spawn(poll(state, line, stop.clone())));
        Progress { stop, task }
    }

    /// Ends the polling and clears the line.
    pub(super) async fn finish(self) {
        self.stop.cancel();
        if let Some(task) = self.task {
            let _ = task.await;
        }
    }
}

async fn poll(state: Arc<State>, line: Line, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        match state.engine().status().filter(|s| s.running) {
            Some(status) => line.update(&status),
            None => line.clear(),
        }
    }
    line.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(elapsed_s: f64, test_time_s: Option<f64>) -> Status {
        Status {
            running: true,
            users: 7,
            target_users: 10,
            elapsed_s,
            test_time_s,
            requests: 6283,
            failures: 2,
            current_rps: 523,
            p50_ms: 1.0,
            p95_ms: 4.24,
            p99_ms: 9.0,
            ..Status::default()
        }
    }

    #[test]
    fn the_line_reads_like_the_docs() {
        assert_eq!(
            describe(&status(12.7, Some(30.0)), 120),
            (
                true,
                "12s/30s  users 7/10  rps 523  p95 4.2 ms  failures 2  requests 6283".to_owned()
            )
        );
        assert!(describe(&status(3725.0, None), 120)
            .1
            .starts_with("1h02m05s/∞  users"));
        assert_eq!(clock(65), "1m05s");
    }

    /// A big test's figures, every number long.
    fn big() -> Status {
        Status {
            running: true,
            users: 2_500,
            target_users: 2_500,
            elapsed_s: 3725.0,
            test_time_s: Some(7200.0),
            requests: 123_456_789,
            failures: 9_876_543,
            current_rps: 34_567,
            p50_ms: 1.0,
            p95_ms: 1_234.5,
            p99_ms: 20_000.0,
            ..Status::default()
        }
    }

    /// Checks that the line of `columns` fits, keeps its numbers whole and
    /// holds the fields `want`; the bar or not.
    fn fits(columns: usize, want: &[&str]) -> bool {
        let (with_bar, line) = layout(&big(), columns);
        let prefix = if with_bar {
            WITH_BAR_COLUMNS
        } else {
            WITHOUT_BAR_COLUMNS
        };
        assert!(prefix + line.chars().count() < columns, "{columns}: {line}");
        assert!(line.starts_with("1h02m05s/2h00m00s"), "{line}");
        for field in want {
            assert!(line.contains(field), "{columns}: no {field:?} in {line}");
        }
        // Whatever is shown is whole: each field's number as it is.
        for field in line.split("  ").skip(1) {
            assert!(
                [
                    "users 2500/2500",
                    "rps 34567",
                    "p95 1234.5 ms",
                    "failures 9876543",
                    "requests 123456789"
                ]
                .contains(&field),
                "{columns}: cut field {field:?} in {line}"
            );
        }
        with_bar
    }

    #[test]
    fn the_line_fits_the_terminal_dropping_whole_fields() {
        // 120 columns: everything, and the bar; 110: everything but the bar.
        let all = ["users", "rps", "p95", "failures", "requests 123456789"];
        assert!(fits(120, &all));
        assert!(!fits(110, &all));
        // 80: p95 and users left out; the count is whole.
        assert!(!fits(80, &["rps", "failures", "requests 123456789"]));
        let line = layout(&big(), 80).1;
        assert!(!line.contains("p95") && !line.contains("users"), "{line}");
        // 40: the time and the request count.
        assert!(!fits(40, &["requests 123456789"]));
        assert!(!layout(&big(), 40).1.contains("failures"));
        // Too narrow for anything but the time: the time, whole.
        assert_eq!(layout(&big(), 10), (false, "1h02m05s/2h00m00s".to_owned()));
        // The docs' line fits 90 columns with its bar.
        assert!(layout(&status(12.7, Some(30.0)), 90).0);
    }
}
