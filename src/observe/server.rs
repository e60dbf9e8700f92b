//! [`HttpListener`]: the observers' HTTP/1.1 server (hyper), hardened as the
//! control socket is: a bounded number of connections, one request per
//! connection, a deadline on the request head and its size, and a deadline
//! on every write, so neither an idle nor a slow reader holds anything for
//! long; it stops when told, when the server shuts down, or when dropped.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;
use tokio_util::sync::CancellationToken;

/// A response body: whole, or streamed (server-sent events).
pub type Body = BoxBody<Bytes, Infallible>;

/// What answers a request.
pub type Handler = Arc<
    dyn Fn(Request<Incoming>) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> + Send + Sync,
>;

/// What one listener may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections open at once; more wait in the listen queue.
    pub max_connections: usize,
    /// How long a client may take to send its request head.
    pub head_timeout: Duration,
    /// The largest request head, in bytes.
    pub max_head_bytes: usize,
    /// How long one write may wait on a client that does not read.
    pub write_timeout: Duration,
}

impl Default for HttpLimits {
    /// 64 connections, 5 s for a head of at most 16 KiB, 10 s per write.
    fn default() -> Self {
        HttpLimits {
            max_connections: 64,
            head_timeout: Duration::from_secs(5),
            max_head_bytes: 16 * 1024,
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// A whole `text`-like response.
pub fn text(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()).boxed());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A listening observer; it stops when dropped.
#[derive(Debug)]
pub struct HttpListener {
    addr: SocketAddr,
    stop: CancellationToken,
}

impl HttpListener {
    /// Listens on `addr` and answers with `handler` until stopped, or until
    /// `shutdown` is cancelled.
    pub async fn bind(
        addr: SocketAddr,
        limits: HttpLimits,
        handler: Handler,
        shutdown: &CancellationToken,
    ) -> std::io::Result<HttpListener> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let stop = shutdown.child_token();
        tokio::spawn(accept(listener, limits, handler, stop.clone()));
        Ok(HttpListener { addr, stop })
    }

    /// The address it listens on (with the port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cancelled when the listener stops: long responses (event streams)
    /// end with it.
    pub fn stopping(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Stops listening and closes every connection.
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for HttpListener {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept(
    listener: TcpListener,
    limits: HttpLimits,
    handler: Handler,
    stop: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let permit = tokio::select! {
            () = stop.cancelled() => return,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let tcp = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                // Out of descriptors and the like: the next accept may work.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let mut io = TimeoutStream::new(tcp);
        io.set_write_timeout(Some(limits.write_timeout));
        let handler = Arc::clone(&handler);
        let stop = stop.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |request| {
                let answer = handler(request);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.head_timeout)
                .max_buf_size(limits.max_head_bytes.max(8192))
                .keep_alive(false)
                .serve_connection(TokioIo::new(Box::pin(io)), service);
            tokio::select! {
                _ = connection => {}
                () = stop.cancelled() => {}
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn hello() -> Handler {
        Arc::new(|_request| Box::pin(async { text(StatusCode::OK, "text/plain", "hello") }))
    }

    async fn get(addr: SocketAddr) -> String {
        let mut tcp = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap_or_else(|e| panic!("write: {e}"));
        let mut reply = String::new();
        tcp.read_to_string(&mut reply)
            .await
            .unwrap_or_else(|e| panic!("read: {e}"));
        reply
    }

    #[tokio::test]
    async fn idle_clients_are_dropped_and_others_served() {
        let limits = HttpLimits {
            max_connections: 2,
            head_timeout: Duration::from_millis(300),
            ..HttpLimits::default()
        };
        let shutdown = CancellationToken::new();
        let listener = HttpListener::bind(([127, 0, 0, 1], 0).into(), limits, hello(), &shutdown)
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr();
        // Two clients take every slot and send nothing.
        let mut idle = Vec::new();
        for _ in 0..2 {
            idle.push(
                tokio::net::TcpStream::connect(addr)
                    .await
                    .unwrap_or_else(|e| panic!("connect: {e}")),
            );
        }
        let reply = tokio::time::timeout(Duration::from_secs(10), get(addr))
            .await
            .unwrap_or_else(|_| panic!("a well-behaved client was not served"));
        assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
        assert!(reply.ends_with("hello"), "{reply}");
        // The idle ones were closed by the head deadline.
        for mut tcp in idle {
            let mut buf = Vec::new();
            let read =
                tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut buf)).await;
            assert!(read.is_ok(), "an idle client was kept");
        }
        listener.stop();
        let refused = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if tokio::net::TcpStream::connect(addr).await.is_err() {
                    return;
                }
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(refused.is_ok(), "still listening after stop");
    }
}
