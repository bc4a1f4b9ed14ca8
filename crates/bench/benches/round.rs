//! `round`: a full validator round at scale, over loopback, with the real validator.
//!
//! ```text
//! cargo bench -p orchestra-bench --bench round -- --miners 16,64,256,1024 --rounds 2 \
//!     [--json docs/benchmarks-round.jsonl] [--svg docs/round-scaling.svg]
//! ```
//!
//! For each miner count it starts two processes (this binary in other modes):
//!
//! - the **world**: a devnet chain (subnet 1 with N miners and the validator registered, the
//!   validator staked and permitted), the simulated subnets (zero latency) and N miner axons
//!   in one process, each answering Orchestrate with a realistic response: the first task of
//!   each shape runs the real miner pipeline against the simulated subnets, later ones reuse its
//!   receipts, evidence, citations and result, re-signed by the answering miner for its task;
//! - the **validator**: the real `ValidatorNode` (RocksDB store, dendrite, adapters) running
//!   `round()`: tasks to every miner, calls, verification, references and re-probes against the
//!   simulated subnets, scoring, Ledger proposal pulls, weights and the Ledger root on the
//!   devnet. Its own wall clock, CPU time (procfs) and peak RSS (`VmHWM`) are reported; the
//!   chain, subnets and miners live in the world process, so they are not counted.
//!
//! Each round is printed as a JSON line; the first round of a run also pays for the
//! world's first pipeline run per task shape, so the summary takes the last round.

use std::io::{BufRead, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use orchestra_bench::plot::{Series, fit_growth, svg_loglog};
use orchestra_bench::{load_average, process_cpu_seconds, process_rss_mb};
use orchestra_chain::devnet::DevnetClient;
use orchestra_chain::{AxonServe, Chain};
use orchestra_devnet::{AdminCall, AdminClient, DevnetConfig, DevnetServer};
use orchestra_keys::Keypair;
use orchestra_miner::pipeline::MinerCore;
use orchestra_net::{Axon, AxonConfig, BlacklistPolicy};
use orchestra_proto::receipt::{commitment, result_digest};
use orchestra_proto::synapses::{LedgerProposals, Orchestrate};
use orchestra_validator::node::{ValidatorConfig, ValidatorNode};
use serde_json::{Value, json};

const TAO: u64 = 1_000_000_000;
const NETUID: u16 = 1;
const VALIDATOR_URI: &str = "//RoundValidator";

#[derive(Parser, Debug)]
#[command(about = "A full validator round with N miner axons on loopback")]
struct Args {
    /// Miner counts to measure, comma-separated.
    #[arg(long, default_value = "256", value_delimiter = ',')]
    miners: Vec<usize>,
    /// Rounds per miner count (the last one is the steady-state figure).
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Append every result line here too.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the round time and RSS curves (needs two or more miner counts).
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Internal: run as the world process with this many miners.
    #[arg(long, hide = true)]
    world: Option<usize>,
    /// Internal: run as the validator process against this chain URL...
    #[arg(long, hide = true)]
    validator: Option<String>,
    /// ...with this Ledger seed file.
    #[arg(long, hide = true)]
    ledger: Option<String>,
    /// `cargo bench` passes this; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if let Some(n) = args.world {
        return rt.block_on(world(n));
    }
    if let Some(url) = &args.validator {
        let ledger = args.ledger.clone().context("--ledger")?;
        return rt.block_on(validator(url, &ledger, args.rounds));
    }
    drop(rt);
    drive(&args)
}

