//! What the miner and validator daemons share: the bittensor-style flags every neuron takes
//! (wallet, chain, netuid, axon), an optional TOML config file merged under the command line,
//! the chain connection (devnet or subtensor), the metagraph sync that feeds the axon's
//! blacklist, the metagraph view the subnet adapters route axon calls with ([`ChainAxons`]),
//! logging, and the one shutdown model ([`shutdown`]).

pub mod shutdown;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use orchestra_chain::{Chain, ChainError, Metagraph};
use orchestra_keys::{Keypair, Wallet};
use orchestra_net::ServeLimits;
use orchestra_net::{MetagraphHandle, MetagraphSnapshot, Peer};
use orchestra_subnets::axons::DirectoryFuture;
use orchestra_subnets::{AxonDirectory, ServingAxon};
use shutdown::CancellationToken;

/// (In `crates/node`, not `crates/keys`: library crates carry no clap.)
/// The bittensor-style wallet flags (`--wallet.path`, `--wallet.name`, `--wallet.hotkey`), with
/// the SDK's defaults and `BT_WALLET_*` environment variables.
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct WalletArgs {
    /// Directory that holds the wallets.
    #[arg(long = "wallet.path", env = "BT_WALLET_PATH", default_value = "~/.bittensor/wallets")]
    pub path: String,
    /// Wallet (coldkey) name.
    #[arg(long = "wallet.name", env = "BT_WALLET_NAME", default_value = "default")]
    pub name: String,
    /// Hotkey name inside the wallet.
    #[arg(long = "wallet.hotkey", env = "BT_WALLET_HOTKEY", default_value = "default")]
    pub hotkey: String,
}

impl Default for WalletArgs {
    fn default() -> Self {
        WalletArgs { path: "~/.bittensor/wallets".into(), name: "default".into(), hotkey: "default".into() }
    }
}

impl WalletArgs {
    /// The wallet these flags name.
    pub fn wallet(&self) -> Wallet {
        Wallet::new(&self.path, &self.name, &self.hotkey)
    }
}

/// (In `crates/node`, not `crates/net`: library crates carry no clap.)
/// The `--server.*` flags of a daemon, for [`ServeLimits`]. Field names carry `server_` so they
/// never clash with a daemon's own argument ids when flattened.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// Seconds to receive a request head (slow clients are cut).
    #[arg(long = "server.header_timeout_secs", default_value_t = 10.0)]
    pub server_header_timeout_secs: f64,
    /// Seconds a kept-alive connection may wait for its next request.
    #[arg(long = "server.idle_timeout_secs", default_value_t = 60.0)]
    pub server_idle_timeout_secs: f64,
    /// Seconds to receive a request body after its head.
    #[arg(long = "server.body_timeout_secs", default_value_t = 30.0)]
    pub server_body_timeout_secs: f64,
    /// Seconds a response write may make no progress.
    #[arg(long = "server.write_timeout_secs", default_value_t = 30.0)]
    pub server_write_timeout_secs: f64,
    /// Connections open at once; past it idle connections are closed to make room, or new ones
    /// get a 503.
    #[arg(long = "server.max_connections", default_value_t = 4096)]
    pub server_max_connections: usize,
    /// Connections open at once from one address (IPv6: one /64; loopback exempt); past it that
    /// address's own idle connections are closed to make room, or its new ones get a 503.
    #[arg(long = "server.max_connections_per_ip", default_value_t = 256)]
    pub server_max_connections_per_ip: usize,
    /// Requests handled at once; more get a 503.
    #[arg(long = "server.max_in_flight", default_value_t = 2048)]
    pub server_max_in_flight: usize,
    /// Request body bytes held at once over all requests; past it a 503.
    #[arg(long = "server.max_body_bytes_in_flight", default_value_t = 64 * 1024 * 1024)]
    pub server_max_body_bytes_in_flight: usize,
}

impl ServerArgs {
    /// The limits these flags ask for; the body size limit stays the server's own.
    pub fn limits(&self) -> ServeLimits {
        let secs = |s: f64| Duration::try_from_secs_f64(s.max(0.001)).unwrap_or(Duration::from_secs(3600));
        ServeLimits {
            header_read_timeout: secs(self.server_header_timeout_secs),
            idle_timeout: secs(self.server_idle_timeout_secs),
            body_read_timeout: secs(self.server_body_timeout_secs),
            write_timeout: secs(self.server_write_timeout_secs),
            max_connections: self.server_max_connections.max(1),
            max_connections_per_ip: self.server_max_connections_per_ip.max(1),
            max_in_flight: self.server_max_in_flight.max(1),
            max_body_bytes_in_flight: self.server_max_body_bytes_in_flight,
            ..ServeLimits::default()
        }
    }
}

