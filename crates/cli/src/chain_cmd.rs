//! `orchestra chain …`: operator and script commands against a chain — the devnet
//! (`--chain.endpoint http://…`) or subtensor (`--subtensor.network finney|test|local|ws://…`) —
//! through the same `Chain` trait: `register`, `serve-axon`, `metagraph`, `set-weights`, `commit`
//! and `hyperparams`. Results are JSON on stdout. A chain rule violation prints
//! `{"error": "<chain error name>", ...}` on stdout and exits with status 1; usage and connection
//! problems are errors (status 2 from `main`).

use std::net::IpAddr;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use orchestra_chain::devnet::DevnetClient;
use orchestra_chain::subtensor::{Network, SubtensorChain, SubtensorOptions};
use orchestra_chain::{AxonServe, Chain, ChainError, NetUid, TxOutcome, WeightsSubmission};
use orchestra_keys::{Keypair, PublicKey, Wallet, WalletArgs};
use serde_json::json;

/// Which chain and which keys.
#[derive(clap::Args, Debug, Clone)]
pub struct ChainArgs {
    /// A devnet's HTTP URL (e.g. http://127.0.0.1:9955). Overrides --subtensor.network.
    #[arg(long = "chain.endpoint", env = "ORCHESTRA_CHAIN_ENDPOINT")]
    pub endpoint: Option<String>,
    /// A subtensor network: finney, test, local, or a ws:// / wss:// URL.
    #[arg(long = "subtensor.network", env = "BT_SUBTENSOR_NETWORK", default_value = "finney")]
    pub network: String,
    #[command(flatten)]
    pub wallet: WalletArgs,
    /// Dev key URI (e.g. //Alice) used as both hotkey and coldkey instead of the wallet.
    #[arg(long)]
    pub uri: Option<String>,
    /// Dev key URI for the hotkey only (overrides --uri and the wallet's hotkey).
    #[arg(long = "hotkey-uri")]
    pub hotkey_uri: Option<String>,
    /// Dev key URI for the coldkey only (overrides --uri and the wallet's coldkey).
    #[arg(long = "coldkey-uri")]
    pub coldkey_uri: Option<String>,
    /// Password of an encrypted wallet coldkey (prefer the environment variable).
    #[arg(long = "coldkey-password", env = "ORCHESTRA_COLDKEY_PASSWORD", hide_env_values = true)]
    pub coldkey_password: Option<String>,
}

