//! Refuse requests whose size on the wire is over a limit, without ever
//! calling the inner service for them.
//!
//! The request tells its size through [`WireSize`]; [`SizeLimitLayer`] wraps a
//! service in [`SizeLimit`], whose future fails with
//! [`error::TooLarge`] for a request of more than `limit` bytes. A request of
//! exactly `limit` bytes passes.
//!
//! # Example
//!
//! ```
//! use ld_tower_layers::{size_limit::error::TooLarge, BoxError, SizeLimitLayer};
//! use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! let mut svc = ServiceBuilder::new()
//!     .layer(SizeLimitLayer::new(8))
//!     .service(service_fn(|req: Vec<u8>| async move { Ok::<_, BoxError>(req.len()) }));
//!
//! assert_eq!(svc.ready().await?.call(b"12345678".to_vec()).await?, 8);
//!
//! let err = svc
//!     .ready()
//!     .await?
//!     .call(b"123456789".to_vec())
//!     .await
//!     .err()
//!     .ok_or("nine bytes are over a limit of eight")?;
//! let too_large = err.downcast_ref::<TooLarge>().ok_or("not TooLarge")?;
//! assert_eq!((too_large.size(), too_large.limit()), (9, 8));
//! assert_eq!(err.to_string(), "request of 9 bytes is over the limit of 8 bytes");
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod future;
mod layer;
mod service;

pub use self::layer::SizeLimitLayer;
pub use self::service::SizeLimit;

/// A request that knows how many bytes it took (or will take) on the wire.
pub trait WireSize {
    /// The size of the request in bytes, as [`SizeLimit`] compares it with its
    /// limit.
    fn wire_size(&self) -> usize;
}

impl WireSize for bytes::Bytes {
    fn wire_size(&self) -> usize {
        self.len()
    }
}

impl WireSize for Vec<u8> {
    fn wire_size(&self) -> usize {
        self.len()
    }
}

impl WireSize for String {
    fn wire_size(&self) -> usize {
        self.len()
    }
}

/// The value of the `Content-Length` header.
///
/// A request without a `Content-Length` header, or with one that is not a
/// number, counts as 0 bytes: a streamed (chunked) body is not measured here
/// and must be limited by a body-limit layer (such as
/// `tower_http::limit::RequestBodyLimitLayer`) as it is read. A
/// `Content-Length` too large for `usize` counts as `usize::MAX`, so it is
/// always over the limit.
#[cfg(feature = "http")]
impl<B> WireSize for http::Request<B> {
    fn wire_size(&self) -> usize {
        let Some(value) = self.headers().get(http::header::CONTENT_LENGTH) else {
            return 0;
        };
        let Ok(text) = value.to_str() else {
            return 0;
        };
        let digits = text.trim();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return 0;
        }
        // All digits: the only way to fail is an overflow.
        digits.parse::<usize>().unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::error::TooLarge;
    use super::*;
    use crate::test_support::{received, settle};
    use crate::BoxError;
    use std::time::Duration;
    use tower::{Service, ServiceBuilder, ServiceExt};
    use tower_test::mock;

    #[test]
    fn wire_size_of_plain_types() {
        assert_eq!(bytes::Bytes::from_static(b"abcd").wire_size(), 4);
        assert_eq!(vec![0u8; 7].wire_size(), 7);
        assert_eq!(String::from("héllo").wire_size(), 6);
    }

    #[tokio::test]
    async fn forwards_readiness() {
        crate::test_support::forwards_readiness::<_, Vec<u8>, usize>(SizeLimitLayer::new(4));
    }

