//! The dashboard's page (`page.html`, embedded): inline CSS and script,
//! charts drawn as inline SVG, nothing fetched but its own `/snapshot` and
//! `/events`, which its Content-Security-Policy enforces.

use http::{header, HeaderValue, Response, StatusCode};

use crate::observe::{text, Body};

/// The page.
pub(super) const PAGE: &str = include_str!("page.html");

/// Nothing from elsewhere: the page's own inline style and script, and
/// requests to its own origin only.
pub(super) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; \
    script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; \
    img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page's response.
pub(super) fn response() -> Response<Body> {
    let mut response = text(StatusCode::OK, "text/html; charset=utf-8", PAGE);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_nothing_outside_its_origin() {
        for outside in [
            "http://",
            "https://",
            "url(",
            "@import",
            "innerHTML",
            "src=",
        ] {
            assert!(
                !PAGE
                    .replace("http://www.w3.org/2000/svg", "")
                    .contains(outside),
                "the page holds {outside:?}"
            );
        }
        assert!(PAGE.contains("EventSource('/events')"));
        assert!(PAGE.contains("'/snapshot'"));
    }
}
