//! The memory budget of a served agent (`serve --max-memory`): a test's
//! cost is estimated before it starts, from constants measured on the
//! engine, and a test that would cost more is refused; what the estimate
//! cannot know in advance (kept response bodies, response heads longer than
//! the read buffer) comes out of a [`Pool`] of what the budget leaves, so
//! the bound holds while the test runs too.
//!
//! The constants, measured with `tests/soak_engine.rs` (`VmHWM` of `ld-tower
//! serve`, release build, 2 worker threads, loopback targets; 2026-11-27):
//!
//! - a user costs about 13.4 KiB: its 8 KiB read buffer, its request
//!   buffer, cookie jar, resolver session, task, timer and socket state, and
//!   the allocator's share of them. Idle server 6.8 MiB; 2,000 users of a
//!   one-task test 34.9 MiB; 18,408 users (all this machine's hard
//!   open-file limit of 20,000 allows) 249.4 MiB: (249.4 - 34.9) MiB /
//!   16,408 users. [`USER_BYTES`] is 24 KiB, for the margin (the kernel's
//!   socket buffers, which a cgroup counts, are not in the resident size);
//! - a request name costs about 190 KB per copy of the figures (its latency
//!   histogram: 3 significant digits from 1 µs to 1 h, 23,552 `u64`
//!   counters, with its status counts and failure sample): one user
//!   recording 201 names (the first 200 of 1,000, the other 800 folded
//!   into one by `max_names`) peaked at 119.2 MiB,
//!   (119.2 - 6.8) MiB / 201 names = 573 KB per name, in three copies (the
//!   one worker recording, the finished test's merged figures, the
//!   records). A worker's copy also holds the name's window of the second
//!   in progress (a 2-significant-digit histogram of 3,328 `u32`
//!   counters, 13 KiB, `figures::SecondWindow`): [`NAME_BYTES`] is 200 KiB
//!   per copy to cover it. The series' per-name points (about 100 bytes a
//!   name and second) grow with the test's length, as the series does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytesize::ByteSize;

/// Bytes a user costs, as measured (see the module's documentation), with
/// a margin.
pub(super) const USER_BYTES: u64 = 24 * 1024;
/// Bytes a request name costs per copy of the figures, as measured, with
/// its window of the second in progress.
pub(super) const NAME_BYTES: u64 = 200 * 1024;
/// What the process costs before any test: code, runtimes, the control
/// socket's connections and buffers.
pub(super) const BASE_BYTES: u64 = 64 * 1024 * 1024;

/// What a test is estimated to cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cost {
    /// Users, each `USER_BYTES` (24 KiB).
    pub users: u64,
    /// Request names times copies of the figures, each `NAME_BYTES`
    /// (200 KiB).
    pub name_copies: u64,
}

impl Cost {
    /// `users` users recording `names` names on `workers` threads, while
    /// the server's records hold `held_names` names already.
    pub fn of(users: usize, names: usize, workers: usize, held_names: usize) -> Cost {
        let wide = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        // Per worker, the merged figures, and the records' copy.
        let copies = wide(workers).saturating_add(2);
        Cost {
            users: wide(users),
            name_copies: wide(names)
                .saturating_mul(copies)
                .saturating_add(wide(held_names)),
        }
    }

    /// The estimate in bytes.
    pub fn bytes(&self) -> u64 {
        BASE_BYTES
            .saturating_add(self.users.saturating_mul(USER_BYTES))
            .saturating_add(self.name_copies.saturating_mul(NAME_BYTES))
    }

    /// Refuses the test when it would cost more than `max`; else the bytes
    /// left for responses ([`Pool`]).
    pub fn admit(&self, max: u64) -> Result<u64, String> {
        let bytes = self.bytes();
        if bytes <= max {
            return Ok(max - bytes);
        }
        Err(format!(
            "the test would need about {} of memory, over this server's --max-memory of {}: \
             {} users at {} each, {} copies of a request name's figures at {} each (one per \
             worker thread, the merged figures and the records), {} for the server itself; \
             lower user_count or max_names, clear the records (LD_clear_records), or start \
             the server with a larger --max-memory",
            ByteSize(bytes),
            ByteSize(max),
            self.users,
            ByteSize(USER_BYTES),
            self.name_copies,
            ByteSize(NAME_BYTES),
            ByteSize(BASE_BYTES),
        ))
    }
}

/// Half of the memory this process may use: the machine's, or its
/// cgroup's limit when that is lower. `None` when neither can be read.
pub fn default_max_memory() -> Option<u64> {
    let physical = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| meminfo_total(&text));
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let cgroup = cgroup_limit_files(&own)
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .filter_map(|text| text.trim().parse::<u64>().ok())
        .min();
    let available = match (physical, cgroup) {
        (Some(p), Some(c)) => p.min(c),
        (p, c) => p.or(c)?,
    };
    Some(available / 2)
}

/// The files that may hold a memory limit of this process, given its
/// `/proc/self/cgroup`: the limit of its own cgroup and of each one above
/// it (a systemd service's `MemoryMax=` is on its own cgroup, a
/// container's on the root it sees): `memory.max` with cgroup v2,
/// `memory.limit_in_bytes` of the memory controller with v1.
fn cgroup_limit_files(own: &str) -> Vec<String> {
    let mut files = Vec::new();
    for line in own.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let (base, file) = if controllers.is_empty() {
            ("/sys/fs/cgroup", "memory.max")
        } else if controllers.split(',').any(|c| c == "memory") {
            ("/sys/fs/cgroup/memory", "memory.limit_in_bytes")
        } else {
            continue;
        };
        let mut dir = std::path::Path::new(path.trim());
        loop {
            let relative = dir.to_string_lossy();
            let relative = relative.trim_matches('/');
            files.push(if relative.is_empty() {
                format!("{base}/{file}")
            } else {
                format!("{base}/{relative}/{file}")
            });
            match dir.parent() {
                Some(parent) => dir = parent,
                None => break,
            }
        }
    }
    files
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn meminfo_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line
        .trim_start_matches("MemTotal:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kb.checked_mul(1024)
}

