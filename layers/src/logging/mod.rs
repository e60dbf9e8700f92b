//! One `tracing` span and one event per request, telling who asked, what,
//! how it went and how long it took: nothing else.
//!
//! The request describes itself through [`Loggable`] and the response through
//! [`Outcome`]. [`LogLayer`] wraps a service in [`Log`], which for each request
//! opens a span
//!
//! ```text
//! request{peer=<address or empty> what=<Loggable::what> outcome=<..> latency_us=<..>}
//! ```
//!
//! enters it while calling the inner service and while polling its future
//! (so whatever the inner service logs lands in it), and when the future
//! completes records `outcome` ([`Outcome::outcome`] of the response, or
//! `error: ` followed by the error) and `latency_us` (from the call to the
//! completion), then emits the event `request served`: at `INFO` on success,
//! at `WARN` on error.
//!
//! Put the layer outermost, so it sees the rejections of the layers below
//! it. A request whose future is dropped before completion (by a timeout
//! around this layer, say) is not logged.
//!
//! # Example
//!
//! ```
//! use std::{borrow::Cow, net::SocketAddr};
//! use ld_tower_layers::{BoxError, LogLayer, Loggable, Outcome};
//! use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
//!
//! struct Ping {
//!     from: SocketAddr,
//!     secret: String, // never logged: what() leaves it out
//! }
//!
//! impl Loggable for Ping {
//!     fn peer(&self) -> Option<SocketAddr> {
//!         Some(self.from)
//!     }
//!     fn what(&self) -> Cow<'_, str> {
//!         Cow::Borrowed("ping")
//!     }
//! }
//!
//! struct Pong;
//! impl Outcome for Pong {
//!     fn outcome(&self) -> Cow<'_, str> {
//!         Cow::Borrowed("pong")
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! tracing_subscriber::fmt().init();
//! let mut svc = ServiceBuilder::new()
//!     .layer(LogLayer::new())
//!     .service(service_fn(|_: Ping| async { Ok::<_, BoxError>(Pong) }));
//!
//! let ping = Ping { from: "127.0.0.1:4000".parse()?, secret: "s3cret".into() };
//! svc.ready().await?.call(ping).await?;
//! // INFO request{peer=127.0.0.1:4000 what=ping outcome=pong latency_us=12}: request served
//! # Ok(())
//! # }
//! ```

mod escape;
pub mod future;
mod layer;
mod service;

pub use self::escape::Escaped;
pub use self::layer::LogLayer;
pub use self::service::Log;

use std::{borrow::Cow, net::SocketAddr};

/// A request that can describe itself for the log.
pub trait Loggable {
    /// The remote peer, when the transport knows it.
    fn peer(&self) -> Option<SocketAddr>;

    /// What was asked, for the log: e.g. action names, or "GET /path". NEVER a secret.
    fn what(&self) -> Cow<'_, str>;
}

/// A response that can tell how the request went, for the log.
pub trait Outcome {
    /// How the request went, in a few words: e.g. "ok", or "200 OK".
    fn outcome(&self) -> Cow<'_, str>;
}

/// The peer is the `SocketAddr` extension, if the server put one in (none by
/// default); what was asked is `"{METHOD} {path}"`, never with the query
/// string, which may hold secrets.
#[cfg(feature = "http")]
impl<B> Loggable for http::Request<B> {
    fn peer(&self) -> Option<SocketAddr> {
        self.extensions().get::<SocketAddr>().copied()
    }

    fn what(&self) -> Cow<'_, str> {
        Cow::Owned(format!("{} {}", self.method(), self.uri().path()))
    }
}

