//! [`PlainAcceptor`]: the TCP stream as it is.

use std::io;

use tokio::net::TcpStream;

use super::Acceptor;

/// Serves plain TCP.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainAcceptor;

impl Acceptor for PlainAcceptor {
    type Io = TcpStream;

    const SHUTDOWN_AFTER_CLIENT_CLOSE: bool = false;

    async fn accept(&self, tcp: TcpStream) -> io::Result<TcpStream> {
        Ok(tcp)
    }
}
