//! The one HTTP/1.1 serving loop of every server the nodes run: the axon (miner, echo axon,
//! simulated subnets), the validator's gateway and mounted Ledger API, the standalone Ledger API
//! and the devnet. It bounds what a hostile client can hold:
//!
//! | limit | default | what happens past it |
//! |---|---|---|
//! | header read: a new connection, or a kept-alive one that started a request, must finish the request head | 10 s | connection closed |
//! | idle: a kept-alive connection with no request in progress and no byte received | 60 s | connection closed |
//! | body read: from the end of the head to the end of the body | 30 s | the handler's read fails; 408, connection closed |
//! | write stall: a response write that makes no progress (a client that stops reading) | 30 s | connection closed |
//! | connections open | 4,096 (and below the process's descriptor limit) | the longest-waiting connection with no request in progress is closed to make room; if every connection is busy, the new one gets a 503 and is closed |
//! | requests being handled at once | 2,048 | 503, connection closed |
//! | request body | 2 MiB | the read fails; 413, connection closed |
//! | request body bytes held by all requests at once | 64 MiB | the read fails; 503, connection closed |
//! | request head | 64 KiB | 431 (hyper), connection closed |
//!
//! A refusal never waits for a slot, so over any cap the server answers at once and other
//! clients are not held up. Timeouts are checked by one watchdog per connection that sleeps
//! until the next deadline of the connection's phase (reading a head, busy, idle), so a thousand
//! idle connections cost a thousand sleeping timers and nothing on the request path.
//!
//! Handlers see the peer address as `ConnectInfo<SocketAddr>` (axum's extractor), as with
//! `into_make_service_with_connect_info`; [`Server::serve_with`] instead builds one service per
//! connection from the peer address (the axon's path: no router, no per-request extension).
//! Body errors from these limits are [`BodyError`]s; [`body_error`] finds one inside an
//! `axum::Error`, so a handler can answer in its own format (the axon does); otherwise the
//! server replaces the handler's answer with the status above.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Limits of one server. `Default` suits every node server; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeLimits {
    /// Time to receive a whole request head, counted from the connection's opening or, on a
    /// kept-alive connection, from the first byte of the next request.
    pub header_read_timeout: Duration,
    /// Time a kept-alive connection may wait, silent, for its next request.
    pub idle_timeout: Duration,
    /// Time to receive a request body, counted from the end of its head.
    pub body_read_timeout: Duration,
    /// Time a response write may make no progress (the client is not reading).
    pub write_timeout: Duration,
    /// Connections open at once (clamped below the process's open-file limit at start).
    pub max_connections: usize,
    /// Connections open at once from one peer address (an IPv6 peer counts by its /64, which
    /// one host can rotate through). Loopback peers are exempt: a reverse proxy on the same host
    /// presents every client as loopback, and the operator's own tools run there.
    pub max_connections_per_ip: usize,
    /// Requests being handled at once (from the end of the head to the handler's answer).
    pub max_in_flight: usize,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Request body bytes received and not yet answered, over all requests.
    pub max_body_bytes_in_flight: usize,
    /// Largest request head (request line and headers).
    pub max_header_bytes: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_connections_per_ip: 256,
            max_in_flight: 2048,
            max_body_bytes: 2 * 1024 * 1024,
            max_body_bytes_in_flight: 64 * 1024 * 1024,
            max_header_bytes: 64 * 1024,
        }
    }
}

impl ServeLimits {
    /// Refuses limits that would make the server refuse everything.
    pub fn validate(&self) -> Result<(), String> {
        let zero = [
            ("header_read_timeout", self.header_read_timeout.is_zero()),
            ("idle_timeout", self.idle_timeout.is_zero()),
            ("body_read_timeout", self.body_read_timeout.is_zero()),
            ("write_timeout", self.write_timeout.is_zero()),
            ("max_connections", self.max_connections == 0),
            ("max_connections_per_ip", self.max_connections_per_ip == 0),
            ("max_in_flight", self.max_in_flight == 0),
            ("max_body_bytes", self.max_body_bytes == 0),
        ];
        if let Some((name, _)) = zero.iter().find(|(_, z)| *z) {
            return Err(format!("server limit {name} must be > 0"));
        }
        if self.max_body_bytes_in_flight < self.max_body_bytes {
            return Err("server limit max_body_bytes_in_flight must be at least max_body_bytes".into());
        }
        if self.max_header_bytes < MIN_HEADER_BYTES {
            return Err(format!("server limit max_header_bytes must be at least {MIN_HEADER_BYTES}"));
        }
        Ok(())
    }
}

