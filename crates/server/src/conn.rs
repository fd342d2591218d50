//! Connections: the server's own accept loop over hyper's HTTP/1 connection builder, in place of
//! `axum::serve`, for what that one cannot do — a connection cap, and header, idle and body
//! timeouts — so that slow or idle clients cannot exhaust the process's file descriptors or
//! hold connections forever.
//!
//! - **Connection cap** (`max_connections`): a semaphore of connection slots. A connection
//!   accepted over the cap is closed at once (its descriptor is freed before the next accept)
//!   and counted in `cyberlabel_connections_refused_total`; the loop never stops accepting, so
//!   over-cap clients cannot starve it. An `accept` error (out of descriptors, say) is counted
//!   in `cyberlabel_accept_errors_total` and followed by a short pause, never fatal. At start
//!   [`raise_fd_limit`] lifts the open-file soft limit to the hard limit (Linux starts most
//!   processes at 1,024), and the default cap ([`default_max_connections`]) is that limit minus
//!   a reserve for the store, the page's files and the outgoing HTTP clients.
//! - **Header timeout** (`header_timeout_ms`): a new connection, or a keep-alive one from the
//!   first byte of its next request, must deliver the complete request head in time; else it is
//!   closed (slowloris). hyper's own `header_read_timeout` is not used: its clock also runs on
//!   an idle keep-alive connection, so it cannot be told apart from the idle timeout.
//! - **Idle timeout** (`idle_timeout_ms`): a keep-alive connection with no request in progress
//!   and no byte of a next one is closed after this. It also bounds a client that stops
//!   reading its response.
//! - **Body timeout** (`body_timeout_ms`): [`TimedBody`] gives each request body a deadline
//!   counted from its head; a handler reading a late body gets an error that becomes a 408
//!   (`routes::extract::read_body`), after which the connection is closed.
//!
//! Each connection's phase is kept in a small [`Clock`] shared by its I/O wrapper (which
//! notes the first byte of a request) and its service (which notes when a request is being
//! handled); one timer per connection wakes at the phase's deadline. While a request is being
//! handled no connection deadline applies: the body deadline and the handler's own bounds do.
//!
//! On shutdown the loop stops accepting, asks every connection to finish (idle ones close at
//! once, one in a request finishes it), and returns when all are gone; `crate::serve` bounds
//! that wait with `shutdown_grace_secs`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::Config;
use crate::metrics::Metrics;

/// Least number of file descriptors kept back from the default connection cap: sled's files,
/// the page's assets (opened per request), the witness and publisher HTTP clients, the
/// listener, stdio.
pub const FD_RESERVE_MIN: u64 = 256;
/// Largest default cap, whatever the descriptor limit: an idle connection holds a task and
/// hyper's buffers (on the order of 10 KiB), so a million-descriptor limit must not invite a
/// million connections.
pub const MAX_CONNECTIONS_CEILING: usize = 50_000;
/// Pause after an `accept` error (typically EMFILE/ENFILE), so the loop does not spin while
/// descriptors are short; the pending connection waits in the listen queue meanwhile.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Raises the open-file soft limit to the hard limit; returns the soft limit in force after
/// the attempt (`None` = unlimited or unknown). Failure to raise is not an error: the server
/// runs with the limit it has and derives its cap from that.
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let lim = getrlimit(Resource::Nofile);
        let current = lim.current?;
        // An unlimited hard limit cannot be the soft one for descriptors on Linux (it is
        // capped by fs.nr_open, 1,048,576 by default): ask for that instead.
        let target = lim.maximum.unwrap_or(1 << 20);
        if target > current {
            let raised = Rlimit {
                current: Some(target),
                maximum: lim.maximum,
            };
            if let Err(e) = setrlimit(Resource::Nofile, raised) {
                tracing::warn!(current, target, error = %e, "cannot raise the open-file limit");
            }
        }
        getrlimit(Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The default connection cap for an open-file limit: the limit minus a reserve of a tenth
/// (at least [`FD_RESERVE_MIN`]), at most [`MAX_CONNECTIONS_CEILING`]; half the limit when
/// it is too small for the reserve.
pub fn default_max_connections(fd_limit: Option<u64>) -> usize {
    let Some(n) = fd_limit else {
        return MAX_CONNECTIONS_CEILING;
    };
    let reserve = (n / 10).max(FD_RESERVE_MIN);
    let cap = if n > 2 * reserve { n - reserve } else { n / 2 };
    usize::try_from(cap)
        .unwrap_or(MAX_CONNECTIONS_CEILING)
        .clamp(1, MAX_CONNECTIONS_CEILING)
}

/// The connection limits in force.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    max: usize,
    header: Duration,
    idle: Duration,
}