/// Errors of neuron setup.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("config file {path}: {reason}")]
    ConfigFile { path: String, reason: String },
    #[error("keys: {0}")]
    Keys(#[from] orchestra_keys::KeyError),
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    #[error("{0}")]
    Invalid(String),
}

/// Flags shared by every neuron.
#[derive(Args, Debug, Clone)]
pub struct NeuronArgs {
    #[command(flatten)]
    pub wallet: WalletArgs,
    /// Use a dev key (e.g. //Alice) for hotkey and coldkey instead of wallet files (local networks).
    #[arg(long, env = "ORCHESTRA_URI")]
    pub uri: Option<String>,
    /// Subnet to work on.
    #[arg(long, env = "BT_NETUID", default_value_t = 1)]
    pub netuid: u16,
    /// Subtensor network: finney, test, local, or a ws(s):// URL. Ignored with --chain.endpoint.
    #[arg(long = "subtensor.network", env = "BT_SUBTENSOR_NETWORK", default_value = "finney")]
    pub network: String,
    /// A devnet HTTP endpoint (http://host:port); local networks and tests.
    #[arg(long = "chain.endpoint", env = "ORCHESTRA_CHAIN_ENDPOINT")]
    pub chain_endpoint: Option<String>,
    /// Address the axon binds.
    #[arg(long = "axon.host", default_value = "0.0.0.0")]
    pub axon_host: String,
    /// Port the axon binds and announces.
    #[arg(long = "axon.port", env = "BT_AXON_PORT", default_value_t = 8091)]
    pub axon_port: u16,
    /// IP announced on chain (defaults to 127.0.0.1 on a devnet; required on real networks).
    #[arg(long = "axon.external_ip")]
    pub axon_external_ip: Option<IpAddr>,
    /// Where state lives (RocksDB).
    #[arg(long = "data-dir", env = "ORCHESTRA_DATA_DIR", default_value = "~/.orchestra")]
    pub data_dir: String,
    /// Log as JSON lines.
    #[arg(long = "logging.json", env = "ORCHESTRA_LOG_JSON")]
    pub log_json: bool,
    /// Seconds between metagraph syncs.
    #[arg(long = "metagraph.sync_secs", env = "ORCHESTRA_METAGRAPH_SYNC_SECS", default_value_t = 12)]
    pub sync_secs: u64,
    /// Print the resolved configuration (flags > environment > --config file > defaults) and exit.
    #[arg(long = "print-config")]
    pub print_config: bool,
    /// Let outbound calls (subnets, probes, axons) reach loopback, private and other internal
    /// addresses. Off on real networks: Ledger entries and metagraph addresses are written by
    /// others. Local networks and tests turn it on.
    #[arg(long = "net.allow_private", env = "ORCHESTRA_NET_ALLOW_PRIVATE")]
    pub net_allow_private: bool,
    /// Largest answer read from a subnet, in bytes.
    #[arg(long = "net.max_response_bytes", default_value_t = orchestra_net::guard::DEFAULT_MAX_RESPONSE_BYTES)]
    pub net_max_response_bytes: usize,
    /// Calls in flight at once to one subnet or peer (`host:port`); more wait for a slot within
    /// their timeout instead of opening another connection (0: no cap).
    #[arg(long = "net.max_in_flight_per_host", default_value_t = orchestra_net::guard::DEFAULT_MAX_IN_FLIGHT_PER_HOST)]
    pub net_max_in_flight_per_host: usize,
    /// Extra CA certificates (PEM) trusted for https besides the system roots (private CAs).
    #[arg(long = "tls.ca-file")]
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// The operator's subnet credentials (TOML: netuid -> kind, env or value, optional host).
    /// The only source of secrets for subnet calls; a Ledger entry cannot name one.
    #[arg(long = "subnet.credentials")]
    pub subnet_credentials: Option<std::path::PathBuf>,
    /// Limits of the node's HTTP server (the miner's axon, the validator's API).
    #[command(flatten)]
    pub server: ServerArgs,
}

impl NeuronArgs {
    /// The hotkey (from --uri or the wallet's hotkey file).
    pub fn hotkey(&self) -> Result<Keypair, NodeError> {
        match &self.uri {
            Some(u) => Ok(Keypair::from_uri(u)?),
            None => Ok(self.wallet.wallet().hotkey()?),
        }
    }

