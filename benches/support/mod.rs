//! What the benchmarks share: placing processes on cores with `taskset`,
//! and reading CPU time (per process and per core) from `/proc`.
#![allow(dead_code)] // Each bench uses its own part of this.

use std::net::{Ipv4Addr, TcpListener};
use std::process::{Command, ExitCode, Stdio};

/// The CPUs this process may run on, as the kernel lists them ("0-1", "1").
pub(crate) fn allowed_cpus() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .map(|list| list.trim().to_owned())
}

/// Whether `program` can be started (`program arg` runs, whatever its exit code).
pub(crate) fn have(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// How processes are placed.
#[derive(Clone, Debug)]
pub(crate) struct Placement {
    /// Prefix commands with `taskset -c CORE`.
    pub(crate) pin: bool,
    /// A line for the header.
    pub(crate) description: String,
}

impl Placement {
    /// `program` on `core` (when pinning).
    pub(crate) fn command(&self, core: u8, program: impl AsRef<std::ffi::OsStr>) -> Command {
        if self.pin {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(core.to_string()).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

/// Re-executes this bench under `taskset -c 1` unless it already runs
/// there (marked by `pinned_env`); `Some(code)` is the re-executed child's
/// exit code. `pinned` describes the placement given the allowed CPUs;
/// `shared` says who shares cores when pinning is impossible.
pub(crate) fn pin_self(
    pinned_env: &str,
    pinned: impl Fn(&str) -> String,
    shared: &str,
) -> Result<(Option<ExitCode>, Placement), String> {
    let cpus = allowed_cpus().unwrap_or_default();
    if cpus == "1" || std::env::var_os(pinned_env).is_some() {
        let description = pinned(&cpus);
        return Ok((
            None,
            Placement {
                pin: true,
                description,
            },
        ));
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let taskset = have("taskset", "--version");
    if !taskset || cores < 2 {
        let why = if taskset {
            "only one core available"
        } else {
            "taskset not found (apt-get install util-linux)"
        };
        let description = format!("NOT pinned ({why}): {shared}");
        return Ok((
            None,
            Placement {
                pin: false,
                description,
            },
        ));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let status = Command::new("taskset")
        .arg("-c")
        .arg("1")
        .arg(&exe)
        .args(std::env::args_os().skip(1))
        .env(pinned_env, "1")
        .status()
        .map_err(|e| format!("cannot re-execute under taskset: {e}"))?;
    let code = status
        .code()
        .and_then(|c| u8::try_from(c).ok())
        .unwrap_or(1);
    let description = String::new();
    Ok((
        Some(ExitCode::from(code)),
        Placement {
            pin: true,
            description,
        },
    ))
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 when unknown).
pub(crate) fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|ticks| *ticks > 0.0)
        .unwrap_or(100.0)
}

/// The fields of `/proc/PID/stat` after the command name, from field 3 (state).
pub(crate) fn stat_fields(pid: &str) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields resume after ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Field `number` (as `man 5 proc` numbers them) of [`stat_fields`].
pub(crate) fn field(fields: &[String], number: usize) -> Option<u64> {
    // fields[0] is field 3.
    fields.get(number.checked_sub(3)?)?.parse().ok()
}

/// utime + stime of a process (all its threads), in clock ticks.
pub(crate) fn cpu_ticks(pid: &str) -> Option<u64> {
    let fields = stat_fields(pid)?;
    Some(field(&fields, 14)? + field(&fields, 15)?)
}

/// A port that was free a moment ago.
pub(crate) fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Clock ticks of cores 0 and 1 from `/proc/stat`: `[busy, interrupt]`
/// per core. Busy is everything but idle and iowait; interrupt is irq +
/// softirq (mostly loopback packet delivery). `/proc/stat` files a tick
/// that lands in a softirq under softirq, but a process's utime + stime
/// (scaled from its scheduler runtime) includes the softirqs that ran in
/// its context: on loopback, the receive path of the packets it sent. So
/// busy minus the processes' own time is what others used.
pub(crate) fn core_ticks() -> Option<[[u64; 2]; 2]> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let mut ticks = [None, None];
    for line in stat.lines() {
        let mut fields = line.split_whitespace();
        let slot = match fields.next() {
            Some("cpu0") => 0,
            Some("cpu1") => 1,
            _ => continue,
        };
        // user nice system idle iowait irq softirq steal (guest is in user).
        let values: Vec<u64> = fields.filter_map(|f| f.parse().ok()).collect();
        let total: u64 = values.iter().take(8).sum();
        let busy = total.checked_sub(values.get(3)? + values.get(4)?)?;
        let interrupt = values.get(5)? + values.get(6)?;
        ticks[slot] = Some([busy, interrupt]);
    }
    Some([ticks[0]?, ticks[1]?])
}

/// A target for the HTTP benches, run as this bench's re-executed child:
/// hyper on a current-thread runtime answering every request `200 ok`
/// over HTTP/1.1, or over HTTP/2 (h2c, prior knowledge) when `http2`. It
/// prints `Server started on 127.0.0.1:PORT` once it listens.
pub(crate) fn ok_target(http2: bool) -> std::io::Result<()> {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        println!(
            "Server started on 127.0.0.1:{}",
            listener.local_addr()?.port()
        );
        loop {
            let (tcp, _) = listener.accept().await?;
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                        Bytes::from_static(b"ok"),
                    )))
                });
                let io = TokioIo::new(tcp);
                let _ = if http2 {
                    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .max_concurrent_streams(1000)
                        .serve_connection(io, service)
                        .await
                } else {
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await
                };
            });
        }
    })
}