    #[tokio::test]
    async fn forwards_readiness_errors() {
        let (mut svc, mut handle) = mock::spawn_layer::<Vec<u8>, usize, _>(SizeLimitLayer::new(4));
        handle.send_error("inner broke");
        match svc.poll_ready() {
            std::task::Poll::Ready(Err(e)) => assert_eq!(e.to_string(), "inner broke"),
            other => panic!("expected a readiness error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn passes_requests_up_to_the_limit() -> Result<(), BoxError> {
        let (mut svc, mut handle) = mock::spawn_layer::<Vec<u8>, usize, _>(SizeLimitLayer::new(4));
        handle.allow(1);
        assert!(svc.poll_ready().is_ready());
        let fut = svc.call(b"abcd".to_vec());
        let (req, send) = received(&mut handle)?;
        assert_eq!(req, b"abcd");
        send.send_response(42);
        assert_eq!(settle(fut).await??, 42);
        Ok(())
    }

    #[tokio::test]
    async fn rejects_over_the_limit_without_calling_inner() -> Result<(), BoxError> {
        let (mut svc, mut handle) = mock::spawn_layer::<Vec<u8>, usize, _>(SizeLimitLayer::new(4));
        handle.allow(1);
        assert!(svc.poll_ready().is_ready());
        let err = settle(svc.call(b"abcde".to_vec()))
            .await?
            .err()
            .ok_or("accepted 5 > 4")?;
        let too_large = err.downcast_ref::<TooLarge>().ok_or("not TooLarge")?;
        assert_eq!(too_large.size(), 5);
        assert_eq!(too_large.limit(), 4);
        assert_eq!(
            err.to_string(),
            "request of 5 bytes is over the limit of 4 bytes"
        );
        assert!(handle.poll_request().is_pending(), "inner was called");
        Ok(())
    }

    #[tokio::test]
    async fn inner_errors_pass_through() -> Result<(), BoxError> {
        let (mut svc, mut handle) = mock::spawn_layer::<Vec<u8>, usize, _>(SizeLimitLayer::new(4));
        handle.allow(1);
        assert!(svc.poll_ready().is_ready());
        let fut = svc.call(b"ab".to_vec());
        let (_, send) = received(&mut handle)?;
        send.send_error("boom");
        let err = settle(fut).await?.err().ok_or("inner error lost")?;
        assert_eq!(err.to_string(), "boom");
        assert!(err.downcast_ref::<TooLarge>().is_none());
        Ok(())
    }

    #[tokio::test]
    async fn error_downcasts_through_another_layer() -> Result<(), BoxError> {
        let mut svc = ServiceBuilder::new()
            .layer(tower::timeout::TimeoutLayer::new(Duration::from_secs(1)))
            .layer(SizeLimitLayer::new(2))
            .service_fn(|req: String| async move { Ok::<_, BoxError>(req) });
        let err = svc
            .ready()
            .await?
            .call("abc".to_owned())
            .await
            .err()
            .ok_or("accepted 3 > 2")?;
        let too_large = err.downcast_ref::<TooLarge>().ok_or("not TooLarge")?;
        assert_eq!((too_large.size(), too_large.limit()), (3, 2));
        assert_eq!(svc.ready().await?.call("ab".to_owned()).await?, "ab");
        Ok(())
    }

    #[test]
    fn direct_constructor_and_accessors() {
        let mut svc = SizeLimit::new(7u8, 10);
        assert_eq!(*svc.get_ref(), 7);
        *svc.get_mut() = 8;
        assert_eq!(svc.into_inner(), 8);
        assert_eq!(
            format!("{:?}", SizeLimitLayer::new(3)),
            "SizeLimitLayer { limit: 3 }"
        );
    }

    #[cfg(feature = "http")]
    #[test]
    fn wire_size_of_http_request_is_its_content_length() -> Result<(), BoxError> {
        let with = |value: &str| {
            http::Request::builder()
                .header(http::header::CONTENT_LENGTH, value)
                .body(())
        };
        assert_eq!(with("1234")?.wire_size(), 1234);
        assert_eq!(with(" 12 ")?.wire_size(), 12);
        assert_eq!(with("abc")?.wire_size(), 0);
        assert_eq!(with("-5")?.wire_size(), 0);
        assert_eq!(with("99999999999999999999999999")?.wire_size(), usize::MAX);
        assert_eq!(http::Request::new(()).wire_size(), 0);
        Ok(())
    }

    #[cfg(feature = "http")]
    #[tokio::test]
    async fn limits_http_requests() -> Result<(), BoxError> {
        let mut svc = ServiceBuilder::new()
            .layer(SizeLimitLayer::new(100))
            .service_fn(|_req: http::Request<()>| async move { Ok::<_, BoxError>("served") });
        let big = http::Request::builder()
            .header(http::header::CONTENT_LENGTH, "101")
            .body(())?;
        let err = svc
            .ready()
            .await?
            .call(big)
            .await
            .err()
            .ok_or("accepted 101")?;
        assert_eq!(
            err.downcast_ref::<TooLarge>().map(TooLarge::size),
            Some(101)
        );
        let small = http::Request::builder()
            .header(http::header::CONTENT_LENGTH, "100")
            .body(())?;
        assert_eq!(svc.ready().await?.call(small).await?, "served");
        Ok(())
    }
}
