//! The coordinator of a fleet: `LD_start_test` with `runner_mode:
//! "master"` runs the test on agents (`ld-tower serve --framed`) over the
//! control protocol (token, TLS), not on this process.
//!
//! It finds the agents ([`options`]: a list of `host:port`, a name
//! resolving to many addresses), waits for enough of them, splits the load
//! exactly ([`split`]), prepares every agent (`LD_prepare_test`), starts all
//! at one wall-clock instant (`LD_start_prepared`), polls each for its
//! status and figures so far (the coordinator's `LD_test_status` answers
//! for the fleet, [`live`]), and at the end fetches each agent's
//! histograms (`LD_fetch_figures`) and adds them exactly ([`merge`]). An
//! agent that stops answering is reported by name ([`run`]).

mod link;
pub mod live;
pub mod merge;
pub mod options;
pub mod run;
pub mod split;

pub use link::MAX_AGENT_REPLY_BYTES;
pub use live::{FleetLive, FleetSlot};
pub use options::FleetOptions;
pub use run::{FleetPlan, Outcome};
