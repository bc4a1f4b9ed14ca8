//! `conn-flood`: a normal client's latency with and without a flood of idle or trickling
//! connections held open against one server (the axon, or any HTTP endpoint such as the
//! validator's API), in one run.
//!
//! For each flood kind it measures the normal client unloaded, opens `--conns` flood
//! connections, measures again while they are held, then keeps them (re-opening any the server
//! closes) until `--hold-secs` to count how many the server cut:
//! - `idle`: connect and send nothing;
//! - `trickle`: send `GET / HTTP/1.1` and then one header byte every `--trickle-ms` (slowloris).
//!
//! The normal client sends `-n` requests one after another on one kept-alive connection
//! (`keepalive`) and `-n` requests each on a new connection (`fresh`, what a new dendrite call
//! or an API client without a pool does). Axon requests are signed v10 `EchoSynapse` calls
//! (signed as they are sent); HTTP requests are `GET --path` with an optional bearer key.
//! The soft open-file limit is raised to the hard limit first. Prints one JSON line per flood
//! kind, with the machine's load average before and after (the machine may be shared).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use orchestra_bench::{percentile, process_cpu_seconds};
use orchestra_keys::Keypair;
use orchestra_proto::{body_hash::EMPTY_BODY_HASH, wire};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// A signed v10 EchoSynapse call (the echo axon, or any axon serving it).
    Axon,
    /// `GET --path`.
    Http,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Flood {
    Idle,
    Trickle,
}

#[derive(Parser, Debug)]
#[command(about = "A normal client's p50/p99 with and without 1,000 idle or trickling connections")]
struct Args {
    /// host:port of the server.
    #[arg(long)]
    addr: String,
    #[arg(long, value_enum, default_value = "axon")]
    kind: Kind,
    /// The axon's hotkey (ss58), with --kind axon.
    #[arg(long, default_value = "")]
    axon_hotkey: String,
    /// Dendrite key (dev URI), with --kind axon.
    #[arg(long, default_value = "//Bob")]
    uri: String,
    /// Path requested with --kind http.
    #[arg(long, default_value = "/healthz")]
    path: String,
    /// File holding an API key sent as `Authorization: Bearer`, with --kind http.
    #[arg(long)]
    bearer_file: Option<std::path::PathBuf>,
    /// Flood connections held open.
    #[arg(long, default_value_t = 1000)]
    conns: usize,
    /// Flood kinds to run, in order.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "idle,trickle")]
    floods: Vec<Flood>,
    /// Requests per measurement (each of keepalive and fresh).
    #[arg(short = 'n', default_value_t = 1000)]
    n: usize,
    /// Milliseconds between a trickling connection's header bytes.
    #[arg(long, default_value_t = 2000)]
    trickle_ms: u64,
    /// Seconds to hold each flood from its start (to count the connections the server cuts).
    #[arg(long, default_value_t = 15)]
    hold_secs: u64,
    /// PID of the server, to report its CPU time.
    #[arg(long)]
    pid: Option<u32>,
    #[arg(long, default_value = "server")]
    label: String,
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

fn load_avg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The normal client.
struct Client {
    args: Arc<Args>,
    key: Keypair,
    bearer: Option<String>,
}

impl Client {
    fn request(&self, uuid: &str) -> Vec<u8> {
        let a = &self.args;
        match a.kind {
            Kind::Axon => {
                let nonce = now_ns();
                let msg = wire::dendrite_message(nonce, self.key.ss58(), &a.axon_hotkey, uuid, EMPTY_BODY_HASH);
                let sig = self.key.sign_hex(msg.as_bytes());
                let body = r#"{"name": "EchoSynapse", "timeout": 12.0, "query": "flood"}"#;
                format!(
                    "POST /EchoSynapse HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\
name: EchoSynapse\r\ntimeout: 12.0\r\nbt_header_axon_hotkey: {ah}\r\nbt_header_dendrite_version: {ver}\r\n\
bt_header_dendrite_nonce: {nonce}\r\nbt_header_dendrite_uuid: {uuid}\r\nbt_header_dendrite_hotkey: {dh}\r\n\
bt_header_dendrite_signature: {sig}\r\nbt_header_input_obj_query: IiI=\r\ncomputed_body_hash: {bh}\r\n\r\n{body}",
                    host = a.addr,
                    len = body.len(),
                    ah = a.axon_hotkey,
                    ver = wire::SDK_VERSION_AS_INT,
                    dh = self.key.ss58(),
                    bh = EMPTY_BODY_HASH,
                )
                .into_bytes()
            }
            Kind::Http => {
                let auth = self.bearer.as_ref().map(|k| format!("Authorization: Bearer {k}\r\n")).unwrap_or_default();
                format!("GET {} HTTP/1.1\r\nHost: {}\r\n{auth}\r\n", a.path, a.addr).into_bytes()
            }
        }
    }

