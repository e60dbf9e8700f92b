//! Reading one HTTP/1.1 response off a connection: the head parsed by
//! `httparse` in place in the read buffer (headers copied out only when a
//! task reads them), interim `1xx` responses skipped, then the body framed
//! as RFC 9112 section 6.3 says (none, `Content-Length`, chunked, or until
//! the server closes), kept only when asked for and up to a bound. When the
//! request follows redirects, a redirect's `Location` is taken out of its
//! head, and nothing of it is kept: its body is read and dropped.

use std::mem::MaybeUninit;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use httparse::Status;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::redirect::is_redirect;
use super::{HttpError, Lease, Pool, Response, Retain};

/// The read buffer's size, as wrk's: most responses of a load test fit it
/// whole, and ten thousand users hold 80 MiB of it (a buffer grows only for
/// a response head that does not fit).
const BUFFER: usize = 8 * 1024;
/// The largest response head (status line and headers) accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// The most headers a response may have.
const MAX_HEADERS: usize = 128;
/// The most of a response body kept for assertions and extractors; the
/// rest is read and dropped.
pub const MAX_KEPT_BODY: usize = 16 * 1024 * 1024;

/// How the body of a response is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// No body (a response to HEAD, 1xx, 204, 304).
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

/// What the head says, copied out of the buffer.
struct Head {
    status: StatusCode,
    headers: HeaderMap,
    /// The `Set-Cookie` values, for the user's cookie jar.
    set_cookies: Vec<String>,
    framing: Framing,
    keep_alive: bool,
    /// A redirect's `Location`, when it is to be followed.
    location: Option<String>,
}

/// A response as read off the connection.
pub(super) struct Received {
    pub(super) response: Response,
    /// Its `Set-Cookie` values (empty, unallocated, when it set none).
    pub(super) set_cookies: Vec<String>,
    /// Where it redirects to, when it is a redirect to follow (then
    /// nothing of it was kept).
    pub(super) location: Option<String>,
    /// Whether the connection can carry another request.
    pub(super) reusable: bool,
}

/// A connection's bytes read and not yet used. One per client: a
/// connection is only kept when its response used every byte read.
#[derive(Debug)]
pub(super) struct Reader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The buffer's bytes beyond [`BUFFER`], taken from the test's pool
    /// (which kept bodies and copied headers take from too) while a long
    /// head is read.
    grown: Lease,
    /// The body bytes of the response being read.
    body_bytes: u64,
}

/// What is kept of a response, its bytes held in the test's pool until the
/// response is dropped.
struct Kept {
    body: Option<Vec<u8>>,
    /// The copied headers' bytes (about the head's length).
    headers: usize,
    lease: Lease,
}

impl Kept {
    /// Appends to the kept body (up to [`MAX_KEPT_BODY`]); its capacity
    /// grows by doubling, each step taken from the pool first.
    fn extend(&mut self, bytes: &[u8]) -> Result<(), HttpError> {
        let Some(body) = &mut self.body else {
            return Ok(());
        };
        let room = MAX_KEPT_BODY.saturating_sub(body.len());
        let bytes = &bytes[..bytes.len().min(room)];
        let needed = body.len() + bytes.len();
        if needed > body.capacity() {
            let capacity = needed.max(body.capacity() * 2).min(MAX_KEPT_BODY);
            self.lease
                .hold(self.headers + capacity)
                .map_err(HttpError::Memory)?;
            body.reserve_exact(capacity - body.len());
        }
        body.extend_from_slice(bytes);
        Ok(())
    }
}

impl Reader {
    /// A reader whose response bytes beyond its buffer come from `pool`.
    pub(super) fn new(pool: Arc<Pool>) -> Reader {
        Reader {
            buf: vec![0; BUFFER],
            start: 0,
            end: 0,
            grown: Lease::new(pool),
            body_bytes: 0,
        }
    }

    /// The lease a long head grows the buffer in (its pool is the test's).
    pub(super) fn lease(&self) -> &Lease {
        &self.grown
    }

    /// Gives back what a long head grew the buffer by (between responses:
    /// any byte left in it is not read again).
    fn shrink(&mut self) {
        if self.buf.len() > BUFFER {
            self.buf.truncate(BUFFER);
            self.buf.shrink_to_fit();
            self.start = self.start.min(BUFFER);
            self.end = self.end.min(BUFFER);
            let _ = self.grown.hold(0);
        }
    }

