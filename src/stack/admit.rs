//! [`Admit`]: marks the connection of every command that reaches it as
//! admitted (see [`Admission`](crate::protocol::Admission)). It sits right
//! after token auth, so "admitted" means "authenticated" when a token is
//! configured, and "sent a command" when none is.

use std::task::{Context, Poll};

use tower::{Layer, Service};

use crate::protocol::Command;

/// Applies [`Admit`].
#[derive(Clone, Copy, Debug, Default)]
pub struct AdmitLayer;

impl AdmitLayer {
    /// The layer.
    pub fn new() -> Self {
        AdmitLayer
    }
}

impl<S> Layer<S> for AdmitLayer {
    type Service = Admit<S>;

    fn layer(&self, inner: S) -> Admit<S> {
        Admit { inner }
    }
}

/// Admits the connection of each command it hands on.
#[derive(Clone, Debug)]
pub struct Admit<S> {
    inner: S,
}

impl<S: Service<Command>> Service<Command> for Admit<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, command: Command) -> S::Future {
        command.admission.admit();
        self.inner.call(command)
    }
}
