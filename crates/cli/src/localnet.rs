//! `orchestra localnet`: one command brings up a whole local network and makes it do real work.
//!
//! It starts the devnet (the local subtensor SIMULATOR) and the SIMULATED subnets as child
//! processes, creates bittensor wallets, creates a subnet with an owner, registers and stakes
//! validators and registers miners, starts the real `validator` and `miner` binaries, submits
//! the README's worked example through a validator's gateway (then again with one of the two
//! simulated search subnets down, to show the fallback), injects schema drift into the
//! simulated data subnet and shows the Ledger change it leads to (as JSON, to an SSE client and to
//! a webhook receiver that checks the HMAC signature), and prints weights and emissions after an
//! epoch. Then it keeps running (URLs printed) until Ctrl-C, or with
//! `--demo` exits with a status saying whether everything worked.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use orchestra_chain::Chain;
use orchestra_chain::devnet::DevnetClient;
use orchestra_devnet::admin::{AdminCall, AdminClient};
use orchestra_keys::{Keypair, Wallet};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[derive(Args, Debug)]
pub struct LocalnetArgs {
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
}

impl Net {
    async fn stop(&mut self) {
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
    let mut net = Net { procs: Vec::new() };
    let shutdown = orchestra_node::shutdown::on_signal();
    let outcome = tokio::select! {
        r = demo(&a, &dir, &logs, &wallets, &me, &miner_bin, &validator_bin, &mut net) => r,
        _ = shutdown.cancelled() => Err(anyhow::anyhow!("interrupted")),
    };
    let ok = match &outcome {
        Ok(()) => true,
        Err(e) => {
            eprintln!("\nlocalnet: FAILED: {e:#}\nlogs: {}", logs.display());
            false
        }
    };
    if ok && !a.demo {
        eprintln!("\nrunning; Ctrl-C to stop everything");
        shutdown.cancelled().await;
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
    let chain_url = ready.get("url").and_then(Value::as_str).context("devnet ready line has no url")?.to_string();
    eprintln!("    devnet {chain_url}");

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
    let owner = AdminClient::new(&chain_url, owner_ck.clone())?;
    owner.submit(AdminCall::Faucet { amount: 10_000 * TAO }).await?;
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
    eprintln!("    subnet {} owned by {}", a.netuid, owner_ck.ss58());
    let mut validators = Vec::new();
    let mut miners = Vec::new();
    for i in 0..a.validators + a.miners {
        let is_val = i < a.validators;
        let name = if is_val { format!("validator{i}") } else { format!("miner{}", i - a.validators) };
        let (ck, hk) = new_wallet(wallets, &name)?;
        let admin = AdminClient::new(&chain_url, ck.clone())?;
        admin.submit(AdminCall::Faucet { amount: 1_000 * TAO }).await?;
        let c = DevnetClient::connect(&chain_url).await?.with_coldkey(ck.clone());
        c.burned_register(a.netuid, hk.ss58()).await.with_context(|| format!("registering {name}"))?;
        if is_val {
            admin
                .submit(AdminCall::AddStake {
                    netuid: a.netuid,
                    hotkey: hk.ss58().to_string(),
                    amount: (500 - 100 * i as u64) * TAO,
                })
                .await?;
            validators.push((name, hk));
        } else {
            miners.push((name, hk));
        }
    }
    eprintln!("    {} validators (staked) and {} miners registered", validators.len(), miners.len());
    // Validator permits are assigned by the epoch (top stake), as on subtensor: run one now so
    // validators can call miners from the first round.
    owner
        .submit(AdminCall::AdvanceBlocks { blocks: u32::from(a.tempo) + 2 })
        .await
        .context("advancing to the first epoch")?;
    let c = DevnetClient::connect(&chain_url).await?;
    let mg = c.metagraph(a.netuid).await?;
    let permits = mg.neurons.iter().filter(|n| n.validator_permit).count();
    eprintln!("    first epoch ran at block {}: {permits} validator permits", mg.block);

    step("starting miners and validators (the real binaries)");
    let common = |name: &str| {
        vec![
            s("--wallet.path"),
            wallets.display().to_string(),
            s("--wallet.name"),
            name.to_string(),
            s("--wallet.hotkey"),
            s("default"),
            s("--chain.endpoint"),
            chain_url.clone(),
            s("--netuid"),
            a.netuid.to_string(),
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
    for (name, _) in &miners {
        let port = free_port()?;
        let mut args = common(name);
        args.extend([
            s("--axon.host"),
            s("127.0.0.1"),
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

    step("waiting for weights and an epoch on the devnet");
    let chain = DevnetClient::connect(&chain_url).await?;
    let mg = wait_for("emissions to miners", Duration::from_secs(180), || {
        let chain = &chain;
        let netuid = a.netuid;
        async move {
            let m = chain.metagraph(netuid).await.ok()?;
            let paid = m.neurons.iter().any(|n| n.incentive > 0 && n.emission > 0);
            paid.then(|| serde_json::to_value(&m).unwrap_or(Value::Null))
        }
    })
    .await?;
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
    eprintln!("  devnet              {chain_url}");
    for (i, u) in api_urls.iter().enumerate() {
        eprintln!(
            "  validator{i} gateway  {u}/v1/objectives   Ledger API {u}/v1/subnets   metrics {u}/metrics   status {u}/v1/status"
        );
    }
    for (i, p) in miner_ports.iter().enumerate() {
        eprintln!("  miner{i} axon         http://127.0.0.1:{p}   metrics http://127.0.0.1:{p}/metrics");
    }
    eprintln!("  API key (production) in {}", key_file.display());
    Ok(())
}
