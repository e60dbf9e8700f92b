//! Error types of [`SizeLimit`](super::SizeLimit).

use std::fmt;

/// The request was bigger than the limit; the inner service never saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLarge {
    size: usize,
    limit: usize,
}

impl TooLarge {
    pub(crate) fn new(size: usize, limit: usize) -> Self {
        TooLarge { size, limit }
    }

    /// The size of the refused request, in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The limit it was over, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "request of {} bytes is over the limit of {} bytes",
            self.size, self.limit
        )
    }
}

impl std::error::Error for TooLarge {}
