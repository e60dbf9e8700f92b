//! This process's CPU time (user + system, all threads) with the wall
//! time beside it: `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`, to the
//! nanosecond, through rustix (the crate forbids `unsafe`, which
//! `libc::getrusage` would need).

use std::time::{Duration, Instant};

use rustix::time::{clock_gettime, ClockId};

/// The process's CPU time so far.
fn process_cpu() -> Duration {
    let t = clock_gettime(ClockId::ProcessCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// CPU and wall time since it started.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CpuClock {
    cpu: Duration,
    wall: Instant,
}

impl CpuClock {
    pub(crate) fn start() -> CpuClock {
        CpuClock {
            cpu: process_cpu(),
            wall: Instant::now(),
        }
    }

    /// CPU time since the start, ms.
    pub(crate) fn cpu_ms(&self) -> f64 {
        process_cpu().saturating_sub(self.cpu).as_secs_f64() * 1000.0
    }

    /// Wall time since the start, ms.
    pub(crate) fn wall_ms(&self) -> f64 {
        self.wall.elapsed().as_secs_f64() * 1000.0
    }
}

/// Min, median and max of `values` (0s when empty).
pub(crate) fn spread(values: &[f64]) -> [f64; 3] {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => [0.0; 3],
        n => [sorted[0], median_of_sorted(&sorted), sorted[n - 1]],
    }
}

fn median_of_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}