/// hyper's smallest read buffer.
const MIN_HEADER_BYTES: usize = 8192;
/// Refusals being written at once when every connection is busy; past it a new connection is
/// closed without an answer.
const MAX_REFUSALS: usize = 64;
/// Descriptors kept for everything but connections (store, logs, outbound calls).
const FD_RESERVE: u64 = 256;

/// Why a request body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the request body was not received within the server's body timeout")]
    Timeout,
    #[error("the request body is larger than the server's limit")]
    TooLarge,
    #[error("the server holds too many request bodies at once; retry later")]
    Busy,
    #[error("the request body could not be read (the connection closed or the body is malformed)")]
    Incomplete,
}

impl BodyError {
    /// The status the server answers with.
    pub fn status(self) -> u16 {
        match self {
            BodyError::Timeout => 408,
            BodyError::TooLarge => 413,
            BodyError::Busy => 503,
            BodyError::Incomplete => 400,
        }
    }
    fn code(self) -> u8 {
        match self {
            BodyError::Timeout => 1,
            BodyError::TooLarge => 2,
            BodyError::Busy => 3,
            BodyError::Incomplete => 4,
        }
    }
    fn from_code(c: u8) -> Option<BodyError> {
        match c {
            1 => Some(BodyError::Timeout),
            2 => Some(BodyError::TooLarge),
            3 => Some(BodyError::Busy),
            _ => None,
        }
    }
}

/// The [`BodyError`] behind a body read error, if one of the server's limits caused it.
pub fn body_error(err: &(dyn std::error::Error + 'static)) -> Option<BodyError> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(b) = e.downcast_ref::<BodyError>() {
            return Some(*b);
        }
        cur = e.source();
    }
    None
}

/// What the limits did, for metrics and tests. Clones share the values.
#[derive(Debug, Clone, Default)]
pub struct ServeStats {
    /// Connections open now.
    pub open: Gauge,
    pub accepted: Counter,
    /// Closed by the header-read timeout.
    pub header_timeouts: Counter,
    /// Closed by the idle timeout.
    pub idle_timeouts: Counter,
    /// Closed because a response write made no progress.
    pub write_timeouts: Counter,
    /// Requests whose body did not arrive in time.
    pub body_timeouts: Counter,
    /// Idle connections closed to make room for a new one at the connection cap.
    pub evicted: Counter,
    /// New connections refused (503) because every connection was busy at the cap.
    pub refused: Counter,
    /// New connections refused (503) because their address was at its own cap with every one
    /// of its connections busy.
    pub refused_per_ip: Counter,
    /// Requests refused with 503 over the in-flight or body-bytes caps.
    pub shed: Counter,
}

impl ServeStats {
    /// Registers every value under `registry` (use a prefixed sub-registry, e.g. `server`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register("connections_open", "Connections open", self.open.clone());
        registry.register("connections_accepted", "Connections accepted", self.accepted.clone());
        registry.register(
            "header_timeouts",
            "Connections closed because a request head was not received in time",
            self.header_timeouts.clone(),
        );
        registry.register(
            "idle_timeouts",
            "Kept-alive connections closed after the idle timeout",
            self.idle_timeouts.clone(),
        );
        registry.register(
            "write_timeouts",
            "Connections closed because the client stopped reading the response",
            self.write_timeouts.clone(),
        );
        registry.register("body_timeouts", "Requests whose body was not received in time", self.body_timeouts.clone());
        registry.register(
            "connections_evicted",
            "Idle connections closed to make room at the cap",
            self.evicted.clone(),
        );
        registry.register("connections_refused", "Connections refused at the cap (all busy)", self.refused.clone());
        registry.register(
            "connections_refused_per_ip",
            "Connections refused at the per-address cap (all of that address's busy)",
            self.refused_per_ip.clone(),
        );
        registry.register("requests_shed", "Requests refused over the in-flight or body-bytes caps", self.shed.clone());
    }
}