impl Limits {
    /// From the configuration; raises the open-file limit (see [`raise_fd_limit`]).
    pub(crate) fn from_config(cfg: &Config) -> Self {
        let fd_limit = raise_fd_limit();
        let derived = default_max_connections(fd_limit);
        let max = if cfg.max_connections == 0 {
            derived
        } else {
            if cfg.max_connections > derived {
                tracing::warn!(
                    max_connections = cfg.max_connections,
                    fd_limit,
                    "max_connections leaves less than the reserve of file descriptors for the store"
                );
            }
            cfg.max_connections
        };
        tracing::info!(
            max_connections = max,
            fd_limit,
            header_timeout_ms = cfg.header_timeout_ms,
            idle_timeout_ms = cfg.idle_timeout_ms,
            body_timeout_ms = cfg.body_timeout_ms,
            "connection limits"
        );
        Self {
            max,
            // 0 would close every connection at once: treat it as "very long" instead.
            header: nonzero_ms(cfg.header_timeout_ms),
            idle: nonzero_ms(cfg.idle_timeout_ms),
        }
    }
}

fn nonzero_ms(ms: u64) -> Duration {
    if ms == 0 {
        Duration::from_secs(86_400 * 365)
    } else {
        Duration::from_millis(ms)
    }
}

/// Accepts connections on `listener` and serves `router` on each until `shutdown` resolves;
/// then stops accepting, lets every connection finish gracefully, and returns when all have
/// closed.
pub(crate) async fn run(
    listener: TcpListener,
    router: Router,
    metrics: Arc<Metrics>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max));
    metrics.conn.max.store(limits.max as u64, Ordering::Relaxed);
    // Dropped on shutdown: every connection sees its receiver's `changed()` fail and drains.
    let (stop_tx, stop_rx) = watch::channel(());
    // Every connection holds a receiver; `closed()` resolves when the last one is dropped.
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = &mut shutdown => break,
        };
        let (stream, remote) = match accepted {
            Ok(x) => x,
            Err(e) => {
                metrics.conn.accept_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "accept failed; pausing");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            // Over the cap: close now (dropping the stream closes it), so the descriptor is
            // free again before the next accept.
            metrics.conn.refused.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        metrics.conn.accepted.fetch_add(1, Ordering::Relaxed);
        // Responses are written whole: do not let Nagle hold the last segment back.
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            remote,
            router.clone(),
            Arc::clone(&metrics),
            limits,
            stop_rx.clone(),
            done_rx.clone(),
            slot,
        ));
    }
    drop(listener);
    drop(stop_tx);
    drop(done_rx);
    done_tx.closed().await;
}

/// Marks a connection open for the metrics gauge, and closed when dropped.
struct OpenGauge(Arc<Metrics>);

impl OpenGauge {
    fn new(metrics: Arc<Metrics>) -> Self {
        metrics.conn.open.fetch_add(1, Ordering::Relaxed);
        Self(metrics)
    }
}

impl Drop for OpenGauge {
    fn drop(&mut self) {
        self.0.conn.open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[allow(clippy::too_many_arguments)] // one task's whole context, passed once
async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    metrics: Arc<Metrics>,
    limits: Limits,
    mut stop: watch::Receiver<()>,
    _done: watch::Receiver<()>,
    _slot: OwnedSemaphorePermit,
) {
    let _open = OpenGauge::new(Arc::clone(&metrics));
    let clock = Arc::new(Clock::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        clock: Arc::clone(&clock),
    });
    let tower = TowerToHyperService::new(router);
    let service_clock = Arc::clone(&clock);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let busy = Busy::start(Arc::clone(&service_clock));
        req.extensions_mut().insert(ConnectInfo(remote));
        let call = hyper::service::Service::call(&tower, req);
        async move {
            let resp = call.await;
            drop(busy);
            resp
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Our clock replaces hyper's header timer (see the module docs); no hyper timer is set.
    builder.keep_alive(true).header_read_timeout(None);
    let mut conn = pin!(builder.serve_connection(io, service));
    let mut draining = false;
    loop {
        let now = Instant::now();
        let wake = match clock.deadline(&limits) {
            Deadline::Busy => now + limits.header.min(limits.idle),
            Deadline::At(at, phase) if at <= now => {
                let counter = match phase {
                    Phase::Header => &metrics.conn.header_timeouts,
                    Phase::Idle => &metrics.conn.idle_timeouts,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%remote, ?phase, "connection timed out; closing");
                // Dropping the connection closes the socket.
                return;
            }
            Deadline::At(at, _) => at,
        };
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%remote, error = %e, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(wake.into()) => {}
            _ = stop.changed(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Which deadline a connection is under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Receiving a request head.
    Header,
    /// Between requests.
    Idle,
}

enum Deadline {
    /// A request is being handled.
    Busy,
    At(Instant, Phase),
}

/// "None" in [`Clock::head_since`].
const NO_HEAD: u64 = u64::MAX;

/// A connection's phase, in milliseconds since it was accepted.
struct Clock {
    start: Instant,
    /// Requests being handled (hyper handles one at a time on HTTP/1; a counter is robust).
    busy: AtomicU64,
    /// When the last request finished (or the connection was accepted).
    idle_since: AtomicU64,
    /// When the first byte of the next request head arrived; [`NO_HEAD`] when none did. A new
    /// connection starts in this phase (0): it owes a request head from its accept.
    head_since: AtomicU64,
}

impl Clock {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            busy: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
        }
    }

    fn ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(NO_HEAD - 1)
    }

