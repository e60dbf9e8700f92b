//! Who may command the agent, and what each may do: [`Scope`]s, the token
//! file ([`TokenFile`]) and the server's [`Principals`] (by token or by a
//! verified client certificate).
//!
//! The auth layer (`ld_tower_layers::TokenAuth`) finds a request's
//! principal; each action then checks its own scope
//! ([`Registry::register_scoped`](crate::actions::Registry::register_scoped)),
//! and an action outside the principal's scopes fails alone with
//! `Error: <action>: forbidden for <principal>`.

mod counters;
mod principals;
mod scope;
mod token_file;

pub use counters::{SecurityCounters, SecurityFigures};
pub use principals::Principals;
pub use scope::{Scope, UnknownScope};
pub use token_file::{token_line, TokenFile, MAX_TOKEN_FILE_BYTES};