/// A server: limits and statistics; [`Server::serve`] runs it.
#[derive(Debug, Clone)]
pub struct Server {
    limits: ServeLimits,
    stats: ServeStats,
}

impl Server {
    pub fn new(limits: ServeLimits) -> Result<Server, String> {
        limits.validate()?;
        Ok(Server { limits, stats: ServeStats::default() })
    }

    /// Shares `stats` (e.g. counters already registered in a metrics registry).
    pub fn with_stats(mut self, stats: ServeStats) -> Server {
        self.stats = stats;
        self
    }

    pub fn stats(&self) -> &ServeStats {
        &self.stats
    }

    pub fn limits(&self) -> &ServeLimits {
        &self.limits
    }

    /// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, lets
    /// requests in progress finish (idle connections close at once) and returns.
    pub async fn serve<F>(self, listener: TcpListener, app: Router, shutdown: F) -> io::Result<()>
    where
        F: Future<Output = ()> + Send,
    {
        self.serve_with(listener, move |remote| WithConnectInfo { app: app.clone(), remote }, shutdown).await
    }

    /// [`Server::serve`] with one service per connection, made from the peer's address by
    /// `make` (called once per accepted connection; the service is cloned for each request).
    pub async fn serve_with<M, S, F>(self, listener: TcpListener, make: M, shutdown: F) -> io::Result<()>
    where
        M: Fn(SocketAddr) -> S,
        S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone + Send + 'static,
        S::Future: Send + 'static,
        F: Future<Output = ()> + Send,
    {
        let max_connections = connection_cap(self.limits.max_connections);
        let shared = Arc::new(Shared {
            epoch: Instant::now(),
            in_flight: Arc::new(Semaphore::new(self.limits.max_in_flight)),
            body_budget: Arc::new(Semaphore::new(self.limits.max_body_bytes_in_flight.min(Semaphore::MAX_PERMITS))),
            refusals: Arc::new(Semaphore::new(MAX_REFUSALS)),
            conns: Mutex::new(HashMap::new()),
            per_ip: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            max_connections,
            limits: self.limits,
            stats: self.stats,
        });
        // The one shutdown model (`orchestra_node::shutdown`): `stop` tells every connection to
        // finish gracefully, `connections` is what must end before this returns.
        let stop = CancellationToken::new();
        let connections = TaskTracker::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, remote)) => admit(&shared, stream, remote, &make, &stop, &connections),
                    Err(e) => accept_failed(&shared, e).await,
                },
            }
        }
        drop(listener);
        stop.cancel();
        connections.close();
        connections.wait().await;
        Ok(())
    }
}

/// Serves `app` with [`ServeLimits::default`] (see [`Server::serve`]).
pub async fn serve<F>(listener: TcpListener, app: Router, shutdown: F) -> io::Result<()>
where
    F: Future<Output = ()> + Send,
{
    Server { limits: ServeLimits::default(), stats: ServeStats::default() }.serve(listener, app, shutdown).await
}

/// Raises the soft open-file limit to the hard limit and returns the soft limit in force (a
/// server with thousands of connections needs more than the usual 1,024).
pub fn raise_fd_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    let (Some(soft), hard) = (lim.current, lim.maximum) else { return u64::MAX };
    let target = hard.unwrap_or(1 << 20).min(1 << 20);
    if target > soft
        && setrlimit(Resource::Nofile, rustix::process::Rlimit { current: Some(target), maximum: hard }).is_ok()
    {
        return target;
    }
    soft
}

/// The connection cap in force: `wanted`, but below the descriptor limit (raised if it can be),
/// so the cap, not `accept`'s EMFILE, is what a flood meets.
fn connection_cap(wanted: usize) -> usize {
    let soft = raise_fd_limit();
    let room = usize::try_from(soft.saturating_sub(FD_RESERVE).max(FD_RESERVE / 4)).unwrap_or(usize::MAX);
    if room < wanted {
        tracing::warn!(wanted, open_file_limit = soft, cap = room, "connection cap lowered to fit the open-file limit");
    }
    wanted.min(room).max(1)
}