    /// One request on `stream`; Ok(true) when the answer is a 200 (and, for the axon, the echo).
    async fn call(&self, stream: &mut TcpStream, uuid: &str, buf: &mut Vec<u8>) -> Result<bool> {
        stream.write_all(&self.request(uuid)).await?;
        buf.clear();
        let mut chunk = [0u8; 8192];
        let (head_end, len, status) = loop {
            let k = stream.read(&mut chunk).await?;
            if k == 0 {
                bail!("closed by the server");
            }
            buf.extend_from_slice(&chunk[..k]);
            if let Some(pos) = find(buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&buf[..pos]).context("head is not utf-8")?;
                let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).context("bad status line")?;
                let len = head
                    .split("\r\n")
                    .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")))
                    .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                    .context("no content-length")?;
                break (pos + 4, len, status);
            }
        };
        while buf.len() < head_end + len {
            let k = stream.read(&mut chunk).await?;
            if k == 0 {
                bail!("closed mid-body");
            }
            buf.extend_from_slice(&chunk[..k]);
        }
        let ok =
            status == 200 && (self.args.kind != Kind::Axon || find(&buf[head_end..], br#""result":"flood""#).is_some());
        Ok(ok)
    }

    async fn connect(&self) -> Result<TcpStream> {
        let s = TcpStream::connect(&self.args.addr).await.with_context(|| format!("connect {}", self.args.addr))?;
        s.set_nodelay(true)?;
        Ok(s)
    }

    /// `n` sequential requests on one connection, then `n` each on a new connection.
    async fn measure(&self, n: usize) -> Result<serde_json::Value> {
        let mut buf = Vec::with_capacity(8192);
        let mut errors = 0usize;
        let mut keep = Vec::with_capacity(n);
        let uuid = uuid::Uuid::new_v4().to_string();
        let mut s = self.connect().await?;
        for _ in 0..n {
            let t = Instant::now();
            match self.call(&mut s, &uuid, &mut buf).await {
                Ok(true) => {}
                Ok(false) => errors += 1,
                Err(_) => {
                    errors += 1;
                    s = self.connect().await?;
                }
            }
            keep.push(t.elapsed());
        }
        drop(s);
        let mut fresh = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let uuid = uuid::Uuid::new_v4().to_string();
            let ok = match self.connect().await {
                Ok(mut s) => self.call(&mut s, &uuid, &mut buf).await.unwrap_or(false),
                Err(_) => false,
            };
            errors += usize::from(!ok);
            fresh.push(t.elapsed());
        }
        keep.sort_unstable();
        fresh.sort_unstable();
        let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        Ok(serde_json::json!({
            "keepalive": {"p50_ms": ms(percentile(&keep, 50.0)), "p99_ms": ms(percentile(&keep, 99.0)), "max_ms": ms(percentile(&keep, 100.0))},
            "fresh": {"p50_ms": ms(percentile(&fresh, 50.0)), "p99_ms": ms(percentile(&fresh, 99.0)), "max_ms": ms(percentile(&fresh, 100.0))},
            "errors": errors,
        }))
    }
}

/// Counters of one flood.
#[derive(Default)]
struct FloodStats {
    open: AtomicUsize,
    /// Connections the server closed (then re-opened by the flood).
    cut: AtomicU64,
    connect_failures: AtomicU64,
}

