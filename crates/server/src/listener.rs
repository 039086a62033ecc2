//! The accept loop and the life of each connection.
//!
//! A server that holds a socket open for every client that connects can be taken down by
//! clients that connect and say nothing. Here every connection is bounded in time and in
//! number:
//! - a connection must send its first complete request head within the header timeout,
//!   and a keep-alive connection with no request in flight is closed after the keep-alive
//!   timeout (both counted from the moment it became idle, so a head sent one byte at a
//!   time is cut off too);
//! - a connection with a request in flight that neither reads nor writes for the stall
//!   timeout is closed;
//! - at the connection limit a new connection is served by closing the connection that
//!   has been idle longest; only when every connection is busy is the new one refused
//!   with a 503, at once, never queued;
//! - on shutdown the listener closes, idle connections close at once, and busy ones get
//!   the grace period to finish before they are closed.

use crate::metrics::ConnectionGauges;
use crate::tls::Tls;
use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use axum::http::Request;
use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The client address of a connection, as handlers receive it through `ConnectInfo`.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// The bounds every connection is held to.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time a new connection has to send its first complete request head.
    pub header_timeout: Duration,
    /// Time a connection may stay open with no request in flight after its first.
    pub keepalive_timeout: Duration,
    /// Time a connection with a request in flight may go without reading or writing.
    pub stall_timeout: Duration,
    /// Time busy connections get to finish once shutdown begins.
    pub shutdown_grace: Duration,
}

/// The answer to a connection that arrives while every slot is busy with a request.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: text/plain; charset=utf-8\r\nretry-after: 1\r\nconnection: close\r\n\
content-length: 45\r\n\r\nserver busy: every connection slot is in use\n";

/// How long to wait before accepting again when the process is out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What the accept loop and the connections share about each connection.
struct Conn {
    /// Requests in flight (a response counts until its body has been sent or dropped).
    active: AtomicU32,
    /// Requests begun on this connection.
    begun: AtomicU32,
    /// When the connection last became idle, ms since the registry's epoch.
    idle_since: AtomicU64,
    /// When the connection last read or wrote a byte, ms since the registry's epoch.
    last_io: AtomicU64,
    /// Wakes the connection's watchdog when it is to close to make room.
    wake: Notify,
    /// Set when the accept loop closes the connection to make room.
    evicted: AtomicBool,
}

/// The open connections, for eviction at the limit.
struct Registry {
    epoch: Instant,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    gauges: ConnectionGauges,
}

impl Registry {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn open(&self) -> (u64, Arc<Conn>) {
        let now = self.now();
        let conn = Arc::new(Conn {
            active: AtomicU32::new(0),
            begun: AtomicU32::new(0),
            idle_since: AtomicU64::new(now),
            last_io: AtomicU64::new(now),
            wake: Notify::new(),
            evicted: false.into(),
        });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, conn.clone());
        self.gauges.open.inc();
        (id, conn)
    }

    fn close(&self, id: u64) {
        if self.lock().remove(&id).is_some() {
            self.gauges.open.dec();
        }
    }

    /// Closes the connection idle longest; false when every connection is busy.
    fn evict_oldest_idle(&self) -> bool {
        let mut conns = self.lock();
        let oldest = conns
            .iter()
            .filter(|(_, c)| c.active.load(Ordering::Acquire) == 0)
            .min_by_key(|(_, c)| c.idle_since.load(Ordering::Acquire))
            .map(|(id, _)| *id);
        let Some(id) = oldest else { return false };
        if let Some(conn) = conns.remove(&id) {
            conn.evicted.store(true, Ordering::Release);
            conn.wake.notify_one();
        }
        true
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then closes idle
/// connections, gives busy ones the grace period, and returns once all are closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<Arc<Tls>>,
    gauges: ConnectionGauges,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let registry = Arc::new(Registry {
        epoch: Instant::now(),
        next_id: AtomicU64::new(0),
        conns: Mutex::new(HashMap::new()),
        gauges,
    });
    let stopping = CancellationToken::new();
    let tasks = TaskTracker::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().keep_alive(true);
    // One HTTP/2 connection may not carry more requests at once than a busy client needs.
    builder.http2().max_concurrent_streams(64);
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors (or memory): make room and try again shortly.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    registry.evict_oldest_idle();
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        if registry.len() >= limits.max_connections.max(1) && !registry.evict_oldest_idle() {
            // Every connection is busy with a request: say so at once instead of queueing.
            let _ = stream.try_write(BUSY);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let (id, conn) = registry.open();
        let serving = Serving {
            peer,
            app: app.clone(),
            builder: builder.clone(),
            registry: registry.clone(),
            conn,
            limits,
            stopping: stopping.clone(),
        };
        let registry = registry.clone();
        let tls = tls.clone();
        tasks.spawn(async move {
            match tls {
                None => serving.run(stream).await,
                Some(tls) => {
                    // The handshake counts against the time to send a request head.
                    let handshake = tls.acceptor().accept(stream);
                    let stopped = serving.stopping.clone();
                    let conn = serving.conn.clone();
                    let evicted = async {
                        while !conn.evicted.load(Ordering::Acquire) {
                            conn.wake.notified().await;
                        }
                    };
                    tokio::select! {
                        done = tokio::time::timeout(limits.header_timeout, handshake) => {
                            if let Ok(Ok(stream)) = done {
                                serving.run(stream).await;
                            }
                        }
                        () = stopped.cancelled() => {}
                        () = evicted => {}
                    }
                }
            }
            registry.close(id);
        });
    }
    drop(listener);
    stopping.cancel();
    tasks.close();
    tasks.wait().await;
    Ok(())
}

