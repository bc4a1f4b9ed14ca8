//! `pipeline-bench`: what the miner and the validator cost beyond subnet latency, in-process
//! against zero-latency SIMULATED subnets on loopback. Prints JSON lines:
//! - end-to-end time per objective (worked example, 7 subnet calls over loopback HTTP);
//! - the miner's own work per objective (plan + synthesis + receipt root + result digest +
//!   signature), timed on the recorded step outputs, i.e. excluding every subnet call;
//! - validator verification per response without re-probes (signature, root, evidence digests,
//!   schema, grounding), for the same response and for a 10-receipt one;
//! - resident memory while 1,000 objectives are in flight.

use std::time::{Duration, Instant};

use orchestra_keys::Keypair;
use orchestra_miner::pipeline::MinerCore;
use orchestra_proto::receipt::{commitment, receipt_root, result_digest};
use orchestra_subnet_sim::{SimConfig, ledger, start};
use orchestra_subnets::Adapters;
use orchestra_testkit::{synapse, worked_example};
use orchestra_validator::verify::{VerifyConfig, verify};
use serde_json::json;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let sim = start(SimConfig::default_trio()).await?;
    let entries: Vec<_> = sim.subnets.iter().map(ledger::entry).collect();
    let key = Keypair::from_uri("//BenchMiner")?;
    let core = std::sync::Arc::new(MinerCore::new_local(key.clone(), entries.clone(), None)?);

    // End to end.
    let mut e2e = Vec::new();
    let mut last = None;
    for i in 0..n {
        let req = worked_example(&format!("b-{i}"), 20_000);
        let t = Instant::now();
        let out = core.orchestrate(synapse(&req)).await;
        e2e.push(t.elapsed().as_secs_f64() * 1e3);
        if out.error.is_some() {
            return Err(format!("objective failed: {:?}", out.error).into());
        }
        last = Some((req, out));
    }
    let (req, resp) = last.ok_or("no run")?;
    let subnet_ms: Vec<f64> = vec![resp.receipts.iter().map(|r| r.latency_ms as f64).sum()];
    println!(
        "{}",
        json!({"bench": "miner_end_to_end", "n": n, "calls": resp.receipts.len(), "p50_ms": median(e2e.clone()),
        "receipted_subnet_ms_last": subnet_ms[0]})
    );

    // The miner's own work on recorded outputs: plan, synthesize, root, digest, sign.
    let schema = orchestra_proto::shorthand::to_json_schema(&req.target_schema)?;
    let mut own = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let plan = orchestra_miner::planner::plan(&req.objective, &schema, &entries, &req.contract)?;
        let records = orchestra_miner::synth::records(&resp.receipts, &resp.evidence);
        let (result, _citations) = orchestra_miner::synth::fill(&req.objective, &schema, &records)?;
        let root = receipt_root(&resp.receipts)?;
        let c = commitment(&req.task_id, &result_digest(&result)?, &root);
        let sig = key.sign_hex(&c.0);
        own.push(t.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box((plan, sig));
    }
    println!(
        "{}",
        json!({"bench": "miner_own_work_per_objective", "receipts": resp.receipts.len(), "p50_us": median(own)})
    );

    // Ten receipts: the response with its receipts padded to ten (re-signed), for the target.
    let adapters = Adapters::with_guard(orchestra_subnets::GuardConfig::local())?;
    let cfg = VerifyConfig { reprobe_rate: 0.0, seed: 1, reprobe_timeout: Duration::from_secs(5) };
    let mut ten = resp.clone();
    while ten.receipts.len() < 10 {
        let i = ten.receipts.len() % resp.receipts.len();
        ten.receipts.push(resp.receipts[i].clone());
        ten.evidence.push(resp.evidence[i].clone());
    }
    let root = receipt_root(&ten.receipts)?;
    ten.receipt_root = Some(root);
    let rd = result_digest(ten.result.as_ref().ok_or("no result")?)?;
    ten.miner_signature = Some(key.sign_hex(&commitment(&ten.task_id, &rd, &root).0));
    for (label, r) in [("verify_response", &resp), ("verify_ten_receipts", &ten)] {
        let mut t_us = Vec::new();
        for _ in 0..n {
            let t = Instant::now();
            let v = verify(&req, r, key.ss58(), Duration::from_millis(50), &entries, &adapters, &cfg, None).await;
            t_us.push(t.elapsed().as_secs_f64() * 1e6);
            if !(v.sub.signature && v.sub.receipt_root && v.sub.schema) {
                return Err(format!("verification failed: {:?}", v.notes).into());
            }
        }
        println!("{}", json!({"bench": label, "receipts": r.receipts.len(), "p50_us": median(t_us)}));
    }

    // A full scoring round for 256 miners: verify each response (no re-probes), score it, fold
    // it into the EMAs, combine with the Ledger scores, normalize to the chain's u16 weights.
    {
        use orchestra_incentive::ema::Ema;
        use orchestra_incentive::policy::OwnerPolicy;
        use orchestra_incentive::score::task_score;
        use orchestra_incentive::weights::{MinerScores, combine, to_chain};
        let policy = OwnerPolicy::default();
        let mut emas = vec![Ema::default(); 256];
        let mut rounds = Vec::new();
        for epoch in 0..5u64 {
            let t = Instant::now();
            let mut scores = Vec::with_capacity(256);
            for (uid, ema) in emas.iter_mut().enumerate() {
                let v =
                    verify(&req, &resp, key.ss58(), Duration::from_millis(50), &entries, &adapters, &cfg, None).await;
                ema.observe(task_score(&v.sub, &policy).total, epoch, policy.half_life_orchestration);
                scores.push(MinerScores { uid: uid as u16, orchestration: ema.value, ledger: 0.0 });
            }
            let w = combine(&scores, &policy)?;
            let chain = to_chain(&w)?;
            rounds.push(t.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(chain);
        }
        println!(
            "{}",
            json!({"bench": "scoring_round_256_miners", "p50_ms": median(rounds), "note": "in-process; responses already received"})
        );
    }

    // Memory with 1,000 objectives in flight (subnets slowed so they overlap).
    let slow = json!({"latency_ms": 1500});
    let http = reqwest::Client::new();
    for s in &sim.subnets {
        http.post(format!("{}/control/faults", s.base_url())).json(&slow).send().await?;
    }
    let before = rss_mb();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let core = core.clone();
        set.spawn(async move {
            core.orchestrate(synapse(&worked_example(&format!("m-{i}"), 60_000))).await.error.is_none()
        });
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let peak = rss_mb();
    let mut ok = 0;
    while let Some(r) = set.join_next().await {
        ok += usize::from(r.unwrap_or(false));
    }
    println!(
        "{}",
        json!({"bench": "miner_rss_1000_in_flight", "rss_before_mb": before, "rss_in_flight_mb": peak, "completed": ok})
    );
    sim.shutdown().await;
    Ok(())
}
