//! [`Link`]: how the coordinator talks to one agent: the framed control
//! protocol, the token in an envelope, TLS when the fleet has a CA, each
//! reply bounded in size and parsed into one result per action.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

use super::options::AgentTls;
use crate::client::{Client, ClientConfig, ClientError, ClientTls, Session};
use crate::codec::Framing;
use crate::figures::MAX_FIGURES_DOCUMENT_BYTES;

/// The most bytes a coordinator reads of one agent's reply: a figures
/// document and the lines around it.
pub const MAX_AGENT_REPLY_BYTES: usize = MAX_FIGURES_DOCUMENT_BYTES + 64 * 1024;

/// Why an agent gave no usable reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum LinkError {
    /// It refused the token (or wants one).
    #[error("refused the token ({0})")]
    Refused(String),
    /// No reply: connecting, TLS, the connection, or silence past the limit.
    #[error("{0}")]
    Unreachable(String),
    /// A reply that is not one line per action.
    #[error("bad reply: {0}")]
    BadReply(String),
}

/// One action's result line as the agent gave it (JSON text), or its
/// `Error: ...` text (without `Error: `).
pub(super) type ActionReply = Result<String, String>;

/// A way to one agent.
#[derive(Clone, Debug)]
pub(super) struct Link {
    client: Client,
}

impl Link {
    /// A link to the agent at `addr`, reached by `entry` (its TLS name by
    /// default), with `token` and `tls`.
    pub(super) fn new(
        addr: SocketAddr,
        entry_host: &str,
        token: Option<&str>,
        tls: Option<&AgentTls>,
        connect_timeout: Duration,
    ) -> Result<Link, String> {
        let tls = match tls {
            None => None,
            Some(tls) => {
                let name = tls.server_name.as_deref().unwrap_or(entry_host);
                Some(
                    ClientTls::with_identity(
                        tls.ca.clone(),
                        name,
                        tls.identity
                            .as_ref()
                            .map(|(chain, key)| (chain.clone(), key.clone_key())),
                    )
                    .map_err(|e| format!("agent {addr}: {e}"))?,
                )
            }
        };
        let config = ClientConfig {
            framing: Framing::Framed,
            tls,
            token: token.map(str::to_owned),
            // Each call bounds its own wait.
            timeout: Duration::ZERO,
            connect_timeout,
            max_reply_bytes: MAX_AGENT_REPLY_BYTES,
        };
        Ok(Link {
            client: Client::new(addr.to_string(), config),
        })
    }

    /// The request body for `actions` (a list of `[name, args]`).
    fn body(&self, actions: &Value) -> Result<Vec<u8>, LinkError> {
        self.client
            .body(&actions.to_string())
            .map_err(|e| LinkError::BadReply(e.to_string()))
    }

    /// Opens a connection (to send [`Link::send_on`] later).
    pub(super) async fn open(&self) -> Result<Session, LinkError> {
        self.client.connect().await.map_err(unreachable)
    }

    /// Sends `actions` on `session`; one result per action.
    pub(super) async fn send_on(
        &self,
        session: &mut Session,
        actions: &Value,
    ) -> Result<Vec<ActionReply>, LinkError> {
        let body = self.body(actions)?;
        let response = session.request(&body).await.map_err(unreachable)?;
        let expected = actions.as_array().map_or(0, Vec::len);
        if !response.terminated {
            let line = response.lines.first().cloned().unwrap_or_default();
            return Err(match line.strip_prefix("Error: ") {
                Some(why @ ("unauthorised" | "token required")) => LinkError::Refused(why.into()),
                _ if line.is_empty() => LinkError::Unreachable("closed the connection".into()),
                _ => LinkError::BadReply(line),
            });
        }
        if response.lines.len() != expected {
            return Err(LinkError::BadReply(format!(
                "{} lines for {expected} actions",
                response.lines.len()
            )));
        }
        Ok(response
            .lines
            .into_iter()
            .map(|line| match line.strip_prefix("Error: ") {
                Some(why) => Err(why.to_owned()),
                None => Ok(line),
            })
            .collect())
    }

    /// Sends `actions` on a connection of its own, within `within`.
    pub(super) async fn call(
        &self,
        actions: &Value,
        within: Duration,
    ) -> Result<Vec<ActionReply>, LinkError> {
        let call = async {
            let mut session = self.open().await?;
            self.send_on(&mut session, actions).await
        };
        tokio::time::timeout(within, call).await.map_err(|_| {
            LinkError::Unreachable(format!("no answer within {:.1}s", within.as_secs_f64()))
        })?
    }
}

fn unreachable(e: ClientError) -> LinkError {
    LinkError::Unreachable(e.to_string())
}
