//! `orchestra ledger serve|keys|find|get|verify|export|watch`: run the Ledger API on its own, manage its API
//! keys, and query it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use futures::StreamExt;
use orchestra_ledger_api::{ApiConfig, LedgerApi, LedgerClient, create_key_with_limits, revoke_key};
use orchestra_ledger_store::{LedgerStore, StoreConfig, Tier};
use orchestra_node::shutdown::TaskTracker;
use orchestra_proto::ledger::LedgerEntry;
use orchestra_proto::retry::Backoff;

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// Serve the Ledger API over a data directory, and deliver its webhooks.
    Serve(ServeArgs),
    /// Create, list or revoke API keys (stop `serve` on the same data directory first:
    /// RocksDB lets one process open it).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Subnets offering a capability, best first.
    Find {
        #[arg(long)]
        capability: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// One Ledger entry (full with a developer key or better, a summary otherwise).
    Get {
        netuid: u16,
        /// Print the entry's input/output schemas instead (developer key or better).
        #[arg(long)]
        schema: bool,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Check an entry against the Ledger root a validator published on chain: fetch the entry
    /// and its inclusion proof from the Ledger API, read the validator's commitment, verify.
    Verify {
        netuid: u16,
        /// The validator (hotkey ss58) whose commitment holds the root.
        #[arg(long)]
        validator: String,
        /// The subnet where the validator published it.
        #[arg(long = "chain.netuid", default_value_t = 1)]
        chain_netuid: u16,
        #[command(flatten)]
        remote: RemoteArgs,
        #[command(flatten)]
        chain: Box<crate::chain_cmd::ChainArgs>,
    },
    /// Write every entry as the JSON array a miner's `--ledger.file` reads: from a Ledger API
    /// (`--url`, full entries need a developer key or better) or a local store (`--data-dir`).
    Export {
        /// Read this local Ledger store instead of the API (stop `serve` on it first).
        #[arg(long, conflicts_with = "url")]
        data_dir: Option<PathBuf>,
        /// Write to this file (replaced atomically) instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Follow the change feed (SSE; production key or better) and print one JSON line per event.
    Watch {
        /// Replay events after this sequence number first (default: only new events).
        #[arg(long)]
        since: Option<u64>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The Ledger's RocksDB directory (created if missing).
    #[arg(long)]
    pub data_dir: PathBuf,
    #[arg(long, default_value_t = 8090)]
    pub port: u16,
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Allow webhook targets on loopback and private networks (local runs only).
    #[arg(long)]
    pub allow_private_webhooks: bool,
    /// Load entries from this JSON file (an array of entries, or `{"entries": [...]}`) if the
    /// Ledger does not have them yet. Without it, an empty Ledger starts from the built-in seed.
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Do not run the webhook delivery worker (another process delivers).
    #[arg(long)]
    pub no_webhook_worker: bool,
    /// Take the client IP from the last X-Forwarded-For hop (only behind a trusted proxy).
    #[arg(long)]
    pub trust_forwarded_for: bool,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a key and print it once (only its hash is stored).
    Create {
        /// free, developer, production or enterprise.
        #[arg(long)]
        tier: Tier,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long)]
        data_dir: PathBuf,
        /// Enterprise: successful requests per month (default: unlimited).
        #[arg(long)]
        monthly_quota: Option<u64>,
        /// Enterprise: requests per second (default: the production rate).
        #[arg(long)]
        rate_per_sec: Option<u32>,
    },
    /// List keys (ids, tiers, names; never secrets).
    List {
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Revoke a key by id.
    Revoke {
        id: String,
        #[arg(long)]
        data_dir: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct RemoteArgs {
    /// Ledger API base URL.
    #[arg(long, env = "ORCHESTRA_LEDGER_URL", default_value = "http://127.0.0.1:8090")]
    pub url: String,
    /// API key.
    #[arg(long, env = "ORCHESTRA_LEDGER_KEY", hide_env_values = true)]
    pub key: Option<String>,
}

fn open_store(dir: &Path) -> anyhow::Result<LedgerStore> {
    LedgerStore::open(StoreConfig::new(dir)).with_context(|| {
        format!(
            "cannot open the Ledger at {} (if `orchestra ledger serve` runs on it, stop it first: one process at a time)",
            dir.display()
        )
    })
}

fn read_seed(path: &Path) -> anyhow::Result<Vec<LedgerEntry>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read seed file {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("seed file {} is not JSON", path.display()))?;
    let list = match v {
        serde_json::Value::Object(mut m) => m.remove("entries").context("seed object has no `entries` array")?,
        other => other,
    };
    serde_json::from_value(list).with_context(|| format!("seed file {}: not a list of Ledger entries", path.display()))
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("start the async runtime")
}

fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let store = Arc::new(open_store(&a.data_dir)?);
    if let Some(seed) = &a.seed {
        let entries = read_seed(seed)?;
        let n = store.seed(entries).context("seed the Ledger")?;
        tracing::info!(added = n, file = %seed.display(), "seeded the Ledger");
    } else if store.entries().context("read the Ledger")?.is_empty() {
        // A fresh Ledger starts from the built-in seed (the real SN22, SN13 and SN64 access
        // paths, candidates until probed) rather than serving nothing.
        let n = store.seed(orchestra_ledger_store::real_subnet_seed()?).context("seed the Ledger")?;
        tracing::info!(added = n, "empty Ledger: seeded with the built-in real-subnet entries");
    }
    let addr: SocketAddr = format!("{}:{}", a.host, a.port)
        .parse()
        .with_context(|| format!("--host {} --port {} is not a socket address", a.host, a.port))?;
    let config = ApiConfig {
        allow_private_webhooks: a.allow_private_webhooks,
        trust_forwarded_for: a.trust_forwarded_for,
        ..ApiConfig::default()
    };
    if a.allow_private_webhooks {
        tracing::warn!("webhooks may target private and loopback addresses (--allow-private-webhooks)");
    }
    runtime()?.block_on(async move {
        let api = LedgerApi::new(config, store).context("start the Ledger API")?;
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("bind {addr}"))?;
        let bound = listener.local_addr()?;
        println!("{}", serde_json::json!({"listening": bound.to_string(), "seq": api.snapshot_seq()}));
        let shutdown = orchestra_node::shutdown::on_signal();
        let tasks = TaskTracker::new();
        if !a.no_webhook_worker {
            let (api, stop) = (api.clone(), shutdown.clone());
            tasks.spawn(async move {
                if let Err(e) = api.run_webhook_worker(stop).await {
                    tracing::error!(error = %e, "webhook worker stopped");
                }
            });
        }
        tasks.close();
        let served = api.serve(listener, shutdown.clone()).await;
        shutdown.cancel();
        tasks.wait().await;
        served.context("serve the Ledger API")?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn keys(cmd: KeysCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KeysCommand::Create { tier, name, data_dir, monthly_quota, rate_per_sec } => {
            if tier != Tier::Enterprise && (monthly_quota.is_some() || rate_per_sec.is_some()) {
                bail!("--monthly-quota and --rate-per-sec are for enterprise keys only");
            }
            let store = open_store(&data_dir)?;
            let (secret, key) = create_key_with_limits(&store, tier, &name, monthly_quota, rate_per_sec)?;
            eprintln!("Store this key now: it is shown only once.");
            print_json(&serde_json::json!({
                "id": key.id,
                "tier": key.tier,
                "name": key.name,
                "key": secret,
                "monthly_quota": key.monthly_quota,
                "rate_per_sec": key.rate_per_sec,
            }))?;
        }
        KeysCommand::List { data_dir } => {
            let store = open_store(&data_dir)?;
            let keys: Vec<serde_json::Value> = store
                .api_keys()?
                .into_iter()
                .map(|k| {
                    serde_json::json!({
                        "id": k.id, "tier": k.tier, "name": k.name, "created_ms": k.created_ms,
                        "revoked": k.revoked, "monthly_quota": k.monthly_quota, "rate_per_sec": k.rate_per_sec,
                    })
                })
                .collect();
            print_json(&keys)?;
        }
        KeysCommand::Revoke { id, data_dir } => {
            let store = open_store(&data_dir)?;
            if !revoke_key(&store, &id)? {
                bail!("no key with id `{id}`");
            }
            eprintln!("revoked {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn client(r: &RemoteArgs) -> anyhow::Result<LedgerClient> {
    Ok(LedgerClient::new(&r.url, r.key.clone())?)
}

/// Follow the feed; reconnect (resuming after the last event seen) when the stream drops.
async fn watch(c: LedgerClient, mut since: Option<u64>) -> anyhow::Result<()> {
    let shutdown = orchestra_node::shutdown::on_signal();
    let backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    let mut failures = 0u32;
    loop {
        match c.watch(since).await {
            Ok(mut stream) => {
                failures = 0;
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => return Ok(()),
                        item = stream.next() => match item {
                            Some(Ok(ev)) => {
                                since = Some(ev.seq);
                                println!("{}", serde_json::to_string(&ev)?);
                            }
                            Some(Err(e)) => {
                                tracing::warn!(error = %e, "change feed interrupted; reconnecting");
                                break;
                            }
                            None => break,
                        },
                    }
                }
            }
            // Refusals (bad key, tier too low, bad since) will not fix themselves.
            Err(e @ orchestra_ledger_api::ApiError::Remote { status: 400..=499, .. }) => return Err(e.into()),
            Err(e) => tracing::warn!(error = %e, "cannot reach the change feed; retrying"),
        }
        failures += 1;
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(backoff.nominal(failures)) => {}
        }
    }
}

/// The entries to export, validated, in netuid order.
fn export_entries(data_dir: Option<&Path>, remote: &RemoteArgs) -> anyhow::Result<Vec<LedgerEntry>> {
    let mut entries = match data_dir {
        Some(dir) => open_store(dir)?.entries().context("read the Ledger")?,
        None => {
            let c = client(remote)?;
            let (_, entries) = runtime()?
                .block_on(c.entries())
                .with_context(|| format!("list the entries of {} (a developer key or better: --key)", remote.url))?;
            entries
        }
    };
    entries.sort_by_key(|e| e.netuid);
    for e in &entries {
        e.validate().with_context(|| format!("netuid {} is not a valid entry", e.netuid))?;
    }
    Ok(entries)
}

fn export(data_dir: Option<&Path>, out: Option<&Path>, remote: &RemoteArgs) -> anyhow::Result<ExitCode> {
    let entries = export_entries(data_dir, remote)?;
    let text = serde_json::to_string_pretty(&entries)?;
    match out {
        None => println!("{text}"),
        Some(path) => {
            let tmp = path.with_extension("json.tmp");
            std::fs::write(&tmp, text.as_bytes()).with_context(|| format!("write {}", tmp.display()))?;
            std::fs::rename(&tmp, path).with_context(|| format!("move {} to {}", tmp.display(), path.display()))?;
            eprintln!("wrote {} entries to {}", entries.len(), path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(cmd: LedgerCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LedgerCommand::Serve(a) => serve(a),
        LedgerCommand::Keys(k) => keys(k),
        LedgerCommand::Find { capability, remote } => {
            let c = client(&remote)?;
            let found = runtime()?.block_on(c.find(&capability))?;
            print_json(&found)?;
            Ok(ExitCode::SUCCESS)
        }
        LedgerCommand::Get { netuid, schema, remote } => {
            let c = client(&remote)?;
            let rt = runtime()?;
            if schema {
                print_json(&rt.block_on(c.schema(netuid))?)?;
            } else {
                print_json(&rt.block_on(c.get(netuid))?)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        LedgerCommand::Verify { netuid, validator, chain_netuid, remote, chain } => {
            let c = client(&remote)?;
            let rt = runtime()?;
            let ok = rt.block_on(async {
                let proof = c.proof(netuid).await?;
                let ch = chain.connect(None, None).await?;
                let com = ch
                    .commitment(chain_netuid, &validator)
                    .await?
                    .with_context(|| format!("{validator} has published no Ledger root on netuid {chain_netuid}"))?;
                let root = com
                    .fields
                    .iter()
                    .find_map(|f| match f {
                        orchestra_chain::CommitmentData::Raw(b) | orchestra_chain::CommitmentData::BigRaw(b) if b.len() == 32 => {
                            let mut r = [0u8; 32];
                            r.copy_from_slice(b);
                            Some(orchestra_proto::canonical::Digest(r))
                        }
                        _ => None,
                    })
                    .context("the validator's commitment is not a 32-byte root")?;
                let ok = proof.verify_against(&root);
                println!(
                    "{}",
                    serde_json::json!({"netuid": netuid, "validator": validator, "onchain_root": root, "committed_at_block": com.block,
                                       "verified": ok})
                );
                anyhow::Ok(ok)
            })?;
            if ok {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("the entry is not under the published root (forged, or the Ledger changed since that block)");
                Ok(ExitCode::FAILURE)
            }
        }
        LedgerCommand::Export { data_dir, out, remote } => export(data_dir.as_deref(), out.as_deref(), &remote),
        LedgerCommand::Watch { since, remote } => {
            let c = client(&remote)?;
            runtime()?.block_on(watch(c, since))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
