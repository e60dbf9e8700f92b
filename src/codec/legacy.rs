//! [`LegacyCodec`]: raw bytes, read until the request is complete.

use bytes::{BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::Decoded;
use crate::protocol::{Reply, MAX_REQUEST_BYTES, QUIT_WORD};

/// One raw request per connection, complete when the buffer holds the
/// literal `quit_server`, one complete JSON value, or anything else the
/// client sent before pausing (as the original's single read took it), or
/// at the client's end of stream.
///
/// Completeness is found by one incremental scan (brackets and strings), so
/// a request trickled in byte by byte costs linear time, not quadratic.
#[derive(Clone, Debug)]
pub struct LegacyCodec {
    /// The largest request accepted.
    max: usize,
    /// How far the buffer has been scanned.
    scanned: usize,
    /// What the first non-blank byte began.
    shape: Shape,
    /// Open brackets outside strings.
    depth: usize,
    /// Inside a JSON string.
    in_string: bool,
    /// After a backslash inside a string.
    escaped: bool,
    /// The one request was delivered.
    done: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Only whitespace so far.
    Blank,
    /// An object or array: complete when its brackets close.
    Nested,
    /// A top-level string: complete at its closing quote.
    Text,
    /// Anything else (the quit word, a number, garbage).
    Word,
}

impl LegacyCodec {
    /// A codec accepting requests of up to 1 MiB.
    pub fn new() -> Self {
        Self::with_max(MAX_REQUEST_BYTES)
    }

    /// A codec accepting requests of up to `max` bytes.
    pub fn with_max(max: usize) -> Self {
        LegacyCodec {
            max,
            scanned: 0,
            shape: Shape::Blank,
            depth: 0,
            in_string: false,
            escaped: false,
            done: false,
        }
    }

    /// Scans the new bytes; true once the buffer holds a complete request.
    fn complete(&mut self, buf: &[u8]) -> bool {
        while self.scanned < buf.len() {
            let byte = buf[self.scanned];
            self.scanned += 1;
            if self.in_string {
                match (self.escaped, byte) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => {
                        self.in_string = false;
                        if self.shape == Shape::Text {
                            return true;
                        }
                    }
                    _ => {}
                }
                continue;
            }
            match (self.shape, byte) {
                (Shape::Blank, b) if b.is_ascii_whitespace() => {}
                (Shape::Blank, b'{' | b'[') => {
                    self.shape = Shape::Nested;
                    self.depth = 1;
                }
                (Shape::Blank, b'"') => {
                    self.shape = Shape::Text;
                    self.in_string = true;
                }
                (Shape::Blank, _) => self.shape = Shape::Word,
                (Shape::Nested, b'"') => self.in_string = true,
                (Shape::Nested, b'{' | b'[') => self.depth += 1,
                (Shape::Nested, b'}' | b']') => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return true;
                    }
                }
                _ => {}
            }
        }
        if self.shape == Shape::Word {
            // A word is taken as sent, unless it may still become the quit word.
            let word = buf.trim_ascii();
            return !(word.len() < QUIT_WORD.len() && QUIT_WORD.as_bytes().starts_with(word));
        }
        false
    }
}

impl Default for LegacyCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder for LegacyCodec {
    type Item = Decoded;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Decoded>, Self::Error> {
        if self.done {
            src.clear();
            return Ok(None);
        }
        if src.len() > self.max {
            self.done = true;
            return Ok(Some(Decoded::Close("request over the size limit")));
        }
        if !self.complete(src) {
            return Ok(None);
        }
        self.done = true;
        Ok(Some(Decoded::Request(src.split().freeze())))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Decoded>, Self::Error> {
        if let Some(item) = self.decode(src)? {
            return Ok(Some(item));
        }
        if self.done || src.trim_ascii().is_empty() {
            // The client closed without sending: no reply.
            return Ok(None);
        }
        self.done = true;
        Ok(Some(Decoded::Request(src.split().freeze())))
    }
}

impl Encoder<Reply> for LegacyCodec {
    type Error = std::io::Error;

    fn encode(&mut self, reply: Reply, dst: &mut BytesMut) -> Result<(), Self::Error> {
        dst.reserve(reply.pieces().iter().map(|p| p.len()).sum());
        for piece in reply.pieces() {
            dst.put_slice(piece);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn feed(parts: &[&str]) -> Vec<Option<Decoded>> {
        let mut codec = LegacyCodec::new();
        let mut buf = BytesMut::new();
        parts
            .iter()
            .map(|part| {
                buf.extend_from_slice(part.as_bytes());
                codec.decode(&mut buf).ok().flatten()
            })
            .collect()
    }

    fn request(s: &str) -> Option<Decoded> {
        Some(Decoded::Request(Bytes::from(s.to_owned())))
    }

    #[test]
    fn json_split_across_segments() {
        assert_eq!(
            feed(&[
                "{\"load_density\": [[\"LD_",
                "summary\", {\"a\": \"]}\"}]",
                "]}"
            ]),
            vec![
                None,
                None,
                request("{\"load_density\": [[\"LD_summary\", {\"a\": \"]}\"}]]}")
            ]
        );
    }

    #[test]
    fn escaped_quotes_do_not_end_strings() {
        assert_eq!(
            feed(&[r#"["a\"]"#, "\"]"]),
            vec![None, request(r#"["a\"]"]"#)]
        );
    }

    #[test]
    fn quit_word_split_waits_then_completes() {
        assert_eq!(
            feed(&["  quit_", "server"]),
            vec![None, request("  quit_server")]
        );
    }

    #[test]
    fn garbage_is_taken_as_sent() {
        assert_eq!(feed(&["not json"]), vec![request("not json")]);
    }

    #[test]
    fn end_of_stream_delivers_the_incomplete_rest() {
        let mut codec = LegacyCodec::new();
        let mut buf = BytesMut::from("{\"a\": ");
        assert_eq!(codec.decode(&mut buf).ok(), Some(None));
        assert_eq!(codec.decode_eof(&mut buf).ok(), Some(request("{\"a\": ")));
        let mut codec = LegacyCodec::new();
        let mut buf = BytesMut::from(" \n");
        assert_eq!(codec.decode_eof(&mut buf).ok(), Some(None));
    }

    #[test]
    fn over_the_cap_closes() {
        let mut codec = LegacyCodec::with_max(8);
        let mut buf = BytesMut::from("[1,2,3,4,5");
        assert!(matches!(
            codec.decode(&mut buf),
            Ok(Some(Decoded::Close(_)))
        ));
    }
}
