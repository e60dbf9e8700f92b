//! [`Scope`]: what a principal may do.

use std::fmt;
use std::str::FromStr;

/// A kind of action a principal may be granted.
///
/// | scope | grants |
/// | --- | --- |
/// | `read` | status, summaries, documents returned in the reply |
/// | `run` | starting, stopping and steering tests, the resolver's variables |
/// | `write` | anything that touches files: reports written to disk, run history, action files, CSV and database sources; the live dashboard's port |
/// | `admin` | quitting the server, and (later) exporters that open ports |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Reading figures and status.
    Read,
    /// Running tests.
    Run,
    /// Touching files.
    Write,
    /// Running the agent itself.
    Admin,
}

impl Scope {
    /// Every scope, in order.
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Run, Scope::Write, Scope::Admin];

    /// Its word in a token file and on a principal.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Run => "run",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not a scope's word.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?}: the scopes are read, run, write and admin")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(word: &str) -> Result<Scope, UnknownScope> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == word)
            .ok_or_else(|| UnknownScope(word.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        assert_eq!(
            "Admin".parse::<Scope>().map_err(|e| e.to_string()),
            Err(r#"unknown scope "Admin": the scopes are read, run, write and admin"#.into())
        );
    }
}
