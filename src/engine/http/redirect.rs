//! [`Redirects`]: whether a request follows the redirects it is answered
//! with (the `allow_redirects` task key), and how a request becomes the next
//! one of a chain: as Locust's users do (requests' `SessionRedirectMixin`,
//! geventhttpclient's `UserAgent`).
//!
//! A `301`, `302`, `303`, `307` or `308` response with a `Location` is
//! followed, up to [`MAX_REDIRECTS`] times. The `Location` is resolved
//! against the URL it answered (absolute, scheme-relative or relative); only
//! http and https are followed. `301`/`302`/`303` turn the request into a
//! `GET` without a body (a `HEAD` stays a `HEAD`); `307`/`308` keep method
//! and body. `Authorization` is dropped when the next URL leaves the origin
//! (scheme, host, port; http to https on the standard ports excepted, as
//! requests' `should_strip_auth` says), and the URL's own `user:password@`
//! never goes further than the first request (the `Authorization` it made
//! goes on while the origin stays).
//!
//! Nothing here runs for a response that is not such a redirect: the
//! response reader looks for a `Location` only in one.

use bytes::Bytes;
use http::header::{
    AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HOST, TRANSFER_ENCODING,
};
use http::{Method, Request, StatusCode, Uri};
use url::Url;

use super::HttpError;

/// The most redirects one request follows (requests' `DEFAULT_REDIRECT_LIMIT`):
/// one more fails it.
pub const MAX_REDIRECTS: usize = 30;

/// Whether a request follows redirects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Redirects {
    /// Follow up to [`MAX_REDIRECTS`] of them, and answer with the last
    /// response (`allow_redirects: true`, the default).
    #[default]
    Follow,
    /// Answer with the redirect itself (`allow_redirects: false`).
    Stop,
}

impl From<bool> for Redirects {
    /// `allow_redirects`' value.
    fn from(allow: bool) -> Self {
        if allow {
            Redirects::Follow
        } else {
            Redirects::Stop
        }
    }
}

/// Whether a response with `status` is followed when it has a `Location`.
pub(super) fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Turns `request` into the next request of its chain: its redirect
/// `status` said to go to `location`.
pub(super) fn follow(
    request: &mut Request<Bytes>,
    status: StatusCode,
    location: &str,
) -> Result<(), HttpError> {
    // (Not the URL in the message: it may hold credentials.)
    let current = Url::parse(&request.uri().to_string())
        .map_err(|e| HttpError::Redirect(format!("the URL redirected from: {e}")))?;
    let invalid = |e: &dyn std::fmt::Display| {
        HttpError::Redirect(format!("invalid Location {:?}: {e}", shown(location)))
    };
    let mut next = current.join(location).map_err(|e| invalid(&e))?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(HttpError::Redirect(format!(
            "Location {:?} is a {}: URL (only http and https are followed)",
            shown(location),
            next.scheme()
        )));
    }
    next.set_fragment(None);
    // The credentials of a URL are its first request's; `Authorization`
    // carries them on (as in requests).
    let _ = next.set_username("");
    let _ = next.set_password(None);
    let leaves = leaves_origin(&current, &next);
    *request.uri_mut() = Uri::try_from(next.as_str()).map_err(|e| invalid(&e))?;
    let headers = request.headers_mut();
    if leaves {
        headers.remove(AUTHORIZATION);
    }
    if !same_authority(&current, &next) {
        // A `Host` the task set names the host it left.
        headers.remove(HOST);
    }
    if matches!(status.as_u16(), 301..=303) {
        for name in [
            CONTENT_TYPE,
            CONTENT_LENGTH,
            CONTENT_ENCODING,
            TRANSFER_ENCODING,
        ] {
            headers.remove(name);
        }
        *request.body_mut() = Bytes::new();
        if request.method() != Method::HEAD {
            *request.method_mut() = Method::GET;
        }
    }
    Ok(())
}

/// The longest part of a `Location` a failure message shows.
const SHOWN: usize = 200;

/// `location` for a message: the server's text, cut at [`SHOWN`] bytes.
fn shown(location: &str) -> &str {
    if location.len() <= SHOWN {
        return location;
    }
    let mut end = SHOWN;
    while !location.is_char_boundary(end) {
        end -= 1;
    }
    &location[..end]
}

/// Whether credentials for `old` may not go to `new` (requests'
/// `should_strip_auth`): another host, scheme or port, except http on 80 to
/// https on 443.
fn leaves_origin(old: &Url, new: &Url) -> bool {
    if old.host_str() != new.host_str() {
        return true;
    }
    let (old_port, new_port) = (old.port_or_known_default(), new.port_or_known_default());
    if old.scheme() == "http"
        && old_port == Some(80)
        && new.scheme() == "https"
        && new_port == Some(443)
    {
        return false;
    }
    old.scheme() != new.scheme() || old_port != new_port
}

