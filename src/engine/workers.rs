//! [`Workers`]: the threads virtual users run on, one current-thread tokio
//! runtime per core. A user's request, its connection and its timer never
//! leave one thread (no work stealing, no cross-thread wake-ups), and the
//! control socket's runtime stays free to answer `LD_test_status` while a
//! test runs.

use std::io;
use std::thread;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// Running user threads; they end when this is dropped (their runtimes drop
/// the tasks still on them).
#[derive(Debug)]
pub(super) struct Workers {
    handles: Vec<Handle>,
    /// Dropping a sender ends its thread's runtime.
    _stops: Vec<oneshot::Sender<()>>,
    next: usize,
}

/// How many worker threads a test may run on: one per core this process
/// may use.
pub(super) fn count() -> usize {
    thread::available_parallelism().map_or(1, usize::from)
}

/// How many worker threads a test of `users` users runs on: users are
/// handed to threads in turn, so no more threads than users.
pub(super) fn for_users(users: usize) -> usize {
    count().min(users).max(1)
}

impl Workers {
    /// Starts `count` threads (at least one).
    pub(super) fn start(count: usize) -> io::Result<Workers> {
        let count = count.max(1);
        let mut handles = Vec::with_capacity(count);
        let mut stops = Vec::with_capacity(count);
        for index in 0..count {
            let runtime = Builder::new_current_thread().enable_all().build()?;
            let (stop, stopped) = oneshot::channel::<()>();
            handles.push(runtime.handle().clone());
            stops.push(stop);
            thread::Builder::new()
                .name(format!("ld-tower-users-{index}"))
                .spawn(move || {
                    runtime.block_on(async {
                        let _ = stopped.await;
                    });
                })?;
        }
        Ok(Workers {
            handles,
            _stops: stops,
            next: 0,
        })
    }

    /// The runtime for the next user, round robin, with its index (from 0
    /// to [`count`]).
    pub(super) fn next(&mut self) -> (usize, &Handle) {
        let index = self.next % self.handles.len();
        self.next = self.next.wrapping_add(1);
        (index, &self.handles[index])
    }
}
