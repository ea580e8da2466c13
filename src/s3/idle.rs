//! The slow-client read timeout: a request body whose client stops sending for longer than
//! `client_body_timeout` fails with S3's `RequestTimeout`, so the upload is abandoned (its
//! staged data is released by the store's drop guards) and the connection is closed.
//!
//! It is an idle timeout between two pieces of the body, not a limit on the whole body: a
//! 5 GiB upload over a slow link goes on for as long as bytes keep coming. Time the server
//! spends not asking for more (while the store writes what it has) does not count.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::rt::time::{sleep, Instant, Sleep};
use bytes::Bytes;
use futures_util::Stream;

use crate::s3::error::{S3Error, S3ErrorCode};

/// What `Payload::from` takes (actix-http's `BoxedPayloadStream`, which actix-web does not
/// re-export).
type BoxedPayloadStream = Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>;

/// The error inside the `PayloadError` an idle body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the client sent no body bytes for {}s", .0.as_secs_f64())]
pub struct BodyIdle(pub Duration);

/// `payload`, failing once the client has sent nothing for `idle`.
pub fn limit(payload: Payload, idle: Duration) -> Payload {
    let stream: BoxedPayloadStream = Box::pin(IdleTimeout {
        inner: payload,
        idle,
        timer: Box::pin(sleep(idle)),
        armed: false,
        fired: false,
    });
    Payload::from(stream)
}

struct IdleTimeout {
    inner: Payload,
    idle: Duration,
    /// One timer for the whole body, moved forward rather than reallocated per chunk.
    timer: Pin<Box<Sleep>>,
    /// Whether the timer counts now: from the first poll that found no data, until data comes.
    armed: bool,
    fired: bool,
}

impl Stream for IdleTimeout {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.fired {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(item) => {
                this.armed = false;
                Poll::Ready(item)
            }
            Poll::Pending => {
                if !this.armed {
                    this.armed = true;
                    this.timer.as_mut().reset(Instant::now() + this.idle);
                }
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.fired = true;
                        Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            BodyIdle(this.idle),
                        )))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

/// The S3 error for a body that could not be read: `RequestTimeout` when the client went
/// quiet, `IncompleteBody` otherwise.
pub fn body_error(e: PayloadError) -> S3Error {
    let idle = match &e {
        PayloadError::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<BodyIdle>())
            .map(|idle| idle.0),
        _ => None,
    };
    match idle {
        Some(idle) => S3Error::new(
            S3ErrorCode::RequestTimeout,
            "Your socket connection to the server was not read from or written to within the \
             timeout period.",
        )
        .with_source(BodyIdle(idle)),
        None => S3Error::new(
            S3ErrorCode::IncompleteBody,
            "The request body could not be read completely.",
        )
        .with_source(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    /// `chunks`, then nothing ever again.
    fn hanging(chunks: Vec<Result<Bytes, PayloadError>>) -> Payload {
        let items = futures_util::stream::iter(chunks).chain(futures_util::stream::pending());
        let stream: BoxedPayloadStream = Box::pin(items);
        Payload::from(stream)
    }

    #[actix_web::test]
    async fn a_quiet_client_gets_request_timeout() {
        let body = hanging(vec![Ok(Bytes::from_static(b"abc"))]);
        let mut body = limit(body, Duration::from_millis(50));
        assert_eq!(
            body.next().await.and_then(Result::ok),
            Some(Bytes::from_static(b"abc"))
        );
        let error = match body.next().await {
            Some(Err(e)) => body_error(e),
            other => panic!("expected the timeout, got {other:?}"),
        };
        assert_eq!(error.code, S3ErrorCode::RequestTimeout);
        assert!(body.next().await.is_none(), "nothing after the timeout");
    }

    #[actix_web::test]
    async fn a_slow_but_steady_body_is_not_cut() {
        // 40 pieces 10 ms apart: the body takes longer than the idle limit, each gap does not.
        let slow = futures_util::stream::iter(0..40).then(|_| async {
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
            Ok(Bytes::from_static(b"x"))
        });
        let stream: BoxedPayloadStream = Box::pin(slow);
        let started = Instant::now();
        let mut body = limit(Payload::from(stream), Duration::from_millis(300));
        let mut n = 0;
        while let Some(chunk) = body.next().await {
            assert!(chunk.is_ok(), "{chunk:?}");
            n += 1;
        }
        assert_eq!(n, 40);
        assert!(started.elapsed() >= Duration::from_millis(400));
    }

    #[test]
    fn other_body_errors_stay_incomplete_body() {
        let e = body_error(PayloadError::Incomplete(None));
        assert_eq!(e.code, S3ErrorCode::IncompleteBody);
    }
}
