//! Benchmarks of the chain simulation, printed as one JSON object on stdout:
//! - a Yuma epoch (`orchestra_yuma::epoch`, on-chain fidelity) for 256 uids with 64 validators
//!   (target ≤ 5 ms in a release build);
//! - devnet `set_weights` per second: 64 validators each setting 256 weights concurrently over
//!   HTTP through `DevnetClient`, every call verified, applied and persisted (synced unless
//!   `--no-sync`);
//! - a metagraph fetch of 256 uids through `DevnetClient`.
//!
//! Run: `cargo run --release -p orchestra-devnet --bin devnet_bench [-- --no-sync]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use orchestra_chain::devnet::DevnetClient;
use orchestra_chain::{Chain, WeightsSubmission};
use orchestra_devnet::{AdminCall, AdminClient, DevnetConfig, DevnetServer};
use orchestra_keys::Keypair;
use orchestra_yuma::{EpochInput, Fidelity, Hyperparams, Variant};
use serde_json::json;

const N: usize = 256;
const VALIDATORS: usize = 64;

/// Deterministic pseudo-random numbers (no RNG dependency needed for a benchmark).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn stats(mut samples: Vec<Duration>) -> serde_json::Value {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mean = samples.iter().map(|d| ms(*d)).sum::<f64>() / samples.len().max(1) as f64;
    json!({
        "runs": samples.len(),
        "mean_ms": mean,
        "p50_ms": samples.get(samples.len() / 2).map(|d| ms(*d)),
        "p99_ms": samples.get(samples.len() * 99 / 100).map(|d| ms(*d)),
        "min_ms": samples.first().map(|d| ms(*d)),
    })
}

fn bench_yuma() -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let mut rng = Lcg(7);
    let stake: Vec<u64> =
        (0..N).map(|i| if i < VALIDATORS { 1_000_000_000 + rng.next() % 1_000_000_000_000 } else { 0 }).collect();
    let weights: Vec<Vec<u16>> = (0..N)
        .map(|i| if i < VALIDATORS { (0..N).map(|_| (rng.next() % 65_536) as u16).collect() } else { vec![0; N] })
        .collect();
    let mut input = EpochInput {
        block: 1000,
        last_epoch_block: 640,
        stake,
        weights,
        bonds: Vec::new(),
        last_update: vec![900; N],
        block_at_registration: vec![10; N],
        validator_permit: (0..N).map(|i| i < VALIDATORS).collect(),
        emission: 360_000_000_000,
        owner_uid: None,
        commit_block: None,
        fidelity: Fidelity::Chain,
    };
    let hp = Hyperparams { max_allowed_validators: VALIDATORS as u16, ..Hyperparams::default() };
    // One epoch to get realistic bonds, then time the steady state.
    let first = orchestra_yuma::epoch(&input, &hp, Variant::Yuma2)?;
    input.bonds = first.new_bonds;
    let mut samples = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let out = orchestra_yuma::epoch(&input, &hp, Variant::Yuma2)?;
        samples.push(t.elapsed());
        std::hint::black_box(out);
    }
    let mut v = stats(samples);
    v["uids"] = json!(N);
    v["validators"] = json!(VALIDATORS);
    v["target_ms"] = json!(5);
    Ok(v)
}

async fn bench_devnet(sync: bool) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("orchestra-devnet-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = DevnetConfig::new(&dir);
    cfg.listen = "127.0.0.1:0".parse()?;
    cfg.block_time_ms = 0;
    cfg.sync_writes = sync;
    let dn = DevnetServer::new(cfg)?.spawn();
    let url = dn.url.clone();
    let alice_key = Keypair::from_uri("//Alice")?;
    let alice = AdminClient::new(&url, alice_key.clone())?;
    let hp = json!({"tempo": 10, "weights_rate_limit": 0, "min_allowed_weights": 1, "max_validators": VALIDATORS,
                    "immunity_period": 0});
    alice
        .submit(AdminCall::SetHyperparams { netuid: 1, hyperparams: hp.as_object().cloned().unwrap_or_default() })
        .await?;
    let registrar = DevnetClient::connect(&url).await?.with_coldkey(alice_key);
    let hotkeys: Vec<Keypair> = (0..N).map(|i| Keypair::from_uri(&format!("//bench{i}"))).collect::<Result<_, _>>()?;
    for hk in &hotkeys {
        registrar.burned_register(1, hk.ss58()).await?;
    }
    for hk in hotkeys.iter().take(VALIDATORS) {
        alice.submit(AdminCall::AddStake { netuid: 1, hotkey: hk.ss58().into(), amount: 1_000_000_000_000 }).await?;
    }
    alice.submit(AdminCall::AdvanceBlocks { blocks: 11 }).await?;

    let rounds = 10;
    let clients: Vec<Arc<DevnetClient>> = {
        let mut v = Vec::new();
        for hk in hotkeys.iter().take(VALIDATORS) {
            v.push(Arc::new(DevnetClient::connect(&url).await?.with_hotkey(hk.clone())));
        }
        v
    };
    let uids: Vec<u16> = (0..N as u16).collect();
    let t = Instant::now();
    let mut tasks = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        let c = c.clone();
        let uids = uids.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Lcg(i as u64 + 1);
            for _ in 0..rounds {
                let w: Vec<u16> = uids.iter().map(|_| (rng.next() % 65_535) as u16 + 1).collect();
                let sub = WeightsSubmission::from_u16(uids.clone(), w, 0)?;
                c.set_weights(1, &sub).await?;
            }
            Ok::<_, orchestra_chain::ChainError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = t.elapsed();
    let calls = VALIDATORS * rounds;

    let mut samples = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let mg = registrar.metagraph(1).await?;
        samples.push(t.elapsed());
        if mg.neurons.len() != N {
            return Err(format!("metagraph has {} neurons", mg.neurons.len()).into());
        }
    }
    let t = Instant::now();
    alice.submit(AdminCall::AdvanceBlocks { blocks: 11 }).await?;
    let epoch_block_ms = t.elapsed().as_secs_f64() * 1e3;
    dn.stop().await?;
    let _ = std::fs::remove_dir_all(&dir);
    let mut metagraph = stats(samples);
    metagraph["uids"] = json!(N);
    Ok(json!({
        "set_weights": {
            "calls": calls,
            "weights_per_call": N,
            "concurrent_validators": VALIDATORS,
            "seconds": elapsed.as_secs_f64(),
            "per_second": calls as f64 / elapsed.as_secs_f64(),
            "synced_writes": sync,
        },
        "metagraph_fetch": metagraph,
        "eleven_blocks_with_one_epoch_ms": epoch_block_ms,
    }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sync = !std::env::args().any(|a| a == "--no-sync");
    let yuma = bench_yuma()?;
    let devnet = bench_devnet(sync).await?;
    let out = json!({
        "yuma_epoch": yuma,
        "devnet": devnet,
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
