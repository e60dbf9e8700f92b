//! [`PostUrl`]: an `http://` or `https://` URL a sink POSTs its bodies to,
//! and [`Poster`], one POST per flush on a new connection made on the
//! engine's dial (the target policy checked on each, `--connect-to`
//! applied, rustls with the agent's roots for `https`), within a timeout;
//! a failure is logged once a minute at most and the body dropped. Shared
//! by the InfluxDB sink's HTTP transport and the OTLP exporter.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::HeaderValue;
use http_body_util::Full;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

use super::flush::RateLimited;
use crate::engine::dial::{self, Endpoint, Stream};
use crate::engine::{Descriptors, Network};

/// A URL POSTed to, its `Authorization` and timeout.
pub struct PostUrl {
    endpoint: Endpoint,
    /// The path and query POSTed to.
    path: String,
    /// The `Host` header.
    authority: String,
    /// Marked sensitive; never shown.
    authorization: Option<HeaderValue>,
    timeout: Duration,
    /// Who answers, for errors (`InfluxDB`, `the OTLP collector`).
    peer: &'static str,
}

/// The authorization is never shown.
impl fmt::Debug for PostUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostUrl({})", self.shown())
    }
}

impl PostUrl {
    /// `url` (http:// or https://, no user or password in it: `what` names
    /// it in the errors), each POST within `timeout`, answered by `peer`.
    pub fn new(
        url: &str,
        what: &str,
        peer: &'static str,
        timeout: Duration,
    ) -> Result<PostUrl, String> {
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(format!("the {what} must use http:// or https://"));
        }
        let (endpoint, parsed) = dial::Endpoint::of_url(url, "http", "https")?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(format!("the {what} must not carry a user or password"));
        }
        let mut path = parsed.path().to_owned();
        if let Some(query) = parsed.query() {
            path.push('?');
            path.push_str(query);
        }
        let authority = match parsed.port() {
            Some(port) => format!("{}:{port}", endpoint.host),
            None => endpoint.host.clone(),
        };
        Ok(PostUrl {
            endpoint,
            path,
            authority,
            authorization: None,
            timeout,
            peer,
        })
    }

    /// Sends `value` as `Authorization` (marked sensitive, never shown).
    pub fn with_authorization(mut self, mut value: HeaderValue) -> PostUrl {
        value.set_sensitive(true);
        self.authorization = Some(value);
        self
    }

    /// The path POSTed to, its query included.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The host and port connected to.
    pub fn host_port(&self) -> (&str, u16) {
        (&self.endpoint.host, self.endpoint.port)
    }

    /// Where it posts, without the query: what a start action answers.
    pub fn shown(&self) -> String {
        let scheme = if self.endpoint.secure {
            "https"
        } else {
            "http"
        };
        let path = self.path.split('?').next().unwrap_or("");
        format!("{scheme}://{}{path}", self.authority)
    }

    /// One POST of `body` as `content_type`, within the timeout: the error
    /// says why not.
    async fn post(
        &self,
        network: &Network,
        connections: &Arc<Descriptors>,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> Result<(), String> {
        let exchange = async {
            let (host, port) = self.host_port();
            let tcp = dial::tcp(network, connections, host, port).await?;
            let io = if self.endpoint.secure {
                Stream::Tls(Box::new(dial::tls(&network.tls, host, tcp).await?))
            } else {
                Stream::Plain(tcp)
            };
            let (mut sender, connection) = http1::handshake(TokioIo::new(io))
                .await
                .map_err(|e| format!("HTTP handshake failed: {e}"))?;
            // Driven here, so the connection closes when the exchange ends
            // or gives up: never one open while the next POST is made.
            let mut connection = std::pin::pin!(connection);
            let mut request = http::Request::post(self.path.as_str())
                .header(HOST, self.authority.as_str())
                .header(CONTENT_TYPE, content_type);
            if let Some(authorization) = &self.authorization {
                request = request.header(AUTHORIZATION, authorization.clone());
            }
            let request = request
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| format!("cannot make the request: {e}"))?;
            let response = tokio::select! {
                response = sender.send_request(request) => {
                    response.map_err(|e| format!("POST failed: {e}"))?
                }
                closed = &mut connection => {
                    return Err(match closed {
                        Ok(()) => "the connection closed before an answer".to_owned(),
                        Err(e) => format!("the connection failed: {e}"),
                    });
                }
            };
            if response.status().is_success() {
                Ok(())
            } else {
                Err(format!("{} answered {}", self.peer, response.status()))
            }
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("no answer within {:?}", self.timeout))?
    }
}

/// A [`PostUrl`] with what its POSTs need: the network, its own
/// connections (one at a time), and its rate-limited log.
#[derive(Debug)]
pub(super) struct Poster {
    url: Box<PostUrl>,
    network: Arc<Network>,
    connections: Arc<Descriptors>,
    logged: RateLimited,
    /// The sink's name, for the log (`InfluxDB sink`).
    what: &'static str,
}

impl Poster {
    /// POSTs to `url` over `network`; `what` names the sink in the log.
    pub(super) fn new(url: PostUrl, network: Arc<Network>, what: &'static str) -> Poster {
        Poster {
            url: Box::new(url),
            network,
            connections: Arc::default(),
            logged: RateLimited::default(),
            what,
        }
    }

    /// One POST of `body`; a failure is logged once a minute at most (the
    /// authorization never) and the body dropped.
    pub(super) async fn send(&mut self, content_type: &'static str, body: Vec<u8>) {
        let sent = self
            .url
            .post(&self.network, &self.connections, content_type, body)
            .await;
        if let Err(error) = sent {
            if self.logged.ready() {
                tracing::warn!(
                    url = %self.url.shown(),
                    %error,
                    "{}: write failed, its points dropped",
                    self.what
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_http_or_https_without_credentials() {
        let ok = |url: &str| PostUrl::new(url, "url", "it", Duration::from_secs(1));
        assert!(ok("file:///x").is_err_and(|e| e.contains("http://")));
        assert!(ok("ftp://h/x").is_err());
        assert!(ok("http://u:p@h/x").is_err_and(|e| e.contains("user")));
        let url = ok("https://h:8086/a/b?c=d")
            .map(|u| u.with_authorization(HeaderValue::from_static("Token s3cr3t")));
        assert_eq!(
            url.as_ref().map(PostUrl::shown),
            Ok("https://h:8086/a/b".to_owned())
        );
        assert_eq!(url.as_ref().map(PostUrl::path), Ok("/a/b?c=d"));
        assert_eq!(url.as_ref().map(PostUrl::host_port), Ok(("h", 8086)));
        let debug = format!("{url:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
    }
}
