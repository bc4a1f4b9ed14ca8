//! `verify`: the validator's verification of one Orchestrate response (criterion), against
//! the number of receipts it carries.
//!
//! ```text
//! cargo bench -p orchestra-bench --bench verify            # criterion report per receipt count
//! BENCH_VERIFY_OUT=docs/benchmarks-verify.json BENCH_VERIFY_SVG=docs/verify-scaling.svg \
//!   cargo bench -p orchestra-bench --bench verify         # also the curve, fitted, as JSON + SVG
//! ```
//!
//! The response is the worked example as the real miner pipeline answers it against the
//! simulated subnets (7 receipts), re-shaped to 1–100 receipts (evidence repeated or cut,
//! citations kept where their receipt remains, re-signed). Every check of
//! `orchestra_validator::verify::verify` runs: signature, receipt root and evidence digests,
//! target schema, grounding, citations and accuracy against the validator's own reference
//! answer (computed once, as a round does per task shape), and the choice of receipts to
//! re-probe: `orchestra_validator::verify::check`, everything of `verify` but the re-probes
//! themselves, which are network calls (the round bench makes them). Before `check` existed this
//! bench called `verify` with the random re-probes off, but the re-probes targeted at leaves
//! that disagree with the reference still ran against the in-process simulated subnets, so
//! their network and the subnets' CPU were counted.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use orchestra_bench::plot::{Series, fit_growth, svg_loglog};
use orchestra_bench::{load_average, process_cpu_seconds};
use orchestra_keys::Keypair;
use orchestra_miner::pipeline::MinerCore;
use orchestra_proto::contract::Contract;
use orchestra_proto::receipt::{commitment, receipt_root, result_digest};
use orchestra_proto::synapses::{Orchestrate, OrchestrateRequest};
use orchestra_subnets::Adapters;
use orchestra_validator::verify::{VerifyConfig, check};
use serde_json::{Value, json};

const RECEIPTS: [usize; 6] = [1, 3, 10, 30, 60, 100];

/// One criterion sample: receipts, iterations, wall time, process CPU seconds.
type Sample = (usize, u64, Duration, f64);

struct Fixture {
    req: OrchestrateRequest,
    key: Keypair,
    reference: Option<Value>,
    base: Orchestrate,
    _sim: orchestra_subnet_sim::SimHandle,
}

fn fixture(rt: &tokio::runtime::Runtime) -> Fixture {
    rt.block_on(async {
        let sim = orchestra_subnet_sim::start(orchestra_subnet_sim::SimConfig::default_trio()).await.expect("sim");
        let entries: Vec<_> = sim.subnets.iter().map(orchestra_subnet_sim::ledger::entry).collect();
        let key = Keypair::from_uri("//BenchMiner").expect("key");
        let core = MinerCore::new_local(key.clone(), entries.clone(), None).expect("miner");
        let req = OrchestrateRequest {
            task_id: "bench-verify".into(),
            objective: "Research cloud GPU pricing and recommend positioning for our inference API".into(),
            target_schema: json!({
                "competitors": [{"name": "str", "pricing": "dict"}],
                "recommendation": {"price_point": "float", "rationale": "str"}
            }),
            contract: Contract { deadline_ms: 20_000, ..Contract::default() },
            inputs: Value::Null,
        };
        let base = core.orchestrate(Orchestrate::from_request(req.clone()).expect("request")).await;
        assert!(base.error.is_none(), "the pipeline failed: {:?}", base.error);
        let adapters = Adapters::with_guard(orchestra_subnets::GuardConfig::local()).expect("adapters");
        let schema = orchestra_proto::shorthand::to_json_schema(&req.target_schema).expect("schema");
        let reference = orchestra_validator::reference::compute(
            &req.objective,
            &schema,
            &entries,
            &adapters,
            Duration::from_secs(10),
        )
        .await
        .ok()
        .map(|r| r.answer);
        Fixture { req, key, reference, base, _sim: sim }
    })
}

