//! [`Control`]: the protocol's innermost service, `Service<Command>`: it runs
//! action lists through the registry and answers quit requests.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use ld_tower_layers::{BoxError, Principal};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tower::Service;

use crate::actions::{ActionContext, ActionResult, Registry, DEFAULT_MAX_REPLY_BYTES};
use crate::audit::{Audit, Outcome, Via};
use crate::auth::Scope;
use crate::metrics::{CommandOutcome, UNKNOWN_ACTION};
use crate::protocol::{failure_line, Command, Op, Reply, QUIT_WORD};
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
    /// Where each command and its actions' outcomes are recorded.
    audit: Option<Audit>,
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
            audit: None,
        }
    }

    /// Records every command (its peer, principal, and each action's
    /// outcome) in `audit`.
    pub fn audit(mut self, audit: Option<Audit>) -> Self {
        self.audit = audit;
        self
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
    /// the terminator. Every action is allowed (no principal).
    pub async fn run(&self, actions: &Value) -> Reply {
        self.run_as(actions, None, |_| {}).await
    }

    /// Runs action JSON as `principal` (each action outside its scopes
    /// fails alone), `observe` seeing each result.
    async fn run_as(
        &self,
        actions: &Value,
        principal: Option<Principal>,
        observe: impl FnMut(&ActionResult) + Send,
    ) -> Reply {
        let ctx = self.ctx.for_command(self.max_reply_bytes, principal);
        match ctx.run_lines(actions, observe).await {
            Err(error) => Reply::error(&error.to_string()),
            Ok((lines, failures)) => Reply::lines(lines, failures),
        }
    }

    /// Runs a command, recording it in the audit log if there is one.
    async fn serve(self, command: Command) -> Reply {
        let via = match command.principal() {
            None => Via::None,
            Some(_) if command.by_certificate() => Via::Certificate,
            Some(_) => Via::Token,
        };
        let principal = command.principal().cloned();
        match command.op {
            Op::Quit => {
                let allowed = principal
                    .as_ref()
                    .is_none_or(|principal| principal.has_scope(Scope::Admin.as_str()));
                if !allowed {
                    self.state().security().forbidden(1);
                }
                if let Some(audit) = &self.audit {
                    let outcome = if allowed {
                        Outcome::Ok
                    } else {
                        Outcome::Forbidden
                    };
                    audit.quit(command.peer, principal.as_ref(), via, outcome);
                }
                match principal {
                    Some(principal) if !allowed => Reply::lines(
                        vec![failure_line(
                            &format!("{QUIT_WORD}: forbidden for {}", principal.name()),
                            None,
                        )],
                        1,
                    ),
                    _ => {
                        self.quit.cancel();
                        Reply::shutting_down()
                    }
                }
            }
            Op::Nothing => Reply::end_only(),
            Op::Run(actions) => {
                let mut outcomes: Vec<(String, Outcome)> = Vec::new();
                let auditing = self.audit.is_some();
                let started = std::time::Instant::now();
                let counters = Arc::clone(self.state().metrics_outputs().agent());
                let registry = self.ctx.registry();
                let reply = self
                    .run_as(&actions, principal.clone(), |result| {
                        let outcome = match &result.result {
                            Ok(_) => Outcome::Ok,
                            Err(error) if error.is_forbidden() => Outcome::Forbidden,
                            Err(_) => Outcome::Error,
                        };
                        let action = if registry.contains(&result.name) {
                            result.name.as_str()
                        } else {
                            UNKNOWN_ACTION
                        };
                        counters.action(action, CommandOutcome::from(outcome));
                        if auditing {
                            let name = result.name.chars().take(AUDITED_NAME_CHARS).collect();
                            outcomes.push((name, outcome));
                        }
                    })
                    .await;
                counters.command_took(started.elapsed());
                if let Some(audit) = &self.audit {
                    audit.command(
                        command.peer,
                        principal.as_ref(),
                        via,
                        outcomes
                            .iter()
                            .map(|(name, outcome)| (name.as_str(), *outcome)),
                    );
                }
                reply
            }
        }
    }
}

/// Characters of an action's name kept for the audit log.
const AUDITED_NAME_CHARS: usize = 128;

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
        Box::pin(async move { Ok(this.serve(command).await) })
    }
}