/// Runs world + validator for each miner count and collects the last round of each.
fn drive(args: &Args) -> Result<()> {
    let exe = std::env::current_exe()?;
    let mut summary = Vec::new();
    for &n in &args.miners {
        eprintln!("== validator round with {n} miners");
        let mut world = Command::new(&exe)
            .args(["--world", &n.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut lines = BufReader::new(world.stdout.take().context("world stdout")?).lines();
        let ready: Value = loop {
            let line = lines.next().context("the world process exited before it was ready")??;
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["event"] == "ready"
            {
                break v;
            }
        };
        let out = Command::new(&exe)
            .args(["--validator", ready["chain"].as_str().unwrap_or_default()])
            .args(["--ledger", ready["ledger_file"].as_str().unwrap_or_default()])
            .args(["--rounds", &args.rounds.to_string()])
            .stderr(Stdio::inherit())
            .output()?;
        // Closing its stdin stops the world.
        drop(world.stdin.take());
        let _ = world.wait();
        if !out.status.success() {
            bail!("validator process failed for {n} miners");
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut last = None;
        for line in text.lines() {
            let mut v: Value = serde_json::from_str(line).with_context(|| format!("bad line {line}"))?;
            v["miners"] = json!(n);
            v["world_setup_s"] = ready["setup_s"].clone();
            println!("{v}");
            if let Some(p) = &args.json {
                let mut f = std::fs::OpenOptions::new().create(true).append(true).open(p)?;
                writeln!(f, "{v}")?;
            }
            if v["event"] == "round" {
                last = Some(v);
            }
        }
        summary.push(last.ok_or_else(|| anyhow!("no round measured for {n} miners"))?);
    }
    if summary.len() >= 2 {
        let pts = |k: &str| -> Vec<(f64, f64)> {
            summary.iter().map(|v| (v["miners"].as_f64().unwrap_or(0.0), v[k].as_f64().unwrap_or(0.0))).collect()
        };
        let (wall, cpu, rss) = (pts("wall_s"), pts("cpu_s"), pts("rss_peak_mb"));
        let fit = json!({
            "event": "round_scaling",
            "wall_growth": fit_growth(&wall).map(|g| g.to_string()),
            "cpu_growth": fit_growth(&cpu).map(|g| g.to_string()),
            "rss_growth": fit_growth(&rss).map(|g| g.to_string()),
            "points": summary.iter().map(|v| json!({"miners": v["miners"], "wall_s": v["wall_s"], "cpu_s": v["cpu_s"],
                "rss_peak_mb": v["rss_peak_mb"], "load_avg": v["load_avg"]})).collect::<Vec<_>>(),
        });
        println!("{fit}");
        if let Some(p) = &args.json {
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(p)?;
            writeln!(f, "{fit}")?;
        }
        if let Some(svg) = &args.svg {
            let time = svg_loglog(
                "Validator round vs miners (loopback)",
                "miners",
                "seconds (wall, validator CPU)",
                &[Series { label: "wall".into(), points: wall }, Series { label: "CPU".into(), points: cpu }],
                true,
            );
            std::fs::write(svg, time)?;
            let rss_svg = svg.with_file_name(
                svg.file_stem().map(|s| format!("{}-rss.svg", s.to_string_lossy())).unwrap_or("rss.svg".into()),
            );
            let mem = svg_loglog(
                "Validator peak RSS vs miners",
                "miners",
                "MB (VmHWM)",
                &[Series { label: "peak RSS".into(), points: rss }],
                false,
            );
            std::fs::write(rss_svg, mem)?;
        }
    }
    Ok(())
}

/// The validator process: `rounds` rounds, one JSON line each.
async fn validator(url: &str, ledger: &str, rounds: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().display().to_string();
    let cfg = ValidatorConfig::try_parse_from([
        "validator",
        "--uri",
        VALIDATOR_URI,
        "--chain.endpoint",
        url,
        "--netuid",
        "1",
        "--data-dir",
        &data,
        "--api.host",
        "127.0.0.1",
        "--api.port",
        "0",
        "--tasks.deadline_ms",
        "20000",
        "--net.allow_private",
        "--ledger.seed",
        ledger,
    ])?;
    let node = ValidatorNode::new(cfg).await?;
    let me = std::process::id();
    for r in 1..=rounds {
        let cpu0 = process_cpu_seconds(me).unwrap_or(0.0);
        let t = Instant::now();
        node.round().await?;
        let wall = t.elapsed().as_secs_f64();
        let cpu = process_cpu_seconds(me).unwrap_or(0.0) - cpu0;
        let status = node.status();
        let scored = status.scores.values().filter(|(o, _)| *o > 0.0).count();
        let (peak, rss) = process_rss_mb(me).unwrap_or((0.0, 0.0));
        println!(
            "{}",
            json!({"event": "round", "round": r, "wall_s": wall, "cpu_s": cpu, "rss_peak_mb": peak, "rss_mb": rss,
                "miners_seen": status.miners, "miners_scored": scored, "weight_submissions": status.weight_submissions,
                "last_error": status.last_error, "load_avg": load_average()})
        );
    }
    Ok(())
}

/// The world process: devnet, simulated subnets, N miner axons; stops when stdin closes.
async fn world(n: usize) -> Result<()> {
    let t0 = Instant::now();
    let dir = tempfile::tempdir()?;
    let mut dcfg = DevnetConfig::new(dir.path().join("devnet"));
    dcfg.listen = "127.0.0.1:0".parse()?;
    dcfg.block_time_ms = 0;
    dcfg.tempo = 360;
    dcfg.sync_writes = false;
    let devnet = DevnetServer::new(dcfg)?.spawn();
    let url = devnet.url.clone();

    let alice = Keypair::from_uri("//Alice")?;
    let admin = AdminClient::new(&url, alice.clone())?;
    let mut hp = serde_json::Map::new();
    hp.insert("max_allowed_uids".into(), json!(n + 8));
    hp.insert("max_validators".into(), json!((n + 8).min(64)));
    hp.insert("weights_rate_limit".into(), json!(0));
    hp.insert("min_allowed_weights".into(), json!(1));
    admin.submit(AdminCall::SetHyperparams { netuid: NETUID, hyperparams: hp }).await?;
    admin.submit(AdminCall::Faucet { amount: (n as u64 + 2000) * TAO }).await?;
    let reg = DevnetClient::connect(&url).await?.with_coldkey(alice);
    let validator = Keypair::from_uri(VALIDATOR_URI)?;
    reg.burned_register(NETUID, validator.ss58()).await?;
    admin.submit(AdminCall::AddStake { netuid: NETUID, hotkey: validator.ss58().into(), amount: 1000 * TAO }).await?;

    let sim = orchestra_subnet_sim::start(orchestra_subnet_sim::SimConfig::default_trio()).await?;
    let entries: Vec<_> = sim.subnets.iter().map(orchestra_subnet_sim::ledger::entry).collect();
    let ledger_file = dir.path().join("ledger.json");
    std::fs::write(&ledger_file, serde_json::to_vec(&entries)?)?;
    let core = Arc::new(MinerCore::new_local(Keypair::from_uri("//RoundTemplate")?, entries, None)?);
    let templates: Templates = Arc::new(parking_lot::Mutex::new(std::collections::HashMap::new()));

    for i in 0..n {
        let key = Keypair::from_uri(&format!("//RoundMiner{i}"))?;
        reg.burned_register(NETUID, key.ss58()).await?;
        let port = miner_axon(key.clone(), Arc::clone(&core), Arc::clone(&templates)).await?;
        let c = DevnetClient::connect(&url).await?.with_hotkey(key);
        c.serve_axon(NETUID, &AxonServe::new("127.0.0.1".parse()?, port, 1)).await?;
    }
    // One epoch: the validator gets its permit.
    admin.submit(AdminCall::AdvanceBlocks { blocks: 361 }).await?;
    println!(
        "{}",
        json!({"event": "ready", "chain": url, "ledger_file": ledger_file.display().to_string(), "miners": n,
            "setup_s": t0.elapsed().as_secs_f64()})
    );
    orchestra_bench::wait_for_stdin_eof().await;
    sim.shutdown().await;
    drop(devnet);
    Ok(())
}

/// The first answer to each task shape (objective, target schema): its receipts, evidence,
/// citations and result are what every miner answers that shape with.
type Templates = Arc<parking_lot::Mutex<std::collections::HashMap<String, Arc<tokio::sync::OnceCell<Orchestrate>>>>>;

async fn miner_axon(key: Keypair, core: Arc<MinerCore>, templates: Templates) -> Result<u16> {
    let cfg = AxonConfig { policy: BlacklistPolicy::allow_all(), rate_limit: None, ..AxonConfig::default() };
    let k2 = key.clone();
    let axon = Axon::new(cfg, key)?
        .attach(move |_ctx, req: Orchestrate| {
            let (core, key, templates) = (Arc::clone(&core), k2.clone(), Arc::clone(&templates));
            async move { Ok(answer(&core, &key, &templates, req).await) }
        })?
        .attach(|_ctx, mut pull: LedgerProposals| async move {
            pull.next = pull.since;
            Ok(pull)
        })?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        let _ = axon.serve(listener, std::future::pending()).await;
    });
    Ok(port)
}

async fn answer(core: &MinerCore, key: &Keypair, templates: &Templates, req: Orchestrate) -> Orchestrate {
    let shape = format!("{}\u{0}{}", req.objective, req.target_schema);
    let cell = Arc::clone(templates.lock().entry(shape).or_default());
    let template = cell.get_or_init(|| core.orchestrate(req.clone())).await;
    let mut out = req;
    out.result = template.result.clone();
    out.plan = template.plan.clone();
    out.receipts = template.receipts.clone();
    out.evidence = template.evidence.clone();
    out.citations = template.citations.clone();
    out.receipt_root = template.receipt_root;
    out.cost_micros = template.cost_micros;
    out.error = template.error.clone();
    out.miner_hotkey = Some(key.ss58().to_string());
    if let (Some(result), Some(root)) = (&out.result, out.receipt_root)
        && let Ok(d) = result_digest(result)
    {
        out.miner_signature = Some(key.sign_hex(&commitment(&out.task_id, &d, &root).0));
    }
    out
}
