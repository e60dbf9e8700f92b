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

/// The line without a bar, for a test that runs until stopped.
const WITHOUT_BAR: &str = "{spinner:.cyan} {wide_msg}";

/// The line on screen, if any: the bar and the test length it was drawn for.
#[derive(Debug)]
struct Shown {
    bar: ProgressBar,
    /// The test's length in milliseconds; `None`: until stopped.
    total_ms: Option<u64>,
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

    /// Draws `status` (a running test's), creating the line if needed.
    fn update(&self, status: &Status) {
        let total_ms = status.test_time_s.map(|s| (s * 1000.0).round() as u64);
        let mut shown = self.lock();
        if shown.as_ref().map(|s| s.total_ms) != Some(total_ms) {
            if let Some(old) = shown.take() {
                old.bar.finish_and_clear();
            }
            *shown = Some(Shown {
                bar: new_bar(total_ms),
                total_ms,
            });
        }
        if let Some(Shown { bar, total_ms }) = shown.as_ref() {
            bar.set_message(describe(status));
            if let Some(total) = total_ms {
                let elapsed_ms = (status.elapsed_s * 1000.0) as u64;
                bar.set_position(elapsed_ms.min(*total));
            }
            bar.tick();
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
    let (bar, template) = match total_ms {
        Some(total) => (ProgressBar::with_draw_target(Some(total), target), WITH_BAR),
        None => (ProgressBar::with_draw_target(None, target), WITHOUT_BAR),
    };
    let style = ProgressStyle::with_template(template)
        .map(|style| style.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar
}

/// The line's text: `12s/30s  users 10/10  rps 523  p95 4.2 ms  failures 0  requests 6283`;
/// what matters most comes first, as a narrow terminal cuts the end.
pub(super) fn describe(status: &Status) -> String {
    let total = status
        .test_time_s
        .map_or_else(|| "∞".to_owned(), |s| clock(s.round() as u64));
    format!(
        "{}/{total}  users {}/{}  rps {}  p95 {:.1} ms  failures {}  requests {}",
        clock(status.elapsed_s as u64),
        status.users,
        status.target_users,
        status.current_rps,
        status.p95_ms,
        status.failures,
        status.requests,
    )
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
            describe(&status(12.7, Some(30.0))),
            "12s/30s  users 7/10  rps 523  p95 4.2 ms  failures 2  requests 6283"
        );
        assert!(describe(&status(3725.0, None)).starts_with("1h02m05s/∞  users"));
        assert_eq!(clock(65), "1m05s");
    }
}
