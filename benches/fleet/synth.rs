//! Part 1's agents, built in-process: each agent's figures and 1 Hz series
//! from seeded random requests, encoded as its `LD_fetch_figures` document
//! (`TestFigures::to_json`). Beside them, one [`Figures`] that recorded
//! every sample (the oracle of exact merging) and the exact count of every
//! latency, to the microsecond (the true quantiles, and what Locust's
//! bucketing makes of the same samples).

use std::time::{Duration, UNIX_EPOCH};

use ld_tower::figures::{Figures, RequestOutcome, SecondWindow, TestFigures, TimeSeries};

use crate::cpu::CpuClock;
use crate::options::Options;

/// The shortest latency made, µs (0.2 ms).
pub(crate) const MIN_US: u64 = 200;
/// The longest latency made, µs (2 s).
pub(crate) const MAX_US: u64 = 2_000_000;

/// What each synthetic agent records.
#[derive(Clone, Debug)]
pub(crate) struct Shape {
    pub(crate) names: u32,
    pub(crate) requests_per_name: u64,
    pub(crate) seconds: u64,
    pub(crate) failure_percent: f64,
}

impl Shape {
    pub(crate) fn of(options: &Options) -> Shape {
        Shape {
            names: options.names,
            requests_per_name: options.requests(),
            seconds: options.seconds,
            failure_percent: options.failure_percent.clamp(0.0, 100.0),
        }
    }

    /// Requests per agent.
    pub(crate) fn requests(&self) -> u64 {
        u64::from(self.names) * self.requests_per_name
    }

    /// "20 names x 50,000 requests, 2% failed, 60 s series".
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} names x {} requests each ({} per agent), {}% failed, latencies {} ms to {} s, {} s series",
            self.names,
            self.requests_per_name,
            self.requests(),
            self.failure_percent,
            MIN_US as f64 / 1000.0,
            MAX_US / 1_000_000,
            self.seconds
        )
    }
}

/// How many samples had each latency, by whole microsecond.
#[derive(Clone, Debug)]
pub(crate) struct ExactCounts {
    counts: Vec<u64>,
    total: u64,
}

impl ExactCounts {
    fn new() -> ExactCounts {
        ExactCounts {
            counts: vec![0; usize::try_from(MAX_US + 1).unwrap_or(usize::MAX)],
            total: 0,
        }
    }

    fn add(&mut self, us: u64) {
        if let Some(slot) = usize::try_from(us)
            .ok()
            .and_then(|i| self.counts.get_mut(i))
        {
            *slot += 1;
            self.total += 1;
        }
    }

