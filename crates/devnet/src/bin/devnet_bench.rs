//! Benchmarks of the chain simulation, printed as one JSON object on stdout:
//! - a Yuma epoch (`orchestra_yuma::epoch`, on-chain fidelity) for 256 uids with 64 validators
//!   (target p50 ≤ 2 ms in a release build);
//! - the Yuma scaling curve: 64, 256, 1024 and 4096 uids with min(uids / 4, 64) validators and
//!   the fitted growth exponent (`--yuma-svg PATH` also writes it as an SVG plot);
//! - devnet `set_weights` per second: 64 validators each setting 256 weights concurrently over
//!   HTTP through `DevnetClient`, every call verified, applied and persisted (synced unless
//!   `--no-sync`);
//! - a metagraph fetch of 256 uids through `DevnetClient`.
//!
//! Run: `cargo run --release -p orchestra-devnet --bin devnet_bench [-- --no-sync] [--yuma-only]
//! [--yuma-svg docs/yuma-scaling.svg]`.

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

/// One steady-state Yuma epoch timing for `n` uids of which the first `validators` have stake,
/// a permit and a full weight row (the chain's shape: non-validators' rows are empty).
fn bench_yuma_at(n: usize, validators: usize, runs: usize) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let mut rng = Lcg(7);
    let stake: Vec<u64> =
        (0..n).map(|i| if i < validators { 1_000_000_000 + rng.next() % 1_000_000_000_000 } else { 0 }).collect();
    let weights: Vec<Vec<u16>> = (0..n)
        .map(|i| if i < validators { (0..n).map(|_| (rng.next() % 65_536) as u16).collect() } else { vec![0; n] })
        .collect();
    let mut input = EpochInput {
        block: 1000,
        last_epoch_block: 640,
        stake,
        weights,
        bonds: Vec::new(),
        last_update: vec![900; n],
        block_at_registration: vec![10; n],
        validator_permit: (0..n).map(|i| i < validators).collect(),
        emission: 360_000_000_000,
        owner_uid: None,
        commit_block: None,
        fidelity: Fidelity::Chain,
    };
    let hp = Hyperparams { max_allowed_validators: validators as u16, ..Hyperparams::default() };
    // One epoch to get realistic bonds, then time the steady state.
    let first = orchestra_yuma::epoch(&input, &hp, Variant::Yuma2)?;
    input.bonds = first.new_bonds;
    let mut samples = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let out = orchestra_yuma::epoch(&input, &hp, Variant::Yuma2)?;
        samples.push(t.elapsed());
        std::hint::black_box(out);
    }
    let mut v = stats(samples);
    v["uids"] = json!(n);
    v["validators"] = json!(validators);
    Ok(v)
}

fn bench_yuma() -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let mut v = bench_yuma_at(N, VALIDATORS, 50)?;
    v["target_ms"] = json!(2);
    Ok(v)
}

/// The scaling curve: uids 64…4096, validators = min(uids / 4, 64), with the growth exponent
/// fitted by least squares on log(p50) against log(uids).
fn bench_yuma_scaling() -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let mut points = Vec::new();
    for n in [64usize, 256, 1024, 4096] {
        let validators = (n / 4).min(64);
        // Fewer runs where one epoch takes long; never fewer than 5.
        let runs = (50 * 256 * 256 / (n * n)).clamp(5, 50);
        points.push(bench_yuma_at(n, validators, runs)?);
    }
    let xy: Vec<(f64, f64)> =
        points.iter().filter_map(|p| Some((p["uids"].as_f64()?.ln(), p["p50_ms"].as_f64()?.ln()))).collect();
    let k = xy.len() as f64;
    let (mx, my) = (xy.iter().map(|p| p.0).sum::<f64>() / k, xy.iter().map(|p| p.1).sum::<f64>() / k);
    let sxy: f64 = xy.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = xy.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let exponent = if sxx > 0.0 { sxy / sxx } else { f64::NAN };
    let growth = if exponent < 1.3 {
        "about linear (or n log n)"
    } else if exponent < 1.7 {
        "between n log n and quadratic"
    } else {
        "about quadratic"
    };
    Ok(json!({ "points": points, "fitted_exponent": exponent, "growth": growth,
               "validators": "min(uids / 4, 64)" }))
}

