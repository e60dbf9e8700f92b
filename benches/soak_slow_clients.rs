//! Soak (issue 11, point 8): a real `ld-tower serve` (the release build
//! under `cargo bench`) holds 1,000 slow clients while one good client's
//! commands are timed and the server's memory is sampled. Not run in CI.
//!
//! ```text
//! cargo bench --bench soak_slow_clients -- [--seconds S] [--slow N] [--legacy] ...
//! ```
//!
//! - Half the slow clients (`--non-readers` percent) send requests and
//!   never read a byte: framed, each pipelines `--pipeline` requests whose
//!   replies are `--reply-kib` KiB each (an unknown action's name, quoted
//!   back), more than the kernel's buffers take, so the server holds the
//!   rest and stops reading them; legacy, one such request (its reply
//!   fits the kernel's buffers: the server hands it on and closes, as
//!   legacy framing does after every reply, so these are held by the
//!   kernel, not the server; the held check counts the tricklers only).
//! - The others trickle a `--trickle-bytes` request one byte every
//!   `--trickle-ms`, read its reply, and start again (legacy: on a new
//!   connection).
//! - The good client sends `[["LD_test_status"]]` every `--interval-ms`
//!   (framed: on one kept connection; legacy: one connection each) and
//!   records each reply's latency (hdrhistogram); a command not answered
//!   within 5 s counts as a failure.
//! - Every second: the server's `VmRSS` and `VmHWM` (`/proc/PID/status`)
//!   and its open descriptors; a progress line every 10 s on stderr.
//!
//! The server is started so that they fit: `--max-connections` the slow
//! clients plus 64, `--read-timeout` the duration plus 3 minutes (a
//! trickler would otherwise be closed a read timeout after its last
//! complete request, and a non-reader a read timeout after the server's
//! last byte to it: the defences the soak holds clients against); this
//! process's open-file limit is raised to what the clients need (it fails
//! at start, saying so, where the hard limit is lower; the server raises
//! its own to the hard limit).
//!
//! At the end it prints a table and checks: the server held a connection
//! for every slow client throughout (its descriptors, less those it had
//! before any client came, sampled every second after the ramp), closed
//! none of them (a failed write or read on a slow client's side), no good
//! command failed, the good client's
//! p99 at most `--max-p99-ms`, the server's peak memory at most
//! `--max-rss-mib`, the server still running. The exit code is 1 if a
//! check failed.

use std::net::SocketAddr;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

#[path = "../tests/common/child.rs"]
mod child;

use child::{proc_status_kib, Child};

/// The ld-tower binary under test (the release build under `cargo bench`).
const LD_TOWER: &str = env!("CARGO_BIN_EXE_ld-tower");

/// The reply terminator.
const END: &[u8] = b"Return_Data_Over_JE\n";

/// How long the good client waits for one reply before counting a failure.
const GOOD_DEADLINE: Duration = Duration::from_secs(5);

/// The most the ramp (connecting every slow client) may take.
const RAMP_LIMIT: Duration = Duration::from_secs(60);

/// Descriptors this process keeps beyond the slow clients' sockets.
const OWN_FILES: u64 = 256;