    /// The outbound network policy these flags ask for.
    pub fn guard(&self) -> orchestra_net::GuardConfig {
        orchestra_net::GuardConfig {
            allow_private: self.net_allow_private,
            max_response_bytes: self.net_max_response_bytes,
            max_in_flight_per_host: self.net_max_in_flight_per_host,
            ca_file: self.tls_ca_file.clone(),
            ..orchestra_net::GuardConfig::default()
        }
    }

    /// The dendrite settings these flags ask for (axon addresses come from the metagraph).
    pub fn dendrite(&self) -> orchestra_net::DendriteConfig {
        orchestra_net::DendriteConfig {
            allow_private: self.net_allow_private,
            ..orchestra_net::DendriteConfig::default()
        }
    }

    /// The data directory with `~` expanded.
    pub fn data_dir(&self) -> std::path::PathBuf {
        expand_home(&self.data_dir)
    }
}

/// `~/x` → `$HOME/x`.
pub fn expand_home(p: &str) -> std::path::PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::PathBuf::from(home).join(rest),
        _ => std::path::PathBuf::from(p),
    }
}

/// Command-line arguments with a `--config FILE` TOML merged underneath, in the order
/// flags > environment > file > defaults. Every key of the file names a flag of `C`
/// (`netuid = 3` → `--netuid 3`, `"axon.port" = 8091` or `[axon] port = 8091` →
/// `--axon.port 8091`); a key is used only when neither the command line nor the flag's
/// environment variable sets it. Booleans work both ways: `ledger.publish_root = false` sets a
/// flag that takes a value to false, and `true` sets a switch. An unknown key is an error that
/// names it, so a typo in a config file is not silently ignored.
pub fn args_with_config_file<C: clap::CommandFactory>(argv: Vec<String>) -> Result<Vec<String>, NodeError> {
    let mut path = None;
    let mut rest = Vec::with_capacity(argv.len());
    let mut it = argv.into_iter();
    if let Some(bin) = it.next() {
        rest.push(bin);
    }
    while let Some(a) = it.next() {
        if a == "--config" {
            path = it.next();
        } else if let Some(p) = a.strip_prefix("--config=") {
            path = Some(p.to_string());
        } else {
            rest.push(a);
        }
    }
    let Some(path) = path else { return Ok(rest) };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| NodeError::ConfigFile { path: path.clone(), reason: e.to_string() })?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| NodeError::ConfigFile { path: path.clone(), reason: e.to_string() })?;
    let mut pairs = Vec::new();
    flatten("", &table, &mut pairs).map_err(|reason| NodeError::ConfigFile { path: path.clone(), reason })?;
    let cmd = C::command();
    let mut from_file = Vec::new();
    for (key, value) in pairs {
        let Some(arg) = cmd.get_arguments().find(|a| a.get_long() == Some(key.as_str())) else {
            return Err(NodeError::ConfigFile { path, reason: format!("unknown key `{key}` (no flag --{key})") });
        };
        let on_command_line =
            rest.iter().skip(1).any(|a| a == &format!("--{key}") || a.starts_with(&format!("--{key}=")));
        let in_env = arg.get_env().is_some_and(|e| std::env::var_os(e).is_some());
        if on_command_line || in_env {
            continue;
        }
        match value {
            FileValue::Bool(b) if !arg.get_action().takes_values() => {
                if b {
                    from_file.push(format!("--{key}"));
                }
            }
            FileValue::Bool(b) => from_file.push(format!("--{key}={b}")),
            FileValue::Text(t) => from_file.extend([format!("--{key}"), t]),
        }
    }
    let mut out = Vec::with_capacity(rest.len() + from_file.len());
    out.push(rest.first().cloned().unwrap_or_default());
    out.extend(from_file);
    out.extend(rest.into_iter().skip(1));
    Ok(out)
}

/// A config file value, as a flag takes it.
enum FileValue {
    Bool(bool),
    Text(String),
}

