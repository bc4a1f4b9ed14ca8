//! `orchestra localnet`: one command brings up a whole local network and makes it do real work.
//!
//! It starts the devnet (the local subtensor SIMULATOR) and the SIMULATED subnets as child
//! processes, creates bittensor wallets, creates a subnet with an owner, registers and stakes
//! validators and registers miners, starts the real `validator` and `miner` binaries, submits
//! the README's worked example through a validator's gateway (then again with one of the two
//! simulated search subnets down, to show the fallback), injects schema drift into the
//! simulated data subnet and shows the Ledger change it leads to (as JSON, to an SSE client and to
//! a webhook receiver that checks the HMAC signature), and prints weights and emissions after an
//! epoch. It also creates an API key through validator0's Ledger admin endpoint while the
//! validator runs, and buys a developer key with TAO from it. Then it keeps running (URLs
//! printed) until Ctrl-C, or with `--demo` exits with a status saying whether everything worked.
//!
//! `--chain subtensor` runs the same demo on the real subtensor runtime (spec 218 under
//! chopsticks, started with scripts/local-runtime.sh) instead of the devnet: //Alice (its Sudo
//! key) creates the subnet and sets its hyperparameters, the wallets are funded with
//! `dev_setStorage`, and miners announce 127.0.0.2 (the runtime refuses exactly 127.0.0.1; the
//! whole 127/8 is loopback). That runtime's epoch is a mock (docs/chain-conformance.md), so the
//! last step waits for the validators' weights and prints the emission it pays by stake;
//! incentive stays 0 there.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use orchestra_chain::devnet::DevnetClient;
use orchestra_chain::subtensor::{Network, SubtensorChain, SubtensorOptions};
use orchestra_chain::{Chain, ChainAdmin, Hyperparam};
use orchestra_devnet::admin::{AdminCall, AdminClient};
use orchestra_keys::{Keypair, Wallet};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The chain a localnet runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LocalChainKind {
    /// The devnet, our subtensor simulator (fast: 250 ms blocks; the default).
    Devnet,
    /// The real subtensor runtime (spec 218) under chopsticks, one block per extrinsic.
    Subtensor,
}

#[derive(Args, Debug)]
pub struct LocalnetArgs {
    /// The chain: the devnet (default) or the real subtensor runtime under chopsticks.
    #[arg(long, value_enum, default_value = "devnet")]
    pub chain: LocalChainKind,
    /// Port of the subtensor runtime with --chain subtensor (0: a free one).
    #[arg(long = "runtime-port", default_value_t = 0)]
    pub runtime_port: u16,
    #[arg(long, default_value_t = 3)]
    pub miners: usize,
    #[arg(long, default_value_t = 2)]
    pub validators: usize,
    /// Working directory for chain data, wallets and logs (default: a new temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Exit after the demo with a status that says whether it worked.
    #[arg(long)]
    pub demo: bool,
    /// Devnet block time.
    #[arg(long = "block-time-ms", default_value_t = 250)]
    pub block_time_ms: u64,
    /// Blocks per epoch on the devnet subnet.
    #[arg(long, default_value_t = 40)]
    pub tempo: u16,
    #[arg(long, default_value_t = 1)]
    pub netuid: u16,
    /// World file (JSON: pages, posts, facts) for the simulated subnets instead of the built-in
    /// one; checked before anything starts. The demo's worked example expects GPU pricing pages.
    #[arg(long)]
    pub world: Option<PathBuf>,
}

const TAO: u64 = 1_000_000_000;

struct Proc {
    name: String,
    child: Child,
}

struct Net {
    procs: Vec<Proc>,
    /// scripts/local-runtime.sh and the runtime's directory, to stop chopsticks at the end.
    runtime: Option<(PathBuf, PathBuf)>,
}

impl Net {
    async fn stop(&mut self) {
        self.stop_procs().await;
        if let Some((script, dir)) = self.runtime.take() {
            let _ =
                tokio::process::Command::new("bash").arg(&script).arg("--stop").arg("--dir").arg(&dir).status().await;
        }
    }

    async fn stop_procs(&mut self) {
        for p in &mut self.procs {
            if let Some(id) = p.child.id() {
                // SIGTERM first so daemons flush and exit cleanly.
                let _ = std::process::Command::new("kill").arg("-TERM").arg(id.to_string()).status();
            }
        }
        for p in &mut self.procs {
            match tokio::time::timeout(Duration::from_secs(5), p.child.wait()).await {
                Ok(_) => {}
                Err(_) => {
                    eprintln!("  {} did not stop in 5 s; killing it", p.name);
                    let _ = p.child.kill().await;
                }
            }
        }
    }
}

fn step(msg: &str) {
    eprintln!("==> {msg}");
}

