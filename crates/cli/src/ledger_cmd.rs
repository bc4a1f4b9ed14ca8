//! `orchestra ledger serve|keys|find|get|verify|export|watch`: run the Ledger API on its own, manage its API
//! keys, and query it.
//!
//! Key management (`keys create|list|revoke`) and `export --data-dir` open the Ledger's RocksDB
//! when no process holds it; when the validator or `ledger serve` does, they go through the admin
//! endpoint the node announces in the Ledger's directory (`admin.json`, token in `admin.token`),
//! or through `--admin.url`. `keys buy` pays for a key in TAO (see
//! `orchestra_ledger_api::payments`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use futures::StreamExt;
use orchestra_ledger_api::admin::{
    AdminClient, AdminCredentials, AdminEndpoint, CreateKeyRequest, ENDPOINT_FILE, KeyInfo, create_key_checked,
};
use orchestra_ledger_api::payments::{BuyError, RedeemRequest, buy_key, redeem_with_retry};
use orchestra_ledger_api::{ApiConfig, LedgerApi, LedgerClient, revoke_key};
use orchestra_ledger_store::{LedgerStore, StoreConfig, Tier};
use orchestra_proto::ledger::LedgerEntry;
use orchestra_proto::retry::Backoff;

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// Serve the Ledger API over a data directory, and deliver its webhooks.
    Serve(ServeArgs),
    /// Create, list, revoke or buy API keys. With the Ledger's directory held by a running
    /// validator or `ledger serve`, through its admin endpoint.
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
        /// Read this local Ledger store instead of the API (through the running node's admin
        /// endpoint when a validator or `ledger serve` holds it).
        #[arg(long, visible_alias = "ledger.dir", conflicts_with = "url")]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        admin: AdminArgs,
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
    #[command(flatten)]
    pub server: orchestra_net::ServerArgs,
    /// Address of the admin endpoint (key management while this server runs).
    #[arg(long = "admin-host", default_value = "127.0.0.1")]
    pub admin_host: String,
    /// Port of the admin endpoint (0: any free port; the URL goes to DATA_DIR/admin.json).
    #[arg(long = "admin-port", default_value_t = 0)]
    pub admin_port: u16,
    /// SS58 keys whose btauth/1 signatures the admin endpoint accepts, besides its token
    /// (comma separated).
    #[arg(long = "admin-keys", value_delimiter = ',')]
    pub admin_keys: Vec<String>,
    /// Sell developer and production keys for TAO, paid to this coldkey (SS58), checked on the
    /// chain --chain.endpoint or --subtensor.network names (validators do this by default).
    #[arg(long = "payments.pay-to")]
    pub pay_to: Option<String>,
    /// Lookups per month of a developer key bought with TAO (the seed's 1,000).
    #[arg(long = "payments.developer-quota", default_value_t = 1000)]
    pub developer_quota: u64,
    /// A devnet to check payments on (http://...).
    #[arg(long = "chain.endpoint", env = "ORCHESTRA_CHAIN_ENDPOINT")]
    pub chain_endpoint: Option<String>,
    /// A subtensor network to check payments on: finney, test, local or a ws(s):// URL.
    #[arg(long = "subtensor.network", env = "BT_SUBTENSOR_NETWORK", default_value = "finney")]
    pub network: String,
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
        #[command(flatten)]
        ledger: LedgerAccess,
        /// Enterprise: successful requests per month (default: unlimited).
        #[arg(long)]
        monthly_quota: Option<u64>,
        /// Enterprise: requests per second (default: the production rate).
        #[arg(long)]
        rate_per_sec: Option<u32>,
    },
    /// List keys (ids, tiers, names; never secrets).
    List {
        #[command(flatten)]
        ledger: LedgerAccess,
    },
    /// Revoke a key by id.
    Revoke {
        id: String,
        #[command(flatten)]
        ledger: LedgerAccess,
    },
    /// Keys bought with TAO: the payments a Ledger accepted.
    Payments {
        #[command(flatten)]
        ledger: LedgerAccess,
    },
    /// Buy a developer or production key with TAO from a validator (or extend one): ask the
    /// validator's Ledger API for a quote, transfer the amount to its coldkey with the quote's
    /// reference bound in the same extrinsic, and redeem it. Prints the key once.
    Buy {
        /// developer or production.
        #[arg(long)]
        tier: Tier,
        /// Months to pay for.
        #[arg(long, default_value_t = 1)]
        months: u32,
        /// Extend this key (id) instead of buying a new one.
        #[arg(long)]
        extend: Option<String>,
        /// The validator's Ledger API.
        #[arg(long, env = "ORCHESTRA_LEDGER_URL", default_value = "http://127.0.0.1:8090")]
        url: String,
        /// Write the new key's secret to this file (mode 0600) instead of printing it.
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Seconds to wait for the payment's block to be finalized.
        #[arg(long, default_value_t = 120)]
        finality_secs: u64,
        /// The chain and the wallet that pays (its coldkey signs the transfer).
        #[command(flatten)]
        chain: Box<crate::chain_cmd::ChainArgs>,
    },
    /// Redeem a quote that was paid but not redeemed (`keys buy` prints these values when the
    /// validator could not be reached after paying).
    Redeem {
        #[arg(long)]
        quote: String,
        #[arg(long)]
        block_hash: Option<String>,
        #[arg(long)]
        block_number: Option<u64>,
        #[arg(long)]
        extrinsic_hash: String,
        /// The validator's Ledger API.
        #[arg(long, env = "ORCHESTRA_LEDGER_URL", default_value = "http://127.0.0.1:8090")]
        url: String,
        #[arg(long, default_value_t = 120)]
        finality_secs: u64,
    },
}

