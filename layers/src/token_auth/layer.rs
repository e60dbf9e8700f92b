use super::{TokenAuth, Tokens};
use tower_layer::Layer;

/// Wraps a service in [`TokenAuth`], accepting the given [`Tokens`].
///
/// Its `Debug` output is redacted (it prints the [`Tokens`] as
/// `Tokens { accepted: N, .. }`).
#[derive(Clone, Debug)]
pub struct TokenAuthLayer {
    tokens: Tokens,
}

impl TokenAuthLayer {
    /// A layer that lets through requests presenting one of `tokens`.
    pub fn new(tokens: Tokens) -> Self {
        TokenAuthLayer { tokens }
    }
}

impl<S> Layer<S> for TokenAuthLayer {
    type Service = TokenAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TokenAuth::new(inner, self.tokens.clone())
    }
}
