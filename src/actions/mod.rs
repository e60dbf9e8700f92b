//! Actions: the registry (`name -> async handler`), the arguments an action
//! receives, and how a command's action list is run (`ACTIONS.md`).
//!
//! Register your own action as LoadDensity's `add_command_to_executor` did:
//!
//! ```
//! use ld_tower::actions::{ActionError, Args, Registry};
//! use serde_json::{json, Value};
//!
//! let mut registry = Registry::with_builtins();
//! registry.register("MY_echo", |_ctx, args: Args| async move {
//!     #[derive(serde::Deserialize)]
//!     struct Echo { text: String }
//!     let Echo { text } = args.parse(&["text"])?;
//!     Ok::<Value, ActionError>(json!(text))
//! });
//! assert!(registry.contains("MY_echo"));
//! ```

mod action_files;
mod args;
mod breaking;
mod budget;
mod builtin;
mod coordinate;
mod dashboard;
mod fleet;
#[cfg(feature = "history")]
mod history;
mod import;
mod lint;
mod load;
mod metrics;
pub(crate) mod prepared;
mod registry;
#[cfg(feature = "reports")]
mod reports;
mod resolver;
mod run;
mod signature;
mod sla;
mod start_check;
mod steer;
pub mod vocabulary;

pub use args::Args;

/// An action's failure whose message is `e` (a text, or an error shown).
fn error(e: impl std::fmt::Display) -> ActionError {
    ActionError::new(e.to_string())
}
pub use breaking::{
    DEFAULT_PROBE_TIME, MAX_ITERATIONS, MAX_PROBE_TIME, MAX_SEARCH_RATE, MIN_PROBE_TIME,
};
pub use budget::{OverBudget, ReplyBudget, DEFAULT_MAX_REPLY_BYTES};
pub use fleet::{DEFAULT_EXPIRES, MAX_EXPIRES, MAX_START_AHEAD, MAX_TEST_ID_CHARS};
pub use registry::{Action, ActionContext, ActionError, Registry};
pub(crate) use run::{action_list, split_action, unknown_action};
pub use run::{ActionResult, RunError};
pub use signature::{Check, Describe, Signature};
pub use sla::MAX_SLA_RULES;