struct Shared {
    epoch: Instant,
    limits: ServeLimits,
    stats: ServeStats,
    max_connections: usize,
    in_flight: Arc<Semaphore>,
    body_budget: Arc<Semaphore>,
    refusals: Arc<Semaphore>,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    /// Open connections per peer address (loopback peers are not counted).
    per_ip: Mutex<HashMap<PeerKey, usize>>,
    next_id: AtomicU64,
}

/// The address a per-address cap counts by: an IPv4 address (IPv4-mapped IPv6 included), or an
/// IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum PeerKey {
    V4(u32),
    V6(u64),
}

impl PeerKey {
    /// None for loopback peers (exempt).
    fn of(ip: std::net::IpAddr) -> Option<PeerKey> {
        let ip = ip.to_canonical();
        if ip.is_loopback() {
            return None;
        }
        Some(match ip {
            std::net::IpAddr::V4(v4) => PeerKey::V4(u32::from(v4)),
            std::net::IpAddr::V6(v6) => PeerKey::V6((u128::from(v6) >> 64) as u64),
        })
    }
}

impl Shared {
    /// Milliseconds since the server started, never 0 (0 means "unset").
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    /// Closes the connection with no request in progress that has waited longest (of `peer`'s
    /// connections only, when given); false if every such connection is busy.
    fn evict_one(&self, peer: Option<PeerKey>) -> bool {
        let victim = {
            let mut conns = self.conns.lock();
            let id = conns
                .values()
                .filter(|c| c.phase.load(Ordering::Acquire) != BUSY && (peer.is_none() || c.peer == peer))
                .min_by_key(|c| c.since_ms.load(Ordering::Relaxed))
                .map(|c| c.id);
            id.and_then(|id| conns.remove(&id))
        };
        match victim {
            Some(c) => {
                c.killed.store(true, Ordering::Release);
                c.wake.notify_one();
                self.stats.evicted.inc();
                true
            }
            None => false,
        }
    }
}

const HEADER: u8 = 0;
const BUSY: u8 = 1;
const IDLE: u8 = 2;

/// One connection's state, shared by its I/O wrapper, its requests and its watchdog.
struct Conn {
    id: u64,
    /// The peer's address as the per-address cap counts it (None: loopback, not counted).
    peer: Option<PeerKey>,
    /// HEADER (reading a request head), BUSY (a request in progress), IDLE (kept alive).
    phase: AtomicU8,
    /// When the phase began (`Shared::now_ms`).
    since_ms: AtomicU64,
    /// Requests whose response has not been fully written.
    active: AtomicU32,
    /// When a write started to wait for the client (0: not waiting).
    stalled_ms: AtomicU64,
    killed: AtomicBool,
    /// Wakes the watchdog when a deadline moves earlier or the connection is evicted.
    wake: Notify,
}

impl Conn {
    fn enter(&self, phase: u8, now: u64) {
        self.since_ms.store(now, Ordering::Relaxed);
        self.phase.store(phase, Ordering::Release);
        self.wake.notify_one();
    }
}

/// Why the watchdog closed a connection.
#[derive(Debug, Clone, Copy)]
enum Expired {
    Header,
    Idle,
    Write,
}

impl Shared {
    /// The connection's next deadline and what it is for.
    fn deadline(&self, c: &Conn) -> Option<(u64, Expired)> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 4);
        let since = c.since_ms.load(Ordering::Relaxed);
        let phase = match c.phase.load(Ordering::Acquire) {
            HEADER => Some((since.saturating_add(ms(self.limits.header_read_timeout)), Expired::Header)),
            IDLE => Some((since.saturating_add(ms(self.limits.idle_timeout)), Expired::Idle)),
            _ => None,
        };
        let stalled = c.stalled_ms.load(Ordering::Relaxed);
        let write = (stalled != 0).then(|| (stalled.saturating_add(ms(self.limits.write_timeout)), Expired::Write));
        match (phase, write) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        }
    }
}

