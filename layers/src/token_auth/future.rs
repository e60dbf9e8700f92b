//! Future types of [`TokenAuth`](super::TokenAuth).

/// Response future of [`TokenAuth`](super::TokenAuth): the inner service's
/// future, or an immediate [`MissingToken`](super::error::MissingToken) or
/// [`InvalidToken`](super::error::InvalidToken) error.
pub type ResponseFuture<F> = crate::future::Rejectable<F>;