fn same_authority(old: &Url, new: &Url) -> bool {
    old.host_str() == new.host_str() && old.port_or_known_default() == new.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, uri: &str) -> Request<Bytes> {
        Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", "Bearer t")
            .header("content-type", "application/json")
            .header("x-kept", "1")
            .body(Bytes::from_static(b"{}"))
            .unwrap()
    }

    fn followed(method: Method, uri: &str, status: u16, location: &str) -> Request<Bytes> {
        let mut request = request(method, uri);
        follow(
            &mut request,
            StatusCode::from_u16(status).unwrap(),
            location,
        )
        .unwrap();
        request
    }

    #[test]
    fn only_the_five_redirects_are_followed() {
        for code in [301, 302, 303, 307, 308] {
            assert!(is_redirect(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [200, 300, 304, 305, 306, 400] {
            assert!(!is_redirect(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }

    #[test]
    fn locations_resolve_against_the_current_url() {
        let base = "http://a.test:8080/x/y?q=1";
        for (location, want) in [
            ("/abs", "http://a.test:8080/abs"),
            ("rel?z=2", "http://a.test:8080/x/rel?z=2"),
            ("../up", "http://a.test:8080/up"),
            ("//b.test/s", "http://b.test/s"),
            ("https://c.test:9443/f#frag", "https://c.test:9443/f"),
            ("?only=query", "http://a.test:8080/x/y?only=query"),
        ] {
            let next = followed(Method::GET, base, 302, location);
            assert_eq!(next.uri(), want, "{location}");
        }
    }

    #[test]
    fn see_other_and_friends_become_get_without_a_body() {
        for status in [301, 302, 303] {
            let next = followed(Method::POST, "http://a.test/", status, "/n");
            assert_eq!(next.method(), Method::GET);
            assert!(next.body().is_empty());
            assert!(next.headers().get("content-type").is_none());
            assert_eq!(next.headers()["x-kept"], "1");
            assert_eq!(next.headers()["authorization"], "Bearer t");
            let head = followed(Method::HEAD, "http://a.test/", status, "/n");
            assert_eq!(head.method(), Method::HEAD);
        }
        for status in [307, 308] {
            let next = followed(Method::POST, "http://a.test/", status, "/n");
            assert_eq!(next.method(), Method::POST);
            assert_eq!(next.body(), "{}");
            assert_eq!(next.headers()["content-type"], "application/json");
        }
    }

    #[test]
    fn authorization_stays_within_the_origin() {
        let kept = |from: &str, to: &str| {
            followed(Method::GET, from, 302, to)
                .headers()
                .contains_key("authorization")
        };
        assert!(kept("http://a.test/", "/same"));
        assert!(kept("http://a.test/", "http://A.TEST:80/same"));
        assert!(kept("http://a.test/", "https://a.test/upgraded"));
        assert!(!kept("http://a.test/", "http://b.test/"));
        assert!(!kept("http://a.test/", "http://a.test:8080/"));
        assert!(!kept("https://a.test/", "http://a.test/"));
        assert!(!kept("http://a.test:8080/", "https://a.test/"));
    }

    #[test]
    fn credentials_in_the_url_and_a_left_host_header_do_not_follow() {
        let mut request = Request::get("http://u:p@a.test/")
            .header("host", "a.test")
            .body(Bytes::new())
            .unwrap();
        follow(&mut request, StatusCode::FOUND, "/n").unwrap();
        assert_eq!(request.uri(), "http://a.test/n");
        assert_eq!(request.headers()["host"], "a.test");
        follow(&mut request, StatusCode::FOUND, "http://b.test/").unwrap();
        assert!(request.headers().get("host").is_none());
    }

    #[test]
    fn other_schemes_are_refused_and_say_so() {
        let mut request = request(Method::GET, "http://a.test/");
        let error = follow(&mut request, StatusCode::FOUND, "ftp://a.test/file")
            .unwrap_err()
            .to_string();
        assert!(
            error.ends_with(
                "\"ftp://a.test/file\" is a ftp: URL (only http and https are followed)"
            ),
            "{error}"
        );
        assert_eq!(request.uri(), "http://a.test/", "left as it was");
        let long = format!("gopher://{}", "é".repeat(300));
        let error = follow(&mut request, StatusCode::FOUND, &long)
            .unwrap_err()
            .to_string();
        assert!(error.len() < 300, "{error}");
    }
}
