//! Fail requests that take too long, cancelling the inner future.
//!
//! [`TimeoutLayer`] wraps a service in [`Timeout`]. The clock starts when the
//! request is made ([`Service::call`](tower_service::Service::call)), not when
//! the service is polled for readiness: if it runs out before the inner future
//! completes, the response future fails with [`error::Elapsed`] and drops the
//! inner future, which cancels the work.
//!
//! The timer is [`tokio::time::sleep`], so the service must be called within a
//! Tokio runtime with the time driver enabled.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use ld_tower_layers::{timeout::error::Elapsed, BoxError, TimeoutLayer};
//! use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! let mut svc = ServiceBuilder::new()
//!     .layer(TimeoutLayer::new(Duration::from_millis(250)))
//!     .service(service_fn(|pause: Duration| async move {
//!         tokio::time::sleep(pause).await;
//!         Ok::<_, BoxError>("done")
//!     }));
//!
//! assert_eq!(svc.ready().await?.call(Duration::from_millis(10)).await?, "done");
//!
//! let err = svc
//!     .ready()
//!     .await?
//!     .call(Duration::from_secs(60))
//!     .await
//!     .err()
//!     .ok_or("a minute is over 250ms")?;
//! let elapsed = err.downcast_ref::<Elapsed>().ok_or("not Elapsed")?;
//! assert_eq!(elapsed.after(), Duration::from_millis(250));
//! assert_eq!(err.to_string(), "timed out after 250ms");
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod future;
mod layer;
mod service;

pub use self::layer::TimeoutLayer;
pub use self::service::Timeout;

#[cfg(test)]
mod tests {
    use super::error::Elapsed;
    use super::*;
    use crate::test_support::{received, settle};
    use crate::BoxError;
    use std::{
        sync::{
            atomic::{AtomicBool, Ordering},
            Arc,
        },
        time::Duration,
    };
    use tower::{Service, ServiceBuilder, ServiceExt};
    use tower_test::mock;

    const AFTER: Duration = Duration::from_millis(1500);

    #[tokio::test(start_paused = true)]
    async fn forwards_readiness() {
        let (mut svc, mut handle) = mock::spawn_layer::<(), (), _>(TimeoutLayer::new(AFTER));
        handle.allow(0);
        assert!(svc.poll_ready().is_pending());
        // Waiting for readiness does not start the clock.
        tokio::time::advance(AFTER * 10).await;
        assert!(svc.poll_ready().is_pending());
        handle.allow(1);
        assert!(svc.is_woken());
        assert!(matches!(svc.poll_ready(), std::task::Poll::Ready(Ok(()))));
    }

    #[tokio::test(start_paused = true)]
    async fn answers_in_time() -> Result<(), BoxError> {
        let (mut svc, mut handle) = mock::spawn_layer::<&str, &str, _>(TimeoutLayer::new(AFTER));
        handle.allow(1);
        assert!(svc.poll_ready().is_ready());
        let fut = svc.call("ask");
        let (req, send) = received(&mut handle)?;
        assert_eq!(req, "ask");
        tokio::time::advance(AFTER - Duration::from_millis(1)).await;
        send.send_response("answer");
        assert_eq!(settle(fut).await??, "answer");
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn times_out_and_cancels_the_inner_future() -> Result<(), BoxError> {
        let (mut svc, mut handle) = mock::spawn_layer::<&str, &str, _>(TimeoutLayer::new(AFTER));
        handle.allow(1);
        assert!(svc.poll_ready().is_ready());
        let start = tokio::time::Instant::now();
        let fut = svc.call("ask");
        let (_, send) = received(&mut handle)?;
        let err = settle(fut).await?.err().ok_or("no timeout")?;
        assert_eq!(start.elapsed(), AFTER);
        let elapsed = err.downcast_ref::<Elapsed>().ok_or("not Elapsed")?;
        assert_eq!(elapsed.after(), AFTER);
        assert_eq!(err.to_string(), "timed out after 1.5s");
        // Answering now is too late: the error stands.
        send.send_response("late");
        Ok(())
    }

    /// Sets its flag when dropped.
    struct DropFlag(Arc<AtomicBool>);
    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn error_downcasts_through_another_layer_and_inner_is_dropped() -> Result<(), BoxError> {
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = dropped.clone();
        let mut svc = ServiceBuilder::new()
            .layer(crate::SizeLimitLayer::new(100))
            .layer(TimeoutLayer::new(Duration::from_millis(250)))
            .service_fn(move |_: String| {
                let guard = DropFlag(flag.clone());
                async move {
                    let _guard = guard;
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok::<_, BoxError>("never")
                }
            });
        let err = svc.ready().await?.call("slow".into()).await.err();
        let err = err.ok_or("no timeout")?;
        let elapsed = err.downcast_ref::<Elapsed>().ok_or("not Elapsed")?;
        assert_eq!(elapsed.after(), Duration::from_millis(250));
        assert!(dropped.load(Ordering::SeqCst), "inner future not dropped");
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn inner_errors_pass_through() -> Result<(), BoxError> {
        let (mut svc, mut handle) = mock::spawn_layer::<&str, &str, _>(TimeoutLayer::new(AFTER));
        handle.allow(1);
        assert!(svc.poll_ready().is_ready());
        let fut = svc.call("ask");
        let (_, send) = received(&mut handle)?;
        send.send_error("refused");
        let err = settle(fut).await?.err().ok_or("error lost")?;
        assert_eq!(err.to_string(), "refused");
        assert!(err.downcast_ref::<Elapsed>().is_none());
        Ok(())
    }

    #[test]
    fn humanish_durations() {
        let shown = |d: Duration| Elapsed::new(d).to_string();
        assert_eq!(shown(Duration::from_millis(1500)), "timed out after 1.5s");
        assert_eq!(shown(Duration::from_millis(250)), "timed out after 250ms");
        assert_eq!(shown(Duration::from_secs(30)), "timed out after 30s");
        assert_eq!(shown(Duration::from_secs(90)), "timed out after 90s");
        assert_eq!(shown(Duration::from_micros(1250)), "timed out after 1.25ms");
        assert_eq!(shown(Duration::from_micros(40)), "timed out after 40µs");
        assert_eq!(shown(Duration::from_nanos(7)), "timed out after 7ns");
        assert_eq!(
            shown(Duration::from_nanos(1_000_000_001)),
            "timed out after 1s"
        );
        assert_eq!(shown(Duration::ZERO), "timed out after 0s");
    }

    #[test]
    fn layer_and_service_basics() {
        let layer = TimeoutLayer::new(AFTER);
        assert_eq!(format!("{layer:?}"), "TimeoutLayer { after: 1.5s }");
        let mut svc = Timeout::new(5u8, AFTER);
        assert_eq!(*svc.get_ref(), 5);
        *svc.get_mut() = 6;
        assert_eq!(svc.into_inner(), 6);
    }
}