/// The status, e.g. `200 OK`.
#[cfg(feature = "http")]
impl<B> Outcome for http::Response<B> {
    fn outcome(&self) -> Cow<'_, str> {
        Cow::Owned(self.status().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{received, settle};
    use crate::BoxError;
    use std::{
        io,
        sync::{Arc, Mutex},
        time::Duration,
    };
    use tower::{Service, ServiceBuilder, ServiceExt};
    use tower_test::mock;
    use tracing_subscriber::fmt::MakeWriter;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        fn text(&self) -> String {
            let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    /// A request carrying a token that `what()` leaves out.
    #[derive(Debug, PartialEq)]
    struct Req {
        token: &'static str,
        action: &'static str,
    }

    const TOKEN: &str = "tok-9f8e7d6c5b4a";

    impl Loggable for Req {
        fn peer(&self) -> Option<SocketAddr> {
            "10.1.2.3:4567".parse().ok()
        }
        fn what(&self) -> Cow<'_, str> {
            Cow::Borrowed(self.action)
        }
    }

    #[derive(Debug, PartialEq)]
    struct Resp(&'static str);

    impl Outcome for Resp {
        fn outcome(&self) -> Cow<'_, str> {
            Cow::Borrowed(self.0)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn logs_peer_what_outcome_and_latency() -> Result<(), BoxError> {
        let (captured, _guard) = capture();
        let (mut svc, mut handle) = mock::spawn_layer::<Req, Resp, _>(LogLayer::new());
        handle.allow(1);
        assert!(svc.poll_ready().is_ready());
        let fut = svc.call(Req {
            token: TOKEN,
            action: "start,stop",
        });
        let (req, send) = received(&mut handle)?;
        assert_eq!(req.token, TOKEN);
        tokio::time::advance(Duration::from_micros(1500)).await;
        send.send_response(Resp("ok"));
        assert_eq!(settle(fut).await??, Resp("ok"));

        let text = captured.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line = lines[0];
        assert!(line.contains(" INFO "), "{line}");
        assert!(
            line.contains(
                "request{peer=10.1.2.3:4567 what=start,stop outcome=ok latency_us=1500}: "
            ),
            "{line}"
        );
        assert!(line.ends_with("request served"), "{line}");
        assert!(!text.contains(TOKEN), "token leaked: {text}");
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn logs_errors_as_warnings() -> Result<(), BoxError> {
        let (captured, _guard) = capture();
        let (mut svc, mut handle) = mock::spawn_layer::<Req, Resp, _>(LogLayer::new());
        handle.allow(1);
        assert!(svc.poll_ready().is_ready());
        let fut = svc.call(Req {
            token: TOKEN,
            action: "stop",
        });
        let (_, send) = received(&mut handle)?;
        tokio::time::advance(Duration::from_millis(2)).await;
        send.send_error("it broke");
        let err = settle(fut).await?.err().ok_or("error lost")?;
        assert_eq!(err.to_string(), "it broke");

        let text = captured.text();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains(" WARN "), "{text}");
        assert!(
            text.contains("what=stop outcome=error: it broke latency_us=2000}"),
            "{text}"
        );
        assert!(!text.contains(TOKEN), "token leaked: {text}");
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_request_is_logged_as_cancelled() -> Result<(), BoxError> {
        let (captured, _guard) = capture();
        let (mut svc, mut handle) = mock::spawn_layer::<Req, Resp, _>(LogLayer::new());
        handle.allow(1);
        assert!(svc.poll_ready().is_ready());
        let fut = svc.call(Req {
            token: TOKEN,
            action: "wait",
        });
        let _request = received(&mut handle)?;
        tokio::time::advance(Duration::from_millis(3)).await;
        drop(fut);

        let text = captured.text();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains(" WARN "), "{text}");
        assert!(
            text.contains("what=wait outcome=cancelled latency_us=3000}"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("request cancelled"), "{text}");
        Ok(())
    }

    #[tokio::test]
    async fn inner_logs_land_in_the_span() -> Result<(), BoxError> {
        let (captured, _guard) = capture();
        let mut svc = ServiceBuilder::new()
            .layer(LogLayer::new())
            .service_fn(|req: Req| {
                tracing::info!("calling");
                async move {
                    tracing::info!("polling");
                    tokio::task::yield_now().await;
                    tracing::info!("polled again");
                    Ok::<_, BoxError>(Resp(req.action))
                }
            });
        let resp = svc
            .ready()
            .await?
            .call(Req {
                token: TOKEN,
                action: "status",
            })
            .await?;
        assert_eq!(resp, Resp("status"));
        let text = captured.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        for (line, message) in
            lines
                .iter()
                .zip(["calling", "polling", "polled again", "request served"])
        {
            assert!(
                line.contains("request{peer=10.1.2.3:4567 what=status"),
                "{line}"
            );
            assert!(line.ends_with(message), "{line}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn forwards_readiness() {
        crate::test_support::forwards_readiness::<_, Req, Resp>(LogLayer::new());
    }

    #[tokio::test]
    async fn logs_rejections_of_inner_layers_which_still_downcast() -> Result<(), BoxError> {
        let (captured, _guard) = capture();
        let mut svc = ServiceBuilder::new()
            .layer(LogLayer::new())
            .layer(crate::SizeLimitLayer::new(3))
            .service_fn(|req: String| async move {
                Ok::<_, BoxError>(Resp(if req.is_empty() { "empty" } else { "full" }))
            });
        let err = svc.ready().await?.call("abcd".to_owned()).await.err();
        let err = err.ok_or("accepted 4 > 3")?;
        assert!(err
            .downcast_ref::<crate::size_limit::error::TooLarge>()
            .is_some());
        let text = captured.text();
        assert!(
            text.contains(
                "request{peer= what=4 bytes outcome=error: request of 4 bytes is over the limit of 3 bytes"
            ),
            "{text}"
        );
        Ok(())
    }

    impl Loggable for String {
        fn peer(&self) -> Option<SocketAddr> {
            None
        }
        fn what(&self) -> Cow<'_, str> {
            Cow::Owned(format!("{} bytes", self.len()))
        }
    }

    #[test]
    fn layer_and_service_basics() {
        let layer = LogLayer::default();
        assert_eq!(format!("{layer:?}"), "LogLayer");
        let mut svc = Log::new(3u8);
        assert_eq!(*svc.get_ref(), 3);
        *svc.get_mut() = 4;
        assert_eq!(svc.into_inner(), 4);
    }

    #[cfg(feature = "http")]
    #[test]
    fn http_request_and_response() -> Result<(), BoxError> {
        let mut req = http::Request::builder()
            .method(http::Method::POST)
            .uri("https://example.invalid/api/run?token=hunter2&x=1")
            .body(())?;
        assert_eq!(req.what(), "POST /api/run");
        assert_eq!(req.peer(), None);
        let peer: SocketAddr = "[::1]:8080".parse()?;
        req.extensions_mut().insert(peer);
        assert_eq!(req.peer(), Some(peer));

        let resp = http::Response::builder()
            .status(http::StatusCode::NOT_FOUND)
            .body(())?;
        assert_eq!(resp.outcome(), "404 Not Found");
        Ok(())
    }

    #[cfg(feature = "http")]
    #[tokio::test]
    async fn logs_an_http_service_without_the_query() -> Result<(), BoxError> {
        let (captured, _guard) = capture();
        let mut svc = ServiceBuilder::new().layer(LogLayer::new()).service_fn(
            |_: http::Request<()>| async move { Ok::<_, BoxError>(http::Response::new(())) },
        );
        let req = http::Request::builder()
            .uri("/status?token=hunter2")
            .body(())?;
        svc.ready().await?.call(req).await?;
        let text = captured.text();
        assert!(
            text.contains("request{peer= what=GET /status outcome=200 OK latency_us="),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
        Ok(())
    }
}
