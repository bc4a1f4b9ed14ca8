//! The shared serving loop (`orchestra_net::serve`) against hostile clients: slow heads, idle
//! connections, trickled bodies, connection floods, clients that stop reading. Each test uses
//! short limits so it runs in about a second.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use orchestra_net::serve::{ServeLimits, ServeStats, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/peer", get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                "slow"
            }),
        )
        .route("/echo", post(|body: Bytes| async move { body }))
        .route(
            "/hold",
            post(|body: Bytes| async move {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                body.len().to_string()
            }),
        )
        .route(
            "/huge",
            get(|| async {
                // 64 MiB, far more than the socket buffers hold.
                let chunk = Bytes::from(vec![b'x'; 1 << 20]);
                let stream = futures::stream::iter((0..64).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
                Body::from_stream(stream)
            }),
        )
}

fn short() -> ServeLimits {
    ServeLimits {
        header_read_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_millis(800),
        body_read_timeout: Duration::from_millis(500),
        write_timeout: Duration::from_millis(500),
        ..ServeLimits::default()
    }
}

struct Running {
    addr: SocketAddr,
    stats: ServeStats,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(limits: ServeLimits) -> Running {
    start_on("127.0.0.1:0", limits).await
}

async fn start_on(bind: &str, limits: ServeLimits) -> Running {
    let listener = tokio::net::TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::new(limits).unwrap();
    let stats = server.stats().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        server
            .serve(listener, app(), async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    Running { addr, stats, _stop: tx }
}

/// Reads until the peer closes (Ok(bytes read)) or `limit` passes (Err).
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> Result<Vec<u8>, Vec<u8>> {
    let mut buf = Vec::new();
    let r = tokio::time::timeout(limit, async {
        let mut chunk = [0u8; 8192];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    match r {
        Ok(()) => Ok(buf),
        Err(_) => Err(buf),
    }
}

/// Sends one keep-alive GET and reads its whole answer (bodies here are short, with a length).
async fn get_on(s: &mut TcpStream, path: &str) -> String {
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk)).await.unwrap().unwrap();
        assert!(n > 0, "closed before the answer: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text[..end]
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return text;
            }
        }
    }
}

/// A normal client's request on a new connection: status and time taken.
async fn normal_get(addr: SocketAddr) -> (u16, Duration) {
    let t0 = Instant::now();
    let c = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let r = c.get(format!("http://{addr}/")).send().await.unwrap();
    (r.status().as_u16(), t0.elapsed())
}

#[tokio::test]
async fn a_slowloris_head_is_cut_after_the_header_timeout() {
    let srv = start(short()).await;
    // Trickled: one header byte every 100 ms, never finishing the head.
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n").await.unwrap();
    let t0 = Instant::now();
    let trickle = async {
        for b in b"x-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter().cycle() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if s.write_all(&[*b]).await.is_err() {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(3), trickle).await.expect("the server closed the connection");
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(400) && took < Duration::from_millis(2000), "cut after {took:?}");
    // A connection that sends nothing at all is cut the same way.
    let mut silent = TcpStream::connect(srv.addr).await.unwrap();
    let t0 = Instant::now();
    read_until_closed(&mut silent, Duration::from_secs(3)).await.expect("closed");
    assert!(t0.elapsed() < Duration::from_millis(2000));
    assert_eq!(srv.stats.header_timeouts.get(), 2);
    // Others were never held up.
    assert_eq!(normal_get(srv.addr).await.0, 200);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let srv = start(ServeLimits { header_read_timeout: Duration::from_secs(5), ..short() }).await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    assert!(get_on(&mut s, "/").await.starts_with("HTTP/1.1 200"));
    // Kept alive within the idle timeout: a second request on the same connection works.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(get_on(&mut s, "/").await.starts_with("HTTP/1.1 200"));
    // Then silence: closed after the idle timeout (0.8 s), well before the header timeout (5 s).
    let t0 = Instant::now();
    let rest = read_until_closed(&mut s, Duration::from_secs(4)).await.expect("closed");
    assert!(rest.is_empty());
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(600) && took < Duration::from_millis(3000), "closed after {took:?}");
    assert_eq!(srv.stats.idle_timeouts.get(), 1);
    assert_eq!(srv.stats.header_timeouts.get(), 0);
}

