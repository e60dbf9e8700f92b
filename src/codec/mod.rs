//! The two framings of the control socket, as tokio-util codecs.
//!
//! Both decode into [`Decoded`] and encode a [`Reply`](crate::protocol::Reply).
//! A client's mistake (a zero or oversized length, a request over the cap)
//! is an item ([`Decoded::Close`]), never a decoder error: tokio-tower drops
//! the replies still in flight on an error. A request cut short by the end of
//! the stream is the end of the stream.

mod framed;
mod legacy;
mod prefix;

pub use framed::FramedCodec;
pub use legacy::LegacyCodec;

use bytes::Bytes;

/// How requests and replies are delimited on a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Framing {
    /// Raw bytes: one request per connection, read until it is complete;
    /// replies unframed, then the connection closes.
    #[default]
    Legacy,
    /// 4-byte big-endian length prefix in both directions; several requests
    /// per connection.
    Framed,
}

/// What a decoder yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// One complete request body.
    Request(Bytes),
    /// The client broke the framing: close the connection without a reply.
    Close(&'static str),
}