async fn accept_failed(shared: &Shared, e: io::Error) {
    // Out of descriptors: make room as the cap would, then give the listener a moment.
    let out_of_fds = matches!(e.raw_os_error(), Some(23) | Some(24)); // ENFILE, EMFILE
    if out_of_fds {
        shared.evict_one(None);
    }
    tracing::debug!(error = %e, "accept failed");
    if out_of_fds || !is_connection_error(&e) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// The Router's service with the peer address as `ConnectInfo`, as axum's own server gives it.
#[derive(Clone)]
struct WithConnectInfo {
    app: Router,
    remote: SocketAddr,
}

impl tower::Service<Request<Body>> for WithConnectInfo {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = <Router as tower::Service<Request<Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        <Router as tower::Service<Request<Body>>>::poll_ready(&mut self.app, cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        req.extensions_mut().insert(ConnectInfo(self.remote));
        self.app.call(req)
    }
}

fn admit<M, S>(
    shared: &Arc<Shared>,
    stream: TcpStream,
    remote: SocketAddr,
    make: &M,
    stop: &CancellationToken,
    connections: &TaskTracker,
) where
    M: Fn(SocketAddr) -> S,
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let _ = stream.set_nodelay(true);
    let peer = PeerKey::of(remote.ip());
    // One address at its own cap makes room among its own idle connections, never others'.
    let at_peer_cap =
        peer.is_some_and(|k| shared.per_ip.lock().get(&k).is_some_and(|&n| n >= shared.limits.max_connections_per_ip));
    if at_peer_cap && !shared.evict_one(peer) {
        shared.stats.refused_per_ip.inc();
        refuse_later(shared, stream, PER_IP_REFUSAL);
        return;
    }
    let full = shared.conns.lock().len() >= shared.max_connections;
    if full && !shared.evict_one(None) {
        shared.stats.refused.inc();
        refuse_later(shared, stream, CAP_REFUSAL);
        return;
    }
    if let Some(k) = peer {
        *shared.per_ip.lock().entry(k).or_insert(0) += 1;
    }
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let conn = Arc::new(Conn {
        id,
        peer,
        phase: AtomicU8::new(HEADER),
        since_ms: AtomicU64::new(shared.now_ms()),
        active: AtomicU32::new(0),
        stalled_ms: AtomicU64::new(0),
        killed: AtomicBool::new(false),
        wake: Notify::new(),
    });
    shared.conns.lock().insert(id, conn.clone());
    shared.stats.accepted.inc();
    shared.stats.open.inc();
    connections.spawn(serve_connection(shared.clone(), conn, stream, remote, make(remote), stop.clone()));
}

const CAP_REFUSAL: &[u8] = br#"{"error":"the server has too many connections open; retry later","code":"too_many_connections","message":"the server has too many connections open; retry later"}"#;
const PER_IP_REFUSAL: &[u8] = br#"{"error":"too many connections open from your address; retry later","code":"too_many_connections_from_address","message":"too many connections open from your address; retry later"}"#;

/// Answers `body` with a 503 in the background (at most [`MAX_REFUSALS`] at once; past it the
/// connection is closed without an answer).
fn refuse_later(shared: &Shared, stream: TcpStream, body: &'static [u8]) {
    match shared.refusals.clone().try_acquire_owned() {
        Ok(permit) => {
            tokio::spawn(async move {
                refuse(stream, body).await;
                drop(permit);
            });
        }
        Err(_) => drop(stream),
    }
}

/// A 503 for a connection over a cap when no connection can be closed for it.
async fn refuse(mut stream: TcpStream, body: &'static [u8]) {
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        stream.shutdown().await
    })
    .await;
}

