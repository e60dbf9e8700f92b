//! Child processes of the benchmarks: started with their output in files,
//! waited for (their `Server started on` line, their port accepting),
//! and ended with whatever they started when dropped.

use std::collections::BTreeSet;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{field, stat_fields};

/// A bench's error.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// A bench's result.
pub(crate) type Result<T, E = BoxError> = std::result::Result<T, E>;

/// How long a server may take to accept connections / announce its port.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How often a waiting process is sampled.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_millis(200);

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
            let ppid = stat_fields(&pid.to_string())
                .and_then(|f| field(&f, 4))
                .and_then(|p| u32::try_from(p).ok());
            if let Some(ppid) = ppid {
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

/// A child process (and whatever it started), ended when dropped.
#[derive(Debug)]
pub(crate) struct Proc {
    child: Child,
    name: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Proc {
    /// Starts `command` with its output in files of `dir` named after `name`.
    pub(crate) fn spawn(name: &str, command: &mut Command, dir: &Path) -> Result<Self> {
        let stdout = dir.join(format!("{name}.stdout"));
        let stderr = dir.join(format!("{name}.stderr"));
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::from(File::create(&stdout)?))
            .stderr(Stdio::from(File::create(&stderr)?))
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Proc {
            child,
            name: name.to_owned(),
            stdout,
            stderr,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub(crate) fn output(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// The last lines of its stderr, for error messages.
    pub(crate) fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(8)..].join("\n    ");
        if tail.is_empty() {
            "(empty)".into()
        } else {
            tail
        }
    }

    pub(crate) fn failure(&self, why: &str) -> BoxError {
        format!(
            "{} {why}; its stderr:\n    {}",
            self.name,
            self.stderr_tail()
        )
        .into()
    }

    /// Waits for it to exit until `deadline`, sampling `sample` meanwhile;
    /// past the deadline it is killed and this is an error.
    pub(crate) fn wait_until(
        &mut self,
        deadline: Instant,
        mut sample: impl FnMut(u32),
    ) -> Result<ExitStatus> {
        loop {
            if let Some(status) = self.exited() {
                return Ok(status);
            }
            if Instant::now() > deadline {
                self.terminate();
                return Err(self.failure("did not finish in time and was killed"));
            }
            sample(self.pid());
            std::thread::sleep(SAMPLE_EVERY);
        }
    }

    /// SIGTERM to it, SIGKILL to it and its descendants after 2 s.
    pub(crate) fn terminate(&mut self) {
        if self.exited().is_some() {
            return;
        }
        let family = descendants(self.pid());
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.exited().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let alive: Vec<String> = family
            .iter()
            .filter(|pid| Path::new(&format!("/proc/{pid}")).exists())
            .map(u32::to_string)
            .collect();
        if !alive.is_empty() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(&alive)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Waits until `proc` prints `Server started on HOST:PORT`; the port.
pub(crate) fn announced_port(proc: &mut Proc) -> Result<u16> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let out = proc.output();
        let port = out.lines().find_map(|line| {
            line.trim()
                .strip_prefix("Server started on ")?
                .rsplit(':')
                .next()?
                .parse()
                .ok()
        });
        if let Some(port) = port {
            return Ok(port);
        }
        if let Some(status) = proc.exited() {
            return Err(proc.failure(&format!("exited ({status}) before announcing its port")));
        }
        if Instant::now() > deadline {
            return Err(proc.failure(&format!(
                "printed no `Server started on` line within {START_TIMEOUT:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until 127.0.0.1:`port` accepts connections.
pub(crate) fn wait_accepting(proc: &mut Proc, port: u16) -> Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Some(status) = proc.exited() {
            return Err(proc.failure(&format!("exited ({status}) before accepting connections")));
        }
        if Instant::now() > deadline {
            return Err(proc.failure(&format!(
                "did not accept on port {port} within {START_TIMEOUT:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
