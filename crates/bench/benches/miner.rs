//! `miner`: the miner pipeline's own cost, with the simulated subnets in another process (so
//! their CPU and memory are not the miner's).
//!
//! ```text
//! cargo bench -p orchestra-bench --bench miner -- [--objectives 2000] [--concurrency 16] [--in-flight 1000]
//! ```
//!
//! - **objectives per second per core**: the worked example (7 subnet calls over loopback
//!   HTTP, deterministic synthesis, receipt root, signature) against zero-latency simulated
//!   subnets; objectives ÷ the miner process's CPU seconds;
//! - **RSS with objectives in flight**: the subnets answer after 1.5 s, `--in-flight`
//!   objectives are started at once, and the miner's resident memory is sampled while they
//!   wait (peak, and before).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use orchestra_bench::{load_average, process_cpu_seconds, process_rss_mb};
use orchestra_keys::Keypair;
use orchestra_miner::pipeline::MinerCore;
use orchestra_proto::ledger::LedgerEntry;
use orchestra_proto::synapses::Orchestrate;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value_t = 2000)]
    objectives: usize,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, default_value_t = 1000)]
    in_flight: usize,
    /// The miner's cap of subnet calls in flight per destination (`--net.max_in_flight_per_host`).
    #[arg(long, default_value_t = orchestra_net::guard::DEFAULT_MAX_IN_FLIGHT_PER_HOST)]
    max_in_flight_per_host: usize,
    /// Objectives the miner executes at once; the rest of `--in-flight` wait for a slot.
    #[arg(long, default_value_t = orchestra_miner::pipeline::DEFAULT_MAX_CONCURRENT_OBJECTIVES)]
    max_concurrent: usize,
    /// Internal: serve the simulated subnets and print their Ledger entries.
    #[arg(long, hide = true)]
    sim: bool,
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if args.sim {
        return rt.block_on(sim());
    }
    let exe = std::env::current_exe()?;
    let mut child =
        Command::new(exe).arg("--sim").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn()?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let ready: Value = serde_json::from_str(&lines.next().context("sim exited")??)?;
    let entries: Vec<LedgerEntry> = serde_json::from_value(ready["entries"].clone())?;
    let urls: Vec<String> = serde_json::from_value(ready["urls"].clone())?;
    let out = rt.block_on(run(&args, entries, urls));
    drop(child.stdin.take());
    let _ = child.wait();
    out
}

async fn sim() -> Result<()> {
    let sim = orchestra_subnet_sim::start(orchestra_subnet_sim::SimConfig::default_trio()).await?;
    let entries: Vec<LedgerEntry> = sim.subnets.iter().map(orchestra_subnet_sim::ledger::entry).collect();
    let urls: Vec<String> = sim.subnets.iter().map(|s| s.base_url()).collect();
    println!("{}", json!({"entries": entries, "urls": urls}));
    orchestra_bench::wait_for_stdin_eof().await;
    sim.shutdown().await;
    Ok(())
}

fn worked_example(task_id: &str, deadline_ms: u64) -> Result<Orchestrate> {
    Ok(Orchestrate::from_request(orchestra_testkit::worked_example(task_id, deadline_ms))?)
}

async fn run(args: &Args, entries: Vec<LedgerEntry>, urls: Vec<String>) -> Result<()> {
    let me = std::process::id();
    let guard = orchestra_net::GuardConfig {
        max_in_flight_per_host: args.max_in_flight_per_host,
        ..orchestra_net::GuardConfig::local()
    };
    let adapters = orchestra_subnets::Adapters::with_guard(guard)?;
    let core = Arc::new(
        MinerCore::new(Keypair::from_uri("//BenchMiner")?, entries, None)?
            .with_adapters(adapters)
            .with_max_concurrent_objectives(args.max_concurrent),
    );
    // Warm-up (connections, first allocations).
    for i in 0..20 {
        let out = core.orchestrate(worked_example(&format!("w-{i}"), 20_000)?).await;
        anyhow::ensure!(out.error.is_none(), "objective failed: {:?}", out.error);
    }

    let cpu0 = process_cpu_seconds(me).unwrap_or(0.0);
    let t = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (core, next, n) = (Arc::clone(&core), Arc::clone(&next), args.objectives);
        set.spawn(async move {
            let mut failed = 0usize;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break failed;
                }
                let Ok(syn) = worked_example(&format!("t-{i}"), 20_000) else { break failed + 1 };
                failed += usize::from(core.orchestrate(syn).await.error.is_some());
            }
        });
    }
    let mut failed = 0;
    while let Some(r) = set.join_next().await {
        failed += r.unwrap_or(1);
    }
    let wall = t.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds(me).unwrap_or(0.0) - cpu0;
    println!(
        "{}",
        json!({"bench": "miner_objectives_per_core", "objectives": args.objectives, "concurrency": args.concurrency,
            "failed": failed, "wall_s": wall, "objectives_per_s": args.objectives as f64 / wall, "cpu_s": cpu,
            "cpu_ms_per_objective": cpu * 1e3 / args.objectives as f64,
            "objectives_per_core_s": if cpu > 0.0 { args.objectives as f64 / cpu } else { 0.0 },
            "load_avg": load_average()})
    );

    // Memory with objectives in flight: subnets slowed so they overlap.
    let http = reqwest::Client::new();
    for u in &urls {
        http.post(format!("{u}/control/faults")).json(&json!({"latency_ms": 1500})).send().await?;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, before) = process_rss_mb(me).unwrap_or((0.0, 0.0));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..args.in_flight {
        let core = Arc::clone(&core);
        let syn = worked_example(&format!("m-{i}"), 60_000)?;
        set.spawn(async move { core.orchestrate(syn).await.error.is_none() });
    }
    // Sampled every 20 ms while the objectives wait (kB, as procfs gives it).
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = tokio::spawn({
        let peak = Arc::clone(&peak);
        async move {
            loop {
                if let Some((_, rss)) = process_rss_mb(me) {
                    peak.fetch_max((rss * 1024.0) as u64, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    let mut ok = 0;
    let t = Instant::now();
    while let Some(r) = set.join_next().await {
        ok += usize::from(r.unwrap_or(false));
    }
    let took = t.elapsed().as_secs_f64();
    sampler.abort();
    let peak_sampled = peak.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1024.0;
    let (_, after) = process_rss_mb(me).unwrap_or((0.0, 0.0));
    println!(
        "{}",
        json!({"bench": "miner_rss_in_flight", "in_flight": args.in_flight, "completed": ok,
            "max_in_flight_per_host": args.max_in_flight_per_host, "max_concurrent_objectives": args.max_concurrent, "took_s": took,
            "rss_before_mb": before, "rss_peak_mb": peak_sampled, "rss_after_mb": after, "load_avg": load_average()})
    );
    Ok(())
}
