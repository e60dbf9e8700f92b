//! ld-tower's runs: `ld-tower serve` on core 1, sent one `LD_start_test`
//! over its control socket (legacy framing), its RSS sampled meanwhile.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::child::Child;
use crate::measure::{status_kb, Meter, Row};
use crate::support::cpu_ticks;
use crate::targets::Target;
use crate::{spawn, Bench, Result, LD_TOWER, OVERRUN, SAMPLE_EVERY, START_TIMEOUT};

impl Bench {
    /// Starts ld-tower, runs one `LD_start_test`, and stops it.
    pub(crate) fn run_ld_tower(
        &self,
        target: &Target,
        seconds: u64,
        label: &str,
        perf: bool,
    ) -> Result<Row> {
        let users = self.options.users;
        let workdir = self.dir.join(format!("ld-tower-{label}"));
        std::fs::create_dir_all(&workdir)?;
        let mut command = self.placement.command(1, LD_TOWER);
        command
            .current_dir(&workdir)
            .args(["serve", "--host", "127.0.0.1", "--port", "0"])
            .env("LD_TOWER_LOG", "warn");
        let mut proc = spawn(&format!("ld-tower-{label}"), &mut command)?;
        let port = proc.announced_port(START_TIMEOUT)?;
        let pid = proc.pid();
        let request = serde_json::json!({"load_density": [["LD_start_test", {
            "user_detail_dict": {"user": "fast_http_user", "host": target.url()},
            "user_count": users,
            "spawn_rate": 10000,
            "test_time": seconds,
            "wait_time": 0,
            "tasks": [{"method": "get", "request_url": "/"}],
        }]]})
        .to_string();
        let timeout = Duration::from_secs(seconds) + OVERRUN;
        let cpu_before = cpu_ticks(&pid.to_string());
        let meter = Meter::start(self.ticks_per_s, target);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(send_legacy(port, &request, timeout));
        });
        let mut perf_proc = None;
        let started = Instant::now();
        let mut last_rss = None;
        let mut peak = None;
        let reply = loop {
            match rx.recv_timeout(SAMPLE_EVERY) {
                Ok(reply) => break reply,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err("the request thread ended without a reply".into())
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if let Some(rss) = status_kb(pid, "VmRSS") {
                last_rss = Some(rss);
            }
            if let Some(hwm) = status_kb(pid, "VmHWM") {
                peak = Some(hwm);
            }
            if perf && perf_proc.is_none() && started.elapsed() > Duration::from_secs(1) {
                perf_proc = Some(self.start_perf(pid, seconds)?);
            }
            if let Some(status) = proc.try_wait() {
                return Err(proc
                    .failure(&format!("exited ({status}) during the test"))
                    .into());
            }
            if started.elapsed() > timeout + Duration::from_secs(5) {
                return Err(proc.failure("sent no reply in time").into());
            }
        };
        let cpu_after = cpu_ticks(&pid.to_string());
        let mut row = Row {
            generator: "ld-tower".into(),
            ..Row::default()
        };
        meter.finish(&mut row);
        if let Some(hwm) = status_kb(pid, "VmHWM") {
            peak = Some(hwm);
        }
        row.peak_rss_kb = peak;
        row.end_rss_kb = last_rss;
        row.cpu_s = cpu_after
            .zip(cpu_before)
            .and_then(|(a, b)| a.checked_sub(b))
            .map(|t| t as f64 / self.ticks_per_s);
        let lines = reply?;
        let result = lines
            .iter()
            .find(|line| line.starts_with('{') || line.starts_with("Error"))
            .ok_or_else(|| format!("ld-tower replied no result line: {lines:?}"))?;
        if result.starts_with("Error") {
            return Err(format!("ld-tower: {result}").into());
        }
        let value: Value = serde_json::from_str(result)
            .map_err(|e| format!("ld-tower's result is not JSON ({e}): {result}"))?;
        let summary = &value["summary"];
        row.requests = summary["totals"]["requests"].as_u64().unwrap_or(0);
        row.failures = summary["totals"]["failures"].as_u64().unwrap_or(0);
        row.p50_ms = summary["latency_overall"]["p50_ms"].as_f64();
        row.p99_ms = summary["latency_overall"]["p99_ms"].as_f64();
        row.seconds = value["elapsed_s"].as_f64().unwrap_or(seconds as f64);
        row.rps = if row.seconds > 0.0 {
            row.requests as f64 / row.seconds
        } else {
            0.0
        };
        if let Some(mut perf_proc) = perf_proc {
            let _ = perf_proc.wait_until(
                Instant::now() + Duration::from_secs(30),
                SAMPLE_EVERY,
                |_| {},
            );
            row.note = "perf-recorded (figures disturbed)".into();
        }
        drop(proc);
        Ok(row)
    }

    /// `perf record -g` of `pid` for a few seconds, on core 1.
    fn start_perf(&self, pid: u32, seconds: u64) -> Result<Child> {
        let record_s = seconds.saturating_sub(2).clamp(1, 5);
        let data = self.perf_data();
        let mut command = self.placement.command(1, "perf");
        command
            .arg("record")
            .arg("-g")
            .arg("-o")
            .arg(&data)
            .arg("-p")
            .arg(pid.to_string())
            .arg("--")
            .arg("sleep")
            .arg(record_s.to_string());
        spawn("perf", &mut command)
    }

    /// Where `--perf` writes its profile.
    pub(crate) fn perf_data(&self) -> PathBuf {
        std::env::temp_dir().join("ld-tower-engine-bench.perf.data")
    }
}

/// Sends one request in legacy framing and reads the reply to its end;
/// the result lines, without the terminator.
fn send_legacy(port: u16, request: &str, timeout: Duration) -> Result<Vec<String>, String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("cannot connect to ld-tower on {addr}: {e}"))?;
    tcp.set_read_timeout(Some(timeout))
        .and_then(|()| tcp.set_write_timeout(Some(Duration::from_secs(5))))
        .map_err(|e| e.to_string())?;
    tcp.write_all(request.as_bytes())
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut reply = Vec::new();
    tcp.read_to_end(&mut reply)
        .map_err(|e| format!("no complete reply from ld-tower: {e}"))?;
    let text = String::from_utf8_lossy(&reply);
    if !text.contains("Return_Data_Over_JE") {
        return Err(format!("reply without the terminator: {text:?}"));
    }
    Ok(text
        .lines()
        .filter(|line| *line != "Return_Data_Over_JE")
        .map(str::to_owned)
        .collect())
}
