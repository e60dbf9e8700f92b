//! What a served agent lets its remote clients do with it, beyond the
//! control socket's own limits: which addresses their load tests may
//! connect to ([`TargetPolicy`], `--allow-target`/`--deny-target` and the
//! built-in deny of link-local and cloud metadata addresses) and how much
//! a test may ask for ([`Caps`]: users, rate, run time, the files it makes
//! the agent read). `ld-tower run` (the machine's owner) has neither
//! unless given the same flags.

mod caps;
mod target;
#[cfg(test)]
mod tests;

pub use caps::{file_limit, file_over, Caps, DEFAULT_MAX_CSV_BYTES, DEFAULT_MAX_FILE_BYTES};
pub use target::{Entry, Reason, Refused, TargetPolicy, BUILT_IN_DENY};
