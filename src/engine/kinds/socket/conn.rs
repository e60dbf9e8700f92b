//! What a socket user keeps between steps: its open sockets, one per
//! transport, target and TLS configuration (at most [`MAX_KEPT`], the
//! least recently used closed first), and one read buffer.

use std::sync::Arc;

use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::client::TlsStream;

use super::task::{Address, SocketTask, Transport};
use crate::engine::dial::{self, Held};
use crate::engine::network::Network;
use crate::engine::Descriptors;

/// The most sockets a user keeps open at once: a target rendered from
/// data (`${csv...}`) could otherwise open one per row.
pub(crate) const MAX_KEPT: usize = 16;

/// Which socket a step uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    /// TCP or UDP.
    pub(crate) transport: Transport,
    /// Where to.
    pub(crate) address: Address,
    /// TLS: which configuration, and the server name.
    pub(crate) tls: Option<(usize, String)>,
}

impl Key {
    /// The key of `task` going to `address`.
    pub(crate) fn of(task: &SocketTask, address: Address) -> Key {
        Key {
            transport: task.transport,
            tls: task.tls.as_ref().map(|tls| {
                let name = tls.server_name.as_deref().unwrap_or(&address.host);
                (tls.id, name.to_owned())
            }),
            address,
        }
    }
}

/// An open socket.
#[derive(Debug)]
pub(crate) enum Socket {
    /// A TCP connection.
    Tcp(Held<TcpStream>),
    /// TLS over TCP (boxed: its buffers are large).
    Tls(Box<Held<TlsStream<TcpStream>>>),
    /// A connected UDP socket.
    Udp(Held<UdpSocket>),
}

/// A socket user's connection state.
#[derive(Debug)]
pub(crate) struct Sockets {
    network: Arc<Network>,
    connections: Arc<Descriptors>,
    /// Open sockets, the most recently used last.
    open: Vec<(Key, Socket)>,
    /// Where replies are read into, made on the first read.
    buffer: Vec<u8>,
}

impl Sockets {
    /// No socket open yet.
    pub(crate) fn new(network: Arc<Network>, connections: Arc<Descriptors>) -> Sockets {
        Sockets {
            network,
            connections,
            open: Vec::new(),
            buffer: Vec::new(),
        }
    }

    /// The socket for `key`, opened if none is (TLS with `task`'s
    /// configuration), and the user's read buffer; the error says why the
    /// socket could not be opened.
    pub(crate) async fn socket(
        &mut self,
        key: &Key,
        task: &SocketTask,
    ) -> Result<(&mut Socket, &mut Vec<u8>), String> {
        match self.open.iter().position(|(k, _)| k == key) {
            Some(at) => {
                let kept = self.open.remove(at);
                self.open.push(kept);
            }
            None => {
                let socket = self.dial(key, task).await?;
                if self.open.len() >= MAX_KEPT {
                    self.open.remove(0);
                }
                self.open.push((key.clone(), socket));
            }
        }
        let Sockets { open, buffer, .. } = self;
        match open.last_mut() {
            Some((_, socket)) => Ok((socket, buffer)),
            None => Err("no socket".into()),
        }
    }

    async fn dial(&self, key: &Key, task: &SocketTask) -> Result<Socket, String> {
        let Address { host, port } = &key.address;
        let network = &self.network;
        match (
            key.transport,
            &key.tls,
            task.tls.as_ref().and_then(|t| t.config.as_ref()),
        ) {
            (Transport::Udp, _, _) => dial::udp(network, &self.connections, host, *port)
                .await
                .map(Socket::Udp),
            (Transport::Tcp, Some((_, name)), Some(config)) => {
                let tcp = dial::tcp(network, &self.connections, host, *port).await?;
                dial::tls(config, name, tcp)
                    .await
                    .map(|tls| Socket::Tls(Box::new(tls)))
            }
            (Transport::Tcp, Some(_), None) => Err("TLS was not prepared for this step".into()),
            (Transport::Tcp, None, _) => dial::tcp(network, &self.connections, host, *port)
                .await
                .map(Socket::Tcp),
        }
    }

    /// Closes the socket of `key`, if one is open: after a failure, a
    /// timeout, or the server's close, the next step opens a new one.
    pub(crate) fn forget(&mut self, key: &Key) {
        self.open.retain(|(k, _)| k != key);
    }
}