fn bin(name: &str) -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("locating the orchestra binary")?;
    let p = me.with_file_name(name);
    if !p.exists() {
        bail!("{} not found next to {} (build it: cargo build --bins)", name, me.display());
    }
    Ok(p)
}

/// Spawn a child with stdout piped and stderr to a log; wait for its JSON "ready" line.
async fn spawn_ready(
    name: &str,
    program: &Path,
    args: &[String],
    logs: &Path,
    wait: Duration,
) -> anyhow::Result<(Proc, Value)> {
    let log = std::fs::File::create(logs.join(format!("{name}.log"))).with_context(|| format!("log for {name}"))?;
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(wait, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v.get("event").and_then(Value::as_str) == Some("ready")
            {
                return Some(v);
            }
        }
        None
    })
    .await;
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    match ready {
        Ok(Some(v)) => Ok((Proc { name: name.into(), child }, v)),
        _ => bail!("{name} did not become ready; see {}", logs.join(format!("{name}.log")).display()),
    }
}

fn spawn_daemon(name: &str, program: &Path, args: &[String], logs: &Path) -> anyhow::Result<Proc> {
    let log = std::fs::File::create(logs.join(format!("{name}.log"))).with_context(|| format!("log for {name}"))?;
    let err = log.try_clone()?;
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    Ok(Proc { name: name.into(), child })
}

/// A minimal HTTP receiver for webhook deliveries: answers 200 and hands over headers and body.
async fn webhook_receiver()
-> anyhow::Result<(String, tokio::sync::mpsc::Receiver<(std::collections::HashMap<String, String>, Vec<u8>)>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, len) = loop {
                    let Ok(n) = sock.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..p]).to_string();
                        let len = head
                            .lines()
                            .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")))
                            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (p + 4, len);
                    }
                };
                while buf.len() < head_end + len {
                    let Ok(n) = sock.read(&mut chunk).await else { return };
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let headers = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| {
                        l.split_once(':').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    })
                    .collect();
                let body = buf[head_end..(head_end + len).min(buf.len())].to_vec();
                let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                let _ = tx.send((headers, body)).await;
            });
        }
    });
    Ok((url, rx))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn new_wallet(path: &Path, name: &str) -> anyhow::Result<(Keypair, Keypair)> {
    let w = Wallet::new(path, name, "default");
    let (ck, ck_phrase) = Keypair::generate();
    let (hk, hk_phrase) = Keypair::generate();
    w.create_coldkey(&ck, Some(&ck_phrase), None, true)?;
    w.create_hotkey(&hk, Some(&hk_phrase), true)?;
    Ok((ck, hk))
}

