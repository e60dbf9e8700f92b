//! [`Principal`]: who a request authenticated as, and what it may do.

use std::fmt;
use std::sync::Arc;

/// An authenticated identity: a name (never a secret: it is logged and
/// audited) and the scopes it was granted.
///
/// Scopes are plain words (`"read"`, `"run"`, ...): the layer that
/// authenticates does not know what they mean; the service that checks them
/// does. A principal made by [`Principal::unrestricted`] holds every scope.
///
/// Cheap to clone (shared inside).
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    name: Arc<str>,
    scopes: Scopes,
}

#[derive(Clone, PartialEq, Eq)]
enum Scopes {
    All,
    Only(Arc<[Box<str>]>),
}

impl Principal {
    /// `name`, holding exactly `scopes`.
    pub fn new<I, T>(name: impl Into<Arc<str>>, scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<Box<str>>,
    {
        let mut scopes: Vec<Box<str>> = scopes.into_iter().map(Into::into).collect();
        scopes.sort_unstable();
        scopes.dedup();
        Principal {
            name: name.into(),
            scopes: Scopes::Only(scopes.into()),
        }
    }

    /// `name`, holding every scope (what a single shared token grants).
    pub fn unrestricted(name: impl Into<Arc<str>>) -> Self {
        Principal {
            name: name.into(),
            scopes: Scopes::All,
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it holds `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        match &self.scopes {
            Scopes::All => true,
            Scopes::Only(scopes) => scopes.iter().any(|held| &**held == scope),
        }
    }

    /// Whether it holds every scope.
    pub fn is_unrestricted(&self) -> bool {
        matches!(self.scopes, Scopes::All)
    }

    /// The scopes it holds, sorted (`None`: every scope).
    pub fn scopes(&self) -> Option<impl Iterator<Item = &str>> {
        match &self.scopes {
            Scopes::All => None,
            Scopes::Only(scopes) => Some(scopes.iter().map(|scope| &**scope)),
        }
    }
}

/// `Principal { name: "ci", scopes: ["read", "run"] }`, or `scopes: "all"`.
impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Principal");
        out.field("name", &&*self.name);
        match &self.scopes {
            Scopes::All => out.field("scopes", &"all"),
            Scopes::Only(scopes) => out.field("scopes", scopes),
        };
        out.finish()
    }
}

/// Its name.
impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_held_or_not() {
        let ci = Principal::new("ci", ["run", "read", "run"]);
        assert!(ci.has_scope("read") && ci.has_scope("run"));
        assert!(!ci.has_scope("admin") && !ci.has_scope("") && !ci.has_scope("rea"));
        assert_eq!(
            ci.scopes().map(|s| s.collect::<Vec<_>>()),
            Some(vec!["read", "run"])
        );
        assert!(!ci.is_unrestricted());
        assert_eq!(
            format!("{ci:?}"),
            r#"Principal { name: "ci", scopes: ["read", "run"] }"#
        );
        let root = Principal::unrestricted("token");
        assert!(root.has_scope("admin") && root.is_unrestricted());
        assert!(root.scopes().is_none());
        assert_eq!(root.to_string(), "token");
    }
}
