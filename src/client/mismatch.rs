//! What a client can tell from bytes that make no sense in the framing or
//! transport it speaks: the server speaks another one, and which flag the
//! user most likely forgot.

use std::io;

use tokio_rustls::rustls;

/// The server at the other end speaks another framing or transport than
/// the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// A framed client read text where a length should be: the server
    /// answers in the legacy (unframed) protocol.
    LegacyServer,
    /// A legacy client got no byte back for its request: a framed server
    /// reads the request's first 4 bytes as a length over 1 MiB and closes
    /// without a reply.
    FramedServer,
    /// A plain client read a TLS record: the server speaks TLS.
    TlsServer,
    /// A TLS client read something that is no TLS record, or the server
    /// closed during the handshake: the server does not speak TLS.
    PlainServer,
}

impl Mismatch {
    /// What to tell the user about the server at `addr`.
    pub fn explain(self, addr: &str) -> String {
        match self {
            Mismatch::LegacyServer => format!(
                "the server at {addr} answered in the legacy (unframed) protocol: drop --framed"
            ),
            Mismatch::FramedServer => format!(
                "the server at {addr} closed the connection without a reply, as a framed server \
                 (serve --framed) does with an unframed request: pass --framed"
            ),
            Mismatch::TlsServer => format!(
                "the server at {addr} speaks TLS: pass --tls-ca CA.pem (the CA that signed its \
                 certificate)"
            ),
            Mismatch::PlainServer => {
                format!("the server at {addr} does not speak TLS: drop --tls-ca")
            }
        }
    }
}

/// Whether `header`, read where a frame's 4-byte length should be, is
/// text (`Erro`, `{"st`, `Retu`): a legacy server's reply.
pub(crate) fn is_text(header: &[u8; 4]) -> bool {
    header
        .iter()
        .all(|b| b.is_ascii_graphic() || *b == b' ' || *b == b'\n')
}

/// Whether `bytes` begin with a TLS record header: an alert (0x15) or a
/// handshake (0x16), then a major version of 3.
pub(crate) fn is_tls_record(bytes: &[u8]) -> bool {
    matches!(bytes, [0x15 | 0x16, 0x03, ..])
}

/// Whether a TLS handshake's error says the server does not speak TLS: it
/// sent bytes that are no TLS record (a legacy server's `Error: ...`), or
/// closed the connection before the handshake ended (a framed server reads
/// the hello's first bytes as a length over its limit).
pub(crate) fn is_plain_server(error: &io::Error) -> bool {
    if error.kind() == io::ErrorKind::UnexpectedEof {
        return true;
    }
    matches!(
        error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        Some(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType
        ))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_tls_records_are_told_apart_from_lengths() {
        assert!(is_text(b"Erro"));
        assert!(is_text(b"{\"st"));
        assert!(!is_text(&[0, 0, 0, 20]));
        assert!(!is_text(&[0x15, 0x03, 0x03, 0x00]));
        assert!(is_tls_record(&[0x15, 0x03, 0x03, 0x00, 0x02]));
        assert!(is_tls_record(&[0x16, 0x03, 0x01]));
        assert!(!is_tls_record(b"Error: x"));
        assert!(!is_tls_record(&[0x15]));
    }

    #[test]
    fn a_corrupt_record_or_an_early_end_means_a_plain_server() {
        let corrupt = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
        );
        assert!(is_plain_server(&corrupt));
        assert!(is_plain_server(&io::Error::from(
            io::ErrorKind::UnexpectedEof
        )));
        let untrusted = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert!(!is_plain_server(&untrusted));
    }
}