/// `orchestra chain <command>`.
#[derive(Subcommand, Debug, Clone)]
pub enum ChainCommand {
    /// Register a hotkey on a subnet by burning the registration cost (signed by the coldkey).
    Register {
        #[command(flatten)]
        chain: ChainArgs,
        /// Subnet.
        #[arg(long)]
        netuid: NetUid,
        /// SS58 of the hotkey to register (default: the wallet's or --uri's hotkey).
        #[arg(long = "hotkey-ss58")]
        hotkey_ss58: Option<String>,
    },
    /// Announce the hotkey's axon (`serve_axon`).
    ServeAxon {
        #[command(flatten)]
        chain: ChainArgs,
        /// Subnet.
        #[arg(long)]
        netuid: NetUid,
        /// Public IP address.
        #[arg(long)]
        ip: IpAddr,
        /// TCP port.
        #[arg(long)]
        port: u16,
        /// Software version (the SDK's version_as_int).
        #[arg(long, default_value_t = 0)]
        version: u32,
    },
    /// Print the subnet's neurons.
    Metagraph {
        #[command(flatten)]
        chain: ChainArgs,
        /// Subnet.
        #[arg(long)]
        netuid: NetUid,
        /// Print the full metagraph as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Set weights (float weights are normalized like the Python SDK).
    SetWeights {
        #[command(flatten)]
        chain: ChainArgs,
        /// Subnet.
        #[arg(long)]
        netuid: NetUid,
        /// Destination uids, comma separated.
        #[arg(long, value_delimiter = ',', required = true)]
        uids: Vec<u16>,
        /// Weights (non-negative floats), comma separated, one per uid.
        #[arg(long, value_delimiter = ',', required = true)]
        weights: Vec<f64>,
        /// Weights version key.
        #[arg(long = "version-key", default_value_t = 0)]
        version_key: u64,
    },
    /// Publish a commitment (one Raw/BigRaw field), or read one with --read.
    Commit {
        #[command(flatten)]
        chain: ChainArgs,
        /// Subnet.
        #[arg(long)]
        netuid: NetUid,
        /// Text to publish (UTF-8, at most 512 bytes).
        #[arg(long, conflicts_with_all = ["data_hex", "read"])]
        data: Option<String>,
        /// Bytes to publish, hex.
        #[arg(long = "data-hex", conflicts_with = "read")]
        data_hex: Option<String>,
        /// Read the commitment of this hotkey (SS58) instead.
        #[arg(long)]
        read: Option<String>,
    },
    /// Print the subnet's hyperparameters as JSON.
    Hyperparams {
        #[command(flatten)]
        chain: ChainArgs,
        /// Subnet.
        #[arg(long)]
        netuid: NetUid,
    },
}

fn dev_key(uri: &str) -> anyhow::Result<Keypair> {
    // The URI may be a mnemonic: never echo it.
    Keypair::from_uri(uri).context("the dev key URI is not valid")
}

impl ChainArgs {
    pub(crate) fn hotkey(&self) -> anyhow::Result<Keypair> {
        if let Some(uri) = self.hotkey_uri.as_deref().or(self.uri.as_deref()) {
            return dev_key(uri);
        }
        let w = Wallet::from_args(&self.wallet);
        match &self.coldkey_password {
            Some(p) => w.hotkey_with_password(p),
            None => w.hotkey(),
        }
        .with_context(|| format!("load hotkey {}", w.hotkey_path().display()))
    }

    fn hotkey_public(&self) -> anyhow::Result<PublicKey> {
        if self.hotkey_uri.is_some() || self.uri.is_some() {
            return Ok(self.hotkey()?.public());
        }
        let w = Wallet::from_args(&self.wallet);
        w.hotkeypub()
            .or_else(|_| w.hotkey().map(|k| k.public()))
            .with_context(|| format!("load hotkey {} (or its pub file)", w.hotkey_path().display()))
    }

    pub(crate) fn coldkey(&self) -> anyhow::Result<Keypair> {
        if let Some(uri) = self.coldkey_uri.as_deref().or(self.uri.as_deref()) {
            return dev_key(uri);
        }
        let w = Wallet::from_args(&self.wallet);
        w.coldkey(self.coldkey_password.as_deref().unwrap_or("")).with_context(|| {
            format!("load coldkey {} (set ORCHESTRA_COLDKEY_PASSWORD if encrypted)", w.coldkey_path().display())
        })
    }

    /// The chain client, with the keys the command signs with.
    pub(crate) async fn connect(
        &self,
        hotkey: Option<Keypair>,
        coldkey: Option<Keypair>,
    ) -> anyhow::Result<Box<dyn Chain>> {
        if let Some(url) = &self.endpoint {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("--chain.endpoint {url}: expected a devnet http:// URL (use --subtensor.network for ws://)");
            }
            let mut c = DevnetClient::connect(url).await.with_context(|| format!("connect to devnet {url}"))?;
            if let Some(k) = hotkey {
                c = c.with_hotkey(k);
            }
            if let Some(k) = coldkey {
                c = c.with_coldkey(k);
            }
            return Ok(Box::new(c));
        }
        let network: Network = self.network.parse()?;
        let mut c = SubtensorChain::connect(network.clone(), SubtensorOptions::default())
            .await
            .with_context(|| format!("connect to subtensor {network}"))?;
        if let Some(k) = hotkey {
            c = c.with_hotkey(k);
        }
        if let Some(k) = coldkey {
            c = c.with_coldkey(k);
        }
        Ok(Box::new(c))
    }
}

