//! Where [`HttpAuth`](super::HttpAuth) reads the credential:
//! [`CredentialSource`] and its implementations.

use crate::{Credential, PresentsToken};
use http::header::{HeaderName, COOKIE};
use http::Request;
use std::fmt;

/// Where a request's [`Credential`] is read from: the strategy of
/// [`HttpAuthLayer::source`](super::HttpAuthLayer::source).
///
/// Implemented by [`Bearer`] (the default), [`Header`], [`Cookie`] and
/// [`FromFn`] (a closure, see [`from_fn`]).
pub trait CredentialSource<B> {
    /// The credential `request` presents: [`Credential::Missing`] when it
    /// presents none, [`Credential::Malformed`] when it tries but carries no
    /// usable token.
    fn credential<'r>(&self, request: &'r Request<B>) -> Credential<'r>;
}

/// `Authorization: Bearer <token>`, the default: the parsing of the
/// [`PresentsToken`] implementation for `http::Request` (no header is
/// missing; another scheme, a value that is not visible ASCII or an empty
/// token is malformed).
#[derive(Clone, Copy, Debug, Default)]
pub struct Bearer;

impl<B> CredentialSource<B> for Bearer {
    fn credential<'r>(&self, request: &'r Request<B>) -> Credential<'r> {
        request.credential()
    }
}

/// The whole value of a named header, such as `X-Api-Key: <token>`.
///
/// No such header is missing; the header given more than once (which value
/// would count?), a value that is not visible ASCII, or an empty one is
/// malformed.
#[derive(Clone, Debug)]
pub struct Header {
    name: HeaderName,
}

impl Header {
    /// Reads the token from header `name`.
    pub fn new(name: HeaderName) -> Self {
        Header { name }
    }
}

impl<B> CredentialSource<B> for Header {
    fn credential<'r>(&self, request: &'r Request<B>) -> Credential<'r> {
        let mut values = request.headers().get_all(&self.name).iter();
        let Some(value) = values.next() else {
            return Credential::Missing;
        };
        if values.next().is_some() {
            return Credential::Malformed;
        }
        match value.to_str() {
            Ok(token) if !token.is_empty() => Credential::Token(token.as_bytes()),
            _ => Credential::Malformed,
        }
    }
}

/// The value of the cookie of a given name, from the request's `Cookie`
/// headers (`Cookie: theme=dark; session=<token>`).
///
/// Every `Cookie` header is read (HTTP/2 clients may send one per cookie),
/// each split into `name=value` pairs at `;` as RFC 6265 §4.2 writes them,
/// whitespace around names and values ignored and a value's surrounding
/// double quotes removed; pairs without `=` are skipped. When the cookie is
/// given more than once, the first counts (RFC 6265 §5.4 has the client
/// send the one with the longest path first). No such cookie is missing,
/// unless a `Cookie` header could not be read (not visible ASCII): that, or
/// an empty value, is malformed.
#[derive(Clone)]
pub struct Cookie {
    name: Box<str>,
}

impl Cookie {
    /// Reads the token from the cookie called `name`.
    pub fn named(name: impl Into<Box<str>>) -> Self {
        Cookie { name: name.into() }
    }
}

/// Prints the cookie's name only.
impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cookie").field("name", &self.name).finish()
    }
}

impl<B> CredentialSource<B> for Cookie {
    fn credential<'r>(&self, request: &'r Request<B>) -> Credential<'r> {
        let mut unreadable = false;
        for header in request.headers().get_all(COOKIE) {
            let Ok(text) = header.to_str() else {
                unreadable = true;
                continue;
            };
            if let Some(value) = cookie_value(text, &self.name) {
                return if value.is_empty() {
                    Credential::Malformed
                } else {
                    Credential::Token(value.as_bytes())
                };
            }
        }
        if unreadable {
            Credential::Malformed
        } else {
            Credential::Missing
        }
    }
}

/// The value of the first cookie called `name` in one `Cookie` header.
fn cookie_value<'t>(header: &'t str, name: &str) -> Option<&'t str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        if key.trim_matches(WHITESPACE) != name {
            return None;
        }
        let value = value.trim_matches(WHITESPACE);
        Some(
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value),
        )
    })
}

/// Optional whitespace in HTTP (RFC 9110 §5.6.3): space and horizontal tab.
const WHITESPACE: &[char] = &[' ', '\t'];

/// A closure reading the credential: see [`from_fn`].
#[derive(Clone, Copy)]
pub struct FromFn<F> {
    f: F,
}

/// Reads the credential with `f`, for a place none of the other sources
/// covers (a query parameter, a header with its own prefix, ...).
///
/// ```
/// use ld_tower_layers::{http_auth::source, Credential};
///
/// // `X-Token: tok_<token>`
/// let source = source::from_fn(|request: &http::Request<()>| {
///     match request.headers().get("x-token").map(|v| v.as_bytes()) {
///         None => Credential::Missing,
///         Some(value) => match value.strip_prefix(b"tok_") {
///             Some(token) if !token.is_empty() => Credential::Token(token),
///             _ => Credential::Malformed,
///         },
///     }
/// });
/// # let _ = source;
/// ```
pub fn from_fn<B, F>(f: F) -> FromFn<F>
where
    F: for<'r> Fn(&'r Request<B>) -> Credential<'r>,
{
    FromFn { f }
}

impl<F> fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FromFn(..)")
    }
}

impl<B, F> CredentialSource<B> for FromFn<F>
where
    F: for<'r> Fn(&'r Request<B>) -> Credential<'r>,
{
    fn credential<'r>(&self, request: &'r Request<B>) -> Credential<'r> {
        (self.f)(request)
    }
}
