//! Error types of [`TokenAuth`](super::TokenAuth) and [`Tokens`](super::Tokens).

use std::fmt;

/// The request presented no credential at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MissingToken;

impl fmt::Display for MissingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no token presented")
    }
}

impl std::error::Error for MissingToken {}

/// The request presented a malformed credential or a token that is not
/// accepted. The two are not told apart, to tell a prober nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InvalidToken;

impl fmt::Display for InvalidToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("wrong or malformed token")
    }
}

impl std::error::Error for InvalidToken {}

/// [`Tokens`](super::Tokens) was given no token, or an empty one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EmptyToken;

impl fmt::Display for EmptyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an accepted token must not be empty (and at least one is needed)")
    }
}

impl std::error::Error for EmptyToken {}
