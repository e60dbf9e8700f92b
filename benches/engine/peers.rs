//! The peers ld-tower is measured against: wrk and Locust's
//! `FastHttpUser`, their runs and what their output says.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::child::Child;
use crate::measure::{reaped_children_ticks, status_kb, Meter, Row};
use crate::targets::Target;
use crate::{spawn, Bench, Result, SAMPLE_EVERY, WORKSPACE};
/// `12.34us`, `1.20ms`, `2.00s`, `1.00m` (wrk's units) in ms.
fn wrk_time_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match unit {
        "us" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        "m" => 60e3,
        "h" => 3600e3,
        _ => return None,
    };
    Some(number * factor)
}

/// The wrk figures out of its `--latency` report.
fn parse_wrk(out: &str, row: &mut Row) -> Result<()> {
    let mut requests = None;
    for line in out.lines() {
        let line = line.trim();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", value] => row.p50_ms = wrk_time_ms(value),
            ["99%", value] => row.p99_ms = wrk_time_ms(value),
            [count, "requests", "in", time, ..] => {
                requests = count.parse::<u64>().ok();
                row.seconds = time
                    .trim_end_matches(',')
                    .strip_suffix('s')
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0.0);
            }
            ["Requests/sec:", value] => row.rps = value.parse().unwrap_or(0.0),
            ["Non-2xx", "or", "3xx", "responses:", n] => row.failures += n.parse().unwrap_or(0),
            _ => {}
        }
        if let Some(errors) = line.strip_prefix("Socket errors:") {
            // connect 0, read 0, write 0, timeout 0
            for part in errors.split(',') {
                row.failures += part
                    .split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    row.requests =
        requests.ok_or_else(|| format!("no `N requests in` line in wrk's output:\n{out}"))?;
    Ok(())
}

/// The aggregated row of Locust's `--csv` stats.
fn parse_locust(csv_path: &Path, row: &mut Row) -> Result<()> {
    let mut reader = csv::Reader::from_path(csv_path)
        .map_err(|e| format!("cannot read Locust's stats {}: {e}", csv_path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let number = |record: &csv::StringRecord, name: &str| -> Option<f64> {
        record.get(column(name)?)?.trim().parse().ok()
    };
    for record in reader.records() {
        let record = record?;
        if column("Name").and_then(|i| record.get(i)) != Some("Aggregated") {
            continue;
        }
        row.requests = number(&record, "Request Count").unwrap_or(0.0) as u64;
        row.failures = number(&record, "Failure Count").unwrap_or(0.0) as u64;
        row.rps = number(&record, "Requests/s").unwrap_or(0.0);
        row.p50_ms = number(&record, "50%");
        row.p99_ms = number(&record, "99%");
        return Ok(());
    }
    Err(format!("no Aggregated row in {}", csv_path.display()).into())
}

/// The locust executable: env `LD_TOWER_LOCUST`, `.peer/bin/locust`, `locust`.
pub(crate) fn find_locust() -> (Option<PathBuf>, Vec<String>) {
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("LD_TOWER_LOCUST") {
        candidates.push(PathBuf::from(path));
    }
    candidates.push(Path::new(WORKSPACE).join(".peer/bin/locust"));
    candidates.push(PathBuf::from("locust"));
    let mut tried = Vec::new();
    for candidate in candidates {
        match Command::new(&candidate)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
        {
            Ok(out) if out.status.success() => return (Some(candidate), tried),
            Ok(out) => tried.push(format!("{}: exit {}", candidate.display(), out.status)),
            Err(e) => tried.push(format!("{}: {e}", candidate.display())),
        }
    }
    (None, tried)
}

/// Locust's user: one `GET /` task, no wait.
const LOCUSTFILE: &str = "\
from locust import FastHttpUser, constant, task


class Bench(FastHttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get(\"/\")
";

impl Bench {
    /// Waits for an external generator, measuring its peak RSS and, once
    /// reaped, its lifetime CPU (the growth of our reaped children's time).
    fn wait_generator(
        &self,
        proc: &mut Child,
        seconds: u64,
        row: &mut Row,
        children_before: Option<u64>,
    ) -> Result<ExitStatus> {
        let mut peak = None::<u64>;
        let status = proc.wait_until(self.deadline(seconds), SAMPLE_EVERY, |pid| {
            if let Some(hwm) = status_kb(pid, "VmHWM") {
                peak = Some(peak.map_or(hwm, |p| p.max(hwm)));
            }
        })?;
        row.peak_rss_kb = peak;
        row.cpu_s = reaped_children_ticks()
            .zip(children_before)
            .and_then(|(after, before)| after.checked_sub(before))
            .map(|ticks| ticks as f64 / self.ticks_per_s);
        Ok(status)
    }

    /// One wrk run against `target`.
    pub(crate) fn run_wrk(&self, target: &Target) -> Result<Row> {
        let users = self.options.users;
        let seconds = self.options.seconds;
        let mut command = self.placement.command(1, "wrk");
        command
            .arg("-t1")
            .arg(format!("-c{users}"))
            .arg(format!("-d{seconds}s"))
            .arg("--latency")
            .arg(format!("{}/", target.url()));
        let children_before = reaped_children_ticks();
        let meter = Meter::start(self.ticks_per_s, target);
        let mut proc = spawn("wrk", &mut command)?;
        let mut row = Row {
            generator: "wrk".into(),
            ..Row::default()
        };
        let status = self.wait_generator(&mut proc, seconds, &mut row, children_before)?;
        meter.finish(&mut row);
        if !status.success() {
            return Err(proc.failure(&format!("exited with {status}")).into());
        }
        let output = proc.rest_of_stdout(Duration::from_secs(2)).join("\n");
        parse_wrk(&output, &mut row)?;
        Ok(row)
    }

    /// One headless Locust run against `target`.
    pub(crate) fn run_locust(&self, locust: &Path, target: &Target) -> Result<Row> {
        let users = self.options.users;
        let seconds = self.options.seconds;
        let dir = self.dir.join("locust");
        std::fs::create_dir_all(&dir)?;
        let locustfile = dir.join("locustfile.py");
        std::fs::write(&locustfile, LOCUSTFILE)?;
        let csv_prefix = dir.join("bench");
        let mut command = self.placement.command(1, locust);
        command
            .current_dir(&dir)
            .arg("-f")
            .arg(&locustfile)
            .arg("--headless")
            .arg("-u")
            .arg(users.to_string())
            .arg("-r")
            .arg("10000")
            .arg("-t")
            .arg(format!("{seconds}s"))
            .arg("--host")
            .arg(target.url())
            .arg("--only-summary")
            .arg("--csv")
            .arg(&csv_prefix)
            .arg("--loglevel")
            .arg("WARNING");
        let children_before = reaped_children_ticks();
        let meter = Meter::start(self.ticks_per_s, target);
        let mut proc = spawn("locust", &mut command)?;
        let mut row = Row {
            generator: "Locust FastHttpUser".into(),
            note: "CPU includes Python start-up".into(),
            ..Row::default()
        };
        // Locust exits 1 when any request failed; its figures still count.
        let status = self.wait_generator(&mut proc, seconds, &mut row, children_before)?;
        meter.finish(&mut row);
        let stats = Path::new(&format!("{}_stats.csv", csv_prefix.display())).to_path_buf();
        parse_locust(&stats, &mut row).map_err(|e| proc.failure(&format!("({status}): {e}")))?;
        row.seconds = seconds as f64;
        Ok(row)
    }
}