#[tokio::test]
async fn connections_over_the_cap_do_not_starve_a_normal_client() {
    let limits = ServeLimits {
        max_connections: 8,
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(30),
        ..short()
    };
    let srv = start(limits).await;
    // Fill the cap: four idle kept-alive connections and four that trickle their heads.
    let mut held = Vec::new();
    for i in 0..8 {
        let mut s = TcpStream::connect(srv.addr).await.unwrap();
        if i % 2 == 0 {
            assert!(get_on(&mut s, "/").await.starts_with("HTTP/1.1 200"));
        } else {
            s.write_all(b"GET / HTTP/1.1\r\nx-slow: ").await.unwrap();
        }
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(srv.stats.open.get(), 8);
    // More flood connections, then normal clients: each gets in at once by closing the
    // connection that has waited longest.
    for _ in 0..8 {
        held.push(TcpStream::connect(srv.addr).await.unwrap());
    }
    for _ in 0..3 {
        let (status, took) = normal_get(srv.addr).await;
        assert_eq!(status, 200);
        assert!(took < Duration::from_millis(1000), "normal client waited {took:?}");
    }
    // Every flood connection past the cap evicted one (a finished normal client may have closed
    // its own connection before the next one came).
    assert!(srv.stats.evicted.get() >= 9, "evicted {}", srv.stats.evicted.get());
    assert!(srv.stats.open.get() <= 8);

    // When every connection is busy, a new one gets a 503 at once instead of waiting.
    let srv = start(ServeLimits { max_connections: 2, ..short() }).await;
    let busy: Vec<_> = (0..2)
        .map(|_| {
            let addr = srv.addr;
            tokio::spawn(async move {
                let mut s = TcpStream::connect(addr).await.unwrap();
                get_on(&mut s, "/slow").await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    let t0 = Instant::now();
    let answer = read_until_closed(&mut s, Duration::from_secs(2)).await.expect("answered and closed");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("too_many_connections"), "{text}");
    assert!(t0.elapsed() < Duration::from_millis(500));
    assert_eq!(srv.stats.refused.get(), 1);
    for b in busy {
        assert!(b.await.unwrap().starts_with("HTTP/1.1 200"));
    }
}

#[tokio::test]
async fn a_body_trickled_past_the_body_timeout_gets_408_and_is_closed() {
    let srv = start(short()).await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n0123456789").await.unwrap();
    let t0 = Instant::now();
    let writer = async {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if s.write_all(b"x").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(1200), writer).await;
    let answer = read_until_closed(&mut s, Duration::from_secs(3)).await.expect("answered and closed");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.to_ascii_lowercase().contains("connection: close"), "{text}");
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert_eq!(srv.stats.body_timeouts.get(), 1);
    // A body that arrives in time is served.
    let c = reqwest::Client::new();
    let r = c.post(format!("http://{}/echo", srv.addr)).body("hello").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "hello");
}

#[tokio::test]
async fn requests_and_body_bytes_in_flight_are_capped() {
    // Body bytes: 16 KiB in flight; one 12 KiB body held by a slow handler, a second one is 503.
    let limits =
        ServeLimits { max_body_bytes: 16 * 1024, max_body_bytes_in_flight: 16 * 1024, max_in_flight: 3, ..short() };
    let srv = start(limits).await;
    let c = reqwest::Client::new();
    let url = format!("http://{}/hold", srv.addr);
    let first = tokio::spawn({
        let (c, url) = (c.clone(), url.clone());
        async move { c.post(url).body(vec![b'a'; 12 * 1024]).send().await.unwrap().status().as_u16() }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t0 = Instant::now();
    let second = c.post(&url).body(vec![b'b'; 12 * 1024]).send().await.unwrap();
    assert_eq!(second.status().as_u16(), 503);
    assert!(t0.elapsed() < Duration::from_millis(1000));
    // Over the body size limit: 413.
    let big = c.post(format!("http://{}/echo", srv.addr)).body(vec![b'c'; 17 * 1024]).send().await.unwrap();
    assert_eq!(big.status().as_u16(), 413);
    assert_eq!(first.await.unwrap(), 200);
    // The budget is given back: the same body now passes.
    assert_eq!(c.post(&url).body(vec![b'b'; 12 * 1024]).send().await.unwrap().status().as_u16(), 200);

    // Requests in flight: 3 slow ones hold every slot, the fourth is 503 at once.
    let slow: Vec<_> = (0..3)
        .map(|_| {
            let c = c.clone();
            let url = format!("http://{}/slow", srv.addr);
            tokio::spawn(async move { c.get(url).send().await.unwrap().status().as_u16() })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t0 = Instant::now();
    let r = reqwest::get(format!("http://{}/", srv.addr)).await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert!(t0.elapsed() < Duration::from_millis(1000));
    for s in slow {
        assert_eq!(s.await.unwrap(), 200);
    }
    assert!(srv.stats.shed.get() >= 2);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut() {
    let srv = start(short()).await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET /huge HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    // Never read: the server's writes stall once the socket buffers are full.
    let t0 = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if srv.stats.write_timeouts.get() == 1 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "the stalled connection was never closed");
    }
    assert_eq!(srv.stats.open.get(), 0);
}

#[tokio::test]
async fn handlers_see_the_peer_address() {
    let srv = start(ServeLimits::default()).await;
    let text = reqwest::get(format!("http://{}/peer", srv.addr)).await.unwrap().text().await.unwrap();
    let peer: SocketAddr = text.parse().unwrap();
    assert!(peer.ip().is_loopback(), "{peer}");
}

#[test]
fn limits_are_validated_and_flags_map_to_them() {
    assert!(ServeLimits::default().validate().is_ok());
    let bad = ServeLimits { max_connections: 0, ..ServeLimits::default() };
    assert!(bad.validate().unwrap_err().contains("max_connections"));
    let bad = ServeLimits { max_body_bytes_in_flight: 1, ..ServeLimits::default() };
    assert!(bad.validate().is_err());
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        server: orchestra_net::ServerArgs,
    }
    let cli = <Cli as clap::Parser>::parse_from([
        "x",
        "--server.header_timeout_secs",
        "2.5",
        "--server.max_connections",
        "100",
    ]);
    let l = cli.server.limits();
    assert_eq!(l.header_read_timeout, Duration::from_millis(2500));
    assert_eq!(l.max_connections, 100);
    assert_eq!(l.idle_timeout, ServeLimits::default().idle_timeout);
}
