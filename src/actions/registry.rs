//! [`Registry`]: action names to async handlers; [`ActionContext`]: what a
//! handler can reach.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use ld_tower_layers::Principal;
use serde_json::Value;

use super::budget::{ReplyBudget, DEFAULT_MAX_REPLY_BYTES};
use super::run::{run_list, ActionResult, RunError};
use super::{builtin, Args, Signature};
use crate::auth::Scope;
use crate::protocol::one_line;
use crate::state::State;

/// Why an action failed. Its message becomes the action's `Error:` line,
/// after the action's name; its detail, if any, follows as compact JSON.
///
/// The detail keeps structured what a failure carries (the results of a
/// nested action list), so a failure nested in another is quoted once, when
/// the line is written, not escaped again at every level.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionError {
    message: String,
    detail: Option<Value>,
    /// The principal lacks the action's scope: it did not run.
    forbidden: bool,
}

impl ActionError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        ActionError {
            message: message.into(),
            detail: None,
            forbidden: false,
        }
    }

    /// `forbidden for <principal>`: the action is outside its scopes.
    pub fn forbidden(principal: &Principal) -> Self {
        ActionError {
            message: format!("forbidden for {}", principal.name()),
            detail: None,
            forbidden: true,
        }
    }

    /// Whether the action was refused for want of a scope (and did not run).
    pub fn is_forbidden(&self) -> bool {
        self.forbidden
    }

    /// An error with `message`, then `detail` as JSON.
    pub fn with_detail(message: impl Into<String>, detail: Value) -> Self {
        ActionError {
            message: message.into(),
            detail: Some(detail),
            forbidden: false,
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The structured detail, if any.
    pub fn detail(&self) -> Option<&Value> {
        self.detail.as_ref()
    }

    /// The same error, its message after `prefix: ` (the action's name).
    pub(crate) fn prefixed(mut self, prefix: &str) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }

    /// This failure as an element of a nested action list's results: its
    /// line's text as a string, or, with a detail, `{"error": message,
    /// "results": detail}`, so the detail stays JSON rather than text.
    pub(crate) fn to_nested_value(&self) -> Value {
        match &self.detail {
            None => Value::String(format!("Error: {}", one_line(&self.message))),
            Some(detail) => serde_json::json!({
                "error": one_line(&self.message),
                "results": detail,
            }),
        }
    }
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, " {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ActionError {}

/// An action's handler. Any `Fn(ActionContext, Args) -> impl Future` that
/// resolves to `Result<Value, ActionError>` is one.
pub trait Action: Send + Sync + 'static {
    /// Runs the action.
    fn call(
        &self,
        ctx: ActionContext,
        args: Args,
    ) -> BoxFuture<'static, Result<Value, ActionError>>;
}

impl<F, Fut> Action for F
where
    F: Fn(ActionContext, Args) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, ActionError>> + Send + 'static,
{
    fn call(
        &self,
        ctx: ActionContext,
        args: Args,
    ) -> BoxFuture<'static, Result<Value, ActionError>> {
        Box::pin(self(ctx, args))
    }
}

/// The actions a server knows, by name, each with the [`Scope`] a
/// principal needs to run it.
#[derive(Clone, Default)]
pub struct Registry {
    actions: HashMap<String, Registered>,
}

#[derive(Clone)]
struct Registered {
    action: Arc<dyn Action>,
    scope: Scope,
    /// Its arguments, for checking and the schema (none: by name only).
    signature: Option<Signature>,
}

impl Registry {
    /// A registry with no action at all.
    pub fn empty() -> Self {
        Registry::default()
    }

    /// A registry with ld-tower's built-in actions.
    pub fn with_builtins() -> Self {
        let mut registry = Registry::empty();
        builtin::register(&mut registry);
        registry
    }

    /// Registers `action` under `name`, replacing any action of that name.
    /// Only a principal holding every scope may run it (see
    /// [`register_scoped`](Self::register_scoped) to grant it to less).
    pub fn register(&mut self, name: impl Into<String>, action: impl Action) -> &mut Self {
        self.register_scoped(name, Scope::Admin, action)
    }

    /// Registers `action` under `name`, run by principals holding `scope`
    /// (see [`Scope`] for what each grants), replacing any action of that
    /// name. With no authentication configured, anyone may run it.
    pub fn register_scoped(
        &mut self,
        name: impl Into<String>,
        scope: Scope,
        action: impl Action,
    ) -> &mut Self {
        let action = Arc::new(action);
        self.actions.insert(
            name.into(),
            Registered {
                action,
                scope,
                signature: None,
            },
        );
        self
    }

