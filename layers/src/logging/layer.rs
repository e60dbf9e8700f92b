use super::Log;
use std::fmt;
use tower_layer::Layer;

/// Wraps a service in [`Log`]: one span and one event per request.
#[derive(Clone, Copy, Default)]
pub struct LogLayer {
    _priv: (),
}

impl LogLayer {
    /// A logging layer.
    pub fn new() -> Self {
        LogLayer { _priv: () }
    }
}

impl fmt::Debug for LogLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogLayer")
    }
}

impl<S> Layer<S> for LogLayer {
    type Service = Log<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Log::new(inner)
    }
}