    /// Every latency with its count, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(us, n)| (us as u64, *n))
    }

    /// Samples counted.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// The smallest latency with at least `q` of the samples at or below
    /// it (nearest rank), µs.
    pub(crate) fn quantile_us(&self, q: f64) -> u64 {
        let rank = ((q * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (us, n) in self.iter() {
            seen += n;
            if seen >= rank {
                return us;
            }
        }
        0
    }
}

/// The agents of part 1, encoded, and the oracles at each N asked.
#[derive(Debug)]
pub(crate) struct Fleet {
    /// Each agent's figures document, as `LD_fetch_figures` sends it.
    pub(crate) documents: Vec<String>,
    /// Per N asked: one `Figures` that recorded the first N agents' every
    /// sample, and their exact latency counts.
    pub(crate) oracles: Vec<(usize, Figures, ExactCounts)>,
    /// CPU time of encoding one agent's document (`to_json` then text), ms.
    pub(crate) encode_cpu_ms: Vec<f64>,
}

/// A normal deviate (Box-Muller).
fn normal(rng: &mut fastrand::Rng) -> f64 {
    let u = rng.f64().max(f64::MIN_POSITIVE);
    let v = rng.f64();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// A latency in µs for name `index` of `names`: mostly log-normal around
/// a median from 1 ms (the first name) to 300 ms (the last), 5% spread
/// log-uniformly over the whole range; within [`MIN_US`, `MAX_US`].
fn latency_us(rng: &mut fastrand::Rng, index: u32, names: u32) -> u64 {
    let (lo, hi) = ((MIN_US as f64).ln(), (MAX_US as f64).ln());
    let ln = if rng.f64() < 0.05 {
        lo + rng.f64() * (hi - lo)
    } else {
        let share = f64::from(index) / f64::from(names.max(2) - 1);
        let median = 1_000f64.ln() + share * (300_000f64.ln() - 1_000f64.ln());
        median + 0.8 * normal(rng)
    };
    (ln.exp().round() as u64).clamp(MIN_US, MAX_US)
}

/// How a request ended: mostly 200, some 201/204/302; failures are 500,
/// 503, 404 or no response.
fn outcome(rng: &mut fastrand::Rng, failure_percent: f64, post: bool) -> RequestOutcome<'static> {
    let outcome = if rng.f64() * 100.0 < failure_percent {
        match rng.u8(0..4) {
            0 => RequestOutcome::failed(Some(500), "HTTP 500 Internal Server Error"),
            1 => RequestOutcome::failed(Some(503), "HTTP 503 Service Unavailable"),
            2 => RequestOutcome::failed(Some(404), "HTTP 404 Not Found"),
            _ => RequestOutcome::failed(None, "Connection refused (os error 111)"),
        }
    } else {
        let status = match rng.u8(0..100) {
            0..=89 => 200,
            90..=94 => 201,
            95..=97 => 204,
            _ => 302,
        };
        RequestOutcome::ok(status).with_bytes(rng.u64(100..20_000))
    };
    RequestOutcome {
        request_type: if post { "POST" } else { "GET" },
        ..outcome
    }
}

/// Builds `agents` agents of `shape`, keeping the oracles at each of
/// `checkpoints` (agent counts, ascending).
pub(crate) fn build(shape: &Shape, agents: usize, checkpoints: &[usize]) -> Fleet {
    let names: Vec<String> = (0..shape.names)
        .map(|i| format!("/api/v1/resource-{i:03}"))
        .collect();
    let mut single = Figures::default();
    let mut exact = ExactCounts::new();
    let mut fleet = Fleet {
        documents: Vec::with_capacity(agents),
        oracles: Vec::new(),
        encode_cpu_ms: Vec::with_capacity(agents),
    };
    let total = shape.requests();
    let seconds = shape.seconds.max(1);
    for agent in 0..agents {
        let mut rng = fastrand::Rng::with_seed(0x00f1_ee70 + agent as u64);
        let mut figures = Figures::default();
        let mut series = TimeSeries::default();
        let mut window = SecondWindow::default();
        let mut second = 0;
        // In time order: request j completes in second j * seconds / total.
        for j in 0..total {
            let now = j * seconds / total;
            while second < now {
                close_second(&mut window, &mut series, second);
                second += 1;
            }
            let index = u32::try_from(j % u64::from(shape.names)).unwrap_or(0);
            let name = &names[index as usize];
            let us = latency_us(&mut rng, index, shape.names);
            let latency = Duration::from_micros(us);
            let ended = outcome(&mut rng, shape.failure_percent, index % 4 == 3);
            figures.record(name, latency, ended);
            single.record(name, latency, ended);
            window.record(name, latency, &ended);
            exact.add(us);
        }
        while second < seconds {
            close_second(&mut window, &mut series, second);
            second += 1;
        }
        let test = TestFigures {
            test_id: Some(format!("fleet-bench.agent-{agent}")),
            running: false,
            started_at: UNIX_EPOCH + Duration::from_millis(1_795_000_000_000),
            elapsed: Duration::from_secs(seconds),
            users_started: 50,
            figures,
            series,
        };
        let clock = CpuClock::start();
        let document = test.to_json().to_string();
        fleet.encode_cpu_ms.push(clock.cpu_ms());
        fleet.documents.push(document);
        if checkpoints.contains(&(agent + 1)) {
            fleet
                .oracles
                .push((agent + 1, single.clone(), exact.clone()));
        }
    }
    fleet
}

/// Closes `second` of `window` into `series`.
fn close_second(window: &mut SecondWindow, series: &mut TimeSeries, second: u64) {
    let mut closed = SecondWindow::default();
    window.drain_into(&mut closed);
    series.push(closed.point(second, 50));
}
