//! Future types of [`SizeLimit`](super::SizeLimit).

/// Response future of [`SizeLimit`](super::SizeLimit): the inner service's
/// future, or an immediate [`TooLarge`](super::error::TooLarge) error.
pub type ResponseFuture<F> = crate::future::Rejectable<F>;
