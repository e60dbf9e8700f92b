//! [`Control`]: the protocol's innermost service, `Service<Command>`: it runs
//! action lists through the registry and answers quit requests.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use ld_tower_layers::BoxError;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tower::Service;

use crate::actions::{ActionContext, Registry, DEFAULT_MAX_REPLY_BYTES};
use crate::protocol::{Command, Op, Reply};
use crate::state::State;

/// The command service. Cheap to clone: every connection gets its own clone
/// over the same registry and state.
#[derive(Clone, Debug)]
pub struct Control {
    /// The actions and the shared state they act on.
    ctx: ActionContext,
    /// Cancelled by an accepted quit request.
    quit: CancellationToken,
    /// The most one command's reply may hold, in bytes.
    max_reply_bytes: usize,
}

impl Control {
    /// A control service running `registry`'s actions on fresh state.
    pub fn new(registry: Registry) -> Self {
        Control::with_state(registry, State::default())
    }

    /// A control service running `registry`'s actions on `state` (for
    /// instance one whose file paths are confined).
    pub fn with_state(registry: Registry, state: State) -> Self {
        Control {
            ctx: ActionContext::new(Arc::new(registry), Arc::new(state)),
            quit: CancellationToken::new(),
            max_reply_bytes: DEFAULT_MAX_REPLY_BYTES,
        }
    }

    /// Bounds each command's reply to `bytes` (default
    /// [`DEFAULT_MAX_REPLY_BYTES`]): results are measured as they come, a
    /// result that does not fit is replaced by an error, and the actions
    /// after it do not run.
    pub fn max_reply_bytes(mut self, bytes: usize) -> Self {
        self.max_reply_bytes = bytes;
        self
    }

    /// Cancelled when a client's quit request is accepted: give its
    /// `cancelled_owned()` to the server as (part of) its shutdown future.
    pub fn quit_signal(&self) -> CancellationToken {
        self.quit.clone()
    }

    /// The shared state.
    pub fn state(&self) -> &Arc<State> {
        self.ctx.state()
    }

    /// Runs action JSON and returns its reply: one line per action, then
    /// the terminator.
    pub async fn run(&self, actions: &Value) -> Reply {
        let ctx = self.ctx.for_command(self.max_reply_bytes);
        match ctx.run_lines(actions).await {
            Err(error) => Reply::error(&error.to_string()),
            Ok((lines, failures)) => Reply::lines(lines, failures),
        }
    }
}

impl Default for Control {
    /// The built-in actions.
    fn default() -> Self {
        Control::new(Registry::with_builtins())
    }
}

impl Service<Command> for Control {
    type Response = Reply;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Reply, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, command: Command) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            Ok(match command.op {
                Op::Quit => {
                    this.quit.cancel();
                    Reply::shutting_down()
                }
                Op::Nothing => Reply::end_only(),
                Op::Run(actions) => this.run(&actions).await,
            })
        })
    }
}