/// How key-management commands reach a Ledger: its directory (opened directly when free, else
/// through the admin endpoint the node holding it announces there), or an admin URL.
#[derive(Args, Debug, Clone)]
pub struct LedgerAccess {
    /// The Ledger's RocksDB directory (a validator's is DATA_DIR/validator/HOTKEY).
    #[arg(long, visible_alias = "ledger.dir")]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// The admin endpoint of a running validator or `ledger serve`.
#[derive(Args, Debug, Clone, Default)]
pub struct AdminArgs {
    /// The admin endpoint (default: the one the node announces in DATA_DIR/admin.json, used
    /// when the node holds the Ledger).
    #[arg(long = "admin.url", env = "ORCHESTRA_ADMIN_URL")]
    pub admin_url: Option<String>,
    /// File with the admin token (default: DATA_DIR/admin.token).
    #[arg(long = "admin.token-file", env = "ORCHESTRA_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Sign admin requests (btauth/1) with this dev key instead of the token, e.g. //Alice.
    #[arg(long = "admin.uri")]
    pub admin_uri: Option<String>,
    /// Sign admin requests with this wallet's hotkey (~/.bittensor/wallets/NAME/hotkeys/default)
    /// instead of the token: the validator's own hotkey is authorized.
    #[arg(long = "admin.wallet")]
    pub admin_wallet: Option<String>,
    /// The wallets' directory for --admin.wallet.
    #[arg(long = "admin.wallet-path", default_value = "~/.bittensor/wallets")]
    pub admin_wallet_path: String,
    /// The hotkey's name for --admin.wallet.
    #[arg(long = "admin.wallet-hotkey", default_value = "default")]
    pub admin_wallet_hotkey: String,
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

/// A Ledger opened for key management: the store itself, or a running node's admin endpoint.
enum Access {
    Local(LedgerStore),
    Remote(AdminClient),
}

/// Whether a RocksDB open failed because another process holds the database's lock.
fn is_lock_error(e: &orchestra_ledger_store::StoreError) -> bool {
    let text = e.to_string();
    text.contains("LOCK") || text.contains("lock") || text.contains("Resource temporarily unavailable")
}

impl AdminArgs {
    /// Credentials: a signing key when asked for, else the token (file given, or the one the
    /// node wrote next to its Ledger).
    fn credentials(&self, discovered_token: Option<Result<String, String>>) -> anyhow::Result<AdminCredentials> {
        if let Some(uri) = &self.admin_uri {
            let k = orchestra_keys::Keypair::from_uri(uri).with_context(|| format!("--admin.uri {uri}"))?;
            return Ok(AdminCredentials::Signer(Box::new(k)));
        }
        if let Some(name) = &self.admin_wallet {
            let w = orchestra_keys::Wallet::new(&self.admin_wallet_path, name, &self.admin_wallet_hotkey);
            let k = w.hotkey().with_context(|| format!("load hotkey {}", w.hotkey_path().display()))?;
            return Ok(AdminCredentials::Signer(Box::new(k)));
        }
        if let Some(f) = &self.admin_token_file {
            let t = std::fs::read_to_string(f).with_context(|| format!("read the admin token {}", f.display()))?;
            return Ok(AdminCredentials::Token(t.trim().to_string()));
        }
        match discovered_token {
            Some(Ok(t)) => Ok(AdminCredentials::Token(t)),
            Some(Err(why)) => bail!(
                "{why}: run as the user that runs the node, pass --admin.token-file, or sign with --admin.wallet / --admin.uri"
            ),
            None => bail!("no admin credentials: pass --admin.token-file, --admin.wallet or --admin.uri"),
        }
    }
}

impl LedgerAccess {
    /// For reading and changing an existing Ledger.
    fn open(&self) -> anyhow::Result<Access> {
        open_access(self.data_dir.as_deref(), &self.admin, false)
    }

