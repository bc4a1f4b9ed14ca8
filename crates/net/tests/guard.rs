//! The guarded outbound client under attack: redirects, oversized bodies, internal
//! destinations, and TLS with an operator CA. Every server here is on loopback.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Response, StatusCode, header};
use axum::routing::get;
use orchestra_net::{GuardConfig, GuardError, GuardedClient};
use reqwest::Method;

/// Serve `app` on an ephemeral loopback port.
async fn serve(app: Router) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    addr
}

/// A server whose `/slow` answers after 30 s.
async fn slow_server() -> SocketAddr {
    serve(Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late"
        }),
    ))
    .await
}

fn local() -> GuardedClient {
    GuardedClient::new(GuardConfig { max_response_bytes: 1024 * 1024, ..GuardConfig::local() }).expect("client")
}

async fn get_url(c: &GuardedClient, url: &str) -> Result<orchestra_net::GuardedResponse, GuardError> {
    let req = c.request(Method::GET, url)?;
    c.send(req).await
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let target = serve(Router::new().route(
        "/secret",
        get(move || {
            h.fetch_add(1, Ordering::SeqCst);
            async { "internal data" }
        }),
    ))
    .await;
    let loc = format!("http://{target}/secret");
    let redirector = serve(Router::new().route(
        "/r",
        get(move || {
            let loc = loc.clone();
            async move {
                Response::builder()
                    .status(StatusCode::FOUND)
                    .header(header::LOCATION, loc)
                    .body(Body::from("moved"))
                    .expect("response")
            }
        }),
    ))
    .await;
    let r = get_url(&local(), &format!("http://{redirector}/r")).await.expect("answer");
    assert_eq!(r.status, 302, "the 3xx comes back to the caller");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the redirect target was never called");
    assert_eq!(r.summary(), "HTTP 302, 5 bytes");
}

#[tokio::test]
async fn oversized_bodies_are_cut_with_a_clear_error() {
    // Declared too large: refused before the body is read.
    let big = serve(Router::new().route("/big", get(|| async { vec![b'x'; 3 * 1024 * 1024] }))).await;
    let e = get_url(&local(), &format!("http://{big}/big")).await.expect_err("too large");
    assert_eq!(e, GuardError::TooLarge { limit: 1024 * 1024 });
    assert!(e.to_string().contains("exceeds the 1048576-byte limit"), "{e}");

    // No length given (chunked, endless): cut while streaming, after at most the limit.
    let sent = Arc::new(AtomicUsize::new(0));
    let s2 = sent.clone();
    let endless = serve(Router::new().route(
        "/endless",
        get(move || {
            let sent = s2.clone();
            async move {
                let stream = futures::stream::unfold(0usize, move |i| {
                    let sent = sent.clone();
                    async move {
                        if i >= 64 * 1024 {
                            return None; // 4 GiB at most; the client stops long before.
                        }
                        sent.fetch_add(65536, Ordering::SeqCst);
                        Some((Ok::<_, std::io::Error>(vec![b'y'; 65536]), i + 1))
                    }
                });
                Body::from_stream(stream)
            }
        }),
    ))
    .await;
    let e = get_url(&local(), &format!("http://{endless}/endless")).await.expect_err("too large");
    assert_eq!(e, GuardError::TooLarge { limit: 1024 * 1024 });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let n = sent.load(Ordering::SeqCst);
    assert!(n < 64 * 1024 * 1024, "the client stopped reading early ({n} bytes produced)");

    // Within the limit: read whole.
    let ok = serve(Router::new().route("/ok", get(|| async { vec![b'z'; 1000] }))).await;
    let r = get_url(&local(), &format!("http://{ok}/ok")).await.expect("ok");
    assert_eq!(r.body.len(), 1000);
}

#[tokio::test]
async fn internal_destinations_are_refused_without_the_flag() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let addr = serve(Router::new().route(
        "/",
        get(move || {
            h.fetch_add(1, Ordering::SeqCst);
            async { "hello" }
        }),
    ))
    .await;
    let strict = GuardedClient::new(GuardConfig::default()).expect("client");
    // An IP literal is refused before anything is sent.
    let e = get_url(&strict, &format!("http://{addr}/")).await.expect_err("refused");
    assert!(matches!(e, GuardError::Refused { reason: "loopback", .. }), "{e:?}");
    // A name that resolves to loopback is refused at resolution, before connecting.
    let e = get_url(&strict, &format!("http://localhost:{}/", addr.port())).await.expect_err("refused");
    assert!(matches!(e, GuardError::Refused { reason: "loopback", .. }), "{e:?}");
    assert!(e.to_string().contains("--net.allow_private"), "{e}");
    // IPv4-mapped and transition forms of loopback too.
    for u in [format!("http://[::ffff:127.0.0.1]:{}/", addr.port()), "http://[2002:7f00:1::1]/".to_string()] {
        assert!(matches!(get_url(&strict, &u).await, Err(GuardError::Refused { .. })), "{u}");
    }
    // Schemes other than http(s) never.
    assert!(matches!(strict.request(Method::GET, "file:///etc/passwd"), Err(GuardError::BadUrl(_))));
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no request reached the server");
    // With the flag (local networks) the same call goes through.
    assert_eq!(get_url(&local(), &format!("http://{addr}/")).await.expect("allowed").body, b"hello");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn total_time_is_capped() {
    let slow = slow_server().await;
    let c = GuardedClient::new(GuardConfig { timeout: Duration::from_millis(300), ..GuardConfig::local() })
        .expect("client");
    let t0 = std::time::Instant::now();
    let e = get_url(&c, &format!("http://{slow}/slow")).await.expect_err("timeout");
    assert!(matches!(e, GuardError::Timeout(_)), "{e:?}");
    assert!(t0.elapsed() < Duration::from_secs(5));
}