async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut f: F) -> anyhow::Result<Value>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let t0 = Instant::now();
    loop {
        if let Some(v) = f().await {
            return Ok(v);
        }
        if t0.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// scripts/NAME of this repository: $ORCHESTRA_REPO, the current directory, or where this binary
/// was built from.
fn script(name: &str) -> anyhow::Result<PathBuf> {
    let mut roots = Vec::new();
    if let Some(r) = std::env::var_os("ORCHESTRA_REPO") {
        roots.push(PathBuf::from(r));
    }
    roots.push(std::env::current_dir()?);
    roots.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."));
    roots
        .iter()
        .map(|r| r.join("scripts").join(name))
        .find(|p| p.exists())
        .with_context(|| format!("scripts/{name} not found (run from the repository or set ORCHESTRA_REPO)"))
}

/// The chain under a localnet, and what the demo needs from it beyond the `Chain` trait.
enum LocalChain {
    Devnet {
        url: String,
    },
    /// The real runtime: `sudo` signs as //Alice, chopsticks' Sudo key.
    Subtensor {
        url: String,
        sudo: Arc<SubtensorChain>,
    },
}

impl LocalChain {
    fn url(&self) -> &str {
        match self {
            LocalChain::Devnet { url } | LocalChain::Subtensor { url, .. } => url,
        }
    }

    /// The flags that point a neuron at this chain.
    fn neuron_flags(&self) -> [String; 2] {
        match self {
            LocalChain::Devnet { url } => ["--chain.endpoint".into(), url.clone()],
            LocalChain::Subtensor { url, .. } => ["--subtensor.network".into(), url.clone()],
        }
    }

    /// A client signing with `coldkey` (if any).
    async fn client(&self, coldkey: Option<Keypair>) -> anyhow::Result<Arc<dyn Chain>> {
        Ok(match self {
            LocalChain::Devnet { url } => {
                let c = DevnetClient::connect(url).await?;
                Arc::new(match coldkey {
                    Some(k) => c.with_coldkey(k),
                    None => c,
                })
            }
            LocalChain::Subtensor { url, .. } => {
                let c = SubtensorChain::connect(Network::Custom(url.clone()), subtensor_options()).await?;
                Arc::new(match coldkey {
                    Some(k) => c.with_coldkey(k),
                    None => c,
                })
            }
        })
    }

    /// Gives each key `amount` rao: the devnet's faucet, or `dev_setStorage` on chopsticks.
    async fn fund(&self, keys: &[&Keypair], amount: u64) -> anyhow::Result<()> {
        match self {
            LocalChain::Devnet { url } => {
                for k in keys {
                    AdminClient::new(url, (*k).clone())?.submit(AdminCall::Faucet { amount }).await?;
                }
            }
            LocalChain::Subtensor { sudo, .. } => {
                let accounts: Vec<String> = keys.iter().map(|k| k.ss58().to_string()).collect();
                sudo.dev_fund(&accounts, amount).await.context("fund the wallets (dev_setStorage)")?;
            }
        }
        Ok(())
    }

    /// Creates subnet `netuid` (the devnet) or the next one (subtensor) with `owner_hk` as uid 0,
    /// tuned for a quick demo. Returns the netuid.
    async fn create_subnet(&self, owner_ck: &Keypair, owner_hk: &Keypair, a: &LocalnetArgs) -> anyhow::Result<u16> {
        match self {
            LocalChain::Devnet { url } => {
                let owner = AdminClient::new(url, owner_ck.clone())?;
                let mut hp = serde_json::Map::new();
                hp.insert("weights_rate_limit".into(), json!(5));
                hp.insert("commit_reveal_weights_enabled".into(), json!(false));
                hp.insert("min_allowed_weights".into(), json!(1));
                hp.insert("max_validators".into(), json!(a.validators.max(1)));
                owner
                    .submit(AdminCall::CreateSubnet {
                        netuid: Some(a.netuid),
                        owner_hotkey: Some(owner_hk.ss58().to_string()),
                        hyperparams: hp,
                    })
                    .await
                    .context("creating the subnet")?;
                Ok(a.netuid)
            }
            LocalChain::Subtensor { sudo, .. } => {
                let netuid = sudo.create_subnet(owner_hk.ss58()).await.context("creating the subnet")?;
                for p in [
                    Hyperparam::Tempo(a.tempo),
                    Hyperparam::WeightsRateLimit(0),
                    Hyperparam::CommitRevealEnabled(false),
                    Hyperparam::MinAllowedWeights(1),
                    Hyperparam::TargetRegistrationsPerInterval(64),
                    Hyperparam::MaxRegistrationsPerBlock(64),
                    Hyperparam::WeightsMinStake(0),
                    Hyperparam::ServingRateLimit(0),
                ] {
                    sudo.set_hyperparam(netuid, p).await.with_context(|| format!("set {p:?}"))?;
                }
                Ok(netuid)
            }
        }
    }

    /// Stakes `amount` rao from `coldkey` to `hotkey`.
    async fn stake(&self, netuid: u16, coldkey: &Keypair, hotkey: &str, amount: u64) -> anyhow::Result<()> {
        match self {
            LocalChain::Devnet { url } => {
                AdminClient::new(url, coldkey.clone())?
                    .submit(AdminCall::AddStake { netuid, hotkey: hotkey.to_string(), amount })
                    .await?;
            }
            LocalChain::Subtensor { url, .. } => {
                let c = SubtensorChain::connect(Network::Custom(url.clone()), subtensor_options())
                    .await?
                    .with_coldkey(coldkey.clone());
                c.add_stake(netuid, hotkey, amount).await?;
            }
        }
        Ok(())
    }

    /// Runs an epoch now so validators hold permits from the first round (the devnet hands
    /// them out at epochs; spec 218 gives every uid one at every block).
    async fn first_epoch(&self, owner_ck: &Keypair, tempo: u16) -> anyhow::Result<()> {
        match self {
            LocalChain::Devnet { url } => {
                AdminClient::new(url, owner_ck.clone())?
                    .submit(AdminCall::AdvanceBlocks { blocks: u32::from(tempo) + 2 })
                    .await
                    .context("advancing to the first epoch")?;
            }
            LocalChain::Subtensor { sudo, .. } => sudo.advance_blocks(1).await?,
        }
        Ok(())
    }
}

fn subtensor_options() -> SubtensorOptions {
    SubtensorOptions {
        tx_timeout: Duration::from_secs(240),
        request_timeout: Duration::from_secs(120),
        ..SubtensorOptions::default()
    }
}

pub fn run(a: LocalnetArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(run_async(a))
}

async fn run_async(mut a: LocalnetArgs) -> anyhow::Result<ExitCode> {
    if let Some(w) = &a.world {
        // A bad world file is refused before any process starts, naming the problem.
        orchestra_subnet_sim::World::from_file(&w.display().to_string())?;
        a.world = Some(std::fs::canonicalize(w).with_context(|| format!("world file {}", w.display()))?);
    }
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("orchestra-localnet-{}", std::process::id())),
    };
    let logs = dir.join("logs");
    let wallets = dir.join("wallets");
    std::fs::create_dir_all(&logs)?;
    std::fs::create_dir_all(&wallets)?;
    let me = std::env::current_exe()?;
    let (miner_bin, validator_bin) = (bin("miner")?, bin("validator")?);
    let mut net = Net { procs: Vec::new(), runtime: None };
    let outcome = demo(&a, &dir, &logs, &wallets, &me, &miner_bin, &validator_bin, &mut net).await;
    let ok = match &outcome {
        Ok(()) => true,
        Err(e) => {
            eprintln!("\nlocalnet: FAILED: {e:#}\nlogs: {}", logs.display());
            false
        }
    };
    if ok && !a.demo {
        eprintln!("\nrunning; Ctrl-C to stop everything");
        let _ = tokio::signal::ctrl_c().await;
    }
    step("stopping");
    net.stop().await;
    if ok {
        eprintln!("localnet: OK");
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::FAILURE)
    }
}