fn flatten(prefix: &str, t: &toml::Table, out: &mut Vec<(String, FileValue)>) -> Result<(), String> {
    for (k, v) in t {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        let text = match v {
            toml::Value::Table(inner) => {
                flatten(&key, inner, out)?;
                continue;
            }
            toml::Value::Boolean(b) => {
                out.push((key, FileValue::Bool(*b)));
                continue;
            }
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Array(a) => a
                .iter()
                .map(|x| match x {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            toml::Value::Datetime(d) => d.to_string(),
        };
        out.push((key, FileValue::Text(text)));
    }
    Ok(())
}

/// Set up `tracing` (text or JSON on stderr, `RUST_LOG` filter, default info).
pub fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

/// Connect to the chain the flags name, signing with `hotkey`.
pub async fn connect_chain(args: &NeuronArgs, hotkey: Keypair) -> Result<Arc<dyn Chain>, NodeError> {
    if let Some(url) = &args.chain_endpoint {
        let c = orchestra_chain::devnet::DevnetClient::connect(url).await?.with_hotkey(hotkey);
        return Ok(Arc::new(c));
    }
    let network: orchestra_chain::subtensor::Network = args.network.parse()?;
    let c = orchestra_chain::subtensor::SubtensorChain::connect(network, Default::default()).await?.with_hotkey(hotkey);
    Ok(Arc::new(c))
}

/// The axon's view of a metagraph: stake in TAO-like units (rao / 1e9).
pub fn snapshot(m: &Metagraph) -> MetagraphSnapshot {
    MetagraphSnapshot {
        by_hotkey: m
            .neurons
            .iter()
            .map(|n| {
                (
                    n.hotkey.clone(),
                    Peer { uid: n.uid, stake: n.stake as f64 / 1e9, validator_permit: n.validator_permit },
                )
            })
            .collect(),
        block: m.block,
    }
}

/// Keep `handle` (and `latest`) fresh: sync the metagraph every `every` until `shutdown`. A
/// failed sync keeps the last snapshot and logs an error; it never stops the loop.
pub async fn sync_metagraph(
    chain: Arc<dyn Chain>,
    netuid: u16,
    handle: MetagraphHandle,
    latest: Arc<tokio::sync::RwLock<Option<Metagraph>>>,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => break,
        }
        match chain.metagraph(netuid).await {
            Ok(m) => {
                handle.store(snapshot(&m));
                *latest.write().await = Some(m);
            }
            Err(e) => tracing::error!(netuid, error = %e, "metagraph sync failed; keeping the last snapshot"),
        }
    }
}

/// The subnet adapters' view of other subnets' metagraphs, read through the chain connection:
/// each netuid's serving axons, cached for `ttl` (a failed read keeps the last good answer).
pub struct ChainAxons {
    chain: Arc<dyn Chain>,
    ttl: Duration,
    cache: std::sync::Mutex<std::collections::HashMap<u16, CachedAxons>>,
}

/// When a netuid's axons were read, and what they were.
type CachedAxons = (std::time::Instant, Arc<Vec<ServingAxon>>);

impl std::fmt::Debug for ChainAxons {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainAxons").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl ChainAxons {
    pub fn new(chain: Arc<dyn Chain>, ttl: Duration) -> Self {
        ChainAxons { chain, ttl, cache: Default::default() }
    }
}

/// The serving axons of a metagraph (announced address and port), as the adapters rank them:
/// stake in TAO-like units, u16 scores as fractions of 1.
pub fn serving_axons(m: &Metagraph) -> Vec<ServingAxon> {
    let frac = |x: u16| f64::from(x) / f64::from(u16::MAX);
    m.neurons
        .iter()
        .filter(|n| n.axon.is_serving() && n.axon.port != 0 && n.axon.ip_addr().is_some())
        .map(|n| ServingAxon {
            uid: n.uid,
            hotkey: n.hotkey.clone(),
            endpoint: n.axon.endpoint(),
            stake: n.stake as f64 / 1e9,
            trust: frac(n.trust),
            consensus: frac(n.consensus),
            incentive: frac(n.incentive),
            validator_permit: n.validator_permit,
        })
        .collect()
}