/// `cargo bench --bench soak_slow_clients -- [OPTIONS]`.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "soak_slow_clients",
    bin_name = "cargo bench --bench soak_slow_clients --",
    about = "1,000 slow clients against ld-tower serve: a good client's latency and the server's memory",
    long_about = "Holds N slow clients (half trickling requests a byte at a time, half \
                  sending requests and never reading) against a real `ld-tower serve` while \
                  one good client times its commands and the server's memory is sampled; \
                  prints a table and a pass/fail against the bounds."
)]
struct Options {
    /// Seconds the soak holds the clients after the ramp (5 to 86400).
    #[arg(long, value_name = "S", default_value_t = 180,
          value_parser = clap::value_parser!(u64).range(5..=86_400))]
    seconds: u64,
    /// Slow clients (1 to 20000).
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=20_000))]
    slow: u64,
    /// Percent of the slow clients that never read (the rest trickle).
    #[arg(long, value_name = "PERCENT", default_value_t = 50,
          value_parser = clap::value_parser!(u64).range(0..=100))]
    non_readers: u64,
    /// Milliseconds between two bytes of a trickled request (1 to 60000).
    #[arg(long, value_name = "MS", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    trickle_ms: u64,
    /// Bytes of a trickled request (`[["LD_test_status"]]` padded with
    /// spaces; 21 to 65536).
    #[arg(long, value_name = "BYTES", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(21..=65_536))]
    trickle_bytes: u64,
    /// Requests each framed non-reader pipelines (1 to 64).
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pipeline: u64,
    /// KiB of each non-reader request's reply (1 to 1000).
    #[arg(long, value_name = "KIB", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    reply_kib: u64,
    /// Milliseconds between the good client's commands (0 to 10000).
    #[arg(long, value_name = "MS", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    interval_ms: u64,
    /// Legacy framing (one request per connection) instead of `--framed`.
    #[arg(long)]
    legacy: bool,
    /// The bound on the good client's p99 latency, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    max_p99_ms: u64,
    /// The bound on the server's peak memory (VmHWM), in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 384)]
    max_rss_mib: u64,
    /// Passed by `cargo bench` to every `harness = false` bench; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Options {
    fn non_readers(&self) -> u64 {
        self.slow * self.non_readers / 100
    }

    /// The connections the server must hold throughout: every slow
    /// client's, less the legacy non-readers' (closed after their reply).
    fn held(&self) -> u64 {
        if self.legacy {
            self.slow - self.non_readers()
        } else {
            self.slow
        }
    }

    fn framing(&self) -> &'static str {
        if self.legacy {
            "legacy"
        } else {
            "framed"
        }
    }
}

fn main() -> ExitCode {
    let options = Options::parse();
    match soak(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            println!("soak_slow_clients: FAIL");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("soak_slow_clients: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the clients count, shared by their tasks.
#[derive(Debug, Default)]
struct Counters {
    /// Slow clients connected now.
    connected: AtomicUsize,
    /// Slow clients' connections the server closed (or reset).
    closed: AtomicU64,
    /// Slow clients' failed connection attempts.
    connect_failures: AtomicU64,
    /// Trickled requests answered.
    trickled: AtomicU64,
}

/// What the sampler saw after the ramp.
#[derive(Debug)]
struct Samples {
    peak_rss_kib: u64,
    last_rss_kib: u64,
    hwm_kib: u64,
    fewest_connected: usize,
    /// The fewest descriptors the server held (less those it held before
    /// any client came: its connections).
    fewest_server_files: usize,
}

/// Raises this process's open-file limit to `wanted` (never lowers it);
/// an error if the hard limit does not allow it.
fn raise_open_files(wanted: u64) -> Result<(), String> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let now = getrlimit(Resource::Nofile);
    if now.current.is_none_or(|current| current >= wanted) {
        return Ok(());
    }
    let hard = now.maximum.unwrap_or(u64::MAX).max(wanted);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(wanted),
            maximum: Some(hard),
        },
    )
    .map_err(|e| {
        format!(
            "cannot raise the open-file limit to {wanted} ({e}): run `ulimit -n {wanted}` \
             first, or pass a smaller --slow"
        )
    })
}

fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |entries| entries.count())
}

