//! One step on a socket: the payload sent, then the reply read as the step
//! asks (LoadDensity's way, with one addition):
//!
//! - `expect_bytes: N`: TCP reads exactly `N` bytes (fewer when the server
//!   closes first, as LoadDensity's `recv` loop takes them); UDP reads one
//!   datagram, kept up to `N` bytes.
//! - `expect_substring` alone (LoadDensity would check it against nothing
//!   read, and fail): TCP reads until it is seen (at most
//!   [`MAX_SEARCHED_BYTES`]); UDP reads one datagram.
//! - Both: `N` bytes are read, then searched.
//! - Neither: nothing is read (the step records the send).
//!
//! A reply is searched as it streams in, never kept: a user holds one read
//! buffer whatever the reply's size, of [`STREAM_BUFFER`] at most for TCP
//! (less for a smaller `expect_bytes`) and of the datagram's size at most
//! for UDP (`expect_bytes`, else [`MAX_DATAGRAM`]).

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UdpSocket;

use super::conn::Socket;
use super::task::MAX_SEARCHED_BYTES;

/// The most a TCP step reads at once: 16 KiB.
pub(crate) const STREAM_BUFFER: usize = 16 * 1024;

/// The largest UDP datagram read: 64 KiB.
pub(crate) const MAX_DATAGRAM: usize = 64 * 1024;

/// `buffer`, grown to `size` if it is smaller (it never shrinks: a user
/// keeps the largest its steps need).
fn sized(buffer: &mut Vec<u8>, size: usize) -> &mut [u8] {
    if buffer.len() < size {
        buffer.resize(size, 0);
    }
    &mut buffer[..size]
}

/// What a step moved, kept as it goes (a timed-out step's bytes count too).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Moved {
    /// Payload bytes written.
    pub(crate) sent: u64,
    /// Reply bytes read.
    pub(crate) received: u64,
    /// The server closed the connection (it is not kept).
    pub(crate) closed: bool,
}

/// What a step sends and reads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Exchange<'a> {
    /// The payload.
    pub(crate) payload: &'a [u8],
    /// `expect_bytes` (0: none).
    pub(crate) exact: usize,
    /// `expect_substring`, rendered.
    pub(crate) substring: Option<&'a str>,
}

