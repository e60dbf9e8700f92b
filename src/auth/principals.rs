//! [`Principals`]: who may authenticate, by token or by client certificate,
//! shared by the auth layer and the TLS acceptor, and reloaded in place.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use ld_tower_layers::{token_digest, Principal, Tokens};

use super::TokenFile;

/// The principals a server knows: `--token`'s shared tokens (the
/// unrestricted principal `token`), the token file's, and how a verified
/// client certificate maps to one.
///
/// Clones share everything: [`reload`](Self::reload) changes what every
/// connection accepts at once, without dropping any.
#[derive(Clone, Debug)]
pub struct Principals {
    /// What the auth layer checks tokens against.
    tokens: Tokens,
    /// `--token`'s digests, kept across reloads.
    shared: Arc<[[u8; 32]]>,
    certificates: Arc<RwLock<Arc<Certificates>>>,
}

#[derive(Debug, Default)]
struct Certificates {
    /// A certificate name (lower case) and its principal.
    by_name: HashMap<String, Principal>,
    /// With no token file, a verified certificate holds every scope.
    any_verified: bool,
}

impl Principals {
    /// From `--token`'s tokens (each the unrestricted principal `token`)
    /// and a token file, if any. Without a token file a verified client
    /// certificate is an unrestricted principal named by its first name;
    /// with one, only a certificate whose name it lists is a principal.
    pub fn new(shared: &[String], file: Option<TokenFile>) -> Principals {
        let shared: Arc<[[u8; 32]]> = shared
            .iter()
            .map(|token| token_digest(token.as_bytes()))
            .collect();
        let principals = Principals {
            tokens: Tokens::from_digests([]),
            shared,
            certificates: Arc::default(),
        };
        principals.install(file);
        principals
    }

    /// From now on, accepts the tokens and certificates of `file` (and
    /// still `--token`'s).
    pub fn reload(&self, file: TokenFile) {
        self.install(Some(file));
    }

    fn install(&self, file: Option<TokenFile>) {
        let any_verified = file.is_none();
        let file = file.unwrap_or_default();
        let unrestricted = Principal::unrestricted("token");
        let tokens = self
            .shared
            .iter()
            .map(|digest| (*digest, unrestricted.clone()))
            .chain(file.tokens);
        self.tokens.replace(&Tokens::from_digests(tokens));
        let certificates = Certificates {
            by_name: file.certificates.into_iter().collect(),
            any_verified,
        };
        *self
            .certificates
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(certificates);
    }

    /// The tokens, for the auth layer (shared: a reload reaches it).
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// The principal of a verified client certificate carrying `names`
    /// (its DNS, IP and e-mail subject alternative names), if it is one.
    pub fn for_certificate(&self, names: &[String]) -> Option<Principal> {
        let certificates = Arc::clone(
            &self
                .certificates
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let listed = names
            .iter()
            .find_map(|name| certificates.by_name.get(&name.to_ascii_lowercase()));
        match listed {
            Some(principal) => Some(principal.clone()),
            None if certificates.any_verified => {
                Some(Principal::unrestricted(names.first()?.as_str()))
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_tokens_survive_a_reload_and_certificates_follow_the_file() -> Result<(), String> {
        let principals = Principals::new(&["shared".into()], None);
        let auth = principals.tokens().clone();
        assert!(auth
            .identify(b"shared")
            .is_some_and(|p| p.is_unrestricted()));
        let any = principals.for_certificate(&["node-1".into()]);
        assert!(any.is_some_and(|p| p.name() == "node-1" && p.is_unrestricted()));
        assert_eq!(principals.for_certificate(&[]), None);

        let file = TokenFile::parse(&format!(
            "[[principal]]\nname = \"ci\"\ntoken_sha256 = \"{}\"\nscopes = [\"read\"]\n\
             [[principal]]\nname = \"fleet\"\nsan = \"node-1\"\nscopes = [\"run\"]",
            hex::encode(token_digest(b"ci-token"))
        ))?;
        principals.reload(file);
        assert!(auth.identify(b"shared").is_some());
        assert!(auth.identify(b"ci-token").is_some_and(|p| p.name() == "ci"));
        let fleet = principals.for_certificate(&["x".into(), "NODE-1".into()]);
        assert!(fleet.is_some_and(|p| p.name() == "fleet" && p.has_scope("run")));
        assert_eq!(principals.for_certificate(&["node-2".into()]), None);
        Ok(())
    }
}
