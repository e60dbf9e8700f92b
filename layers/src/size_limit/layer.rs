use super::SizeLimit;
use tower_layer::Layer;

/// Wraps a service in [`SizeLimit`]: requests of more than `limit` bytes
/// (by [`WireSize`](super::WireSize)) are refused with
/// [`TooLarge`](super::error::TooLarge).
#[derive(Clone, Copy, Debug)]
pub struct SizeLimitLayer {
    limit: usize,
}

impl SizeLimitLayer {
    /// A layer that lets requests of at most `limit` bytes through.
    pub fn new(limit: usize) -> Self {
        SizeLimitLayer { limit }
    }
}

impl<S> Layer<S> for SizeLimitLayer {
    type Service = SizeLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SizeLimit::new(inner, self.limit)
    }
}