/// The base response with `n` receipts (repeated or cut), re-signed.
fn with_receipts(f: &Fixture, n: usize) -> Orchestrate {
    let base = &f.base;
    let mut r = base.clone();
    r.receipts.clear();
    r.evidence.clear();
    for i in 0..n {
        let j = i % base.receipts.len();
        r.receipts.push(base.receipts[j].clone());
        r.evidence.push(base.evidence[j].clone());
    }
    r.citations.retain(|c| c.receipt < n);
    let root = receipt_root(&r.receipts).expect("root");
    r.receipt_root = Some(root);
    let rd = result_digest(r.result.as_ref().expect("result")).expect("digest");
    r.miner_signature = Some(f.key.sign_hex(&commitment(&r.task_id, &rd, &root).0));
    r
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let f = fixture(&rt);
    let cfg = VerifyConfig { reprobe_rate: 0.0, seed: 1, reprobe_timeout: Duration::from_secs(5) };
    // Per receipt count: every criterion sample as (iterations, wall time, process CPU seconds).
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    {
        let mut g = c.benchmark_group("verify");
        for n in RECEIPTS {
            let resp = with_receipts(&f, n);
            // Sanity: the response passes the checks that gate the rest.
            let v =
                check(&f.req, &resp, f.key.ss58(), Duration::from_millis(50), &cfg, f.reference.as_ref()).verification;
            assert!(v.sub.signature && v.sub.receipt_root && v.sub.schema, "{:?}", v.notes);
            g.throughput(Throughput::Elements(1));
            g.bench_with_input(BenchmarkId::new("receipts", n), &resp, |b, resp| {
                b.iter_custom(|iters| {
                    let cpu0 = process_cpu_seconds(std::process::id()).unwrap_or(0.0);
                    let t = Instant::now();
                    for _ in 0..iters {
                        let v =
                            check(&f.req, resp, f.key.ss58(), Duration::from_millis(50), &cfg, f.reference.as_ref());
                        std::hint::black_box(v);
                    }
                    let took = t.elapsed();
                    let cpu = process_cpu_seconds(std::process::id()).unwrap_or(0.0) - cpu0;
                    samples.lock().unwrap_or_else(|e| e.into_inner()).push((n, iters, took, cpu));
                    took
                })
            });
        }
        g.finish();
    }
    c.final_summary();

    // The curve: per receipt count, the median over criterion's samples of time per verify.
    let samples = samples.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut points = Vec::new();
    let mut cpu_points = Vec::new();
    for n in RECEIPTS {
        let mut per: Vec<f64> =
            samples.iter().filter(|s| s.0 == n && s.1 > 0).map(|s| s.2.as_secs_f64() * 1e6 / s.1 as f64).collect();
        if per.is_empty() {
            continue;
        }
        per.sort_by(f64::total_cmp);
        // CPU time over all samples (procfs ticks are 10 ms; summed, they are precise enough):
        // on a machine shared with other work, the wall-clock median is inflated, this is not.
        let (iters, cpu) = samples.iter().filter(|s| s.0 == n).fold((0u64, 0f64), |a, s| (a.0 + s.1, a.1 + s.3));
        let cpu_us = if iters > 0 { cpu * 1e6 / iters as f64 } else { 0.0 };
        points.push((n as f64, per[per.len() / 2]));
        cpu_points.push((n as f64, cpu_us));
    }
    let growth = fit_growth(&cpu_points);
    let out = json!({
        "bench": "verify_vs_receipts",
        "reference": f.reference.is_some(),
        "points": points.iter().zip(&cpu_points).map(|((n, us), (_, cpu))| json!({"receipts": n, "median_us": us, "cpu_us": cpu})).collect::<Vec<_>>(),
        "ten_receipts_us": points.iter().find(|p| p.0 == 10.0).map(|p| p.1),
        "ten_receipts_cpu_us": cpu_points.iter().find(|p| p.0 == 10.0).map(|p| p.1),
        "growth": growth.as_ref().map(|g| g.to_string()),
        "exponent": growth.as_ref().map(|g| g.exponent),
        "load_avg": load_average(),
    });
    println!("{out}");
    if let Ok(p) = std::env::var("BENCH_VERIFY_OUT") {
        std::fs::write(&p, format!("{out}\n")).expect("write the verify JSON");
    }
    if let Ok(p) = std::env::var("BENCH_VERIFY_SVG") {
        let svg = svg_loglog(
            "Verification of one response vs receipts",
            "receipts per response",
            "µs per response",
            &[
                Series { label: "CPU per response".into(), points: cpu_points },
                Series { label: "wall, median".into(), points },
            ],
            true,
        );
        std::fs::write(&p, svg).expect("write the verify SVG");
    }
}