/// One flood connection, re-opened whenever the server closes it, until the task is aborted.
async fn flood_conn(addr: String, kind: Flood, every: Duration, offset: Duration, stats: Arc<FloodStats>) {
    loop {
        let Ok(mut s) = TcpStream::connect(&addr).await else {
            stats.connect_failures.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        stats.open.fetch_add(1, Ordering::Relaxed);
        match kind {
            Flood::Idle => {
                let mut b = [0u8; 512];
                // Wait for the server to close it (or answer, which it does not).
                let _ = s.read(&mut b).await;
            }
            Flood::Trickle => {
                if s.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\nX-Trickle: ").as_bytes()).await.is_ok() {
                    tokio::time::sleep(offset).await;
                    let mut b = [0u8; 512];
                    loop {
                        tokio::select! {
                            r = s.read(&mut b) => { if matches!(r, Ok(0) | Err(_)) { break; } }
                            _ = tokio::time::sleep(every) => {
                                if s.write_all(b"a").await.is_err() { break; }
                            }
                        }
                    }
                }
            }
        }
        stats.open.fetch_sub(1, Ordering::Relaxed);
        stats.cut.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let nofile = orchestra_net::serve::raise_fd_limit();
    if nofile < args.conns as u64 + 64 {
        bail!(
            "the open-file limit is {nofile}, too low for {} connections (raise the hard limit: ulimit -Hn)",
            args.conns
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(run(Arc::new(args), nofile))
}

async fn run(args: Arc<Args>, nofile: u64) -> Result<()> {
    let bearer = match &args.bearer_file {
        Some(p) => {
            Some(std::fs::read_to_string(p).with_context(|| format!("read {}", p.display()))?.trim().to_string())
        }
        None => None,
    };
    let key = Keypair::from_uri(&args.uri).map_err(|e| anyhow::anyhow!("{e}"))?;
    let client = Client { args: args.clone(), key, bearer };
    // Warm-up, and a check that the server answers correctly at all.
    let warm = client.measure(50).await?;
    if warm["errors"].as_u64() != Some(0) {
        bail!("warm-up requests failed ({warm}): check --addr, --axon-hotkey, --path and --bearer-file");
    }
    for &kind in &args.floods {
        let load_before = load_avg();
        let cpu0 = args.pid.and_then(process_cpu_seconds);
        let unloaded = client.measure(args.n).await?;
        let stats = Arc::new(FloodStats::default());
        let started = Instant::now();
        let every = Duration::from_millis(args.trickle_ms.max(1));
        let mut tasks = Vec::with_capacity(args.conns);
        for i in 0..args.conns {
            // Spread the trickled bytes over the interval.
            let offset = every.mul_f64(i as f64 / args.conns as f64);
            tasks.push(tokio::spawn(flood_conn(args.addr.clone(), kind, every, offset, stats.clone())));
            if i % 100 == 99 {
                tokio::task::yield_now().await;
            }
        }
        // Wait until the flood is fully open (or 10 s).
        while stats.open.load(Ordering::Relaxed) < args.conns && started.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let open_at_start = stats.open.load(Ordering::Relaxed);
        let cut_before = stats.cut.load(Ordering::Relaxed);
        let loaded = client.measure(args.n).await?;
        let open_at_end = stats.open.load(Ordering::Relaxed);
        let cut_during = stats.cut.load(Ordering::Relaxed) - cut_before;
        let hold = Duration::from_secs(args.hold_secs);
        if started.elapsed() < hold {
            tokio::time::sleep(hold - started.elapsed()).await;
        }
        let cut_in_hold = stats.cut.load(Ordering::Relaxed);
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
        let cpu1 = args.pid.and_then(process_cpu_seconds);
        let ratio = |which: &str| {
            let u = unloaded[which]["p99_ms"].as_f64().unwrap_or(0.0);
            let l = loaded[which]["p99_ms"].as_f64().unwrap_or(0.0);
            if u > 0.0 { (l / u * 100.0).round() / 100.0 } else { 0.0 }
        };
        let out = serde_json::json!({
            "bench": "conn_flood",
            "label": args.label,
            "flood": format!("{kind:?}").to_lowercase(),
            "conns": args.conns,
            "trickle_ms": args.trickle_ms,
            "n": args.n,
            "open_at_start": open_at_start,
            "open_at_end": open_at_end,
            "cut_during_measurement": cut_during,
            "cut_within_hold": cut_in_hold,
            "hold_secs": args.hold_secs,
            "connect_failures": stats.connect_failures.load(Ordering::Relaxed),
            "unloaded": unloaded,
            "loaded": loaded,
            "p99_ratio_keepalive": ratio("keepalive"),
            "p99_ratio_fresh": ratio("fresh"),
            "server_cpu_s": match (cpu0, cpu1) { (Some(a), Some(b)) => Some(b - a), _ => None },
            "load_avg_before": load_before,
            "load_avg_after": load_avg(),
            "nofile": nofile,
        });
        println!("{out}");
        // Let the server close what the flood left.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}