/// A one-connection-at-a-time HTTPS server with a certificate from its own CA.
/// An https server (`orchestra_net::testing`: a private CA, a `localhost` certificate it signs).
struct TlsServer {
    addr: SocketAddr,
    ca_pem: String,
}

async fn tls_server() -> TlsServer {
    let ca = orchestra_net::testing::TestCa::new();
    let app =
        Router::new().route("/", get(|| async { ([(header::CONTENT_TYPE, "application/json")], "{\"tls\":true}") }));
    let addr = ca.serve(app).await;
    TlsServer { addr, ca_pem: ca.ca_pem.clone() }
}

#[tokio::test]
async fn https_with_an_operator_ca_file() {
    let srv = tls_server().await;
    let url = format!("https://localhost:{}/", srv.addr.port());

    // Without the CA: the certificate is not trusted.
    let plain = GuardedClient::new(GuardConfig::local()).expect("client");
    let e = get_url(&plain, &url).await.expect_err("untrusted");
    assert!(matches!(e, GuardError::Connect(_)), "{e:?}");

    // With the operator's CA file: the call succeeds.
    let dir = tempfile::tempdir().expect("tmp");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &srv.ca_pem).expect("write");
    let trusting =
        GuardedClient::new(GuardConfig { ca_file: Some(ca.clone()), ..GuardConfig::local() }).expect("client");
    let r = get_url(&trusting, &url).await.expect("https works with the CA");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"{\"tls\":true}");

    // A CA file that holds no certificate is a configuration error, not a silent no-op.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").expect("write");
    assert!(matches!(
        GuardedClient::new(GuardConfig { ca_file: Some(empty), ..GuardConfig::local() }),
        Err(GuardError::Build(_))
    ));
}

/// Calls to one destination beyond `max_in_flight_per_host` wait for a slot instead of opening
/// more connections, and every one of them is still answered; another destination is not held
/// up by the first one's queue.
#[tokio::test]
async fn calls_to_one_destination_wait_for_a_slot() {
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (n, p) = (now.clone(), peak.clone());
    let busy = serve(Router::new().route(
        "/work",
        get(move || {
            let (n, p) = (n.clone(), p.clone());
            async move {
                let cur = n.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(cur, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(150)).await;
                n.fetch_sub(1, Ordering::SeqCst);
                "done"
            }
        }),
    ))
    .await;
    let other = serve(Router::new().route("/", get(|| async { "other" }))).await;
    let c = GuardedClient::new(GuardConfig { max_in_flight_per_host: 2, ..GuardConfig::local() }).expect("client");
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (c, url) = (c.clone(), format!("http://{busy}/work"));
        calls.spawn(async move { get_url(&c, &url).await.map(|r| r.status) });
    }
    // While the six wait their turn (three rounds of 150 ms), the other destination answers.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let t0 = std::time::Instant::now();
    let r = get_url(&c, &format!("http://{other}/")).await.expect("other destination");
    assert_eq!(r.status, 200);
    assert!(t0.elapsed() < Duration::from_millis(140), "held up by another destination: {:?}", t0.elapsed());
    let mut ok = 0;
    while let Some(j) = calls.join_next().await {
        assert_eq!(j.expect("join").expect("answered"), 200);
        ok += 1;
    }
    assert_eq!(ok, 6);
    assert_eq!(peak.load(Ordering::SeqCst), 2, "at most two calls in flight to one destination");
}

/// Waiting for a slot counts against the request's total time.
#[tokio::test]
async fn waiting_for_a_slot_counts_against_the_timeout() {
    let slow = slow_server().await;
    let c = GuardedClient::new(GuardConfig {
        max_in_flight_per_host: 1,
        timeout: Duration::from_millis(400),
        ..GuardConfig::local()
    })
    .expect("client");
    let url = format!("http://{slow}/slow");
    let first = tokio::spawn({
        let (c, url) = (c.clone(), url.clone());
        async move { get_url(&c, &url).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t0 = std::time::Instant::now();
    let e = get_url(&c, &url).await.expect_err("no slot within the timeout");
    assert!(matches!(e, GuardError::Timeout(_)), "{e:?}");
    assert!(t0.elapsed() < Duration::from_millis(1500), "{:?}", t0.elapsed());
    assert!(matches!(first.await.expect("join"), Err(GuardError::Timeout(_))));
}