    /// Reads a response to a request (`head_request` when its method was
    /// HEAD; `follow` when it follows redirects: a redirect's `Location` is
    /// then taken, and nothing of the redirect kept).
    pub(super) async fn response<R: AsyncRead + Unpin>(
        &mut self,
        io: &mut R,
        head_request: bool,
        keep: Retain,
        follow: bool,
    ) -> Result<Received, HttpError> {
        self.shrink();
        self.start = 0;
        self.end = 0;
        self.body_bytes = 0;
        let mut head = loop {
            let head = self.head(io, head_request, keep.headers, follow).await?;
            // Interim responses (100 Continue, 103 Early Hints) come before
            // the final one; 101 ends HTTP on this connection.
            if !head.status.is_informational() || head.status == StatusCode::SWITCHING_PROTOCOLS {
                break head;
            }
        };
        let set_cookies = std::mem::take(&mut head.set_cookies);
        let location = head.location.take();
        // A redirect followed is read to the end (for the connection) and dropped.
        let keep = if location.is_some() {
            Retain::default()
        } else {
            keep
        };
        let mut kept = None;
        if keep.body || keep.headers {
            // The heads read so far: about what their copied headers take.
            let headers = if keep.headers { self.start } else { 0 };
            let mut lease = Lease::new(self.grown.pool());
            lease.hold(headers).map_err(HttpError::Memory)?;
            kept = Some(Kept {
                body: keep.body.then(Vec::new),
                headers,
                lease,
            });
        }
        match head.framing {
            Framing::Empty => {}
            Framing::Length(length) => self.length(io, length, &mut kept).await?,
            Framing::Chunked => self.chunked(io, &mut kept).await?,
            Framing::UntilClose => self.until_close(io, &mut kept).await?,
        }
        let reusable = head.keep_alive
            && head.framing != Framing::UntilClose
            && head.status != StatusCode::SWITCHING_PROTOCOLS
            && self.start == self.end;
        self.shrink();
        let (body, memory) = match kept {
            Some(kept) => (kept.body.map(Bytes::from), Some(kept.lease)),
            None => (None, None),
        };
        let response = Response {
            status: head.status,
            headers: head.headers,
            body,
            body_bytes: self.body_bytes,
            memory,
        };
        Ok(Received {
            response,
            set_cookies,
            location,
            reusable,
        })
    }

    /// Reads more bytes after those not yet used; `Ok(0)` at the end of the
    /// stream. Makes room first: moves the unused bytes to the front, or
    /// grows the buffer up to `MAX_HEAD` (a head or a chunk line that does
    /// not fit is refused before that).
    async fn fill<R: AsyncRead + Unpin>(&mut self, io: &mut R) -> Result<usize, HttpError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let size = (self.buf.len() * 2).min(MAX_HEAD + BUFFER);
                self.grown.hold(size - BUFFER).map_err(HttpError::Memory)?;
                self.buf.resize(size, 0);
            }
        }
        let n = io
            .read(&mut self.buf[self.end..])
            .await
            .map_err(HttpError::Read)?;
        self.end += n;
        Ok(n)
    }

    /// Bytes read and not yet used.
    fn unused(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    async fn head<R: AsyncRead + Unpin>(
        &mut self,
        io: &mut R,
        head_request: bool,
        keep_headers: bool,
        follow: bool,
    ) -> Result<Head, HttpError> {
        loop {
            if self.start < self.end {
                // Left uninitialised (httparse writes those it parses): 4 KiB
                // not filled for each response.
                let mut headers = [const { MaybeUninit::uninit() }; MAX_HEADERS];
                let mut parsed = httparse::Response::new(&mut []);
                match httparse::ParserConfig::default().parse_response_with_uninit_headers(
                    &mut parsed,
                    self.unused(),
                    &mut headers,
                ) {
                    Ok(Status::Complete(length)) => {
                        let head = head_of(&parsed, head_request, keep_headers, follow)?;
                        self.start += length;
                        return Ok(head);
                    }
                    Ok(Status::Partial) => {
                        if self.end - self.start > MAX_HEAD {
                            return Err(HttpError::Invalid(format!(
                                "response head larger than {} KiB",
                                MAX_HEAD / 1024
                            )));
                        }
                    }
                    Err(e) => return Err(HttpError::Invalid(format!("response head: {e}"))),
                }
            }
            if self.fill(io).await? == 0 {
                return Err(HttpError::Closed);
            }
        }
    }

    async fn length<R: AsyncRead + Unpin>(
        &mut self,
        io: &mut R,
        length: u64,
        body: &mut Option<Kept>,
    ) -> Result<(), HttpError> {
        let mut left = length;
        loop {
            let take = self.take(left, body)?;
            left -= take;
            if left == 0 {
                return Ok(());
            }
            if self.fill(io).await? == 0 {
                return Err(HttpError::Closed);
            }
        }
    }

    /// Uses up to `most` of the unused bytes as body; how many it used.
    fn take(&mut self, most: u64, kept: &mut Option<Kept>) -> Result<u64, HttpError> {
        let available = self.end - self.start;
        let take = usize::try_from(most).map_or(available, |most| most.min(available));
        if let Some(kept) = kept {
            kept.extend(&self.buf[self.start..self.start + take])?;
        }
        self.start += take;
        self.body_bytes += take as u64;
        Ok(take as u64)
    }

    async fn chunked<R: AsyncRead + Unpin>(
        &mut self,
        io: &mut R,
        body: &mut Option<Kept>,
    ) -> Result<(), HttpError> {
        loop {
            let size = loop {
                match httparse::parse_chunk_size(self.unused()) {
                    Ok(Status::Complete((length, size))) => {
                        self.start += length;
                        break size;
                    }
                    Ok(Status::Partial) => self.more(io, "chunk size line").await?,
                    Err(_) => return Err(HttpError::Invalid("invalid chunk size line".into())),
                }
            };
            if size == 0 {
                return self.trailers(io).await;
            }
            self.length(io, size, body).await?;
            while self.end - self.start < 2 {
                self.more(io, "chunk").await?;
            }
            if self.unused()[..2] != *b"\r\n" {
                return Err(HttpError::Invalid("chunk data longer than its size".into()));
            }
            self.start += 2;
        }
    }

    /// The trailer section after the last chunk: lines up to an empty one.
    async fn trailers<R: AsyncRead + Unpin>(&mut self, io: &mut R) -> Result<(), HttpError> {
        loop {
            match self.unused().windows(2).position(|w| w == b"\r\n") {
                Some(0) => {
                    self.start += 2;
                    return Ok(());
                }
                Some(at) => self.start += at + 2,
                None => self.more(io, "trailer section").await?,
            }
        }
    }

    /// Reads more while in the middle of `what`, which must fit `MAX_HEAD`.
    async fn more<R: AsyncRead + Unpin>(
        &mut self,
        io: &mut R,
        what: &str,
    ) -> Result<(), HttpError> {
        if self.end - self.start > MAX_HEAD {
            return Err(HttpError::Invalid(format!(
                "{what} longer than {} KiB",
                MAX_HEAD / 1024
            )));
        }
        match self.fill(io).await? {
            0 => Err(HttpError::Closed),
            _ => Ok(()),
        }
    }

    async fn until_close<R: AsyncRead + Unpin>(
        &mut self,
        io: &mut R,
        body: &mut Option<Kept>,
    ) -> Result<(), HttpError> {
        loop {
            self.take(u64::MAX, body)?;
            if self.fill(io).await? == 0 {
                return Ok(());
            }
        }
    }
}

