//! [`FramedCodec`]: 4-byte big-endian length, then the body.

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::Decoded;
use crate::protocol::{Reply, MAX_REQUEST_BYTES};

/// Length-prefixed frames: a declared length of 0 or above the maximum
/// closes the connection before any body byte is read or any buffer of that
/// size allocated.
#[derive(Clone, Debug)]
pub struct FramedCodec {
    /// The largest body accepted.
    max: usize,
    /// The body length being waited for, once its header was read.
    body: Option<usize>,
}

impl FramedCodec {
    /// A codec accepting bodies of up to 1 MiB.
    pub fn new() -> Self {
        Self::with_max(MAX_REQUEST_BYTES)
    }

    /// A codec accepting bodies of up to `max` bytes.
    pub fn with_max(max: usize) -> Self {
        FramedCodec { max, body: None }
    }
}

impl Default for FramedCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder for FramedCodec {
    type Item = Decoded;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Decoded>, Self::Error> {
        let len = match self.body {
            Some(len) => len,
            None => {
                let Some(header) = src.first_chunk::<4>() else {
                    return Ok(None);
                };
                let len = u32::from_be_bytes(*header) as usize;
                if len == 0 {
                    return Ok(Some(Decoded::Close("zero-length frame")));
                }
                if len > self.max {
                    return Ok(Some(Decoded::Close("frame over the size limit")));
                }
                src.advance(4);
                self.body = Some(len);
                len
            }
        };
        if src.len() < len {
            return Ok(None);
        }
        self.body = None;
        Ok(Some(Decoded::Request(src.split_to(len).freeze())))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Decoded>, Self::Error> {
        // A frame cut short by the end of the stream is the end of the stream.
        self.decode(src)
    }
}

impl Encoder<Reply> for FramedCodec {
    type Error = std::io::Error;

    fn encode(&mut self, reply: Reply, dst: &mut BytesMut) -> Result<(), Self::Error> {
        let size: usize = reply.pieces().iter().map(|p| p.len() + 4).sum();
        dst.reserve(size);
        for piece in reply.pieces() {
            let len = u32::try_from(piece.len()).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "reply piece over 4 GiB")
            })?;
            dst.put_u32(len);
            dst.put_slice(piece);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn splits_frames_across_reads() {
        let mut codec = FramedCodec::new();
        let mut buf = BytesMut::from(&b"\x00\x00"[..]);
        assert_eq!(codec.decode(&mut buf).ok(), Some(None));
        buf.extend_from_slice(b"\x00\x03ab");
        assert_eq!(codec.decode(&mut buf).ok(), Some(None));
        buf.extend_from_slice(b"c\x00\x00\x00\x01x");
        assert_eq!(
            codec.decode(&mut buf).ok(),
            Some(Some(Decoded::Request(Bytes::from("abc"))))
        );
        assert_eq!(
            codec.decode(&mut buf).ok(),
            Some(Some(Decoded::Request(Bytes::from("x"))))
        );
    }

    #[test]
    fn zero_and_huge_lengths_close_without_allocating() {
        let mut codec = FramedCodec::new();
        let mut buf = BytesMut::from(&b"\x00\x00\x00\x00"[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Ok(Some(Decoded::Close(_)))
        ));
        let mut buf = BytesMut::from(&b"\xff\xff\xff\xff"[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Ok(Some(Decoded::Close(_)))
        ));
        assert!(buf.capacity() < 1024);
        let mut buf = BytesMut::from(&b"\x00\x10\x00\x01"[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Ok(Some(Decoded::Close(_)))
        ));
    }

    #[test]
    fn truncated_frame_at_eof_is_end_of_stream() {
        let mut codec = FramedCodec::new();
        let mut buf = BytesMut::from(&b"\x00\x00\x00\x09abc"[..]);
        assert_eq!(codec.decode_eof(&mut buf).ok(), Some(None));
    }

    #[test]
    fn encodes_each_piece_as_a_frame() {
        let mut codec = FramedCodec::new();
        let mut dst = BytesMut::new();
        codec.encode(Reply::error("x"), &mut dst).expect("encodes");
        assert_eq!(
            &dst[..],
            b"\x00\x00\x00\x09Error: x\n\x00\x00\x00\x14Return_Data_Over_JE\n"
        );
    }
}
