use super::error::EmptyToken;
use sha2::{Digest, Sha256};
use std::{fmt, sync::Arc};
use subtle::{Choice, ConstantTimeEq};

/// The accepted tokens, kept only as SHA-256 digests.
///
/// Cheap to clone (an [`Arc`] inside). Its `Debug` output tells how many
/// tokens are accepted and nothing else: `Tokens { accepted: 2, .. }`.
#[derive(Clone)]
pub struct Tokens {
    digests: Arc<[[u8; 32]]>,
}

impl Tokens {
    /// Accepts each of `tokens`; several at once allow a rotation without
    /// downtime.
    ///
    /// # Errors
    ///
    /// [`EmptyToken`] if `tokens` is empty or any of them is empty.
    pub fn new<I, T>(tokens: I) -> Result<Tokens, EmptyToken>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let digests = tokens
            .into_iter()
            .map(|token| {
                let token = token.as_ref();
                if token.is_empty() {
                    Err(EmptyToken)
                } else {
                    Ok(digest(token))
                }
            })
            .collect::<Result<Arc<[_]>, _>>()?;
        if digests.is_empty() {
            return Err(EmptyToken);
        }
        Ok(Tokens { digests })
    }

    /// Accepts `token` only.
    ///
    /// # Errors
    ///
    /// [`EmptyToken`] if `token` is empty.
    pub fn single(token: impl AsRef<[u8]>) -> Result<Tokens, EmptyToken> {
        Tokens::new([token])
    }

    /// Whether `presented` is one of the accepted tokens.
    ///
    /// Constant time: the SHA-256 digest of `presented` is compared with
    /// [`subtle::ConstantTimeEq`] against the digest of every accepted token,
    /// without stopping at a match, so the time taken tells neither the
    /// length of an accepted token nor which one matched.
    pub fn verify(&self, presented: &[u8]) -> bool {
        let presented = digest(presented);
        let matched = self
            .digests
            .iter()
            .fold(Choice::from(0), |matched, accepted| {
                matched | accepted[..].ct_eq(&presented[..])
            });
        matched.into()
    }

    /// How many tokens are accepted (at least one).
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// Always `false`: [`Tokens::new`] refuses an empty set.
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }
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