/// Errors that concern one connection only (it was reset before it was accepted).
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// What serving one connection needs.
struct Serving {
    peer: SocketAddr,
    app: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    registry: Arc<Registry>,
    conn: Arc<Conn>,
    limits: ConnectionLimits,
    stopping: CancellationToken,
}

impl Serving {
    /// Serves one connection until it ends, times out, is evicted, or shutdown ends it.
    async fn run<IO>(self, stream: IO)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Serving {
            peer,
            app,
            builder,
            registry,
            conn,
            limits,
            stopping,
        } = self;
        let io = TokioIo::new(Tracked {
            io: stream,
            conn: conn.clone(),
            registry: registry.clone(),
        });
        let service = {
            let conn = conn.clone();
            let registry = registry.clone();
            hyper::service::service_fn(move |mut req: Request<Incoming>| {
                let guard = RequestGuard::begin(conn.clone(), registry.clone());
                req.extensions_mut().insert(ConnectInfo(PeerAddr(peer)));
                let mut app = app.clone();
                async move {
                    let response = tower::Service::call(&mut app, req).await?;
                    // The request stays in flight until its body has been sent (or dropped).
                    Ok::<_, Infallible>(response.map(|body| {
                        Body::new(body.map_frame(move |frame| {
                            let _in_flight = &guard;
                            frame
                        }))
                    }))
                }
            })
        };
        let served = builder.serve_connection_with_upgrades(io, service);
        tokio::pin!(served);
        let mut grace_ends: Option<tokio::time::Instant> = None;
        loop {
            let deadline = match grace_ends {
                Some(end) => end,
                None => watchdog_deadline(&conn, &registry, &limits),
            };
            tokio::select! {
                _ = served.as_mut() => break,
                () = conn.wake.notified() => {
                    if conn.evicted.load(Ordering::Acquire) {
                        break;
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    if grace_ends.is_some() || expired(&conn, &registry, &limits) {
                        break;
                    }
                }
                () = stopping.cancelled(), if grace_ends.is_none() => {
                    if conn.active.load(Ordering::Acquire) == 0 {
                        break;
                    }
                    served.as_mut().graceful_shutdown();
                    grace_ends = Some(tokio::time::Instant::now() + limits.shutdown_grace);
                }
            }
        }
    }
}

/// When the connection next calls for a look: when its current state's time runs out, and
/// at the latest after the shortest of the limits. Requests do not wake the watchdog (that
/// would cost every request a wake-up); a state that changes after a look starts a clock
/// at least the shortest limit long, so the next look, at most that far away, comes before
/// the new state can expire.
fn watchdog_deadline(
    conn: &Conn,
    registry: &Registry,
    limits: &ConnectionLimits,
) -> tokio::time::Instant {
    let (since, limit) = current_limit(conn, limits);
    let elapsed = Duration::from_millis(registry.now().saturating_sub(since));
    let shortest = limits
        .header_timeout
        .min(limits.keepalive_timeout)
        .min(limits.stall_timeout);
    tokio::time::Instant::now() + limit.saturating_sub(elapsed).min(shortest)
}

/// Whether the connection has outlived what its current state allows.
fn expired(conn: &Conn, registry: &Registry, limits: &ConnectionLimits) -> bool {
    let (since, limit) = current_limit(conn, limits);
    Duration::from_millis(registry.now().saturating_sub(since)) >= limit
}

/// The moment the current state's clock started, and how long that state may last.
fn current_limit(conn: &Conn, limits: &ConnectionLimits) -> (u64, Duration) {
    if conn.active.load(Ordering::Acquire) > 0 {
        (conn.last_io.load(Ordering::Acquire), limits.stall_timeout)
    } else if conn.begun.load(Ordering::Acquire) == 0 {
        (
            conn.idle_since.load(Ordering::Acquire),
            limits.header_timeout,
        )
    } else {
        (
            conn.idle_since.load(Ordering::Acquire),
            limits.keepalive_timeout,
        )
    }
}

/// Marks a request in flight on its connection for as long as it lives.
struct RequestGuard {
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl RequestGuard {
    fn begin(conn: Arc<Conn>, registry: Arc<Registry>) -> Self {
        conn.begun.fetch_add(1, Ordering::AcqRel);
        conn.active.fetch_add(1, Ordering::AcqRel);
        registry.gauges.in_flight.inc();
        RequestGuard { conn, registry }
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.conn
            .idle_since
            .store(self.registry.now(), Ordering::Release);
        self.conn.active.fetch_sub(1, Ordering::AcqRel);
        self.registry.gauges.in_flight.dec();
    }
}

/// A stream that notes when it last moved a byte, for the stall timeout.
struct Tracked<IO> {
    io: IO,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl<IO> Tracked<IO> {
    fn moved(&self) {
        self.conn
            .last_io
            .store(self.registry.now(), Ordering::Release);
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tracked<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.moved();
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tracked<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.moved();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.moved();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
