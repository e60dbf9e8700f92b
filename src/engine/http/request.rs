//! A request's bytes on the wire: the HTTP/1.1 request line in origin form,
//! a `Host` header unless the request has one, its headers, a
//! `Content-Length` when it carries a body, then the body; all in one
//! buffer, written with one call.

use std::io::Write as _;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST};
use http::{Method, Request};

/// Writes `request` into `out` (cleared first). `host` is the `Host`
/// header's value for its connection.
pub(super) fn encode(request: &Request<Bytes>, host: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let method = request.method();
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    // Origin form: the path and query of the absolute URI.
    let target = request.uri().path_and_query().map_or("", |pq| pq.as_str());
    if !target.starts_with('/') {
        out.push(b'/');
    }
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let headers = request.headers();
    if !headers.contains_key(HOST) {
        line(out, b"host", host);
    }
    for (name, value) in headers {
        line(out, name.as_str().as_bytes(), value.as_bytes());
    }
    let body = request.body();
    let carries_body =
        !body.is_empty() || matches!(*method, Method::POST | Method::PUT | Method::PATCH);
    if carries_body && !headers.contains_key(CONTENT_LENGTH) {
        // Writing to a Vec cannot fail.
        let _ = write!(out, "content-length: {}\r\n", body.len());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(request: Request<Bytes>) -> String {
        let mut out = Vec::new();
        encode(&request, b"example.com:8080", &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn get_in_origin_form_with_host() {
        let request = Request::get("http://example.com:8080/a/b?x=1&y=2")
            .body(Bytes::new())
            .unwrap();
        assert_eq!(
            wire(request),
            "GET /a/b?x=1&y=2 HTTP/1.1\r\nhost: example.com:8080\r\n\r\n"
        );
    }

    #[test]
    fn bare_origin_requests_the_root() {
        let request = Request::get("http://example.com:8080")
            .body(Bytes::new())
            .unwrap();
        assert_eq!(
            wire(request),
            "GET / HTTP/1.1\r\nhost: example.com:8080\r\n\r\n"
        );
    }

    #[test]
    fn headers_and_body_with_its_length() {
        let request = Request::post("http://example.com:8080/login")
            .header("content-type", "application/json")
            .header("x-twice", "1")
            .header("x-twice", "2")
            .body(Bytes::from_static(b"{\"a\":1}"))
            .unwrap();
        assert_eq!(
            wire(request),
            "POST /login HTTP/1.1\r\nhost: example.com:8080\r\ncontent-type: application/json\r\n\
             x-twice: 1\r\nx-twice: 2\r\ncontent-length: 7\r\n\r\n{\"a\":1}"
        );
    }

    #[test]
    fn empty_post_says_so_and_a_given_host_wins() {
        let request = Request::post("http://example.com:8080/")
            .header("host", "other")
            .body(Bytes::new())
            .unwrap();
        assert_eq!(
            wire(request),
            "POST / HTTP/1.1\r\nhost: other\r\ncontent-length: 0\r\n\r\n"
        );
    }
}