    /// Says what the arguments of the action `name` (registered already)
    /// look like: `LD_lint_action` checks them by it, `LD_export_schema`
    /// describes them. An action without one is checked by its name only.
    pub fn describe(&mut self, name: &str, signature: Signature) -> &mut Self {
        if let Some(registered) = self.actions.get_mut(name) {
            registered.signature = Some(signature);
        }
        self
    }

    /// The signature the action `name` was described with.
    pub fn signature(&self, name: &str) -> Option<Signature> {
        self.actions.get(name).and_then(|r| r.signature)
    }

    /// The scope an action needs, if it is registered.
    pub fn scope_of(&self, name: &str) -> Option<Scope> {
        self.actions.get(name).map(|registered| registered.scope)
    }

    /// Whether an action of that name is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.actions.contains_key(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.actions.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    pub(super) fn get(&self, name: &str) -> Option<(Arc<dyn Action>, Scope)> {
        self.actions
            .get(name)
            .map(|registered| (Arc::clone(&registered.action), registered.scope))
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("actions", &self.names())
            .finish()
    }
}

/// What an action handler can reach: the server's shared state, and the
/// registry to run nested action lists.
#[derive(Clone, Debug)]
pub struct ActionContext {
    registry: Arc<Registry>,
    state: Arc<State>,
    /// How deeply action lists are nested here (`LD_execute_action`).
    depth: usize,
    /// What the command's reply may still hold; shared by nested lists.
    budget: ReplyBudget,
    /// Who runs the command (`None`: no authentication, all is allowed).
    principal: Option<Principal>,
}

/// How deeply `LD_execute_action` may nest.
const MAX_DEPTH: usize = 16;

impl ActionContext {
    /// A context over `registry` and `state`.
    pub fn new(registry: Arc<Registry>, state: Arc<State>) -> Self {
        ActionContext {
            registry,
            state,
            depth: 0,
            budget: ReplyBudget::new(DEFAULT_MAX_REPLY_BYTES),
            principal: None,
        }
    }

    /// This context for a new command whose reply may hold `limit` bytes,
    /// run by `principal` (`None`: no authentication, all is allowed).
    pub fn for_command(&self, limit: usize, principal: Option<Principal>) -> ActionContext {
        ActionContext {
            depth: 0,
            budget: ReplyBudget::new(limit),
            principal,
            ..self.clone()
        }
    }

    /// Who runs the command (`None` when no authentication is configured).
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// Whether the command's principal holds `scope` (always, without
    /// authentication).
    pub fn allows(&self, scope: Scope) -> bool {
        self.principal
            .as_ref()
            .is_none_or(|principal| principal.has_scope(scope.as_str()))
    }

    /// What the command's reply may still hold.
    pub fn budget(&self) -> &ReplyBudget {
        &self.budget
    }

    /// The server's shared state.
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Runs an action list (`{"load_density": [...]}` or `[...]`) by the
    /// rules of `ACTIONS.md`: in order, one result per action, a failing
    /// action not stopping the rest.
    pub async fn run(&self, actions: &Value) -> Result<Vec<ActionResult>, RunError> {
        let mut results = Vec::new();
        run_list(self, actions, |result| results.push(result)).await?;
        Ok(results)
    }

    /// Runs an action list as [`run`](Self::run) does, turning each result
    /// into its reply line as soon as it is known (a line is a fraction of
    /// the memory of the JSON value it was made from), after `observe` has
    /// seen it; also returns how many lines are errors.
    pub async fn run_lines(
        &self,
        actions: &Value,
        mut observe: impl FnMut(&ActionResult) + Send,
    ) -> Result<(Vec<Bytes>, usize), RunError> {
        let mut lines = Vec::new();
        let mut failures = 0;
        run_list(self, actions, |result| {
            observe(&result);
            failures += usize::from(result.result.is_err());
            lines.push(result.line());
        })
        .await?;
        Ok((lines, failures))
    }

    /// A context one nesting level deeper, or an error past the limit.
    pub(crate) fn nested(&self) -> Result<ActionContext, ActionError> {
        if self.depth >= MAX_DEPTH {
            return Err(ActionError::new(format!(
                "action lists nested more than {MAX_DEPTH} deep"
            )));
        }
        Ok(ActionContext {
            depth: self.depth + 1,
            ..self.clone()
        })
    }
}