fn soak(options: &Options) -> Result<bool, String> {
    raise_open_files(options.slow + OWN_FILES)?;
    let read_timeout = options.seconds + 120 + RAMP_LIMIT.as_secs();
    let mut command = Command::new(LD_TOWER);
    command
        .arg("serve")
        .args(["--port", "0"])
        .args(["--max-connections", &(options.slow + 64).to_string()])
        .args(["--read-timeout", &format!("{read_timeout}s")])
        .env_remove("LOAD_DENSITY_SOCKET_TOKEN");
    if !options.legacy {
        command.arg("--framed");
    }
    let mut server = Child::spawn("ld-tower serve", &mut command)?;
    let port = server.announced_port(Duration::from_secs(20))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let pid = server.pid();
    let baseline_files = open_files(pid);
    let non_readers = options.non_readers();
    println!(
        "soak_slow_clients: ld-tower serve {} (pid {pid}, {} build) on {addr}: {} slow clients \
         ({} trickling {}-byte requests a byte every {} ms, {non_readers} never reading {}), \
         one good client every {} ms, {} s",
        if options.legacy {
            "(legacy)"
        } else {
            "--framed"
        },
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        options.slow,
        options.slow - non_readers,
        options.trickle_bytes,
        options.trickle_ms,
        if options.legacy {
            format!("a {} KiB reply", options.reply_kib)
        } else {
            format!("{} replies of {} KiB", options.pipeline, options.reply_kib)
        },
        options.interval_ms,
        options.seconds,
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("no runtime: {e}"))?;
    let counters = Arc::new(Counters::default());
    let stop = CancellationToken::new();
    for i in 0..options.slow {
        let (options, counters, stop) = (options.clone(), counters.clone(), stop.clone());
        runtime.spawn(async move {
            let stagger = Duration::from_millis(fastrand::u64(0..=options.trickle_ms));
            tokio::time::sleep(stagger).await;
            if i < options.non_readers() {
                non_reader(&options, addr, &counters, &stop).await;
            } else {
                trickler(&options, addr, &counters, &stop).await;
            }
        });
    }

    // The ramp: until every slow client is connected, and the server holds
    // a descriptor for each.
    let ramp_started = Instant::now();
    while counters.connected.load(Ordering::Relaxed) < options.slow as usize
        || open_files(pid).saturating_sub(baseline_files) < options.held() as usize
    {
        if ramp_started.elapsed() > RAMP_LIMIT {
            stop.cancel();
            return Err(format!(
                "only {} of {} slow clients connected in {RAMP_LIMIT:?} (the server holds {} \
                 connections; {} connection failures)",
                counters.connected.load(Ordering::Relaxed),
                options.slow,
                open_files(pid).saturating_sub(baseline_files),
                counters.connect_failures.load(Ordering::Relaxed),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "ramp: {} slow clients connected in {:.1} s",
        options.slow,
        ramp_started.elapsed().as_secs_f64()
    );

    let good = {
        let (options, stop) = (options.clone(), stop.clone());
        std::thread::spawn(move || good_client(&options, addr, &stop))
    };
    let mut samples = sample(options, pid, &counters, &mut server);
    samples.fewest_server_files = samples.fewest_server_files.saturating_sub(baseline_files);
    stop.cancel();
    let good = good
        .join()
        .map_err(|_| "the good client's thread panicked".to_owned())??;
    let alive = server.alive();
    runtime.shutdown_timeout(Duration::from_secs(5));
    Ok(report(options, &counters, &samples, &good, alive))
}

/// Samples the server every second for the soak's duration.
fn sample(options: &Options, pid: u32, counters: &Counters, server: &mut Child) -> Samples {
    let mut samples = Samples {
        peak_rss_kib: 0,
        last_rss_kib: 0,
        hwm_kib: 0,
        fewest_connected: usize::MAX,
        fewest_server_files: usize::MAX,
    };
    let started = Instant::now();
    let mut next_line = Duration::from_secs(10);
    while started.elapsed() < Duration::from_secs(options.seconds) && server.alive() {
        std::thread::sleep(Duration::from_secs(1));
        let rss = proc_status_kib(pid, "VmRSS").unwrap_or(0);
        samples.last_rss_kib = rss;
        samples.peak_rss_kib = samples.peak_rss_kib.max(rss);
        samples.hwm_kib = proc_status_kib(pid, "VmHWM").unwrap_or(samples.hwm_kib);
        let connected = counters.connected.load(Ordering::Relaxed);
        samples.fewest_connected = samples.fewest_connected.min(connected);
        let files = open_files(pid);
        samples.fewest_server_files = samples.fewest_server_files.min(files);
        if started.elapsed() >= next_line {
            next_line += Duration::from_secs(10);
            eprintln!(
                "{:>5} s: server VmRSS {} MiB, VmHWM {} MiB, {files} descriptors; {connected} slow \
                 clients connected, {} closed by the server, {} trickled requests answered",
                started.elapsed().as_secs(),
                rss / 1024,
                samples.hwm_kib / 1024,
                counters.closed.load(Ordering::Relaxed),
                counters.trickled.load(Ordering::Relaxed),
            );
        }
    }
    samples
}

/// Prints the table; whether every check passed.
fn report(
    options: &Options,
    counters: &Counters,
    samples: &Samples,
    good: &Good,
    alive: bool,
) -> bool {
    let ms = |us: u64| us as f64 / 1000.0;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let p99 = ms(good.latency_us.value_at_quantile(0.99));
    let checks = [
        (
            "connections the server held, fewest",
            samples.fewest_server_files.to_string(),
            format!(">= {}", options.held()),
            samples.fewest_server_files >= options.held() as usize,
        ),
        (
            "slow connections closed by the server",
            counters.closed.load(Ordering::Relaxed).to_string(),
            "0".to_owned(),
            counters.closed.load(Ordering::Relaxed) == 0,
        ),
        (
            "good commands failed",
            good.failures.to_string(),
            "0".to_owned(),
            good.failures == 0,
        ),
        (
            "good client p99 ms",
            format!("{p99:.2}"),
            format!("<= {}", options.max_p99_ms),
            p99 <= options.max_p99_ms as f64 && !good.latency_us.is_empty(),
        ),
        (
            "server VmHWM MiB",
            format!("{:.1}", mib(samples.hwm_kib)),
            format!("<= {}", options.max_rss_mib),
            mib(samples.hwm_kib) <= options.max_rss_mib as f64,
        ),
        (
            "server running at the end",
            alive.to_string(),
            "true".to_owned(),
            alive,
        ),
    ];
    let figures = [
        ("good commands answered", good.latency_us.len().to_string()),
        (
            "good client p50 ms",
            format!("{:.2}", ms(good.latency_us.value_at_quantile(0.5))),
        ),
        (
            "good client max ms",
            format!("{:.2}", ms(good.latency_us.max())),
        ),
        (
            "server VmRSS MiB, peak sampled",
            format!("{:.1}", mib(samples.peak_rss_kib)),
        ),
        (
            "server VmRSS MiB, at the end",
            format!("{:.1}", mib(samples.last_rss_kib)),
        ),
        (
            "slow clients connected (their count), fewest",
            samples.fewest_connected.to_string(),
        ),
        (
            "slow connection attempts failed",
            counters
                .connect_failures
                .load(Ordering::Relaxed)
                .to_string(),
        ),
        (
            "trickled requests answered",
            counters.trickled.load(Ordering::Relaxed).to_string(),
        ),
    ];
    println!();
    println!(
        "| figure ({}) | value | bound | verdict |",
        options.framing()
    );
    println!("|---|---:|---|---|");
    for (name, value, bound, passed) in &checks {
        let verdict = if *passed { "pass" } else { "FAIL" };
        println!("| {name} | {value} | {bound} | {verdict} |");
    }
    for (name, value) in &figures {
        println!("| {name} | {value} | | |");
    }
    let passed = checks.iter().all(|(.., passed)| *passed);
    if passed {
        println!("soak_slow_clients: pass");
    }
    passed
}

// ---------------------------------------------------------------- clients

/// `body` as a frame.
fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// `body` as the server's framing wants it.
fn wire(options: &Options, body: &[u8]) -> Vec<u8> {
    if options.legacy {
        body.to_vec()
    } else {
        frame(body)
    }
}

/// Reads one framed reply, up to and including its terminator frame.
async fn read_framed_reply(io: &mut TcpStream) -> std::io::Result<()> {
    loop {
        let mut header = [0u8; 4];
        io.read_exact(&mut header).await?;
        let mut body = vec![0u8; u32::from_be_bytes(header) as usize];
        io.read_exact(&mut body).await?;
        if body == END {
            return Ok(());
        }
    }
}

/// Reads a legacy reply: everything until the server closes; an error if
/// it does not end with the terminator.
async fn read_legacy_reply(io: &mut TcpStream) -> std::io::Result<()> {
    let mut reply = Vec::new();
    io.read_to_end(&mut reply).await?;
    if reply.ends_with(END) {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the reply has no terminator",
        ))
    }
}

/// Connects a slow client, counting it; `None` if stopped.
async fn connect_slow(
    addr: SocketAddr,
    counters: &Counters,
    stop: &CancellationToken,
    retry: Duration,
) -> Option<TcpStream> {
    loop {
        match TcpStream::connect(addr).await {
            Ok(io) => {
                counters.connected.fetch_add(1, Ordering::Relaxed);
                return Some(io);
            }
            Err(_) => {
                counters.connect_failures.fetch_add(1, Ordering::Relaxed);
                tokio::select! {
                    () = stop.cancelled() => return None,
                    () = tokio::time::sleep(retry) => {}
                }
            }
        }
    }
}

/// A request whose reply is about `kib` KiB: an unknown action, its name
/// quoted back in the error.
fn big_reply_request(kib: u64) -> Vec<u8> {
    let name = format!("LD_{}", "x".repeat((kib * 1024) as usize));
    format!("[[\"{name}\"]]").into_bytes()
}

/// Sends requests whose replies outgrow the buffers and never reads; holds
/// the connection until stopped, reconnecting if the server closes it.
async fn non_reader(
    options: &Options,
    addr: SocketAddr,
    counters: &Counters,
    stop: &CancellationToken,
) {
    let requests = if options.legacy {
        wire(options, &big_reply_request(options.reply_kib))
    } else {
        let one = wire(options, &big_reply_request(options.reply_kib));
        one.repeat(options.pipeline as usize)
    };
    let retry = Duration::from_millis(options.trickle_ms);
    while let Some(mut io) = connect_slow(addr, counters, stop, retry).await {
        // Never read (so a close by the server shows only in its count of
        // descriptors, or as a failed write here).
        let closed = tokio::select! {
            () = stop.cancelled() => false,
            result = io.write_all(&requests) => match result {
                Ok(()) => {
                    stop.cancelled().await;
                    false
                }
                Err(_) => true,
            },
        };
        counters.connected.fetch_sub(1, Ordering::Relaxed);
        if !closed {
            return;
        }
        counters.closed.fetch_add(1, Ordering::Relaxed);
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(retry) => {}
        }
    }
}