/// A small hand-written SVG: p50 epoch time against uids on log-log axes.
fn scaling_svg(scaling: &serde_json::Value) -> String {
    let pts: Vec<(f64, f64)> = scaling["points"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| Some((p["uids"].as_f64()?, p["p50_ms"].as_f64()?))).collect())
        .unwrap_or_default();
    let (w, h, left, right, top, bottom) = (560.0, 360.0, 70.0, 30.0, 40.0, 50.0);
    let (x0, x1) = (64f64.log10(), 4096f64.log10());
    let ymin = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min).max(1e-3);
    let ymax = pts.iter().map(|p| p.1).fold(0.0, f64::max).max(ymin * 10.0);
    let (y0, y1) = (ymin.log10().floor(), ymax.log10().ceil());
    let px = |x: f64| left + (x.log10() - x0) / (x1 - x0) * (w - left - right);
    let py = |y: f64| h - bottom - (y.log10() - y0) / (y1 - y0) * (h - top - bottom);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" \
         font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">Yuma epoch p50 (ms) vs uids, \
         validators = min(uids/4, 64); fitted exponent {:.2}</text>\n",
        w / 2.0,
        scaling["fitted_exponent"].as_f64().unwrap_or(f64::NAN)
    );
    for n in [64.0, 256.0, 1024.0, 4096.0] {
        let x = px(n);
        s += &format!(
            "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#ddd\"/>\n\
             <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{n}</text>\n",
            h - bottom,
            h - bottom + 16.0
        );
    }
    let mut e = y0;
    while e <= y1 {
        let y = py(10f64.powf(e));
        s += &format!(
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\n\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            w - right,
            left - 6.0,
            y + 4.0,
            10f64.powf(e)
        );
        e += 1.0;
    }
    s += &format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">uids (log scale)</text>\n\
         <text x=\"16\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {})\">p50 ms (log scale)</text>\n",
        (left + w - right) / 2.0,
        h - 12.0,
        (top + h - bottom) / 2.0,
        (top + h - bottom) / 2.0
    );
    // Guides through the first point: slope 1 (linear) and slope 2 (quadratic).
    if let Some(&(xa, ya)) = pts.first() {
        for (power, label) in [(1.0, "∝ n"), (2.0, "∝ n²")] {
            let yb = ya * (4096.0 / xa).powf(power);
            let (x2, y2) = if yb <= 10f64.powf(y1) {
                (4096.0, yb)
            } else {
                (xa * (10f64.powf(y1) / ya).powf(1.0 / power), 10f64.powf(y1))
            };
            s += &format!(
                "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#999\" \
                 stroke-dasharray=\"4 4\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#777\" \
                 text-anchor=\"end\">{label}</text>\n",
                px(xa),
                py(ya),
                px(x2),
                py(y2),
                px(x2) - 4.0,
                py(y2) + 14.0
            );
        }
    }
    let line: Vec<String> = pts.iter().map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y))).collect();
    s += &format!("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"{}\"/>\n", line.join(" "));
    for &(x, y) in &pts {
        // Labels left of the point (the last point sits on the right edge).
        s += &format!(
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#1f77b4\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{y:.3} ms</text>\n",
            px(x),
            py(y),
            px(x) - 8.0,
            py(y) - 8.0
        );
    }
    s += "</svg>\n";
    s
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
    let args: Vec<String> = std::env::args().collect();
    let sync = !args.iter().any(|a| a == "--no-sync");
    let yuma_only = args.iter().any(|a| a == "--yuma-only");
    let svg_path = args.iter().position(|a| a == "--yuma-svg").and_then(|i| args.get(i + 1));
    let yuma = bench_yuma()?;
    let scaling = bench_yuma_scaling()?;
    if let Some(path) = svg_path {
        std::fs::write(path, scaling_svg(&scaling))?;
    }
    let devnet = if yuma_only { serde_json::Value::Null } else { bench_devnet(sync).await? };
    let out = json!({
        "yuma_epoch": yuma,
        "yuma_scaling": scaling,
        "devnet": devnet,
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
