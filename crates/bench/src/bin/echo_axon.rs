//! `echo_axon`: a Rust axon serving the reference peer's `EchoSynapse` (`result = query`), the
//! counterpart of `shared/refpeer/py_axon_echo.py` for interop tests and load benchmarks.
//!
//! Prints one JSON line on stdout once listening:
//! `{"event":"ready","hotkey":"<ss58>","host":...,"port":...,...}` (with `--port 0` the port is
//! the one the OS chose), and `{"event":"stopped"}` after SIGINT/SIGTERM. Logs go to stderr
//! (`RUST_LOG`, default `warn`).

use std::collections::HashSet;
use std::net::SocketAddr;

use anyhow_free::{Result, fail};
use clap::Parser;
use orchestra_keys::Keypair;
use orchestra_net::echo::Echo;
use orchestra_net::{Axon, AxonConfig, BlacklistPolicy, MetagraphSnapshot, Peer, RateLimit};
use orchestra_node::WalletArgs;

/// Minimal error plumbing for a binary (the library's errors convert into it).
mod anyhow_free {
    pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
    pub fn fail(msg: String) -> Box<dyn std::error::Error + Send + Sync> {
        msg.into()
    }
}

#[derive(Parser, Debug)]
#[command(about = "Rust axon serving EchoSynapse (result = query), like refpeer/py_axon_echo.py")]
struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind (0 = any free port; the ready line tells which).
    #[arg(long, default_value_t = 8091)]
    port: u16,
    /// Hotkey from a secret URI (e.g. //Alice) instead of a wallet.
    #[arg(long)]
    uri: Option<String>,
    #[command(flatten)]
    wallet: WalletArgs,
    /// required_hash_fields = ("query",), as the Python peer's flag.
    #[arg(long)]
    hash_fields: bool,
    /// query: str = "" (not required in headers), as the Python peer's flag.
    #[arg(long)]
    optional_query: bool,
    /// No blacklist (the default unless --allow-hotkey is given).
    #[arg(long)]
    allow_any: bool,
    /// Only these hotkeys may call (each treated as a registered validator); repeatable.
    #[arg(long = "allow-hotkey")]
    allow_hotkey: Vec<String>,
    /// Per-hotkey requests per second (0 = unlimited, the default for benchmarks).
    #[arg(long, default_value_t = 0)]
    rate_limit: u32,
    /// Handlers running at once.
    #[arg(long, default_value_t = 1024)]
    max_in_flight: usize,
    /// Requests allowed to wait for a slot.
    #[arg(long, default_value_t = 4096)]
    max_queue: usize,
    /// Tokio worker threads (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// Also serve GET /metrics (to loopback peers unless --public-metrics).
    #[arg(long)]
    metrics: bool,
    /// Most request signatures verified in one batch (1 = every signature on its own).
    #[arg(long, default_value_t = 64)]
    verify_batch: usize,
    /// Longest a signature batch keeps gathering, in µs.
    #[arg(long, default_value_t = 200)]
    verify_batch_wait_us: u64,
    /// Serve GET /metrics to any peer.
    #[arg(long)]
    public_metrics: bool,
    #[command(flatten)]
    server: orchestra_node::ServerArgs,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("echo_axon: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = args.workers {
        rt.worker_threads(n.max(1));
    }
    rt.build()?.block_on(serve(args))
}

async fn serve(args: Args) -> Result<()> {
    let keypair = match &args.uri {
        Some(uri) => Keypair::from_uri(uri)?,
        None => args.wallet.wallet().hotkey()?,
    };
    if args.allow_any && !args.allow_hotkey.is_empty() {
        return Err(fail("--allow-any and --allow-hotkey exclude each other".into()));
    }
    let mut config = AxonConfig {
        max_in_flight: args.max_in_flight,
        max_queue: args.max_queue,
        rate_limit: (args.rate_limit > 0).then_some(RateLimit { per_second: args.rate_limit, burst: args.rate_limit }),
        serve_metrics: args.metrics,
        public_metrics: args.public_metrics,
        server: args.server.limits(),
        policy: BlacklistPolicy::allow_all(),
        verify_batch_max: args.verify_batch,
        verify_batch_wait: std::time::Duration::from_micros(args.verify_batch_wait_us),
        ..AxonConfig::default()
    };
    let mut snapshot = MetagraphSnapshot::default();
    if !args.allow_hotkey.is_empty() {
        config.policy = BlacklistPolicy::validators(0.0);
        for (uid, hk) in args.allow_hotkey.iter().collect::<HashSet<_>>().into_iter().enumerate() {
            let uid = u16::try_from(uid).map_err(|_| fail("too many --allow-hotkey".into()))?;
            snapshot.by_hotkey.insert(hk.clone(), Peer { uid, stake: 1.0, validator_permit: true });
        }
    }
    let axon = Axon::new(config, keypair)?;
    axon.metagraph().store(snapshot);
    let axon = match (args.hash_fields, args.optional_query) {
        (false, false) => axon.attach(|_, s: Echo<false, false>| async move { Ok(s.answer()) })?,
        (true, false) => axon.attach(|_, s: Echo<true, false>| async move { Ok(s.answer()) })?,
        (false, true) => axon.attach(|_, s: Echo<false, true>| async move { Ok(s.answer()) })?,
        (true, true) => axon.attach(|_, s: Echo<true, true>| async move { Ok(s.answer()) })?,
    };

    let addr: SocketAddr = format!("{}:{}", bracket(&args.host), args.port)
        .parse()
        .map_err(|e| fail(format!("bad --host/--port {}:{}: {e}", args.host, args.port)))?;
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| fail(format!("cannot listen on {addr}: {e}")))?;
    let local = listener.local_addr()?;
    let ready = serde_json::json!({
        "event": "ready",
        "hotkey": axon.hotkey(),
        "host": args.host,
        "port": local.port(),
        "synapse": "EchoSynapse",
        "hash_fields": if args.hash_fields { vec!["query"] } else { Vec::new() },
        "optional_query": args.optional_query,
        "pid": std::process::id(),
    });
    println!("{ready}");
    let metrics = axon.metrics();
    axon.serve(listener, orchestra_node::shutdown::signal()).await?;
    let (signatures, batches) = metrics.signature_batches();
    println!("{}", serde_json::json!({ "event": "stopped", "signatures": signatures, "batches": batches }));
    Ok(())
}

fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_string() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn flags_are_consistent() {
        use clap::CommandFactory;
        super::Args::command().debug_assert();
    }
}
