//! What the exporter knows about each connection: whether a request is in
//! progress, since when it has been idle, whether it has shown the token, and
//! a write deadline on its socket. The exporter uses it to close idle
//! connections early and to choose which one to close when it is full; the
//! router (through a request extension) to mark a connection that has shown the
//! token, which is then trusted to ask again without queueing for a token
//! attempt.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, Response};
use bytes::Bytes;
use http_body::Frame;
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Sleep;

/// One connection's state, shared by its task, its requests and the accept
/// loop.
#[derive(Debug)]
pub(crate) struct Connection {
    activity: Mutex<Activity>,
    /// When it was accepted.
    accepted: Instant,
    /// Whether a request on it has shown the token (or none is configured).
    proven: AtomicBool,
    /// Told when the accept loop wants it closed to make room.
    pub(crate) evict: Notify,
    /// The accept loop's: told when this connection goes idle or closes.
    freed: Arc<Notify>,
}

#[derive(Debug, Clone, Copy)]
struct Activity {
    /// Requests in progress (head read, response not yet sent).
    busy: usize,
    /// When it was accepted, or when its last response ended.
    idle_since: Instant,
    /// When the first bytes of a request head not yet complete arrived.
    head_started: Option<Instant>,
}

/// How long a connection may stay as it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    /// Waiting for a request, before it has shown the token.
    pub(crate) idle: Duration,
    /// Waiting for a request, after it has shown the token.
    pub(crate) keep_alive: Duration,
    /// From a request head's first byte to its end.
    pub(crate) header_read: Duration,
}

/// The request extension through which the router reaches its connection.
#[derive(Debug, Clone)]
pub(crate) struct Peer(pub(crate) Arc<Connection>);

impl Connection {
    pub(crate) fn new(freed: Arc<Notify>) -> Arc<Connection> {
        Arc::new(Connection {
            activity: Mutex::new(Activity {
                busy: 0,
                idle_since: Instant::now(),
                head_started: None,
            }),
            accepted: Instant::now(),
            proven: AtomicBool::new(false),
            evict: Notify::new(),
            freed,
        })
    }

    fn activity(&self) -> MutexGuard<'_, Activity> {
        // Only plain assignments happen under this lock; poisoning cannot
        // leave it inconsistent.
        self.activity.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a request on it has shown the token.
    pub(crate) fn is_proven(&self) -> bool {
        self.proven.load(Ordering::Relaxed)
    }

    /// Marks it as having shown the token, or as having shown a wrong one.
    pub(crate) fn set_proven(&self, proven: bool) {
        self.proven.store(proven, Ordering::Relaxed);
    }

    /// Whether it waits for a request (is not answering one).
    pub(crate) fn is_idle(&self) -> bool {
        self.activity().busy == 0
    }

    /// How long it has been open.
    pub(crate) fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.accepted)
    }

    /// How long it has been idle (zero while busy).
    pub(crate) fn idle_for(&self, now: Instant) -> Duration {
        let a = self.activity();
        if a.busy > 0 {
            Duration::ZERO
        } else {
            now.saturating_duration_since(a.idle_since)
        }
    }

    /// When it is to be closed if nothing changes; `None` while a request is in
    /// progress (the response has its own deadlines).
    pub(crate) fn deadline(&self, t: &Timeouts) -> Option<Instant> {
        let a = self.activity();
        if a.busy > 0 {
            return None;
        }
        Some(match a.head_started {
            Some(start) => start + t.header_read,
            None if self.is_proven() => a.idle_since + t.keep_alive,
            None => a.idle_since + t.idle,
        })
    }

    fn request_started(&self) {
        let mut a = self.activity();
        a.busy += 1;
        a.head_started = None;
    }

    fn request_ended(&self) {
        let mut a = self.activity();
        a.busy = a.busy.saturating_sub(1);
        a.idle_since = Instant::now();
        drop(a);
        self.freed.notify_one();
    }

    fn bytes_read(&self) {
        let mut a = self.activity();
        if a.head_started.is_none() {
            a.head_started = Some(Instant::now());
        }
    }
}

/// The socket, noting when request bytes arrive and failing a write that makes
/// no progress for `write_timeout`: a client that stops reading is cut off,
/// whatever it asked for.
pub(crate) struct Io<S> {
    inner: S,
    conn: Arc<Connection>,
    write_timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> Io<S> {
    pub(crate) fn new(inner: S, conn: Arc<Connection>, write_timeout: Duration) -> Io<S> {
        Io {
            inner,
            conn,
            write_timeout,
            stalled: None,
        }
    }

    /// Maps a write's outcome: progress clears the deadline; no progress arms
    /// it, and fails once it has passed.
    fn deadline<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match poll {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let timeout = self.write_timeout;
                let sleep = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client took nothing for the write timeout",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Io<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.bytes_read();
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Io<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, data);
        self.deadline(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.deadline(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.deadline(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The router as a hyper service on one connection: each request carries the
/// connection ([`Peer`]) and keeps it busy until its response body is sent or
/// dropped.
#[derive(Clone)]
pub(crate) struct Service<S> {
    pub(crate) inner: S,
    pub(crate) conn: Arc<Connection>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> hyper::service::Service<Request<Incoming>> for Service<S>
where
    S: hyper::service::Service<
        Request<Incoming>,
        Response = Response<Body>,
        Error = std::convert::Infallible,
    >,
    S::Future: Send + 'static,
{
    type Response = Response<Tracked>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Result<Response<Tracked>, std::convert::Infallible>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        self.conn.request_started();
        let busy = Busy(self.conn.clone());
        req.extensions_mut().insert(Peer(self.conn.clone()));
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            Ok(resp.map(|body| Tracked { body, _busy: busy }))
        })
    }
}

/// Ends a request's busy time when dropped.
struct Busy(Arc<Connection>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

/// A response body that keeps its connection busy until sent or dropped.
pub(crate) struct Tracked {
    body: Body,
    _busy: Busy,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