    /// For `keys create`, which may start a Ledger (a key made before the first `serve`).
    fn open_or_create(&self) -> anyhow::Result<Access> {
        open_access(self.data_dir.as_deref(), &self.admin, true)
    }
}

/// Opens the Ledger for key management: `--admin.url` if given; else the directory's RocksDB, or,
/// when a running node holds it, the admin endpoint that node announced there. A missing
/// directory is an error unless `create` (then a new Ledger is made there).
fn open_access(dir: Option<&Path>, admin: &AdminArgs, create: bool) -> anyhow::Result<Access> {
    if let Some(url) = &admin.admin_url {
        let token = dir.and_then(|d| AdminClient::discover(d).ok().flatten()).map(|d| d.token);
        return Ok(Access::Remote(AdminClient::new(url, admin.credentials(token)?)?));
    }
    let Some(dir) = dir else { bail!("name the Ledger: --data-dir DIR (or --admin.url URL of a running node)") };
    if !create && !dir.is_dir() {
        bail!("no Ledger at {}: the directory does not exist", dir.display());
    }
    let err = match LedgerStore::open(StoreConfig::new(dir)) {
        Ok(store) => return Ok(Access::Local(store)),
        Err(e) if is_lock_error(&e) => e,
        Err(e) => return Err(e).with_context(|| format!("cannot open the Ledger at {}", dir.display())),
    };
    let found = AdminClient::discover(dir).with_context(|| format!("read {}", dir.join(ENDPOINT_FILE).display()))?;
    let Some(found) = found else {
        bail!(
            "the Ledger at {} is held by another process ({err}), which announces no admin endpoint \
             (no {}): stop that process, or run a validator / `orchestra ledger serve` of this version, \
             which serve one",
            dir.display(),
            dir.join(ENDPOINT_FILE).display()
        );
    };
    let url = found.endpoint.url.clone();
    let client = AdminClient::new(&url, admin.credentials(Some(found.token))?)?;
    tracing::info!(url, pid = found.endpoint.pid, "the Ledger is held by a running node; using its admin endpoint");
    Ok(Access::Remote(client))
}

/// Runs an admin call, with an error that says which node did not answer.
fn remote_call<T>(
    client: &AdminClient,
    f: impl std::future::Future<Output = Result<T, orchestra_ledger_api::ApiError>>,
) -> anyhow::Result<T> {
    runtime()?.block_on(f).map_err(|e| match e {
        orchestra_ledger_api::ApiError::Remote { status, code, message } => {
            anyhow::anyhow!("the admin endpoint refused ({status} {code}): {message}")
        }
        other => anyhow::anyhow!(
            "the Ledger is held by a running node but its admin endpoint {} does not answer: {other} \
             (is the node still running? a stale admin.json is removed when it stops)",
            client.url()
        ),
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
        server: a.server.limits(),
        ..ApiConfig::default()
    };
    if a.allow_private_webhooks {
        tracing::warn!("webhooks may target private and loopback addresses (--allow-private-webhooks)");
    }
    let admin_addr: SocketAddr = format!("{}:{}", a.admin_host, a.admin_port)
        .parse()
        .with_context(|| format!("--admin-host {} --admin-port {}", a.admin_host, a.admin_port))?;
    runtime()?.block_on(async move {
        let mut config = config;
        if let Some(pay_to) = &a.pay_to {
            orchestra_keys::PublicKey::from_ss58(pay_to).with_context(|| format!("--payments.pay-to {pay_to}"))?;
            let chain: Arc<dyn orchestra_chain::Chain> = match &a.chain_endpoint {
                Some(url) => Arc::new(orchestra_chain::devnet::DevnetClient::connect(url).await?),
                None => Arc::new(
                    orchestra_chain::subtensor::SubtensorChain::connect(a.network.parse()?, Default::default()).await?,
                ),
            };
            let mut p = orchestra_ledger_api::payments::PaymentsConfig::new(chain, pay_to);
            p.developer.monthly_quota = Some(a.developer_quota);
            tracing::info!(pay_to, chain = %p.chain.describe(), "selling API keys for TAO");
            config.payments = Some(p);
        }
        let ledger_dir = store.path().to_path_buf();
        let api = LedgerApi::new(config, store).context("start the Ledger API")?;
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("bind {addr}"))?;
        let bound = listener.local_addr()?;
        let admin = AdminEndpoint::bind(admin_addr, &ledger_dir, a.admin_keys.clone())
            .await
            .context("start the admin endpoint")?;
        println!(
            "{}",
            serde_json::json!({"listening": bound.to_string(), "seq": api.snapshot_seq(), "admin": admin.url()})
        );
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let admin_task = {
            let api = api.clone();
            let mut rx = stop_rx.clone();
            tokio::spawn(async move {
                api.serve_admin(admin, async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await
            })
        };
        let worker = if a.no_webhook_worker {
            None
        } else {
            let api = api.clone();
            let mut rx = stop_rx.clone();
            Some(tokio::spawn(async move {
                api.run_webhook_worker(async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await
            }))
        };
        api.serve(listener, async move {
            orchestra_node::shutdown_signal().await;
            let _ = stop_tx.send(true);
        })
        .await
        .context("serve the Ledger API")?;
        if let Some(w) = worker {
            w.await.context("webhook worker task")?.context("webhook worker")?;
        }
        admin_task.await.context("admin endpoint task")?.context("admin endpoint")?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn key_json(k: &KeyInfo) -> serde_json::Value {
    serde_json::json!({
        "id": k.id, "tier": k.tier, "name": k.name, "created_ms": k.created_ms, "revoked": k.revoked,
        "monthly_quota": k.monthly_quota, "rate_per_sec": k.rate_per_sec, "expires_ms": k.expires_ms,
    })
}

fn keys(cmd: KeysCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KeysCommand::Create { tier, name, ledger, monthly_quota, rate_per_sec } => {
            let req = CreateKeyRequest { tier, name, monthly_quota, rate_per_sec };
            if tier != Tier::Enterprise && (monthly_quota.is_some() || rate_per_sec.is_some()) {
                bail!("--monthly-quota and --rate-per-sec are for enterprise keys only");
            }
            let created = match ledger.open_or_create()? {
                Access::Local(store) => create_key_checked(&store, &req)?,
                Access::Remote(c) => remote_call(&c, c.create_key(&req))?,
            };
            eprintln!("Store this key now: it is shown only once.");
            let mut out = key_json(&created.info);
            out["key"] = serde_json::Value::String(created.key);
            print_json(&out)?;
        }
        KeysCommand::List { ledger } => {
            let keys: Vec<KeyInfo> = match ledger.open()? {
                Access::Local(store) => store.api_keys()?.iter().map(KeyInfo::from).collect(),
                Access::Remote(c) => remote_call(&c, c.keys())?,
            };
            print_json(&keys.iter().map(key_json).collect::<Vec<_>>())?;
        }
        KeysCommand::Revoke { id, ledger } => {
            match ledger.open()? {
                Access::Local(store) => {
                    if !revoke_key(&store, &id)? {
                        bail!("no key with id `{id}`");
                    }
                }
                Access::Remote(c) => {
                    remote_call(&c, c.revoke_key(&id))?;
                }
            }
            eprintln!("revoked {id}");
        }
        KeysCommand::Payments { ledger } => {
            let p = match ledger.open()? {
                Access::Local(store) => store.payments()?,
                Access::Remote(c) => remote_call(&c, c.payments())?,
            };
            print_json(&p)?;
        }
        KeysCommand::Buy { tier, months, extend, url, key_file, finality_secs, chain } => {
            return buy(tier, months, extend.as_deref(), &url, key_file.as_deref(), finality_secs, &chain);
        }
        KeysCommand::Redeem { quote, block_hash, block_number, extrinsic_hash, url, finality_secs } => {
            let c = LedgerClient::new(&url, None)?;
            let req = RedeemRequest { quote_id: quote, block_hash, block_number, extrinsic_hash };
            let r = runtime()?.block_on(redeem_with_retry(&c, &req, Duration::from_secs(finality_secs)))?;
            print_json(&r)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn buy(
    tier: Tier,
    months: u32,
    extend: Option<&str>,
    url: &str,
    key_file: Option<&Path>,
    finality_secs: u64,
    chain: &crate::chain_cmd::ChainArgs,
) -> anyhow::Result<ExitCode> {
    if !matches!(tier, Tier::Developer | Tier::Production) {
        bail!("--tier developer or production: those are sold for TAO");
    }
    if let Some(f) = key_file
        && f.exists()
    {
        bail!("{} exists; choose another --key-file (a key file is never overwritten)", f.display());
    }
    let client = LedgerClient::new(url, None)?;
    let coldkey = chain.coldkey()?;
    let payer = coldkey.ss58().to_string();
    let rt = runtime()?;
    let purchase = rt.block_on(async {
        let ch = chain.connect(None, Some(coldkey)).await?;
        let prices = client.key_prices().await.with_context(|| format!("ask {url} for its prices"))?;
        eprintln!("paying {} (coldkey of the validator at {url}) on {}", prices.pay_to, prices.chain);
        anyhow::Ok(
            buy_key(&client, ch.as_ref(), tier, months, extend, Some(&payer), Duration::from_secs(finality_secs)).await,
        )
    })?;
    let p = match purchase {
        Ok(p) => p,
        Err(BuyError::Unredeemed(u)) => {
            let paid = &u.paid;
            eprintln!(
                "PAID but not redeemed yet: {}\nkeep these to redeem later:\n  key (secret): {}\n  \
                 orchestra ledger keys redeem --url {url} --quote {}{}{} --extrinsic-hash {}",
                u.error,
                u.key.as_deref().unwrap_or("(an extension)"),
                u.quote.quote_id,
                paid.block_hash.as_ref().map(|h| format!(" --block-hash {h}")).unwrap_or_default(),
                paid.block_number.map(|n| format!(" --block-number {n}")).unwrap_or_default(),
                paid.extrinsic_hash.clone().unwrap_or_default(),
            );
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    };
    let mut out = serde_json::json!({
        "key_id": p.redeemed.key_id, "tier": p.redeemed.tier, "extended": p.redeemed.extended,
        "expires_ms": p.redeemed.key_expires_ms, "monthly_quota": p.redeemed.monthly_quota,
        "paid_rao": p.redeemed.amount_rao, "payment_id": p.redeemed.payment_id, "quote_id": p.quote.quote_id,
        "block_hash": p.paid.block_hash, "block_number": p.paid.block_number, "extrinsic_hash": p.paid.extrinsic_hash,
    });
    if let Some(secret) = &p.key {
        match key_file {
            Some(f) => {
                orchestra_ledger_api::admin::write_private(f, secret.as_bytes())
                    .with_context(|| format!("write {}", f.display()))?;
                out["key_file"] = serde_json::Value::String(f.display().to_string());
            }
            None => {
                eprintln!("Store this key now: it is shown only once.");
                out["key"] = serde_json::Value::String(secret.clone());
            }
        }
    }
    print_json(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn client(r: &RemoteArgs) -> anyhow::Result<LedgerClient> {
    Ok(LedgerClient::new(&r.url, r.key.clone())?)
}

/// Follow the feed; reconnect (resuming after the last event seen) when the stream drops.
async fn watch(c: LedgerClient, mut since: Option<u64>) -> anyhow::Result<()> {
    let backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    let mut failures = 0u32;
    loop {
        match c.watch(since).await {
            Ok(mut stream) => {
                failures = 0;
                loop {
                    tokio::select! {
                        _ = orchestra_node::shutdown_signal() => return Ok(()),
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
            _ = orchestra_node::shutdown_signal() => return Ok(()),
            _ = tokio::time::sleep(backoff.nominal(failures)) => {}
        }
    }
}

/// The entries to export, validated, in netuid order.
fn export_entries(data_dir: Option<&Path>, admin: &AdminArgs, remote: &RemoteArgs) -> anyhow::Result<Vec<LedgerEntry>> {
    let mut entries = match data_dir {
        Some(dir) => match open_access(Some(dir), admin, false)? {
            Access::Local(store) => store.entries().context("read the Ledger")?,
            Access::Remote(c) => remote_call(&c, c.entries())?,
        },
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

fn export(
    data_dir: Option<&Path>,
    admin: &AdminArgs,
    out: Option<&Path>,
    remote: &RemoteArgs,
) -> anyhow::Result<ExitCode> {
    let entries = export_entries(data_dir, admin, remote)?;
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
        LedgerCommand::Export { data_dir, admin, out, remote } => {
            export(data_dir.as_deref(), &admin, out.as_deref(), &remote)
        }
        LedgerCommand::Watch { since, remote } => {
            let c = client(&remote)?;
            runtime()?.block_on(watch(c, since))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
