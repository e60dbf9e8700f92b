//! Error type of [`HttpAuthLayer::realm`](super::HttpAuthLayer::realm).

use std::fmt;

/// The realm holds a character a `WWW-Authenticate` header cannot carry (a
/// control character other than tab, or one outside ASCII).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InvalidRealm;

impl fmt::Display for InvalidRealm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a realm must be printable ASCII (spaces and tabs allowed)")
    }
}

impl std::error::Error for InvalidRealm {}
