//! A virtual user's cookie jar: what `Set-Cookie` responses set, sent back
//! on later requests that match their domain, path, expiry and `Secure`
//! (RFC 6265, by `cookie_store`), as Locust's users (`HttpUser`'s requests
//! session, `FastHttpUser`'s cookie jar) do for as long as the user lives.
//! A user that is never sent a cookie pays nothing for the jar.

use bytes::Bytes;
use cookie_store::{CookieStore, RawCookie};
use http::header::{HeaderValue, COOKIE};
use http::{Request, Uri};
use url::Url;

/// The most cookies a user keeps; further ones are ignored.
const MAX_COOKIES: usize = 50;
/// The longest `Set-Cookie` value kept.
const MAX_COOKIE_BYTES: usize = 4096;

/// One user's cookies.
#[derive(Debug, Default)]
pub(super) struct Jar {
    store: CookieStore,
    /// Whether any response set a cookie yet.
    used: bool,
}

impl Jar {
    /// Adds the jar's cookies for `request`'s URI to its `Cookie` header
    /// (after the request's own). When it changed the header: `Some` of the
    /// request's own (`Some(None)`: it had none), to put back before the
    /// request goes elsewhere (a redirect).
    pub(super) fn add_to(&self, request: &mut Request<Bytes>) -> Option<Option<HeaderValue>> {
        if !self.used {
            return None;
        }
        let url = url_of(request.uri())?;
        let headers = request.headers_mut();
        let mut value = headers
            .get(COOKIE)
            .and_then(|own| own.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_default();
        for (name, cookie) in self.store.get_request_values(&url) {
            if !value.is_empty() {
                value.push_str("; ");
            }
            value.push_str(name);
            value.push('=');
            value.push_str(cookie);
        }
        match HeaderValue::from_str(&value) {
            Ok(value) if !value.is_empty() => Some(headers.insert(COOKIE, value)),
            _ => None,
        }
    }

    /// Keeps the cookies that `set_cookies` (a response to `uri`) set; one
    /// that does not parse, or that `uri` may not set, is ignored, as a
    /// browser would.
    pub(super) fn store(&mut self, uri: &Uri, set_cookies: Vec<String>) {
        let Some(url) = url_of(uri) else {
            return;
        };
        // A user lives for the whole test: a target setting ever more (or
        // ever larger) cookies may not grow it without end. Browsers keep
        // about as much (RFC 6265 section 6.1 asks for at least 50 cookies
        // per domain, 4096 bytes each). Expired cookies make room when it is
        // short; a cookie the jar holds already (a session refreshed, or
        // deleted by Max-Age=0) takes no new room and always gets through.
        if self.store.iter_any().count() >= MAX_COOKIES {
            self.forget_expired();
        }
        let mut room = MAX_COOKIES.saturating_sub(self.store.iter_any().count());
        let held: Vec<String> = self
            .store
            .iter_any()
            .map(|cookie| cookie.name().to_owned())
            .collect();
        let cookies = set_cookies
            .into_iter()
            .filter(|text| text.len() <= MAX_COOKIE_BYTES)
            .filter_map(|text| RawCookie::parse(text).ok())
            .filter(|cookie| {
                if held.iter().any(|name| name == cookie.name()) {
                    return true;
                }
                let fits = room > 0;
                room = room.saturating_sub(1);
                fits
            });
        self.store.store_response_cookies(cookies, &url);
        self.used = true;
    }

    /// Removes the cookies whose time is over.
    fn forget_expired(&mut self) {
        let expired: Vec<(String, String, String)> = self
            .store
            .iter_any()
            .filter(|cookie| cookie.is_expired())
            .map(|cookie| {
                let domain = String::from(&cookie.domain);
                (domain, String::from(&cookie.path), cookie.name().to_owned())
            })
            .collect();
        for (domain, path, name) in expired {
            self.store.remove(&domain, &path, &name);
        }
    }
}

fn url_of(uri: &Uri) -> Option<Url> {
    Url::parse(&uri.to_string()).ok()
}
