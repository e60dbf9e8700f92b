use super::Timeout;
use std::time::Duration;
use tower_layer::Layer;

/// Wraps a service in [`Timeout`]: a request not answered `after` the call
/// fails with [`Elapsed`](super::error::Elapsed).
#[derive(Clone, Copy, Debug)]
pub struct TimeoutLayer {
    after: Duration,
}

impl TimeoutLayer {
    /// A layer that gives each request `after` to complete.
    pub fn new(after: Duration) -> Self {
        TimeoutLayer { after }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout::new(inner, self.after)
    }
}