impl Exchange<'_> {
    /// Runs it on `socket`, reading into `buffer`; what moved goes into
    /// `moved`; the error is the step's failure reason.
    pub(crate) async fn on(
        self,
        socket: &mut Socket,
        buffer: &mut Vec<u8>,
        moved: &mut Moved,
    ) -> Result<(), String> {
        match socket {
            Socket::Tcp(held) => self.stream(&mut held.socket, buffer, moved).await,
            Socket::Tls(held) => self.stream(&mut held.socket, buffer, moved).await,
            Socket::Udp(held) => self.datagram(&held.socket, buffer, moved).await,
        }
    }

    async fn stream<S: AsyncRead + AsyncWrite + Unpin>(
        self,
        stream: &mut S,
        buffer: &mut Vec<u8>,
        moved: &mut Moved,
    ) -> Result<(), String> {
        if !self.payload.is_empty() {
            stream
                .write_all(self.payload)
                .await
                .map_err(|e| failure("cannot send", e))?;
            stream
                .flush()
                .await
                .map_err(|e| failure("cannot send", e))?;
        }
        moved.sent = self.payload.len() as u64;
        let mut finder = self.substring.map(Finder::new);
        let searching = finder.as_ref().is_some_and(|f| !f.found);
        if self.exact == 0 && !searching {
            return Ok(());
        }
        let size = match self.exact {
            0 => STREAM_BUFFER,
            exact => exact.min(STREAM_BUFFER),
        };
        let buffer = sized(buffer, size);
        let mut received = 0usize;
        loop {
            let want = if self.exact > 0 {
                (self.exact - received).min(buffer.len())
            } else {
                buffer.len()
            };
            let n = stream
                .read(&mut buffer[..want])
                .await
                .map_err(|e| failure("cannot read the reply", e))?;
            if n == 0 {
                moved.closed = true;
                if received == 0 {
                    return Err("connection closed by the server".into());
                }
                break;
            }
            received += n;
            moved.received = received as u64;
            if let Some(finder) = &mut finder {
                finder.feed(&buffer[..n]);
            }
            if self.exact > 0 {
                if received >= self.exact {
                    break;
                }
            } else if finder.as_ref().is_some_and(|f| f.found) {
                return Ok(());
            } else if received >= MAX_SEARCHED_BYTES {
                return Err(format!(
                    "expected {:?} in the reply: not in its first 1 MiB",
                    self.substring.unwrap_or_default()
                ));
            }
        }
        check(finder, self.substring)
    }

    async fn datagram(
        self,
        socket: &UdpSocket,
        buffer: &mut Vec<u8>,
        moved: &mut Moved,
    ) -> Result<(), String> {
        let sent = socket
            .send(self.payload)
            .await
            .map_err(|e| failure("cannot send", e))?;
        moved.sent = sent as u64;
        let mut finder = self.substring.map(Finder::new);
        let searching = finder.as_ref().is_some_and(|f| !f.found);
        if self.exact == 0 && !searching {
            return Ok(());
        }
        // LoadDensity's `recvfrom(expect_bytes)`: the rest of a longer
        // datagram is dropped.
        let size = match self.exact {
            0 => MAX_DATAGRAM,
            exact => exact.min(MAX_DATAGRAM),
        };
        let buffer = sized(buffer, size);
        let n = socket
            .recv(buffer)
            .await
            .map_err(|e| failure("cannot read the reply", e))?;
        moved.received = n as u64;
        if let Some(finder) = &mut finder {
            finder.feed(&buffer[..n]);
        }
        check(finder, self.substring)
    }
}

/// The failure of a search that did not find its text.
fn check(finder: Option<Finder<'_>>, substring: Option<&str>) -> Result<(), String> {
    match finder {
        Some(finder) if !finder.found => Err(format!(
            "expected {:?} in the reply",
            substring.unwrap_or_default()
        )),
        _ => Ok(()),
    }
}

/// A failure reason for an I/O error while `doing` something; a reset or
/// a closed pipe is the server's close.
fn failure(doing: &str, e: io::Error) -> String {
    use io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    match e.kind() {
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
            format!("connection closed by the server ({e})")
        }
        _ => format!("{doing}: {e}"),
    }
}

/// Looks for a text in bytes that arrive in pieces, keeping only the last
/// `len - 1` bytes between pieces.
#[derive(Debug)]
pub(crate) struct Finder<'a> {
    needle: &'a [u8],
    /// The end of what came so far, for a match across pieces.
    carry: Vec<u8>,
    /// Seen.
    pub(crate) found: bool,
}

impl<'a> Finder<'a> {
    /// Looks for `text` (found at once when empty).
    pub(crate) fn new(text: &'a str) -> Finder<'a> {
        Finder {
            needle: text.as_bytes(),
            carry: Vec::new(),
            found: text.is_empty(),
        }
    }

    /// Takes the next piece.
    pub(crate) fn feed(&mut self, piece: &[u8]) {
        if self.found {
            return;
        }
        let keep = self.needle.len() - 1;
        // A match across the last piece and this one.
        self.carry
            .extend_from_slice(&piece[..piece.len().min(keep)]);
        if contains(&self.carry, self.needle) {
            self.found = true;
            return;
        }
        if contains(piece, self.needle) {
            self.found = true;
            return;
        }
        if piece.len() >= keep {
            self.carry.clear();
            self.carry.extend_from_slice(&piece[piece.len() - keep..]);
        } else {
            let excess = self.carry.len().saturating_sub(keep);
            self.carry.drain(..excess);
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
