//! `ledger-load`: load benchmark of the Ledger API for docs/benchmarks.md.
//!
//! 1. Lookups: `-c` keep-alive connections, each sending one request at a time (closed loop)
//!    for `--duration-secs`, over a mix of `GET /v1/subnets/{n}`, `/v1/find?capability=..`,
//!    `/v1/subnets/{n}/schema` and `/v1/subnets` (or one of them with `--workload`). The client
//!    is a minimal HTTP/1.1 writer/reader on a single-threaded runtime, so it costs far less CPU
//!    than the server it measures and takes at most one core. Reports requests/s and latency
//!    percentiles.
//! 2. SSE fan-out: `--subscribers` clients watch the change feed; the benchmark commits
//!    `--changes` changes one at a time and measures, per change, the time from just before the
//!    commit (fsync included) until each subscriber has parsed the event. This needs write
//!    access to the store, so it always runs against an in-process server.
//!
//! Without `--url` the lookups also run against an in-process server over a temporary store
//! seeded with `--entries` synthetic entries. Prints one JSON line per measurement.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use futures::StreamExt;
use orchestra_ledger_api::CancellationToken;
use orchestra_ledger_api::{ApiConfig, LedgerApi, LedgerClient, create_key};
use orchestra_ledger_store::{ChangeKind, LedgerStore, StoreConfig, Tier};
use orchestra_proto::ledger::{AuthKind, EntryStatus, LedgerEntry, Metrics, Provenance, TransportSpec};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::task::TaskTracker;

#[derive(Parser, Debug)]
#[command(about = "Ledger API load: lookups/s with latency percentiles, and SSE fan-out latency")]
struct Args {
    /// A running Ledger API (http://host:port) for the lookup test; default: in-process server.
    #[arg(long)]
    url: Option<String>,
    /// API key for --url (use a production or enterprise key: other tiers are rate limited).
    #[arg(long, env = "ORCHESTRA_LEDGER_KEY")]
    key: Option<String>,
    /// Measured seconds of lookup load.
    #[arg(long, default_value_t = 10.0)]
    duration_secs: f64,
    /// Unmeasured seconds before that.
    #[arg(long, default_value_t = 1.0)]
    warmup_secs: f64,
    /// Concurrent keep-alive connections.
    #[arg(short = 'c', long, default_value_t = 32)]
    concurrency: usize,
    /// `mix`, `get`, `find`, `schema` or `list`.
    #[arg(long, default_value = "mix")]
    workload: String,
    /// Entries in the in-process server's store.
    #[arg(long, default_value_t = 64)]
    entries: u16,
    /// Worker threads of the in-process server.
    #[arg(long, default_value_t = 2)]
    server_threads: usize,
    /// SSE subscribers.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Changes committed during the SSE test.
    #[arg(long, default_value_t = 10)]
    changes: usize,
    /// PID of the server behind --url, to report its CPU time per lookup (Linux).
    #[arg(long)]
    pid: Option<u32>,
    #[arg(long)]
    skip_lookups: bool,
    #[arg(long)]
    skip_sse: bool,
}