/// The status, the framing, the keep-alive of a parsed head (and its
/// headers, when kept; its `Location`, when `follow` and it is a redirect).
fn head_of(
    parsed: &httparse::Response<'_, '_>,
    head_request: bool,
    keep_headers: bool,
    follow: bool,
) -> Result<Head, HttpError> {
    let code = parsed.code.unwrap_or_default();
    let status = StatusCode::from_u16(code)
        .map_err(|_| HttpError::Invalid(format!("status code {code}")))?;
    let redirect = follow && is_redirect(status);
    let mut location = None;
    // HTTP/1.1 keeps the connection unless told to close; 1.0 closes it
    // unless told to keep it.
    let mut keep_alive = parsed.version == Some(1);
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut transfer_coded = false;
    let mut headers = HeaderMap::new();
    let mut set_cookies = Vec::new();
    for header in parsed.headers.iter() {
        let name = header.name;
        let value = header.value;
        if name.eq_ignore_ascii_case("content-length") {
            for part in value.split(|&b| b == b',') {
                let parsed = std::str::from_utf8(part.trim_ascii())
                    .ok()
                    .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|text| text.parse::<u64>().ok());
                match (parsed, length) {
                    (None, _) => return Err(HttpError::Invalid("invalid Content-Length".into())),
                    (Some(n), Some(seen)) if n != seen => {
                        return Err(HttpError::Invalid("conflicting Content-Length".into()))
                    }
                    (Some(n), _) => length = Some(n),
                }
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_coded = true;
            // Chunked only when it is the last coding applied.
            chunked = value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("set-cookie") {
            set_cookies.push(String::from_utf8_lossy(value).into_owned());
        } else if redirect && name.eq_ignore_ascii_case("location") {
            // The first one, as requests and geventhttpclient take it.
            if location.is_none() {
                location = Some(String::from_utf8_lossy(value).into_owned());
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
        if keep_headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpError::Invalid(format!("header name {name:?}")))?;
            let value = HeaderValue::from_bytes(value)
                .map_err(|_| HttpError::Invalid(format!("value of header {name}")))?;
            headers.append(name, value);
        }
    }
    let framing = if head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        Framing::Empty
    } else if transfer_coded {
        // Transfer-Encoding overrides Content-Length; a body whose last
        // coding is not chunked runs until the close.
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else {
        match length {
            Some(0) => Framing::Empty,
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    };
    // A response with both Transfer-Encoding and Content-Length may be an
    // attempt at smuggling: answer it, but do not reuse the connection.
    if transfer_coded && length.is_some() {
        keep_alive = false;
    }
    Ok(Head {
        status,
        headers,
        set_cookies,
        framing,
        keep_alive,
        location,
    })
}
