//! The wire protocol's vocabulary: what a request is ([`Request`]), what it
//! means once parsed ([`Command`]), and what goes back ([`Reply`]).
//!
//! The byte-for-byte contract is `PROTOCOL.md`; this module is the one place
//! that knows its constants.

mod command;
mod reply;
mod request;

pub use command::{Command, Op, ParseError};
pub(crate) use reply::one_line;
pub use reply::{failure_line, value_line, Reply};
pub use request::{Admission, Request};

/// The terminator written after the result lines of a request: the 20 bytes
/// `Return_Data_Over_JE\n`.
pub const END: &[u8] = b"Return_Data_Over_JE\n";

/// The legacy shutdown word.
pub const QUIT_WORD: &str = "quit_server";

/// The largest request either framing accepts: 1 MiB. A framed length above
/// it closes the connection before any body byte is read.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// The environment variable that holds the shared secret when `--token` is
/// not given (LoadDensity's name).
pub const TOKEN_ENV: &str = "LOAD_DENSITY_SOCKET_TOKEN";