    /// Bytes arrived: if nothing is being handled and no head was started, a head starts now.
    fn read_bytes(&self) {
        if self.busy.load(Ordering::Acquire) == 0
            && self.head_since.load(Ordering::Acquire) == NO_HEAD
        {
            let _ = self.head_since.compare_exchange(
                NO_HEAD,
                self.ms(),
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
    }

    fn deadline(&self, limits: &Limits) -> Deadline {
        if self.busy.load(Ordering::Acquire) > 0 {
            return Deadline::Busy;
        }
        let at = |ms: u64, d: Duration| self.start + Duration::from_millis(ms) + d;
        match self.head_since.load(Ordering::Acquire) {
            NO_HEAD => Deadline::At(
                at(self.idle_since.load(Ordering::Acquire), limits.idle),
                Phase::Idle,
            ),
            h => Deadline::At(at(h, limits.header), Phase::Header),
        }
    }
}

/// A request being handled on a connection; when the last one is dropped the connection is
/// idle from then on.
struct Busy(Arc<Clock>);

impl Busy {
    fn start(clock: Arc<Clock>) -> Self {
        clock.busy.fetch_add(1, Ordering::AcqRel);
        clock.head_since.store(NO_HEAD, Ordering::Release);
        Self(clock)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let c = &self.0;
        c.idle_since.store(c.ms(), Ordering::Release);
        c.head_since.store(NO_HEAD, Ordering::Release);
        c.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The TCP stream, noting in the connection's [`Clock`] when request bytes arrive.
struct Watched {
    inner: TcpStream,
    clock: Arc<Clock>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.clock.read_bytes();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The error a late request body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0} ms")]
pub(crate) struct BodyTimeout(u64);

/// Whether a body-reading error is (caused by) a [`TimedBody`] deadline; its milliseconds.
pub(crate) fn body_timed_out(e: &axum::Error) -> Option<u64> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<BodyTimeout>() {
            return Some(t.0);
        }
        cur = err.source();
    }
    None
}

/// A request body with a deadline: frames that arrive in time pass through; after the
/// deadline, reading fails with [`BodyTimeout`] (counted in the metrics once).
pub(crate) struct TimedBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    ms: u64,
    metrics: Arc<Metrics>,
    fired: bool,
}

impl TimedBody {
    /// `body` with a deadline `ms` milliseconds from now.
    pub(crate) fn wrap(body: Body, ms: u64, metrics: Arc<Metrics>) -> Body {
        Body::new(Self {
            inner: body,
            deadline: Box::pin(tokio::time::sleep(Duration::from_millis(ms))),
            ms,
            metrics,
            fired: false,
        })
    }
}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if !this.fired {
            if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
                return Poll::Ready(frame);
            }
            if this.deadline.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.fired = true;
            this.metrics
                .conn
                .body_timeouts
                .fetch_add(1, Ordering::Relaxed);
        }
        Poll::Ready(Some(Err(axum::Error::new(BodyTimeout(this.ms)))))
    }

    fn is_end_stream(&self) -> bool {
        !self.fired && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cap_leaves_a_reserve() {
        assert_eq!(default_max_connections(Some(20_000)), 18_000);
        assert_eq!(default_max_connections(Some(1_024)), 768);
        assert_eq!(default_max_connections(Some(300)), 150);
        assert_eq!(default_max_connections(Some(1)), 1);
        assert_eq!(
            default_max_connections(Some(1 << 20)),
            MAX_CONNECTIONS_CEILING
        );
        assert_eq!(default_max_connections(None), MAX_CONNECTIONS_CEILING);
    }

    #[tokio::test]
    async fn a_late_body_fails_with_a_recognisable_timeout() {
        let metrics = Arc::new(Metrics::default());
        // a body that never ends
        let (_tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(1);
        let never = Body::new(StreamBody(rx));
        let timed = TimedBody::wrap(never, 20, Arc::clone(&metrics));
        let err = axum::body::to_bytes(timed, 1024)
            .await
            .err()
            .map(|e| body_timed_out(&e));
        assert_eq!(err, Some(Some(20)));
        assert_eq!(metrics.conn.body_timeouts.load(Ordering::Relaxed), 1);
        // a body in time passes through
        let ok = TimedBody::wrap(Body::from("abc"), 1_000, Arc::clone(&metrics));
        assert_eq!(
            axum::body::to_bytes(ok, 1024).await.ok().as_deref(),
            Some(&b"abc"[..])
        );
        // a length-limit error is not mistaken for a timeout
        let big = TimedBody::wrap(Body::from("abcdef"), 1_000, metrics);
        let e = axum::body::to_bytes(big, 3).await.err();
        assert_eq!(e.map(|e| body_timed_out(&e)), Some(None));
    }

    struct StreamBody(tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, std::io::Error>>);

    impl HttpBody for StreamBody {
        type Data = Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            self.get_mut().0.poll_recv(cx)
        }
    }
}
