//! A panic inside one request fails that request, not the worker (and likewise a lifecycle
//! pass, run under the same catch).
//!
//! Every request's handler and response body are polled inside [`catch_unwind`], with the
//! request's id in a thread-local: the panic hook logs one line naming the request, the
//! request is answered `500 InternalError` (or its body cut short if it had started), and the
//! worker keeps serving everyone else. A panic anywhere else (a store thread, a background
//! task) may have left shared state half-changed: under a supervisor it still aborts the
//! worker, which is then restarted.
//!
//! [`catch_unwind`]: std::panic::catch_unwind

use std::cell::RefCell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use bytes::Bytes;

thread_local! {
    /// The id of the request being polled on this thread, if any.
    static CURRENT: RefCell<Option<Rc<str>>> = const { RefCell::new(None) };
}

/// Installs the panic hook. `abort_elsewhere`: a panic outside any request aborts the
/// process (a worker under a supervisor) instead of unwinding.
pub fn install(abort_elsewhere: bool) {
    std::panic::set_hook(Box::new(move |info| {
        let location = info
            .location()
            .map_or_else(|| "?".into(), |l| format!("{}:{}", l.file(), l.line()));
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        match CURRENT.with(|c| c.borrow().clone()) {
            Some(id) => {
                // A request is answered 500; a background task (a lifecycle pass) logs
                // its own outcome after the catch.
                log::error!("{id} panicked at {location}: {message}; only it fails")
            }
            None if abort_elsewhere => {
                log::error!("worker panicked at {location}: {message}; aborting");
                std::process::abort();
            }
            None => log::error!("panicked at {location}: {message}"),
        }
    }));
}

/// Polls `f` with `id` as the current request, catching a panic as `Err`.
fn within<T>(id: &Rc<str>, f: impl FnOnce() -> T) -> Result<T, ()> {
    // An Rc, not a String: this runs on every poll of every request and body.
    let previous = CURRENT.with(|c| c.replace(Some(id.clone())));
    let result = catch_unwind(AssertUnwindSafe(f)).map_err(|_| ());
    CURRENT.with(|c| *c.borrow_mut() = previous);
    result
}

/// `future`, resolved to None if it panics.
pub fn catch<F: Future>(id: String, future: F) -> impl Future<Output = Option<F::Output>> {
    Catch {
        id: id.into(),
        future: Box::pin(future),
        done: false,
    }
}

struct Catch<F> {
    id: Rc<str>,
    future: Pin<Box<F>>,
    done: bool,
}

impl<F: Future> Future for Catch<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let future = &mut this.future;
        match within(&this.id, || future.as_mut().poll(cx)) {
            Ok(Poll::Ready(output)) => {
                this.done = true;
                Poll::Ready(Some(output))
            }
            Ok(Poll::Pending) => Poll::Pending,
            Err(()) => {
                this.done = true;
                Poll::Ready(None)
            }
        }
    }
}

/// A response body whose panics end it with an error (the connection is then closed, so
/// the client sees a short body, never a wrong one).
pub struct CatchBody {
    id: Rc<str>,
    body: BoxBody,
    failed: bool,
}

impl CatchBody {
    pub fn wrap(id: String, body: BoxBody) -> BoxBody {
        BoxBody::new(CatchBody {
            id: id.into(),
            body,
            failed: false,
        })
    }
}

impl MessageBody for CatchBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = &mut *self;
        if this.failed {
            return Poll::Ready(None);
        }
        let body = &mut this.body;
        match within(&this.id, || Pin::new(body).poll_next(cx)) {
            Ok(Poll::Ready(Some(Err(e)))) => Poll::Ready(Some(Err(e))),
            Ok(Poll::Ready(Some(Ok(bytes)))) => Poll::Ready(Some(Ok(bytes))),
            Ok(Poll::Ready(None)) => Poll::Ready(None),
            Ok(Poll::Pending) => Poll::Pending,
            Err(()) => {
                this.failed = true;
                Poll::Ready(Some(Err("the response body panicked".into())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[test]
    fn a_panicking_request_resolves_to_none() {
        let ok = catch("A".into(), async { 7 }).now_or_never();
        assert_eq!(ok, Some(Some(7)));
        let panicked = catch("B".into(), async {
            if CURRENT.with(|c| c.borrow().as_deref() == Some("B")) {
                panic!("inside request B");
            }
            7
        })
        .now_or_never();
        assert_eq!(panicked, Some(None));
        assert!(CURRENT.with(|c| c.borrow().is_none()));
    }
}
