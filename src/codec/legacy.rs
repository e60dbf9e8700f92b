//! [`LegacyCodec`]: raw bytes, read until the request is complete.

use bytes::{BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::prefix::{RequestPrefix, Verdict};
use super::Decoded;
use crate::protocol::{Reply, MAX_REQUEST_BYTES};

/// One raw request per connection, taken as soon as the buffer holds a
/// complete request (the literal `quit_server` or one complete JSON value,
/// with whatever followed it in the same read), or bytes that can no
/// longer become one (`{bad`, `]`: answered at once, as the original
/// answered its single read); a valid prefix waits for more, until the
/// client's end of stream or the read timeout ([`Decoder::decode_eof`],
/// which the transport also calls then), which take it as it is.
///
/// The check is incremental (`RequestPrefix`): each byte is looked at
/// once, so a request trickled in byte by byte costs linear time, not
/// quadratic.
#[derive(Clone, Debug)]
pub struct LegacyCodec {
    /// The largest request accepted.
    max: usize,
    /// What the bytes read so far are.
    prefix: RequestPrefix,
    /// The one request was delivered.
    done: bool,
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
            prefix: RequestPrefix::default(),
            done: false,
        }
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
            // Whitespace after a request within the limit is no part of it
            // (parsing ignores it): the request is taken without it, as it
            // is when the whitespace comes in a later read.
            let content = src.trim_ascii_end().len();
            if content <= self.max {
                if let Verdict::Complete | Verdict::Invalid = self.prefix.feed(&src[..content]) {
                    self.done = true;
                    let request = src.split_to(content).freeze();
                    src.clear();
                    return Ok(Some(Decoded::Request(request)));
                }
            }
            self.done = true;
            return Ok(Some(Decoded::Close("request over the size limit")));
        }
        match self.prefix.feed(src) {
            Verdict::Incomplete => Ok(None),
            Verdict::Complete | Verdict::Invalid => {
                self.done = true;
                Ok(Some(Decoded::Request(src.split().freeze())))
            }
        }
    }

    /// At the end of the stream, or the read timeout: what was read of an
    /// incomplete request is taken as it is (and answered with its parse
    /// error); whitespace alone is nothing to answer.
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Decoded>, Self::Error> {
        if let Some(item) = self.decode(src)? {
            return Ok(Some(item));
        }
        if self.done || self.prefix.is_blank() {
            // The client sent nothing: no reply.
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
    fn whitespace_after_a_request_at_the_limit_is_dropped_not_refused() {
        let body = r#"{"load_density": []}"#;
        let mut codec = LegacyCodec::with_max(body.len());
        let mut buf = BytesMut::from(format!("{body}\r\n").as_str());
        assert_eq!(codec.decode(&mut buf).ok().flatten(), request(body));
        // Anything else past the limit is refused.
        let mut codec = LegacyCodec::with_max(body.len());
        let mut buf = BytesMut::from(format!("{body}x").as_str());
        assert_eq!(
            codec.decode(&mut buf).ok().flatten(),
            Some(Decoded::Close("request over the size limit"))
        );
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
    fn bytes_that_cannot_become_json_are_taken_at_once() {
        assert_eq!(feed(&["{bad"]), vec![request("{bad")]);
        assert_eq!(feed(&["]"]), vec![request("]")]);
        assert_eq!(feed(&["{\"a\":1}}"]), vec![request("{\"a\":1}}")]);
        assert_eq!(
            feed(&["[1, ", "2", "x"]),
            vec![None, None, request("[1, 2x")]
        );
        assert_eq!(feed(&["quit_", "serva"]), vec![None, request("quit_serva")]);
        assert_eq!(
            feed(&["{\"}\": \"{[", "]\"}"]),
            vec![None, request("{\"}\": \"{[]\"}")]
        );
    }

    #[test]
    fn whitespace_waits_and_ends_in_nothing() {
        let mut codec = LegacyCodec::new();
        let mut buf = BytesMut::from(" \r\n\t");
        assert_eq!(codec.decode(&mut buf).ok(), Some(None));
        assert_eq!(codec.decode_eof(&mut buf).ok(), Some(None));
    }

    #[test]
    fn a_split_multi_byte_character_waits() {
        let doc = "[[\"LD_summary\", {\"x\": \"\u{e9}\u{1f600}\"}]]".as_bytes();
        let mut codec = LegacyCodec::new();
        let mut buf = BytesMut::new();
        for (i, byte) in doc.iter().enumerate() {
            buf.extend_from_slice(&[*byte]);
            let got = codec.decode(&mut buf).ok().flatten();
            if i + 1 < doc.len() {
                assert_eq!(got, None, "byte {i}");
            } else {
                assert_eq!(got, Some(Decoded::Request(Bytes::copy_from_slice(doc))));
            }
        }
    }

    /// Measures a 60 MiB request arriving in 4 KiB reads (run with
    /// `cargo test --release --lib -- --ignored --nocapture sixty`): the
    /// time is linear in the size, each read costing only its new bytes.
    #[test]
    #[ignore = "a measurement"]
    fn sixty_mib_in_small_reads() {
        let item = r#"{"name": "caf\u00e9 é {[", "response_time_ms": 12.5, "ok": [true, null]}, "#;
        for mib in [6, 60] {
            let mut doc = String::from("[[\"LD_summary\", [[");
            while doc.len() < mib << 20 {
                doc.push_str(item);
            }
            doc.push_str("{}], []]]]");
            let mut codec = LegacyCodec::with_max(64 << 20);
            let mut buf = BytesMut::new();
            let started = std::time::Instant::now();
            let mut reads = 0;
            let mut got = None;
            for chunk in doc.as_bytes().chunks(4096) {
                buf.extend_from_slice(chunk);
                reads += 1;
                got = codec.decode(&mut buf).ok().flatten();
            }
            let elapsed = started.elapsed();
            assert!(matches!(got, Some(Decoded::Request(ref r)) if r.len() == doc.len()));
            println!("{mib} MiB in {reads} reads of 4 KiB: {elapsed:?}");
        }
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
