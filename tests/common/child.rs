//! The one guard for the child processes the tests and the benchmarks
//! start (`ld-tower serve`, nginx, wrk, Locust, the Python original): its
//! stdout read line by line by a thread, its stderr kept in a file, an
//! announced `Server started on HOST:PORT` line awaited with a deadline,
//! and the process, with whatever it started, ended and reaped when the
//! guard drops.
//!
//! `tests/common/mod.rs` includes it as a module; the benches include it
//! with `#[path = "../../tests/common/child.rs"] mod child;`.
#![allow(dead_code)] // Each includer uses its own part of this.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

/// What a server prints when it listens: `Server started on HOST:PORT`.
pub(crate) const STARTED: &str = "Server started on ";

/// Stdout lines kept unread at most; later ones are dropped, so a child
/// that prints a line per command (the Python original) cannot grow this
/// process's memory.
const KEPT_LINES: usize = 65_536;

/// Stderr lines quoted in a failure.
const TAIL_LINES: usize = 8;

/// How often a wait looks at the process.
const POLL: Duration = Duration::from_millis(20);

/// A `/proc/PID/status` size field (`VmRSS`, `VmHWM`, ...) in KiB.
pub(crate) fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

/// A running child process; stopped (see [`Child::stop`]) and reaped when
/// dropped.
#[derive(Debug)]
pub(crate) struct Child {
    name: String,
    child: std::process::Child,
    lines: Receiver<String>,
    stderr: PathBuf,
    /// How long it may take to exit after SIGTERM before SIGKILL; zero:
    /// SIGKILL at once.
    grace: Duration,
    _dir: tempfile::TempDir,
}