async fn serve_connection<S>(
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    stream: TcpStream,
    remote: SocketAddr,
    app: S,
    stop: CancellationToken,
) where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let io = TokioIo::new(Watched { inner: stream, conn: conn.clone(), shared: shared.clone() });
    let (s2, c2) = (shared.clone(), conn.clone());
    let service =
        hyper::service::service_fn(move |req: Request<Incoming>| handle(s2.clone(), c2.clone(), app.clone(), req));
    let mut builder = http1::Builder::new();
    builder.keep_alive(true).max_buf_size(shared.limits.max_header_bytes.max(MIN_HEADER_BYTES));
    let served = builder.serve_connection(io, service);
    tokio::pin!(served);
    let mut stopping = stop.is_cancelled();
    if stopping {
        served.as_mut().graceful_shutdown();
    }
    loop {
        let deadline = shared.deadline(&conn);
        let sleep = async {
            match deadline {
                Some((ms, _)) => tokio::time::sleep_until((shared.epoch + Duration::from_millis(ms)).into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    tracing::trace!(%remote, error = %e, "connection ended with an error");
                }
                break;
            }
            _ = conn.wake.notified() => {
                if conn.killed.load(Ordering::Acquire) {
                    break;
                }
            }
            _ = sleep => {
                // The phase may have moved on since the deadline was computed.
                if let Some((ms, why)) = shared.deadline(&conn)
                    && ms <= shared.now_ms()
                {
                    match why {
                        Expired::Header => shared.stats.header_timeouts.inc(),
                        Expired::Idle => shared.stats.idle_timeouts.inc(),
                        Expired::Write => shared.stats.write_timeouts.inc(),
                    };
                    tracing::debug!(%remote, ?why, "connection closed by a server timeout");
                    break;
                }
            }
            _ = stop.cancelled(), if !stopping => {
                stopping = true;
                served.as_mut().graceful_shutdown();
            }
        }
    }
    shared.conns.lock().remove(&conn.id);
    if let Some(k) = conn.peer {
        let mut per_ip = shared.per_ip.lock();
        if let Some(n) = per_ip.get_mut(&k) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_ip.remove(&k);
            }
        }
    }
    shared.stats.open.dec();
}

/// The socket, watched: a first byte on an idle connection starts the header timer, and a write
/// that cannot proceed starts the write-stall timer.
struct Watched {
    inner: TcpStream,
    conn: Arc<Conn>,
    shared: Arc<Shared>,
}