#[allow(clippy::too_many_arguments)]
async fn demo(
    a: &LocalnetArgs,
    dir: &Path,
    logs: &Path,
    wallets: &Path,
    me: &Path,
    miner_bin: &Path,
    validator_bin: &Path,
    net: &mut Net,
) -> anyhow::Result<()> {
    let s = |x: &str| x.to_string();
    step(&format!("working directory {}", dir.display()));

    let chain = match a.chain {
        LocalChainKind::Devnet => {
            step("starting the devnet (local subtensor simulator)");
            let (p, ready) = spawn_ready(
                "devnet",
                me,
                &[
                    s("devnet"),
                    s("--port"),
                    s("0"),
                    s("--data-dir"),
                    dir.join("devnet").display().to_string(),
                    s("--block-time-ms"),
                    a.block_time_ms.to_string(),
                    s("--tempo"),
                    a.tempo.to_string(),
                    // The localnet creates its own subnet with its own owner.
                    s("--no-dev-accounts"),
                ],
                logs,
                Duration::from_secs(30),
            )
            .await?;
            net.procs.push(p);
            let url = ready.get("url").and_then(Value::as_str).context("devnet ready line has no url")?.to_string();
            eprintln!("    devnet {url}");
            LocalChain::Devnet { url }
        }
        LocalChainKind::Subtensor => {
            step("starting the real subtensor runtime (spec 218 under chopsticks, scripts/local-runtime.sh)");
            let script = script("local-runtime.sh")?;
            let port = if a.runtime_port == 0 { free_port()? } else { a.runtime_port };
            let rdir = dir.join("runtime");
            let t = Instant::now();
            let out = tokio::process::Command::new("bash")
                .arg(&script)
                .args(["--port", &port.to_string(), "--dir"])
                .arg(&rdir)
                .output()
                .await
                .context("run scripts/local-runtime.sh")?;
            net.runtime = Some((script, rdir.clone()));
            if !out.status.success() {
                bail!("scripts/local-runtime.sh failed: {}", String::from_utf8_lossy(&out.stderr));
            }
            let url = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().trim().to_string();
            let sudo = SubtensorChain::connect(Network::Custom(url.clone()), subtensor_options())
                .await?
                .with_coldkey(Keypair::from_uri("//Alice")?);
            eprintln!(
                "    subtensor runtime {url} up in {:.1} s (log {})",
                t.elapsed().as_secs_f64(),
                rdir.join("chopsticks.log").display()
            );
            LocalChain::Subtensor { url, sudo: Arc::new(sudo) }
        }
    };
    let chain_url = chain.url().to_string();

    step("starting the simulated subnets (search like SN22, data like SN13, LLM like SN64)");
    let ledger_file = dir.join("ledger.json");
    // Two search subnets, so one can go down and miners fall back to the other.
    let sim_config = dir.join("subnet-sim.toml");
    std::fs::write(
        &sim_config,
        "seed = 42\n\n[[subnet]]\nkind = \"search\"\nnetuid = 22\nname = \"sim-desearch\"\n\n\
[[subnet]]\nkind = \"search\"\nnetuid = 122\nname = \"sim-search-b\"\n\n\
[[subnet]]\nkind = \"data\"\nnetuid = 13\nname = \"sim-data-universe\"\n\n\
[[subnet]]\nkind = \"llm\"\nnetuid = 64\nname = \"sim-chutes\"\n",
    )?;
    let mut sim_args = vec![
        s("subnet-sim"),
        s("--config"),
        sim_config.display().to_string(),
        s("--ledger-out"),
        ledger_file.display().to_string(),
    ];
    if let Some(w) = &a.world {
        sim_args.extend([s("--world"), w.display().to_string()]);
    }
    let (p, ready) = spawn_ready("subnet-sim", me, &sim_args, logs, Duration::from_secs(30)).await?;
    net.procs.push(p);
    let subnets = ready.get("subnets").cloned().unwrap_or(Value::Null);
    let data_base = subnets
        .as_array()
        .and_then(|v| v.iter().find(|s| s.get("kind").and_then(Value::as_str) == Some("data")))
        .and_then(|s| s.get("addr").and_then(Value::as_str))
        .map(|addr| format!("http://{addr}"))
        .context("no data subnet in the simulator's ready line")?;
    let search_base = subnets
        .as_array()
        .and_then(|v| v.iter().find(|s| s.get("netuid").and_then(Value::as_u64) == Some(22)))
        .and_then(|s| s.get("addr").and_then(Value::as_str))
        .map(|addr| format!("http://{addr}"))
        .context("no search subnet 22 in the simulator's ready line")?;
    for sn in subnets.as_array().into_iter().flatten() {
        eprintln!(
            "    {} (netuid {}) at http://{}",
            sn["name"].as_str().unwrap_or("?"),
            sn["netuid"],
            sn["addr"].as_str().unwrap_or("?")
        );
    }

    step("creating wallets, the subnet and its neurons");
    let (owner_ck, owner_hk) = new_wallet(wallets, "owner")?;
    let mut keys = vec![(s("owner"), owner_ck.clone(), owner_hk.clone())];
    for i in 0..a.validators + a.miners {
        let name = if i < a.validators { format!("validator{i}") } else { format!("miner{}", i - a.validators) };
        let (ck, hk) = new_wallet(wallets, &name)?;
        keys.push((name, ck, hk));
    }
    let (client_ck, _) = new_wallet(wallets, "client")?;
    // Coldkeys pay registration and stake; on subtensor hotkeys pay their transactions' fees.
    let mut to_fund: Vec<&Keypair> = keys.iter().flat_map(|(_, ck, hk)| [ck, hk]).collect();
    to_fund.push(&client_ck);
    chain.fund(&to_fund, 10_000 * TAO).await?;
    let netuid = chain.create_subnet(&owner_ck, &owner_hk, a).await?;
    eprintln!("    subnet {netuid} with owner hotkey {}", owner_hk.ss58());
    let mut validators = Vec::new();
    let mut miners = Vec::new();
    for (i, (name, ck, hk)) in keys.iter().skip(1).enumerate() {
        let c = chain.client(Some(ck.clone())).await?;
        c.burned_register(netuid, hk.ss58()).await.with_context(|| format!("registering {name}"))?;
        if i < a.validators {
            chain
                .stake(netuid, ck, hk.ss58(), (500 - 100 * i as u64) * TAO)
                .await
                .with_context(|| format!("staking {name}"))?;
            validators.push((name.clone(), hk.clone()));
        } else {
            miners.push((name.clone(), hk.clone()));
        }
    }
    eprintln!("    {} validators (staked) and {} miners registered", validators.len(), miners.len());
    // Validator permits are assigned by the epoch (top stake), as on subtensor: run one now so
    // validators can call miners from the first round.
    chain.first_epoch(&owner_ck, a.tempo).await?;
    let reader = chain.client(None).await?;
    let mg = reader.metagraph(netuid).await?;
    let permits = mg.neurons.iter().filter(|n| n.validator_permit).count();
    eprintln!("    epoch ran at block {}: {permits} validator permits", mg.block);

    step("starting miners and validators (the real binaries)");
    let common = |name: &str| {
        vec![
            s("--wallet.path"),
            wallets.display().to_string(),
            s("--wallet.name"),
            name.to_string(),
            s("--wallet.hotkey"),
            s("default"),
            chain.neuron_flags()[0].clone(),
            chain.neuron_flags()[1].clone(),
            s("--netuid"),
            netuid.to_string(),
            s("--data-dir"),
            dir.join("state").display().to_string(),
            s("--metagraph.sync_secs"),
            s("2"),
            // Everything here is on loopback: simulated subnets, axons, the devnet.
            s("--net.allow_private"),
        ]
    };
    // The validators' API ports first: miners follow their Ledger APIs (the flywheel: approved
    // changes reach routing), starting from the same Ledger file.
    let mut api_ports = Vec::new();
    for _ in &validators {
        api_ports.push(free_port()?);
    }
    let api_urls: Vec<String> = api_ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect();
    let key_file = dir.join("validator0.key");
    let mut miner_ports = Vec::new();
    // The runtime refuses axons at exactly 127.0.0.1 (InvalidIpAddress); 127.0.0.2 is loopback too.
    let axon_ip = match a.chain {
        LocalChainKind::Devnet => "127.0.0.1",
        LocalChainKind::Subtensor => "127.0.0.2",
    };
    for (name, _) in &miners {
        let port = free_port()?;
        let mut args = common(name);
        args.extend([
            s("--axon.host"),
            s(axon_ip),
            s("--axon.external_ip"),
            s(axon_ip),
            s("--axon.port"),
            port.to_string(),
            s("--ledger.file"),
            ledger_file.display().to_string(),
            s("--ledger.url"),
            api_urls.join(","),
            s("--ledger.key_file"),
            key_file.display().to_string(),
            s("--ledger.sync_secs"),
            s("3"),
        ]);
        net.procs.push(spawn_daemon(name, miner_bin, &args, logs)?);
        miner_ports.push(port);
    }
    for ((name, _), port) in validators.iter().zip(api_ports.iter().copied()) {
        let mut args = common(name);
        args.extend([
            s("--api.host"),
            s("127.0.0.1"),
            s("--api.port"),
            port.to_string(),
            s("--epoch.secs"),
            s("6"),
            s("--tasks.deadline_ms"),
            s("15000"),
            s("--ledger.seed"),
            ledger_file.display().to_string(),
            s("--api.bootstrap_key_file"),
            dir.join(format!("{name}.key")).display().to_string(),
            s("--api.allow_private_webhooks"),
            s("--policy.owner"),
            owner_hk.ss58().to_string(),
        ]);
        net.procs.push(spawn_daemon(name, validator_bin, &args, logs)?);
    }
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
    let api = api_urls[0].clone();
    let key = {
        let kf = key_file.clone();
        wait_for("the validator's API key", Duration::from_secs(60), || {
            let kf = kf.clone();
            async move { std::fs::read_to_string(&kf).ok().map(Value::String) }
        })
        .await?
        .as_str()
        .unwrap_or_default()
        .to_string()
    };
    let status = wait_for("the first validation round", Duration::from_secs(120), || {
        let (http, api) = (http.clone(), api.clone());
        async move {
            let v: Value = http.get(format!("{api}/v1/status")).send().await.ok()?.json().await.ok()?;
            (v["status"]["epoch"].as_u64().unwrap_or(0) >= 1 && v["status"]["miners"].as_u64().unwrap_or(0) > 0)
                .then_some(v)
        }
    })
    .await?;
    eprintln!("    validator0 round {}: {} miners scored", status["status"]["epoch"], status["status"]["miners"]);

    step("submitting the worked example through the gateway");
    let objective = json!({
        "objective": "Research cloud GPU pricing and recommend positioning for our inference API",
        "target_schema": {
            "competitors": [{"name": "str", "pricing": "dict"}],
            "recommendation": {"price_point": "float", "rationale": "str"}
        },
        "top_n": 2
    });
    let resp = http.post(format!("{api}/v1/objectives")).bearer_auth(&key).json(&objective).send().await?;
    let code = resp.status();
    let rec: Value = resp.json().await?;
    if !code.is_success() || rec["state"] != "completed" {
        bail!("the gateway did not complete the objective: {code} {rec}");
    }
    println!(
        "{}",
        serde_json::to_string_pretty(
            &json!({"verified_result": rec["result"], "miner": rec["miner"], "score": rec["scores"]["score"]["total"]})
        )?
    );
    let receipts = rec["receipts"].as_array().cloned().unwrap_or_default();
    eprintln!("    {} receipts, root {}", receipts.len(), rec["receipt_root"].as_str().unwrap_or("?"));
    for r in receipts.iter().take(12) {
        eprintln!(
            "      {:<10} netuid {:>3} {:<18} {:>5} ms  {}",
            r["step_id"].as_str().unwrap_or(""),
            r["netuid"],
            r["subnet"].as_str().unwrap_or(""),
            r["latency_ms"],
            r["status"]["kind"].as_str().unwrap_or("")
        );
    }

    step("taking search subnet 22 down: objectives must complete through the fallback (netuid 122)");
    http.post(format!("{search_base}/control/faults")).json(&json!({"down": true})).send().await?.error_for_status()?;
    let resp = http.post(format!("{api}/v1/objectives")).bearer_auth(&key).json(&objective).send().await?;
    let code = resp.status();
    let rec2: Value = resp.json().await?;
    if !code.is_success() || rec2["state"] != "completed" {
        bail!("with subnet 22 down the objective did not complete: {code} {rec2}");
    }
    let receipts2 = rec2["receipts"].as_array().cloned().unwrap_or_default();
    let failed_22 = receipts2.iter().filter(|r| r["netuid"] == 22 && r["status"]["kind"] != "ok").count();
    let served_122 = receipts2.iter().filter(|r| r["netuid"] == 122 && r["status"]["kind"] == "ok").count();
    if served_122 == 0 {
        bail!("no search call fell back to netuid 122: {receipts2:?}");
    }
    eprintln!("    completed: {failed_22} failed calls to netuid 22 (receipted), {served_122} served by netuid 122");
    http.post(format!("{search_base}/control/faults")).json(&json!({})).send().await?.error_for_status()?;

    step("subscribing to Ledger changes: a webhook receiver and an SSE client");
    let (hook_url, mut hook_rx) = webhook_receiver().await?;
    let ledger_client = orchestra_ledger_api::LedgerClient::new(&api, Some(key.clone()))?;
    let hook = ledger_client
        .create_webhook(&orchestra_ledger_api::views::WebhookRequest {
            url: hook_url.clone(),
            netuids: vec![13],
            kinds: vec![orchestra_ledger_store::ChangeKind::SchemaChanged],
        })
        .await
        .context("registering the webhook")?;
    let since = http
        .get(format!("{api}/v1/changes?since=0&limit=1000"))
        .bearer_auth(&key)
        .send()
        .await?
        .json::<Value>()
        .await?
        .get("events")
        .and_then(Value::as_array)
        .and_then(|e| e.last())
        .and_then(|e| e["seq"].as_u64())
        .unwrap_or(0);
    let mut sse = ledger_client.watch(Some(since)).await.context("opening the SSE change feed")?;
    let sse_task = tokio::spawn(async move {
        use futures::StreamExt;
        while let Some(ev) = sse.next().await {
            match ev {
                Ok(e) if e.kind == orchestra_ledger_store::ChangeKind::SchemaChanged => return Some(e),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    });
    eprintln!("    webhook {} -> {hook_url}; SSE from seq {since}", hook.id);

    step("injecting schema drift into the simulated data subnet (a new metadata.scrape_timestamp field)");
    let drift = json!({"drift": {"after_ms": 0, "kind": "add_field", "path": "metadata.scrape_timestamp", "value": "2026-11-22T10:00:00Z"}});
    http.post(format!("{data_base}/control/faults")).json(&drift).send().await?.error_for_status()?;
    let change = wait_for("a miner proposal approved into the Ledger", Duration::from_secs(120), || {
        let (http, api, key) = (http.clone(), api.clone(), key.clone());
        async move {
            let v: Value = http
                .get(format!("{api}/v1/changes?since=0&limit=500"))
                .bearer_auth(&key)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let events = v.get("events").or(v.get("changes")).and_then(Value::as_array).cloned().unwrap_or_default();
            events.into_iter().find(|e| e["kind"] == "schema_changed")
        }
    })
    .await?;
    println!("{}", serde_json::to_string_pretty(&json!({"ledger_change": change}))?);
    // The approved change reaches the miners' routing (their ledger-sync task logs each update).
    if let (Some(version), Some((miner0, _))) = (change["version"].as_u64(), miners.first()) {
        let want = format!("13@v{version}");
        let log = logs.join(format!("{miner0}.log"));
        wait_for("the approved change to reach miner routing", Duration::from_secs(60), || {
            let (log, want) = (log.clone(), want.clone());
            async move {
                let text = std::fs::read_to_string(&log).ok()?;
                text.lines().any(|l| l.contains("Ledger updated") && l.contains(&want)).then_some(Value::Null)
            }
        })
        .await?;
        eprintln!("    {miner0} follows the Ledger: routes by netuid {want}");
    }
    let sse_event = tokio::time::timeout(Duration::from_secs(30), sse_task)
        .await
        .context("the SSE client got no schema_changed event")?
        .ok()
        .flatten()
        .context("the SSE stream ended without the change")?;
    eprintln!("    SSE client got seq {} ({})", sse_event.seq, sse_event.kind.as_str());
    let (headers, body) = tokio::time::timeout(Duration::from_secs(60), hook_rx.recv())
        .await
        .context("the webhook receiver got nothing")?
        .context("webhook receiver closed")?;
    let sig = headers.get("x-orchestra-signature").cloned().unwrap_or_default();
    let event_id = headers.get("x-orchestra-event-id").cloned().unwrap_or_default();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    orchestra_ledger_api::verify_signature(&hook.secret, &sig, &event_id, &body, now, 300)
        .context("the webhook's HMAC signature does not verify")?;
    eprintln!("    webhook delivered event {event_id}, HMAC signature verified");

    step("Ledger admin while validator0 runs: a key through its admin endpoint (`orchestra ledger keys`)");
    let ledger_dir = dir.join("state").join("validator").join(validators[0].1.ss58());
    let admin_out = tokio::process::Command::new(me)
        .args(["ledger", "keys", "create", "--tier", "developer", "--name", "localnet-admin", "--data-dir"])
        .arg(&ledger_dir)
        .output()
        .await?;
    if !admin_out.status.success() {
        bail!("ledger keys create while validator0 runs: {}", String::from_utf8_lossy(&admin_out.stderr));
    }
    let created: Value = serde_json::from_slice(&admin_out.stdout).context("ledger keys create output")?;
    let list_out = tokio::process::Command::new(me)
        .args(["ledger", "keys", "list", "--data-dir"])
        .arg(&ledger_dir)
        .output()
        .await?;
    let listed: Value = serde_json::from_slice(&list_out.stdout).context("ledger keys list output")?;
    eprintln!(
        "    created {} ({}) through {}; validator0 holds {} keys",
        created["id"].as_str().unwrap_or("?"),
        created["tier"].as_str().unwrap_or("?"),
        ledger_dir.join("admin.json").display(),
        listed.as_array().map(Vec::len).unwrap_or(0)
    );

    step("buying a developer API key with TAO from validator0 (quote, transfer + remark, redeem)");
    let buyer = chain.client(Some(client_ck.clone())).await?;
    let ledger_client = orchestra_ledger_api::LedgerClient::new(&api, None)?;
    let purchase = orchestra_ledger_api::payments::buy_key(
        &ledger_client,
        buyer.as_ref(),
        orchestra_ledger_store::Tier::Developer,
        1,
        None,
        Some(client_ck.ss58()),
        Duration::from_secs(120),
    )
    .await
    .context("buying a developer key")?;
    let paid_key = purchase.key.clone().unwrap_or_default();
    let full = http.get(format!("{api}/v1/subnets/13/schema")).bearer_auth(&paid_key).send().await?;
    if !full.status().is_success() {
        bail!("the paid developer key is refused: {}", full.status());
    }
    eprintln!(
        "    paid {} to {} (block {}, extrinsic {}): key {} with {} lookups a month works",
        orchestra_ledger_api::payments::tao(purchase.redeemed.amount_rao),
        purchase.quote.pay_to,
        purchase.paid.block_number.map(|n| n.to_string()).unwrap_or_default(),
        purchase.paid.extrinsic_hash.as_deref().unwrap_or(""),
        purchase.redeemed.key_id,
        purchase.redeemed.monthly_quota.map(|q| q.to_string()).unwrap_or_else(|| "unlimited".into())
    );

    let mg = match a.chain {
        LocalChainKind::Devnet => {
            step("waiting for weights and an epoch on the devnet");
            wait_for("emissions to miners", Duration::from_secs(180), || {
                let reader = &reader;
                async move {
                    let m = reader.metagraph(netuid).await.ok()?;
                    let paid = m.neurons.iter().any(|n| n.incentive > 0 && n.emission > 0);
                    paid.then(|| serde_json::to_value(&m).unwrap_or(Value::Null))
                }
            })
            .await?
        }
        LocalChainKind::Subtensor => {
            step("waiting for the validators' weights on the subtensor runtime");
            let vals: Vec<String> = validators.iter().map(|v| v.1.ss58().to_string()).collect();
            let registered = mg.block;
            let m = wait_for("weights from every validator and emission", Duration::from_secs(300), || {
                let (reader, vals) = (&reader, &vals);
                async move {
                    let m = reader.metagraph(netuid).await.ok()?;
                    let weighted =
                        vals.iter().all(|v| m.neurons.iter().any(|n| &n.hotkey == v && n.last_update > registered));
                    let paid = m.neurons.iter().any(|n| n.emission > 0);
                    (weighted && paid).then(|| serde_json::to_value(&m).unwrap_or(Value::Null))
                }
            })
            .await?;
            eprintln!(
                "    every validator set weights; spec 218 runs `epoch_mock` (emission by stake, incentive 0; \
                 docs/chain-conformance.md)"
            );
            m
        }
    };
    eprintln!(
        "    uid  role       hotkey                                            stake(TAO)  incentive  dividends  emission(rao)"
    );
    for n in mg["neurons"].as_array().into_iter().flatten() {
        let hk = n["hotkey"].as_str().unwrap_or("");
        let role = if validators.iter().any(|v| v.1.ss58() == hk) {
            "validator"
        } else if miners.iter().any(|m| m.1.ss58() == hk) {
            "miner"
        } else {
            "owner"
        };
        eprintln!(
            "    {:>3}  {:<9}  {:<48}  {:>10.2}  {:>9}  {:>9}  {:>12}",
            n["uid"],
            role,
            hk,
            n["stake"].as_f64().unwrap_or(0.0) / 1e9,
            n["incentive"],
            n["dividends"],
            n["emission"]
        );
    }
    eprintln!("\nendpoints:");
    match a.chain {
        LocalChainKind::Devnet => eprintln!("  devnet              {chain_url}"),
        LocalChainKind::Subtensor => eprintln!("  subtensor runtime   {chain_url}"),
    }
    for (i, u) in api_urls.iter().enumerate() {
        eprintln!(
            "  validator{i} gateway  {u}/v1/objectives   Ledger API {u}/v1/subnets   metrics {u}/metrics   status {u}/v1/status"
        );
    }
    for (i, p) in miner_ports.iter().enumerate() {
        eprintln!("  miner{i} axon         http://{axon_ip}:{p}   metrics http://{axon_ip}:{p}/metrics");
    }
    eprintln!("  API key (production) in {}", key_file.display());
    eprintln!("  API key (developer, paid in TAO): {paid_key}");
    Ok(())
}