fn synthetic_entry(netuid: u16) -> LedgerEntry {
    let caps = ["web_search", "scrape", "llm_chat", "embeddings"];
    let cap = caps[netuid as usize % caps.len()];
    LedgerEntry {
        netuid,
        name: format!("subnet-{netuid}"),
        description: format!("synthetic subnet {netuid} offering {cap}"),
        capabilities: vec![cap.to_string(), "generic".to_string()],
        transports: vec![TransportSpec::HttpJson {
            url: format!("http://198.51.100.1:8000/{netuid}"),
            method: "POST".into(),
            auth: AuthKind::None,
        }],
        input_schema: json!({"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}}, "required": ["query"]}),
        output_schema: json!({"type": "object", "properties": {"results": {"type": "array", "items": {"type": "object", "properties": {"title": {"type": "string"}, "url": {"type": "string"}, "snippet": {"type": "string"}}}}}}),
        fixture: json!({"query": "gpu pricing", "limit": 3}),
        metrics: Metrics {
            latency_p50_ms: Some(100 + netuid as u32),
            latency_p95_ms: Some(400),
            reliability: Some(0.9 + (netuid % 10) as f64 / 100.0),
            cost_micros: 10 * netuid as u64,
        },
        version: 0,
        last_verified_ms: None,
        provenance: Provenance::default(),
        status: if netuid.is_multiple_of(3) { EntryStatus::Candidate } else { EntryStatus::Verified },
        simulated: true,
    }
}

/// An in-process server over a temporary store.
struct Local {
    /// Runs the server; dropped (and so stopped) with the `Local`.
    _rt: tokio::runtime::Runtime,
    store: Arc<LedgerStore>,
    url: String,
    key: String,
    dir: std::path::PathBuf,
    stop: CancellationToken,
    server: TaskTracker,
}

impl Drop for Local {
    fn drop(&mut self) {
        self.stop.cancel();
        // Let the server finish its shutdown (usage flush) before the runtime goes away.
        self.server.close();
        self._rt.block_on(self.server.wait());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_local(entries: u16, threads: usize) -> Result<Local> {
    let dir = std::env::temp_dir().join(format!(
        "ledger-load-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
    ));
    // Durable writes, as in production: the SSE latency includes the fsync of the commit.
    let store = Arc::new(LedgerStore::open(StoreConfig::new(&dir)).context("open temporary store")?);
    store.seed((1..=entries).map(synthetic_entry).collect()).context("seed")?;
    let (key, _) = create_key(&store, Tier::Production, "ledger-load").context("key")?;
    // Named threads, so the server's CPU time can be told apart from the load generator's.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name(SERVER_THREAD)
        .enable_all()
        .build()?;
    let config = ApiConfig { production_per_second: 10_000_000, sse_buffer: 1024, ..ApiConfig::default() };
    let (stop, server) = (CancellationToken::new(), TaskTracker::new());
    let (s, token, tasks) = (store.clone(), stop.clone(), server.clone());
    let addr = rt.block_on(async move {
        let api = LedgerApi::new(config, s)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tasks.spawn(async move {
            if let Err(e) = api.serve(listener, token).await {
                eprintln!("server: {e}");
            }
        });
        anyhow::Ok(addr)
    })?;
    Ok(Local { _rt: rt, store, url: format!("http://{addr}"), key, dir, stop, server })
}

const SERVER_THREAD: &str = "ledger-srv";

/// CPU seconds (user + system) from a procfs `stat` line.
fn stat_cpu_secs(stat: &str) -> Option<f64> {
    // Fields after the parenthesised command: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    // Linux reports clock ticks of 1/100 s on every common configuration.
    Some((utime + stime) / 100.0)
}

/// CPU seconds used by the server: the named threads of the in-process server, or `pid`.
fn server_cpu_secs(pid: Option<u32>) -> Option<f64> {
    if let Some(pid) = pid {
        return stat_cpu_secs(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?);
    }
    let mut total = 0.0;
    for t in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim_end().starts_with(SERVER_THREAD) {
            total += std::fs::read_to_string(t.path().join("stat")).ok().and_then(|s| stat_cpu_secs(&s)).unwrap_or(0.0);
        }
    }
    Some(total)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    r: BufReader<tokio::net::tcp::OwnedReadHalf>,
    w: tokio::net::tcp::OwnedWriteHalf,
    line: String,
    body: Vec<u8>,
}

impl Conn {
    async fn open(hostport: &str) -> Result<Conn> {
        let s = TcpStream::connect(hostport).await.with_context(|| format!("connect {hostport}"))?;
        s.set_nodelay(true)?;
        let (r, w) = s.into_split();
        Ok(Conn { r: BufReader::with_capacity(64 * 1024, r), w, line: String::new(), body: Vec::new() })
    }

    /// Send a prepared request and read the response; returns the status.
    async fn call(&mut self, req: &[u8]) -> Result<u16> {
        self.w.write_all(req).await?;
        self.line.clear();
        if self.r.read_line(&mut self.line).await? == 0 {
            bail!("connection closed");
        }
        let status: u16 = self.line.split(' ').nth(1).and_then(|s| s.parse().ok()).context("status line")?;
        let mut len = 0usize;
        loop {
            self.line.clear();
            self.r.read_line(&mut self.line).await?;
            let l = self.line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().context("content-length")?;
            }
        }
        self.body.resize(len, 0);
        self.r.read_exact(&mut self.body).await?;
        Ok(status)
    }
}

async fn paths_for(url: &str, key: &str, workload: &str) -> Result<Vec<String>> {
    let client = LedgerClient::new(url, Some(key.to_string()))?;
    let list = client.list().await.context("list entries (is the key valid?)")?;
    if list.subnets.is_empty() {
        bail!("the Ledger at {url} has no entries");
    }
    let netuids: Vec<u16> = list.subnets.iter().map(|s| s.netuid()).collect();
    let mut caps: Vec<String> =
        list.subnets.iter().filter_map(|s| s.full().map(|e| e.capabilities.clone())).flatten().collect();
    caps.sort();
    caps.dedup();
    let mut out = Vec::new();
    for (i, n) in netuids.iter().enumerate() {
        let cap = caps.get(i % caps.len().max(1)).cloned().unwrap_or_else(|| "web_search".into());
        match workload {
            "get" => out.push(format!("/v1/subnets/{n}")),
            "find" => out.push(format!("/v1/find?capability={cap}")),
            "schema" => out.push(format!("/v1/subnets/{n}/schema")),
            "list" => out.push("/v1/subnets".to_string()),
            "mix" => {
                // Mostly single-entry lookups, as an agent router would make them.
                out.push(format!("/v1/subnets/{n}"));
                out.push(format!("/v1/subnets/{n}"));
                out.push(format!("/v1/find?capability={cap}"));
                out.push(format!("/v1/subnets/{n}/schema"));
                if i.is_multiple_of(8) {
                    out.push("/v1/subnets".to_string());
                }
            }
            other => bail!("unknown workload `{other}` (mix, get, find, schema, list)"),
        }
    }
    Ok(out)
}

fn lookups(args: &Args, url: &str, key: &str, server: &str, pid: Option<u32>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let hostport = url.strip_prefix("http://").context("only http:// URLs")?.trim_end_matches('/').to_string();
        let paths = paths_for(url, key, &args.workload).await?;
        let reqs: Arc<Vec<Vec<u8>>> = Arc::new(
            paths
                .iter()
                .map(|p| {
                    format!("GET {p} HTTP/1.1\r\nHost: {hostport}\r\nAuthorization: Bearer {key}\r\n\r\n").into_bytes()
                })
                .collect(),
        );
        let start = Instant::now();
        let warm_end = start + Duration::from_secs_f64(args.warmup_secs);
        let end = warm_end + Duration::from_secs_f64(args.duration_secs);
        // Only the in-process server's threads or an explicit --pid can be measured.
        let measure = server == "in-process" || pid.is_some();
        let cpu_at_warm_end = tokio::spawn(async move {
            tokio::time::sleep_until(tokio::time::Instant::from_std(warm_end)).await;
            if measure { server_cpu_secs(pid) } else { None }
        });
        let mut tasks = Vec::new();
        for c in 0..args.concurrency {
            let reqs = reqs.clone();
            let hostport = hostport.clone();
            tasks.push(tokio::spawn(async move {
                let mut conn = Conn::open(&hostport).await?;
                let mut lat = Vec::with_capacity(1 << 16);
                let mut non_200 = 0u64;
                let mut i = c * 7;
                loop {
                    let t0 = Instant::now();
                    if t0 >= end {
                        break;
                    }
                    let status = conn.call(&reqs[i % reqs.len()]).await?;
                    i += 1;
                    if t0 >= warm_end {
                        lat.push(t0.elapsed().as_micros() as u64);
                        if status != 200 {
                            non_200 += 1;
                        }
                    }
                }
                anyhow::Ok((lat, non_200))
            }));
        }
        let mut all = Vec::new();
        let mut non_200 = 0;
        for t in tasks {
            let (lat, n) = t.await??;
            all.extend(lat);
            non_200 += n;
        }
        let cpu = match (cpu_at_warm_end.await.ok().flatten(), if measure { server_cpu_secs(pid) } else { None }) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        all.sort_unstable();
        let secs = args.duration_secs;
        let per_req_us = cpu.filter(|_| !all.is_empty()).map(|c| (c * 1e6 / all.len() as f64 * 10.0).round() / 10.0);
        println!(
            "{}",
            json!({
                "bench": "ledger_lookups",
                "server": server,
                "workload": args.workload,
                "concurrency": args.concurrency,
                "duration_s": secs,
                "requests": all.len(),
                "non_200": non_200,
                "rps": (all.len() as f64 / secs).round(),
                "p50_ms": percentile(&all, 0.50),
                "p90_ms": percentile(&all, 0.90),
                "p99_ms": percentile(&all, 0.99),
                "max_ms": percentile(&all, 1.0),
                "server_cpu_s": cpu,
                "server_cpu_us_per_lookup": per_req_us,
                "lookups_per_server_core_s": per_req_us.filter(|u| *u > 0.0).map(|u| (1e6 / u).round()),
                "target": {"rps": 20000, "p99_ms": 5.0},
            })
        );
        anyhow::Ok(())
    })
}