impl Watched {
    fn wrote<T>(&self, r: &Poll<io::Result<T>>) {
        match r {
            Poll::Pending => {
                if self.conn.stalled_ms.load(Ordering::Relaxed) == 0 {
                    self.conn.stalled_ms.store(self.shared.now_ms(), Ordering::Relaxed);
                    self.conn.wake.notify_one();
                }
            }
            Poll::Ready(_) => {
                if self.conn.stalled_ms.load(Ordering::Relaxed) != 0 {
                    self.conn.stalled_ms.store(0, Ordering::Relaxed);
                }
            }
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(())))
            && buf.filled().len() > before
            && this.conn.phase.load(Ordering::Acquire) == IDLE
        {
            let now = this.shared.now_ms();
            if this.conn.phase.compare_exchange(IDLE, HEADER, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                this.conn.since_ms.store(now, Ordering::Relaxed);
                this.conn.wake.notify_one();
            }
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.wrote(&r);
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.wrote(&r);
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A request in progress on a connection, until its response is written (or dropped).
struct InProgress {
    conn: Arc<Conn>,
    shared: Arc<Shared>,
}

impl InProgress {
    fn begin(shared: &Arc<Shared>, conn: &Arc<Conn>) -> InProgress {
        if conn.active.fetch_add(1, Ordering::AcqRel) == 0 {
            conn.phase.store(BUSY, Ordering::Release);
        }
        InProgress { conn: conn.clone(), shared: shared.clone() }
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        if self.conn.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.conn.enter(IDLE, self.shared.now_ms());
        }
    }
}

/// What a request's body reader shares with [`handle`]: why the body failed (a [`BodyError`]
/// code, 0 while it has not) and the body bytes held from the shared budget, given back when the
/// handler answers. One allocation per request for both.
struct BodyState {
    outcome: AtomicU8,
    budget: Arc<Semaphore>,
    held: AtomicUsize,
}

impl BodyState {
    fn release(&self) {
        let n = self.held.swap(0, Ordering::AcqRel);
        if n > 0 {
            self.budget.add_permits(n);
        }
    }
}

impl Drop for BodyState {
    fn drop(&mut self) {
        self.release();
    }
}

async fn handle<S>(
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    app: S,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible>
where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    let in_progress = InProgress::begin(&shared, &conn);
    let Ok(slot) = shared.in_flight.clone().try_acquire_owned() else {
        shared.stats.shed.inc();
        let resp = refusal(503, "busy", "the server is handling too many requests; retry later");
        return Ok(track(resp, in_progress));
    };
    let state = Arc::new(BodyState {
        outcome: AtomicU8::new(0),
        budget: shared.body_budget.clone(),
        held: AtomicUsize::new(0),
    });
    let (parts, incoming) = req.into_parts();
    let body = Limited {
        inner: incoming,
        until: Instant::now() + shared.limits.body_read_timeout,
        deadline: None,
        limit: shared.limits.max_body_bytes,
        read: 0,
        state: state.clone(),
        checked_hint: false,
    };
    let req = Request::from_parts(parts, Body::new(body));
    let Ok(resp) = app.oneshot(req).await;
    drop(slot);
    state.release();
    let resp = match BodyError::from_code(state.outcome.load(Ordering::Acquire)) {
        Some(e) => {
            if e == BodyError::Timeout {
                shared.stats.body_timeouts.inc();
            }
            if e == BodyError::Busy {
                shared.stats.shed.inc();
            }
            // The body was not read to its end: this connection cannot carry another request.
            let mut resp = if resp.status().as_u16() == e.status() {
                resp
            } else {
                let code = match e {
                    BodyError::Timeout => "body_timeout",
                    BodyError::TooLarge => "body_too_large",
                    BodyError::Busy => "busy",
                    BodyError::Incomplete => "bad_body",
                };
                refusal(e.status(), code, &e.to_string())
            };
            resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        }
        None => resp,
    };
    Ok(track(resp, in_progress))
}

/// A JSON refusal readable by the Ledger API's clients (`error`, `code`) and a dendrite
/// (`message`).
fn refusal(status: u16, code: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({"error": message, "code": code, "message": message}).to_string();
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    if status == 503 {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

fn track(resp: Response<Body>, in_progress: InProgress) -> Response<Body> {
    resp.map(|inner| Body::new(Tracked { inner, _in_progress: in_progress }))
}

/// A response body that ends the request's "in progress" state when it is written or dropped.
struct Tracked {
    inner: Body,
    _in_progress: InProgress,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body under the server's limits: size, time, and the shared byte budget.
struct Limited {
    inner: Incoming,
    /// When the body must have arrived.
    until: Instant,
    /// A timer for `until`, armed the first time the body is not there yet: a body that has
    /// arrived whole (the usual small request) never registers one.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    limit: usize,
    read: usize,
    state: Arc<BodyState>,
    checked_hint: bool,
}

impl Limited {
    fn fail(&self, e: BodyError) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let _ = self.state.outcome.compare_exchange(0, e.code(), Ordering::AcqRel, Ordering::Acquire);
        Poll::Ready(Some(Err(e)))
    }
}

impl HttpBody for Limited {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if let Some(e) = BodyError::from_code(this.state.outcome.load(Ordering::Acquire)) {
            return Poll::Ready(Some(Err(e)));
        }
        if !this.checked_hint {
            this.checked_hint = true;
            // A declared length over the limit is refused before reading anything.
            if this.inner.size_hint().lower() > this.limit as u64 {
                return this.fail(BodyError::TooLarge);
            }
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let n = data.len();
                    this.read = this.read.saturating_add(n);
                    if this.read > this.limit {
                        return this.fail(BodyError::TooLarge);
                    }
                    if n > 0 {
                        let Ok(permit) = u32::try_from(n)
                            .map_err(|_| ())
                            .and_then(|n32| this.state.budget.try_acquire_many(n32).map_err(|_| ()))
                        else {
                            return this.fail(BodyError::Busy);
                        };
                        permit.forget();
                        this.state.held.fetch_add(n, Ordering::AcqRel);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                // The client went away or sent a malformed body; hyper closes the connection.
                tracing::trace!(error = %e, "request body read failed");
                Poll::Ready(Some(Err(BodyError::Incomplete)))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let until = this.until;
                let deadline = this.deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until.into())));
                if deadline.as_mut().poll(cx).is_ready() {
                    return this.fail(BodyError::Timeout);
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
