//! Part 4, the peer: what Locust's distributed mode (LoadDensity's
//! `runner_mode: "master"/"worker"`) makes of the same samples. Each worker
//! keeps `response_times` as a dict of latencies bucketed to about 2
//! significant digits (`locust.stats.bucket_response_time`), sends it to
//! the master every 3 s, and the master adds the dicts; its percentiles
//! are read from that dict (`calculate_response_time_percentile`). The
//! bucketing is re-done here in Rust for every N, and checked once against
//! Locust's own functions, run by its venv's Python, when Locust is there.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::synth::ExactCounts;
use crate::Result;

/// `locust.stats.bucket_response_time` of a latency in ms: whole ms under
/// 100, tens under 1,000, hundreds under 10,000, else thousands (Python's
/// `round`: ties to even).
pub(crate) fn bucket_ms(ms: f64) -> u64 {
    let to = |unit: f64| ((ms / unit).round_ties_even() * unit) as u64;
    if ms < 100.0 {
        to(1.0)
    } else if ms < 1000.0 {
        to(10.0)
    } else if ms < 10_000.0 {
        to(100.0)
    } else {
        to(1000.0)
    }
}

/// The master's `response_times` dict for these samples: the workers'
/// dicts added, which is the dict of every sample bucketed.
pub(crate) fn locust_dict(exact: &ExactCounts) -> BTreeMap<u64, u64> {
    let mut dict = BTreeMap::new();
    for (us, n) in exact.iter() {
        *dict.entry(bucket_ms(us as f64 / 1000.0)).or_insert(0) += n;
    }
    dict
}

/// `locust.stats.calculate_response_time_percentile`, ms.
pub(crate) fn locust_percentile(dict: &BTreeMap<u64, u64>, total: u64, percent: f64) -> u64 {
    let wanted = (total as f64 * percent) as u64;
    let mut processed = 0;
    for (ms, n) in dict.iter().rev() {
        processed += n;
        if total.saturating_sub(processed) <= wanted {
            return *ms;
        }
    }
    0
}

/// Locust's executable: `LD_TOWER_LOCUST`, `/work/.peer/bin/locust`, or
/// `.peer/bin/locust` under the workspace; `Err` says what was tried.
pub(crate) fn find_locust(workspace: &str) -> std::result::Result<PathBuf, String> {
    let mut tried = Vec::new();
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("LD_TOWER_LOCUST") {
        candidates.push(PathBuf::from(path));
    }
    candidates.push(PathBuf::from("/work/.peer/bin/locust"));
    candidates.push(Path::new(workspace).join(".peer/bin/locust"));
    for path in candidates {
        if path.is_file() {
            return Ok(path);
        }
        tried.push(path.display().to_string());
    }
    Err(format!("no locust executable (tried {})", tried.join(", ")))
}

/// The Python Locust runs under: `python` beside its executable.
fn python_of(locust: &Path) -> std::result::Result<PathBuf, String> {
    let python = locust.with_file_name("python");
    if python.is_file() {
        Ok(python)
    } else {
        Err(format!(
            "no python beside {} (Locust's venv)",
            locust.display()
        ))
    }
}

/// Locust's own functions, fed on stdin `us count` lines (every sample's
/// latency): the version, then p50/p95/p99 of the master's merged dict
/// built as each worker would (in `workers` workers' dicts, then added).
const LOCUST_PERCENTILES: &str = r#"
import sys
from collections import defaultdict
import locust
from locust.stats import bucket_response_time, calculate_response_time_percentile
workers = int(sys.argv[1])
dicts = [defaultdict(int) for _ in range(workers)]
total = 0
for i, line in enumerate(sys.stdin):
    us, n = line.split()
    dicts[i % workers][bucket_response_time(int(us) / 1000.0)] += int(n)
    total += int(n)
merged = defaultdict(int)
for d in dicts:
    for k, v in d.items():
        merged[k] += v
print(locust.__version__)
print(" ".join(str(calculate_response_time_percentile(merged, total, p)) for p in (0.5, 0.95, 0.99)))
"#;

/// Locust's own p50/p95/p99 (ms) of `exact` and its version, through
/// Locust's venv.
pub(crate) fn locust_own(
    locust: &Path,
    exact: &ExactCounts,
    workers: usize,
) -> Result<(String, [u64; 3])> {
    let python = python_of(locust)?;
    let mut child = Command::new(&python)
        .arg("-c")
        .arg(LOCUST_PERCENTILES)
        .arg(workers.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    {
        let mut stdin = child.stdin.take().ok_or("no stdin for python")?;
        let mut text = String::new();
        for (us, n) in exact.iter() {
            text.push_str(&format!("{us} {n}\n"));
        }
        stdin.write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            python.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let version = lines.next().unwrap_or("?").to_owned();
    let values: Vec<u64> = lines
        .next()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    match values[..] {
        [a, b, c] => Ok((version, [a, b, c])),
        _ => Err(format!("unexpected output from Locust's functions: {text:?}").into()),
    }
}