/// Prints the outcome of a state change; a chain rule violation is status 1.
fn tx_result(call: &str, r: Result<TxOutcome, ChainError>) -> anyhow::Result<ExitCode> {
    match r {
        Ok(o) => {
            println!("{}", json!({"call": call, "ok": true, "block": o.block_number, "block_hash": o.block_hash}));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if e.chain_error_name().is_some() => {
            println!("{}", json!({"call": call, "ok": false, "error": e.chain_error_name(), "message": e.to_string()}));
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

/// Runs one `orchestra chain` command.
pub fn run(cmd: ChainCommand) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("start the async runtime")?;
    rt.block_on(run_async(cmd))
}

async fn run_async(cmd: ChainCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ChainCommand::Register { chain, netuid, hotkey_ss58 } => {
            let hotkey = match hotkey_ss58 {
                Some(s) => PublicKey::from_ss58(&s).with_context(|| format!("--hotkey-ss58 {s}"))?.to_ss58(),
                None => chain.hotkey_public()?.to_ss58(),
            };
            let c = chain.connect(None, Some(chain.coldkey()?)).await?;
            tx_result("burned_register", c.burned_register(netuid, &hotkey).await)
        }
        ChainCommand::ServeAxon { chain, netuid, ip, port, version } => {
            let c = chain.connect(Some(chain.hotkey()?), None).await?;
            tx_result("serve_axon", c.serve_axon(netuid, &AxonServe::new(ip, port, version)).await)
        }
        ChainCommand::Metagraph { chain, netuid, json } => {
            let c = chain.connect(None, None).await?;
            let mg = c.metagraph(netuid).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&mg)?);
            } else {
                println!("netuid {} at block {}: {} neurons", mg.netuid, mg.block, mg.neurons.len());
                println!(
                    "{:>5} {:<50} {:>16} {:>9} {:>9} {:>9} {:>6} {:>12} {:<22}",
                    "uid",
                    "hotkey",
                    "stake (rao)",
                    "incentive",
                    "dividends",
                    "consensus",
                    "vpermit",
                    "last_update",
                    "axon"
                );
                for n in &mg.neurons {
                    let f = |v: u16| format!("{:.5}", f64::from(v) / 65535.0);
                    println!(
                        "{:>5} {:<50} {:>16} {:>9} {:>9} {:>9} {:>6} {:>12} {:<22}",
                        n.uid,
                        n.hotkey,
                        n.stake,
                        f(n.incentive),
                        f(n.dividends),
                        f(n.consensus),
                        n.validator_permit,
                        n.last_update,
                        if n.axon.is_serving() { n.axon.endpoint() } else { "-".into() }
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ChainCommand::SetWeights { chain, netuid, uids, weights, version_key } => {
            let sub = WeightsSubmission::from_float(&uids, &weights, version_key)?;
            let c = chain.connect(Some(chain.hotkey()?), None).await?;
            tx_result("set_weights", c.set_weights(netuid, &sub).await)
        }
        ChainCommand::Commit { chain, netuid, data, data_hex, read } => {
            if let Some(hotkey) = read {
                let c = chain.connect(None, None).await?;
                let commitment = c.commitment(netuid, &hotkey).await?;
                let text = commitment.as_ref().and_then(|c| c.data()).map(|d| String::from_utf8_lossy(d).into_owned());
                println!("{}", json!({"hotkey": hotkey, "commitment": commitment, "text": text}));
                return Ok(ExitCode::SUCCESS);
            }
            let bytes = match (data, data_hex) {
                (Some(t), None) => t.into_bytes(),
                (None, Some(h)) => hex_decode(&h)?,
                _ => bail!("give --data, --data-hex or --read"),
            };
            let c = chain.connect(Some(chain.hotkey()?), None).await?;
            tx_result("set_commitment", c.set_commitment(netuid, &bytes).await)
        }
        ChainCommand::Hyperparams { chain, netuid } => {
            let c = chain.connect(None, None).await?;
            println!("{}", serde_json::to_string_pretty(&c.hyperparams(netuid).await?)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn hex_decode(s: &str) -> anyhow::Result<Vec<u8>> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("--data-hex: not hex");
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).context("--data-hex")).collect()
}