/// The bytes a test's responses may hold beyond each user's fixed buffers:
/// kept bodies (for assertions and extractors), copied headers, heads
/// longer than the read buffer. Counted, not allocated.
#[derive(Debug)]
pub struct Pool {
    capacity: usize,
    used: AtomicUsize,
}

impl Default for Pool {
    /// No limit.
    fn default() -> Self {
        Pool::new(usize::MAX)
    }
}

impl Pool {
    /// A pool of `capacity` bytes.
    pub fn new(capacity: usize) -> Pool {
        Pool {
            capacity,
            used: AtomicUsize::new(0),
        }
    }

    /// Bytes held now (not counted, and so 0, in a pool with no limit).
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Whether the pool has no limit: then nothing is counted, and a
    /// response costs no shared atomic.
    fn unlimited(&self) -> bool {
        self.capacity == usize::MAX
    }
}

/// Bytes taken from a [`Pool`], given back when dropped.
#[derive(Debug)]
pub(crate) struct Lease {
    pool: Arc<Pool>,
    held: usize,
}

impl Lease {
    /// Nothing taken yet from `pool`.
    pub(crate) fn new(pool: Arc<Pool>) -> Lease {
        Lease { pool, held: 0 }
    }

    /// The pool it takes from.
    pub(crate) fn pool(&self) -> Arc<Pool> {
        Arc::clone(&self.pool)
    }

    /// Holds `bytes` in all: takes more from the pool, or gives back; the
    /// failure's reason when the pool has not enough left.
    pub(crate) fn hold(&mut self, bytes: usize) -> Result<(), String> {
        if self.pool.unlimited() {
            return Ok(());
        }
        if bytes <= self.held {
            self.pool
                .used
                .fetch_sub(self.held - bytes, Ordering::Relaxed);
            self.held = bytes;
            return Ok(());
        }
        let more = bytes - self.held;
        let capacity = self.pool.capacity;
        self.pool
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(more).filter(|total| *total <= capacity)
            })
            .map_err(|_| {
                format!(
                    "the test's users hold {} of response bytes (kept bodies, copied headers, long heads), all that --max-memory leaves them",
                    ByteSize(u64::try_from(capacity).unwrap_or(u64::MAX))
                )
            })?;
        self.held = bytes;
        Ok(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.pool.used.fetch_sub(self.held, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_stop_at_the_capacity_and_give_back() {
        let pool = Arc::new(Pool::new(100));
        let mut a = Lease::new(Arc::clone(&pool));
        let mut b = Lease::new(Arc::clone(&pool));
        a.hold(60).expect("fits");
        assert!(b.hold(50).is_err(), "110 > 100");
        b.hold(40).expect("fits");
        assert_eq!(pool.used(), 100);
        a.hold(10).expect("shrinks");
        assert_eq!(pool.used(), 50);
        drop(b);
        assert_eq!(pool.used(), 10);
        drop(a);
        assert_eq!(pool.used(), 0);
    }

    #[test]
    fn costs_count_users_and_name_copies() {
        let cost = Cost::of(1000, 10, 2, 5);
        assert_eq!(cost.name_copies, 10 * 4 + 5);
        assert_eq!(
            cost.bytes(),
            BASE_BYTES + 1000 * USER_BYTES + 45 * NAME_BYTES
        );
        assert_eq!(cost.admit(cost.bytes()), Ok(0));
        let refused = cost.admit(cost.bytes() - 1).unwrap_err();
        assert!(refused.contains("--max-memory"), "{refused}");
        assert!(
            refused.contains("lower user_count or max_names"),
            "{refused}"
        );
    }

    #[test]
    fn the_cgroup_limits_looked_at_are_the_process_own_and_those_above() {
        assert_eq!(
            cgroup_limit_files("0::/system.slice/ld-tower.service\n"),
            [
                "/sys/fs/cgroup/system.slice/ld-tower.service/memory.max",
                "/sys/fs/cgroup/system.slice/memory.max",
                "/sys/fs/cgroup/memory.max",
            ]
        );
        assert_eq!(cgroup_limit_files("0::/\n"), ["/sys/fs/cgroup/memory.max"]);
        // cgroup v1 (or hybrid): the memory controller's hierarchy.
        assert_eq!(
            cgroup_limit_files("5:devices:/\n4:memory:/jobs/x\n0::/\n"),
            [
                "/sys/fs/cgroup/memory/jobs/x/memory.limit_in_bytes",
                "/sys/fs/cgroup/memory/jobs/memory.limit_in_bytes",
                "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                "/sys/fs/cgroup/memory.max",
            ]
        );
    }

    #[test]
    fn meminfo_is_read_in_bytes() {
        let text = "MemTotal:       24684544 kB\nMemFree:        13306356 kB\n";
        assert_eq!(meminfo_total(text), Some(24_684_544 * 1024));
        assert_eq!(meminfo_total("nothing"), None);
    }
}