impl AxonDirectory for ChainAxons {
    fn serving_axons(&self, netuid: u16) -> DirectoryFuture<'_> {
        Box::pin(async move {
            let cached = self.cache.lock().ok().and_then(|c| c.get(&netuid).cloned());
            if let Some((at, axons)) = &cached
                && at.elapsed() < self.ttl
            {
                return Ok(axons.as_ref().clone());
            }
            match self.chain.metagraph(netuid).await {
                Ok(m) => {
                    let axons = Arc::new(serving_axons(&m));
                    if let Ok(mut c) = self.cache.lock() {
                        c.insert(netuid, (std::time::Instant::now(), axons.clone()));
                    }
                    Ok(axons.as_ref().clone())
                }
                Err(e) => match cached {
                    Some((_, axons)) => {
                        tracing::warn!(netuid, error = %e, "metagraph read failed; routing with the last one");
                        Ok(axons.as_ref().clone())
                    }
                    None => Err(format!("metagraph of netuid {netuid}: {e}")),
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A neuron's flags as a command, for the loader.
    #[derive(clap::Parser, Debug)]
    struct Cfg {
        #[command(flatten)]
        neuron: NeuronArgs,
    }

    #[test]
    fn wallet_flags_name_a_wallet() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            wallet: WalletArgs,
        }
        use clap::Parser as _;
        let cli = Cli::try_parse_from(["t", "--wallet.path", "/p", "--wallet.name", "n", "--wallet.hotkey", "k"])
            .expect("flags parse");
        assert_eq!(cli.wallet.wallet(), Wallet::new("/p", "n", "k"));
        if ["BT_WALLET_PATH", "BT_WALLET_NAME", "BT_WALLET_HOTKEY"].iter().all(|v| std::env::var_os(v).is_none()) {
            let cli = Cli::try_parse_from(["t"]).expect("defaults");
            assert_eq!(cli.wallet, WalletArgs::default());
            assert_eq!(cli.wallet.path, "~/.bittensor/wallets");
        }
    }

    #[test]
    fn server_flags_map_to_limits() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            server: ServerArgs,
        }
        use clap::Parser as _;
        let cli = Cli::try_parse_from([
            "x",
            "--server.header_timeout_secs",
            "2.5",
            "--server.max_connections",
            "100",
            "--server.max_connections_per_ip",
            "7",
        ])
        .expect("flags parse");
        let l = cli.server.limits();
        assert_eq!(l.header_read_timeout, Duration::from_millis(2500));
        assert_eq!(l.max_connections, 100);
        assert_eq!(l.max_connections_per_ip, 7);
        assert_eq!(l.idle_timeout, ServeLimits::default().idle_timeout);
        let cli = Cli::try_parse_from(["x"]).expect("defaults");
        assert_eq!(cli.server.limits(), ServeLimits::default());
    }

    #[test]
    fn serving_axons_from_a_metagraph() {
        use orchestra_chain::{AxonInfo, NeuronInfo, ip_to_int};
        let served = |uid: u16, ip: &str, port: u16| {
            let (ip, ip_type) = ip_to_int(ip.parse().expect("ip"));
            NeuronInfo {
                uid,
                hotkey: format!("5H{uid}"),
                stake: 2_500_000_000,
                incentive: u16::MAX,
                consensus: u16::MAX / 2,
                axon: AxonInfo { ip, ip_type, port, protocol: 4, ..AxonInfo::default() },
                ..NeuronInfo::default()
            }
        };
        let m = Metagraph {
            netuid: 22,
            block: 7,
            neurons: vec![
                served(0, "1.2.3.4", 8091),
                NeuronInfo { uid: 1, ..NeuronInfo::default() },
                served(2, "::2", 9),
            ],
        };
        let v = serving_axons(&m);
        assert_eq!(v.len(), 2, "the neuron that never served is left out");
        assert_eq!((v[0].uid, v[0].endpoint.as_str(), v[0].stake), (0, "1.2.3.4:8091", 2.5));
        assert!((v[0].incentive - 1.0).abs() < 1e-12 && (v[0].consensus - 0.5).abs() < 1e-4);
        assert_eq!(v[1].endpoint, "[::2]:9");
    }

    #[test]
    fn config_file_goes_under_the_command_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("m.toml");
        std::fs::write(&p, "netuid = 3\n\"logging.json\" = true\n[axon]\nport = 9000\n").expect("write");
        let argv = vec!["miner".into(), "--config".into(), p.display().to_string(), "--netuid".into(), "5".into()];
        let out = args_with_config_file::<Cfg>(argv).expect("merge");
        assert_eq!(out[0], "miner");
        let joined = out.join(" ");
        assert!(joined.contains("--axon.port 9000"), "{joined}");
        assert!(joined.contains("--logging.json"));
        // A flag on the command line is not repeated from the file.
        assert!(joined.ends_with("--netuid 5") && !joined.contains("--netuid 3"), "{joined}");
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "netuid = ").expect("write");
        let err = args_with_config_file::<Cfg>(vec!["m".into(), "--config".into(), bad.display().to_string()])
            .expect_err("bad");
        assert!(err.to_string().contains("bad.toml"));
    }
}
