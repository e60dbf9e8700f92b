//! A run's figures: the row of the table, and what `/proc` says about the
//! target, the cores and this process over a run.

use std::time::Instant;

use crate::child::descendants;
use crate::support::{core_ticks, cpu_ticks, field, stat_fields};
use crate::targets::Target;
/// cutime + cstime of this process: the CPU time of its reaped children.
pub(crate) fn reaped_children_ticks() -> Option<u64> {
    let fields = stat_fields("self")?;
    Some(field(&fields, 16)? + field(&fields, 17)?)
}

/// A `/proc/PID/status` figure in kB (`VmRSS`, `VmHWM`).
pub(crate) fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// CPU ticks of a process and its descendants.
fn tree_ticks(root: u32) -> Option<u64> {
    let mut total = cpu_ticks(&root.to_string())?;
    for pid in descendants(root) {
        total += cpu_ticks(&pid.to_string()).unwrap_or(0);
    }
    Some(total)
}

/// What one generator run measured.
#[derive(Clone, Debug, Default)]
pub(crate) struct Row {
    /// The generator's name, as the table shows it.
    pub(crate) generator: String,
    /// Requests answered.
    pub(crate) requests: u64,
    /// Requests failed (non-2xx/3xx, socket errors).
    pub(crate) failures: u64,
    /// Seconds the generator says it ran.
    pub(crate) seconds: f64,
    /// Requests/s as the generator reports it (else requests / seconds).
    pub(crate) rps: f64,
    /// Median latency, ms.
    pub(crate) p50_ms: Option<f64>,
    /// 99th percentile latency, ms.
    pub(crate) p99_ms: Option<f64>,
    /// The generator's CPU time (user + system), seconds.
    pub(crate) cpu_s: Option<f64>,
    /// The generator's peak RSS (`VmHWM`), kB.
    pub(crate) peak_rss_kb: Option<u64>,
    /// ld-tower: RSS sampled last before the reply.
    pub(crate) end_rss_kb: Option<u64>,
    /// CPU of the target (nginx and its worker) over the run, seconds.
    pub(crate) target_cpu_s: Option<f64>,
    /// Busy seconds of cores 0 and 1 over the run.
    pub(crate) core_busy_s: Option<[f64; 2]>,
    /// Interrupt (irq + softirq) seconds of cores 0 and 1 over the run.
    pub(crate) core_irq_s: Option<[f64; 2]>,
    /// This orchestrator's CPU over the run (it shares core 1).
    pub(crate) self_cpu_s: Option<f64>,
    /// Wall seconds the run took (for the busy shares).
    pub(crate) wall_s: f64,
    /// A remark printed after the row.
    pub(crate) note: String,
    /// Runs made (more than one when other processes disturbed it).
    pub(crate) runs: u32,
}

impl Row {
    /// CPU microseconds per request.
    pub(crate) fn cpu_us_per_request(&self) -> Option<f64> {
        let cpu = self.cpu_s?;
        (self.requests > 0).then(|| cpu * 1e6 / self.requests as f64)
    }

    /// The larger of [`Row::other_load`]'s shares (0 when unknown).
    pub(crate) fn noise(&self) -> f64 {
        self.other_load().map_or(0.0, |[a, b]| a.max(b))
    }

    /// The generator's CPU time as a share of the run.
    pub(crate) fn cpu_share(&self) -> Option<f64> {
        Some(self.cpu_s? / self.wall_s)
    }

    /// Share of the run cores 0 and 1 spent on anything else than the
    /// target (core 0) and the generator (core 1).
    pub(crate) fn other_load(&self) -> Option<[f64; 2]> {
        let [c0, c1] = self.core_busy_s?;
        let other0 = (c0 - self.target_cpu_s?).max(0.0) / self.wall_s;
        let other1 = (c1 - self.cpu_s? - self.self_cpu_s.unwrap_or(0.0)).max(0.0) / self.wall_s;
        Some([other0, other1])
    }
}

/// Measures the target and the cores over a run.
pub(crate) struct Meter {
    ticks_per_s: f64,
    target_pid: u32,
    target_before: Option<u64>,
    cores_before: Option<[[u64; 2]; 2]>,
    self_before: Option<u64>,
    started: Instant,
}

impl Meter {
    /// Takes the figures before a run.
    pub(crate) fn start(ticks_per_s: f64, target: &Target) -> Self {
        let target_pid = target.proc.pid();
        Meter {
            ticks_per_s,
            target_pid,
            target_before: tree_ticks(target_pid),
            cores_before: core_ticks(),
            self_before: cpu_ticks("self"),
            started: Instant::now(),
        }
    }

    fn seconds(&self, before: Option<u64>, after: Option<u64>) -> Option<f64> {
        Some(after?.checked_sub(before?)? as f64 / self.ticks_per_s)
    }

    /// Takes them after it: the target's, the cores' and this process's
    /// CPU over the run, into `row`.
    pub(crate) fn finish(&self, row: &mut Row) {
        let target_after = tree_ticks(self.target_pid);
        let cores_after = core_ticks();
        row.wall_s = self.started.elapsed().as_secs_f64();
        row.target_cpu_s = self.seconds(self.target_before, target_after);
        row.self_cpu_s = self.seconds(self.self_before, cpu_ticks("self"));
        let per_core = |kind: usize| {
            self.cores_before.zip(cores_after).and_then(|(b, a)| {
                Some([
                    self.seconds(Some(b[0][kind]), Some(a[0][kind]))?,
                    self.seconds(Some(b[1][kind]), Some(a[1][kind]))?,
                ])
            })
        };
        row.core_busy_s = per_core(0);
        row.core_irq_s = per_core(1);
    }
}