fn sse(args: &Args, local: &Local) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        let client = LedgerClient::new(&local.url, Some(local.key.clone()))?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
        let opened = Instant::now();
        let mut subs = Vec::new();
        for _ in 0..args.subscribers {
            let mut stream = client.watch(None).await.context("subscribe")?;
            let tx = tx.clone();
            subs.push(tokio::spawn(async move {
                while let Some(Ok(ev)) = stream.next().await {
                    if tx.send((ev.seq, Instant::now())).is_err() {
                        break;
                    }
                }
            }));
        }
        let subscribe_ms = opened.elapsed().as_secs_f64() * 1000.0;
        let mut lasts = Vec::new();
        let mut all_received = true;
        for i in 0..args.changes {
            let store = local.store.clone();
            let netuid = 1 + (i as u16 % args.entries.max(1));
            let t0 = Instant::now();
            let seq = tokio::task::spawn_blocking(move || -> Result<u64> {
                let mut e = store.entry(netuid)?.context("entry")?;
                e.metrics.latency_p50_ms = Some(e.metrics.latency_p50_ms.unwrap_or(100) + 1);
                Ok(store.upsert_entry(e, ChangeKind::MetricsUpdated, "ledger-load")?.seq)
            })
            .await??;
            let commit_ms = t0.elapsed().as_secs_f64() * 1000.0;
            let mut lat = Vec::with_capacity(args.subscribers);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while lat.len() < args.subscribers {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some((s, at))) if s == seq => lat.push(at.duration_since(t0).as_micros() as u64),
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
            lat.sort_unstable();
            let received = lat.len();
            all_received &= received == args.subscribers;
            let last = percentile(&lat, 1.0);
            lasts.push((last * 1000.0) as u64);
            println!(
                "{}",
                json!({
                    "bench": "ledger_sse_change",
                    "seq": seq,
                    "commit_ms": commit_ms,
                    "subscribers": args.subscribers,
                    "received": received,
                    "first_ms": percentile(&lat, 0.0),
                    "p50_ms": percentile(&lat, 0.5),
                    "p99_ms": percentile(&lat, 0.99),
                    "last_ms": last,
                })
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        lasts.sort_unstable();
        println!(
            "{}",
            json!({
                "bench": "ledger_sse_fanout",
                "subscribers": args.subscribers,
                "changes": args.changes,
                "subscribe_all_ms": subscribe_ms.round(),
                "all_received": all_received,
                "last_subscriber_ms_p50": percentile(&lasts, 0.5),
                "last_subscriber_ms_max": percentile(&lasts, 1.0),
                "target_ms": 500,
            })
        );
        for s in subs {
            s.abort();
        }
        anyhow::Ok(())
    })
}

fn main() -> Result<()> {
    let args = Args::parse();
    let local =
        if args.url.is_none() || !args.skip_sse { Some(start_local(args.entries, args.server_threads)?) } else { None };
    if !args.skip_lookups {
        match (&args.url, &local) {
            (Some(url), _) => {
                let key = args.key.clone().context("--key is required with --url")?;
                lookups(&args, url, &key, url, args.pid)?;
            }
            (None, Some(l)) => lookups(&args, &l.url, &l.key, "in-process", None)?,
            (None, None) => bail!("no server"),
        }
    }
    if !args.skip_sse
        && let Some(l) = &local
    {
        sse(&args, l)?;
    }
    drop(local);
    Ok(())
}