impl Child {
    /// Starts `command` (stdin empty, stdout piped, stderr into a file of
    /// its own), naming it `name` in error messages.
    pub(crate) fn spawn(name: &str, command: &mut Command) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("ld-tower-child-")
            .tempdir()
            .map_err(|e| format!("cannot start {name}: no temporary directory: {e}"))?;
        let stderr = dir.path().join("stderr");
        let stderr_file = File::create(&stderr)
            .map_err(|e| format!("cannot start {name}: {}: {e}", stderr.display()))?;
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr_file))
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let (tx, lines) = mpsc::sync_channel(KEPT_LINES);
        if let Some(stdout) = child.stdout.take() {
            // Reads to the end whatever happens, so the child never blocks
            // on a full pipe; a line nobody has room for is dropped.
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Err(mpsc::TrySendError::Disconnected(_)) = tx.try_send(line) {
                        break;
                    }
                }
            });
        }
        Ok(Child {
            name: name.to_owned(),
            child,
            lines,
            stderr,
            grace: Duration::ZERO,
            _dir: dir,
        })
    }

    /// Stops it with SIGTERM first, SIGKILL only after `grace`.
    pub(crate) fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its name, as error messages give it.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Its exit status if it has exited (then it is reaped).
    pub(crate) fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Whether it still runs.
    pub(crate) fn alive(&mut self) -> bool {
        self.try_wait().is_none()
    }

    /// Waits for its `Server started on HOST:PORT` line (earlier lines are
    /// skipped) for at most `within`; the port.
    pub(crate) fn announced_port(&mut self, within: Duration) -> Result<u16, String> {
        self.wait_for_line(within, "`Server started on` line", started_port)
    }

    /// Waits for a stdout line `matches` accepts (earlier lines are
    /// consumed) for at most `within`. It is an error when the process
    /// exits or closes its stdout first, or time runs out; `what` names
    /// the line in that error ("`Server started on` line").
    pub(crate) fn wait_for_line<T>(
        &mut self,
        within: Duration,
        what: &str,
        mut matches: impl FnMut(&str) -> Option<T>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + within;
        let mut exited_at = None;
        loop {
            match self.lines.recv_timeout(POLL) {
                Ok(line) => {
                    if let Some(found) = matches(&line) {
                        return Ok(found);
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // Stdout closed: give the exit status a moment to show.
                    let status = self.wait_briefly();
                    return Err(self.failure(&format!("{} before its {what}", exit_words(status))));
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            // Exited while a grandchild holds stdout open: its last lines
            // have had a second to arrive.
            if let Some(status) = self.try_wait() {
                let at = *exited_at.get_or_insert_with(Instant::now);
                if at.elapsed() > Duration::from_secs(1) {
                    return Err(self.failure(&format!("exited ({status}) before its {what}")));
                }
            }
            if Instant::now() > deadline {
                return Err(self.failure(&format!("printed no {what} within {within:?}")));
            }
        }
    }

    /// The next stdout line, if one comes within `within`.
    pub(crate) fn next_line(&self, within: Duration) -> Option<String> {
        self.lines.recv_timeout(within).ok()
    }

    /// The stdout lines not read yet, up to its end or until none comes
    /// for `quiet` (for after it exited).
    pub(crate) fn rest_of_stdout(&self, quiet: Duration) -> Vec<String> {
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(quiet) {
            rest.push(line);
        }
        rest
    }

    /// Waits for it to exit until `deadline`, calling `sample` with its pid
    /// every `every` meanwhile; past the deadline it is stopped and this is
    /// an error.
    pub(crate) fn wait_until(
        &mut self,
        deadline: Instant,
        every: Duration,
        mut sample: impl FnMut(u32),
    ) -> Result<ExitStatus, String> {
        loop {
            if let Some(status) = self.try_wait() {
                return Ok(status);
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(self.failure("did not finish in time and was killed"));
            }
            sample(self.pid());
            std::thread::sleep(every);
        }
    }

    /// All its stderr so far.
    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The last lines of its stderr, indented for an error message.
    pub(crate) fn stderr_tail(&self) -> String {
        let text = self.stderr();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n    ");
        if tail.is_empty() {
            "(empty)".into()
        } else {
            tail
        }
    }

    /// "NAME WHY; its stderr: ..." with the last lines of its stderr.
    pub(crate) fn failure(&self, why: &str) -> String {
        format!(
            "{} {why}; its stderr:\n    {}",
            self.name,
            self.stderr_tail()
        )
    }

    /// Ends it unless it has exited: SIGTERM and up to the grace period
    /// for it to exit (when there is one), then SIGKILL; it is reaped, and
    /// the processes it had started (found before, through `/proc`) that
    /// still run are killed too.
    pub(crate) fn stop(&mut self) {
        if self.try_wait().is_some() {
            return;
        }
        let family = descendants(self.pid());
        if !self.grace.is_zero() {
            signal(self.pid(), Signal::TERM);
            let deadline = Instant::now() + self.grace;
            while self.try_wait().is_none() && Instant::now() < deadline {
                std::thread::sleep(POLL);
            }
        }
        if self.try_wait().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for pid in family {
            if Path::new(&format!("/proc/{pid}")).exists() {
                signal(pid, Signal::KILL);
            }
        }
    }

    /// Its exit status within a second, if it exits.
    fn wait_briefly(&mut self) -> Option<ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The port of a `Server started on HOST:PORT` line.
pub(crate) fn started_port(line: &str) -> Option<u16> {
    line.trim()
        .strip_prefix(STARTED)?
        .rsplit(':')
        .next()?
        .parse()
        .ok()
}

fn exit_words(status: Option<ExitStatus>) -> String {
    match status {
        Some(status) => format!("exited ({status})"),
        None => "closed its stdout".to_owned(),
    }
}

/// Sends `signal` to `pid`; a process already gone is fine.
fn signal(pid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process(pid, signal);
    }
}

/// The parent pid of `pid`, from `/proc/PID/stat`.
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields resume after ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // State (field 3), then the parent (field 4).
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Every process whose parent chain leads to `root` (not `root` itself).
pub(crate) fn descendants(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = parent(pid) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut found = BTreeSet::from([root]);
    loop {
        let before = found.len();
        for (pid, ppid) in &parents {
            if found.contains(ppid) {
                found.insert(*pid);
            }
        }
        if found.len() == before {
            break;
        }
    }
    found.remove(&root);
    found.into_iter().collect()
}