/// Trickles a request a byte at a time, reads its reply, again; on a new
/// connection when the server closes (legacy: after every reply, the next
/// connection opened before the last byte is sent, so that the server
/// holds as many connections throughout).
async fn trickler(
    options: &Options,
    addr: SocketAddr,
    counters: &Counters,
    stop: &CancellationToken,
) {
    let command = br#"["LD_test_status"]]"#;
    let mut body = b"[".to_vec();
    body.resize(options.trickle_bytes as usize - command.len(), b' ');
    body.extend_from_slice(command);
    let request = wire(options, &body);
    let every = Duration::from_millis(options.trickle_ms);
    let mut next: Option<TcpStream> = None;
    loop {
        let mut io = match next.take() {
            Some(io) => io,
            None => match connect_slow(addr, counters, stop, every).await {
                Some(io) => io,
                None => return,
            },
        };
        let served = async {
            loop {
                for (i, byte) in request.iter().enumerate() {
                    if options.legacy && i + 1 == request.len() {
                        next = connect_slow(addr, counters, stop, every).await;
                    }
                    tokio::time::sleep(every).await;
                    io.write_all(std::slice::from_ref(byte)).await?;
                }
                if options.legacy {
                    read_legacy_reply(&mut io).await?;
                    counters.trickled.fetch_add(1, Ordering::Relaxed);
                    return Ok::<_, std::io::Error>(());
                }
                read_framed_reply(&mut io).await?;
                counters.trickled.fetch_add(1, Ordering::Relaxed);
            }
        };
        let outcome = tokio::select! {
            () = stop.cancelled() => None,
            result = served => Some(result),
        };
        drop(io);
        counters.connected.fetch_sub(1, Ordering::Relaxed);
        match outcome {
            None => return,
            // Legacy: the server closes after the reply, as it should.
            Some(Ok(())) => {}
            Some(Err(_)) => {
                counters.closed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// What the good client measured.
#[derive(Debug)]
struct Good {
    latency_us: Histogram<u64>,
    failures: u64,
}

/// The good client, on a thread and runtime of its own (so that the slow
/// clients' tasks do not delay its timing): a command every interval
/// until stopped.
fn good_client(
    options: &Options,
    addr: SocketAddr,
    stop: &CancellationToken,
) -> Result<Good, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("no runtime: {e}"))?;
    let mut good = Good {
        latency_us: Histogram::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?,
        failures: 0,
    };
    let request = wire(options, br#"[["LD_test_status"]]"#);
    runtime.block_on(async {
        let mut kept: Option<TcpStream> = None;
        while !stop.is_cancelled() {
            let started = Instant::now();
            let attempt = async {
                let mut io = match kept.take() {
                    Some(io) => io,
                    None => TcpStream::connect(addr).await?,
                };
                io.write_all(&request).await?;
                if options.legacy {
                    read_legacy_reply(&mut io).await?;
                } else {
                    read_framed_reply(&mut io).await?;
                    kept = Some(io);
                }
                Ok::<_, std::io::Error>(())
            };
            match tokio::time::timeout(GOOD_DEADLINE, attempt).await {
                Ok(Ok(())) => {
                    let us = started.elapsed().as_micros().max(1) as u64;
                    good.latency_us.saturating_record(us);
                }
                _ => {
                    good.failures += 1;
                    kept = None;
                }
            }
            tokio::time::sleep(Duration::from_millis(options.interval_ms)).await;
        }
    });
    Ok(good)
}
