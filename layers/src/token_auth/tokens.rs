use super::error::EmptyToken;
use super::Principal;
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use subtle::{ConditionallySelectable, ConstantTimeEq};

/// The accepted tokens, kept only as SHA-256 digests, each standing for a
/// [`Principal`].
///
/// Cheap to clone, and clones share one set: [`Tokens::replace`] changes
/// what every clone accepts at once (a reload without dropping
/// connections). Its `Debug` output tells how many tokens are accepted and
/// nothing else: `Tokens { accepted: 2, .. }`.
#[derive(Clone)]
pub struct Tokens {
    entries: Arc<RwLock<Arc<[Entry]>>>,
}

#[derive(Clone)]
struct Entry {
    digest: [u8; 32],
    principal: Principal,
}

impl Tokens {
    /// Accepts each of `tokens`; several at once allow a rotation without
    /// downtime. Each stands for the same principal, `token`, holding every
    /// scope.
    ///
    /// # Errors
    ///
    /// [`EmptyToken`] if `tokens` is empty or any of them is empty.
    pub fn new<I, T>(tokens: I) -> Result<Tokens, EmptyToken>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let principal = Principal::unrestricted("token");
        let entries = tokens
            .into_iter()
            .map(|token| {
                let token = token.as_ref();
                if token.is_empty() {
                    Err(EmptyToken)
                } else {
                    Ok((digest(token), principal.clone()))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if entries.is_empty() {
            return Err(EmptyToken);
        }
        Ok(Tokens::from_digests(entries))
    }

    /// Accepts `token` only.
    ///
    /// # Errors
    ///
    /// [`EmptyToken`] if `token` is empty.
    pub fn single(token: impl AsRef<[u8]>) -> Result<Tokens, EmptyToken> {
        Tokens::new([token])
    }

    /// Accepts the tokens whose SHA-256 digests are given, each standing for
    /// its principal: tokens are then never held in clear, not even in
    /// memory. May be empty (nothing is accepted by token; a request may
    /// still present a [`Credential::Verified`](super::Credential) principal).
    pub fn from_digests(entries: impl IntoIterator<Item = ([u8; 32], Principal)>) -> Tokens {
        let entries: Arc<[Entry]> = entries
            .into_iter()
            .map(|(digest, principal)| Entry { digest, principal })
            .collect();
        Tokens {
            entries: Arc::new(RwLock::new(entries)),
        }
    }

    /// From now on, this and every clone accept what `other` accepts.
    pub fn replace(&self, other: &Tokens) {
        let entries = other.snapshot();
        *self.entries.write().unwrap_or_else(PoisonError::into_inner) = entries;
    }

    fn snapshot(&self) -> Arc<[Entry]> {
        Arc::clone(&self.entries.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The principal `presented` stands for, if it is an accepted token.
    ///
    /// Constant time: the SHA-256 digest of `presented` is compared with
    /// [`subtle::ConstantTimeEq`] against the digest of every accepted token,
    /// without stopping at a match, so the time taken tells neither the
    /// length of an accepted token nor which one matched.
    pub fn identify(&self, presented: &[u8]) -> Option<Principal> {
        let presented = digest(presented);
        let entries = self.snapshot();
        // 1 + the index of the match, 0 for none, chosen without a branch.
        let mut found = 0u32;
        for (index, entry) in entries.iter().enumerate() {
            let here = u32::try_from(index).unwrap_or(u32::MAX).saturating_add(1);
            let matched = entry.digest[..].ct_eq(&presented[..]);
            found = u32::conditional_select(&found, &here, matched);
        }
        let index = usize::try_from(found).ok()?.checked_sub(1)?;
        entries.get(index).map(|entry| entry.principal.clone())
    }

    /// Whether `presented` is one of the accepted tokens (in constant time,
    /// as [`identify`](Self::identify)).
    pub fn verify(&self, presented: &[u8]) -> bool {
        self.identify(presented).is_some()
    }

    /// How many tokens are accepted.
    pub fn len(&self) -> usize {
        self.snapshot().len()
    }

    /// Whether no token is accepted (only [`Tokens::from_digests`] makes
    /// such a set).
    pub fn is_empty(&self) -> bool {
        self.snapshot().is_empty()
    }
}

/// The SHA-256 digest of `token`: what [`Tokens::from_digests`] takes.
pub fn token_digest(token: &[u8]) -> [u8; 32] {
    digest(token)
}

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

/// Redacted: `Tokens { accepted: 2, .. }`.
impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("accepted", &self.len())
            .finish_non_exhaustive()
    }
}
