//! `eval`: run the dev set (objectives with reference answers) through the real miner pipeline
//! against the SIMULATED subnets, score every answer with the real verifier (the validator's own
//! reference answer included), and measure what the scores should track:
//!
//! - completion: the honest miner returned a schema-valid answer;
//! - field accuracy: of the fields the truth holds, how many the delivered answer got right
//!   (recall, `compare(truth, answer)`), and of the delivered fields the truth judges, how many
//!   are right (precision);
//! - Spearman correlation of validator score with accuracy, over the honest answers and over
//!   honest plus red-team answers (fabricator, wrong-template, replayer);
//! - each red-team strategy's mean score relative to the honest miner's.
//!
//!   eval --devset eval/devset.json [--world FILE] [--json OUT] [--markdown OUT]

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use clap::Parser;
use orchestra_incentive::policy::OwnerPolicy;
use orchestra_incentive::score::task_score;
use orchestra_keys::Keypair;
use orchestra_miner::pipeline::MinerCore;
use orchestra_proto::contract::Contract;
use orchestra_proto::synapses::{Orchestrate, OrchestrateRequest};
use orchestra_subnet_sim::{SimConfig, ledger, start};
use orchestra_subnets::Adapters;
use orchestra_testkit::redteam::{fabricate, replay, wrong_template};
use orchestra_testkit::synapse;
use orchestra_validator::compare::compare;
use orchestra_validator::verify::{VerifyConfig, verify};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Parser, Debug)]
#[command(name = "eval", about = "Dev-set evaluation of answers and scores (SIMULATED subnets)")]
struct Args {
    #[arg(long, default_value = "eval/devset.json")]
    devset: String,
    /// A world file for the simulated subnets (default: the built-in world).
    #[arg(long)]
    world: Option<String>,
    #[arg(long)]
    json: Option<String>,
    #[arg(long)]
    markdown: Option<String>,
    /// Write the verifier's sub-scores per strategy here (the owner simulator's populations).
    #[arg(long)]
    populations: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DevSet {
    items: Vec<Item>,
}

#[derive(Debug, Clone, Deserialize)]
struct Item {
    id: String,
    domain: String,
    objective: String,
    schema: Value,
    truth: Value,
}

#[derive(Debug, Clone)]
struct Row {
    kind: &'static str,
    id: String,
    score: f64,
    recall: f64,
    precision: Option<f64>,
    completed: bool,
    notes: Vec<String>,
    answer: Value,
    reference: Option<Value>,
    sub: orchestra_incentive::score::SubScores,
}

/// Delivered leaves the truth judges, and how many are right.
fn precision(truth: &Value, answer: &Value) -> (usize, usize) {
    match (truth, answer) {
        (Value::Object(t), Value::Object(a)) => t
            .iter()
            .filter_map(|(k, tv)| a.get(k).map(|av| precision(tv, av)))
            .fold((0, 0), |x, y| (x.0 + y.0, x.1 + y.1)),
        (Value::Array(t), Value::Array(a)) => {
            let mut acc = (0, 0);
            for av in a {
                let best = t.iter().map(|tv| (compare(tv, av).score, tv)).max_by(|x, y| x.0.total_cmp(&y.0));
                match best {
                    Some((s, tv)) if s >= 0.5 => {
                        let p = precision(tv, av);
                        acc = (acc.0 + p.0, acc.1 + p.1);
                    }
                    Some((_, tv)) => acc.1 += precision(tv, tv).1.max(1),
                    None => acc.1 += 1,
                }
            }
            acc
        }
        (t, a) if !t.is_object() && !t.is_array() => (usize::from(compare(t, a).score >= 1.0), 1),
        _ => (0, 1),
    }
}

/// Spearman's rank correlation (average ranks for ties).
fn spearman(xs: &[f64], ys: &[f64]) -> Option<f64> {
    fn ranks(v: &[f64]) -> Vec<f64> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|a, b| v[*a].total_cmp(&v[*b]));
        let mut r = vec![0.0; v.len()];
        let mut i = 0;
        while i < idx.len() {
            let mut j = i;
            while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
                j += 1;
            }
            let avg = (i + j) as f64 / 2.0 + 1.0;
            for k in i..=j {
                r[idx[k]] = avg;
            }
            i = j + 1;
        }
        r
    }
    if xs.len() < 3 {
        return None;
    }
    let (rx, ry) = (ranks(xs), ranks(ys));
    let n = xs.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = rx.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = ry.iter().map(|b| (b - my).powi(2)).sum();
    (vx > 0.0 && vy > 0.0).then(|| cov / (vx * vy).sqrt())
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = v.collect();
    if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let set: DevSet = serde_json::from_str(&std::fs::read_to_string(&a.devset).with_context(|| a.devset.clone())?)
        .with_context(|| a.devset.clone())?;
    let mut cfg = SimConfig::default_trio();
    if let Some(w) = &a.world {
        cfg = cfg.with_world_file(w).map_err(|e| anyhow!("--world {w}: {e}"))?;
    }
    let sim = start(cfg).await.map_err(|e| anyhow!("simulated subnets: {e}"))?;
    let entries: Vec<_> = sim.subnets.iter().map(ledger::entry).collect();
    let key = Keypair::from_uri("//EvalMiner").map_err(|e| anyhow!("{e}"))?;
    let core = MinerCore::new_local(key.clone(), entries.clone(), None).map_err(|e| anyhow!("miner: {e}"))?;
    // The SIMULATED subnets listen on loopback: a local guard.
    let adapters = Adapters::with_guard(orchestra_subnets::GuardConfig::local()).map_err(|e| anyhow!("{e}"))?;
    let policy = OwnerPolicy::default();
    let started = Instant::now();
    let mut rows: Vec<Row> = Vec::new();
    let mut previous: Option<Orchestrate> = None;
    for (n, item) in set.items.iter().enumerate() {
        let req = OrchestrateRequest {
            task_id: format!("eval-{}", item.id),
            objective: item.objective.clone(),
            target_schema: item.schema.clone(),
            contract: Contract { deadline_ms: 30_000, ..Contract::default() },
            inputs: Value::Null,
        };
        let t0 = Instant::now();
        let honest = core.orchestrate(synapse(&req)).await;
        let elapsed = t0.elapsed();
        let reference = orchestra_validator::reference::compute(
            &item.objective,
            &item.schema,
            &entries,
            &adapters,
            Duration::from_secs(20),
        )
        .await
        .ok()
        .map(|r| r.answer);
        let vcfg = VerifyConfig {
            reprobe_rate: policy.reprobe_rate,
            seed: n as u64 + 1,
            reprobe_timeout: Duration::from_secs(5),
        };
        let judge = |kind: &'static str, o: &Orchestrate| {
            let o = o.clone();
            let reference = reference.clone();
            let (req, entries, adapters, vcfg, key, policy, item) =
                (&req, &entries, &adapters, &vcfg, &key, &policy, item);
            async move {
                let v = verify(req, &o, key.ss58(), elapsed, entries, adapters, vcfg, reference.as_ref()).await;
                let score = task_score(&v.sub, policy).total;
                let result = o.result.clone().unwrap_or(Value::Null);
                let completed = o.result.is_some() && v.sub.schema;
                let recall = if completed { compare(&item.truth, &result).score } else { 0.0 };
                let (ok, total) = precision(&item.truth, &result);
                let precision = (completed && total > 0).then(|| ok as f64 / total as f64);
                let mut notes = v.notes.clone();
                if let Some(e) = &o.error {
                    notes.insert(0, format!("miner error: {e}"));
                }
                Row {
                    kind,
                    id: item.id.clone(),
                    score,
                    recall,
                    precision,
                    completed,
                    notes,
                    answer: result,
                    reference,
                    sub: v.sub.clone(),
                }
            }
        };
        rows.push(judge("honest", &honest).await);
        let mut fab = honest.clone();
        fabricate(&mut fab, &key);
        rows.push(judge("fabricator", &fab).await);
        let mut wrong = honest.clone();
        wrong_template(&mut wrong, &key);
        rows.push(judge("wrong-template", &wrong).await);
        if let Some(old) = &previous {
            rows.push(judge("replayer", &replay(old, &synapse(&req), &key)).await);
        }
        previous = Some(honest);
        let h = rows.iter().rev().find(|r| r.kind == "honest").cloned();
        if let Some(h) = h {
            eprintln!(
                "{:>12} score {:.3} recall {:.2} precision {} {}",
                h.id,
                h.score,
                h.recall,
                h.precision.map(|p| format!("{p:.2}")).unwrap_or_else(|| "-".into()),
                h.notes.first().cloned().unwrap_or_default()
            );
        }
    }
    let honest: Vec<&Row> = rows.iter().filter(|r| r.kind == "honest").collect();
    let completion = honest.iter().filter(|r| r.completed).count() as f64 / honest.len().max(1) as f64;
    let recall = mean(honest.iter().filter(|r| r.completed).map(|r| r.recall));
    let precision = mean(honest.iter().filter_map(|r| r.precision));
    let all_s: Vec<f64> = rows.iter().map(|r| r.score).collect();
    let all_a: Vec<f64> =
        rows.iter().map(|r| if r.completed { (r.recall + r.precision.unwrap_or(0.0)) / 2.0 } else { 0.0 }).collect();
    let h_s: Vec<f64> = honest.iter().map(|r| r.score).collect();
    let h_a: Vec<f64> =
        honest.iter().map(|r| if r.completed { (r.recall + r.precision.unwrap_or(0.0)) / 2.0 } else { 0.0 }).collect();
    let honest_mean = mean(honest.iter().map(|r| r.score));
    let mut domains: Vec<String> = set.items.iter().map(|i| i.domain.clone()).collect();
    domains.sort();
    domains.dedup();
    let strategies = ["fabricator", "wrong-template", "replayer"];
    let rel: Vec<(String, f64)> = strategies
        .iter()
        .map(|k| (k.to_string(), mean(rows.iter().filter(|r| r.kind == *k).map(|r| r.score)) / honest_mean.max(1e-9)))
        .collect();
    let sp_all = spearman(&all_s, &all_a);
    let sp_h = spearman(&h_s, &h_a);
    let fmt = |x: Option<f64>| x.map(|v| format!("{v:.3}")).unwrap_or_else(|| "n/a".into());
    let mut md = String::new();
    md.push_str(&format!(
        "Dev set `{}`: {} objectives over {} domains ({}), world: {}; run took {:.1} s.\n\n",
        a.devset,
        set.items.len(),
        domains.len(),
        domains.join(", "),
        a.world.as_deref().unwrap_or("built-in"),
        started.elapsed().as_secs_f64()
    ));
    md.push_str("| measure | value |\n|---|---|\n");
    md.push_str(&format!("| completion (schema-valid answer) | {:.1}% |\n", completion * 100.0));
    md.push_str(&format!(
        "| field accuracy, precision (delivered fields that are right) | {:.1}% |\n",
        precision * 100.0
    ));
    md.push_str(&format!("| field accuracy, recall (truth fields delivered right) | {:.1}% |\n", recall * 100.0));
    md.push_str(&format!(
        "| Spearman(score, accuracy), honest + red-team answers (n = {}) | {} |\n",
        rows.len(),
        fmt(sp_all)
    ));
    md.push_str(&format!(
        "| Spearman(score, accuracy), honest answers only (n = {}) | {} |\n",
        honest.len(),
        fmt(sp_h)
    ));
    md.push_str(&format!("| honest mean score | {honest_mean:.3} |\n"));
    for (k, v) in &rel {
        md.push_str(&format!("| {k} mean score / honest | {v:.3} |\n"));
    }
    println!("{md}");
    if let Some(p) = &a.markdown {
        std::fs::write(p, &md).with_context(|| p.clone())?;
    }
    if let Some(p) = &a.json {
        let out = json!({
            "completion": completion, "precision": precision, "recall": recall,
            "spearman_all": sp_all, "spearman_honest": sp_h, "honest_mean_score": honest_mean,
            "relative_scores": rel.iter().map(|(k, v)| json!({"strategy": k, "relative": v})).collect::<Vec<_>>(),
            "rows": rows.iter().map(|r| json!({"kind": r.kind, "id": r.id, "score": r.score, "recall": r.recall,
                "precision": r.precision, "completed": r.completed, "notes": r.notes,
                "answer": r.answer, "reference": r.reference})).collect::<Vec<_>>(),
        });
        std::fs::write(p, serde_json::to_vec_pretty(&out)?).with_context(|| p.clone())?;
    }
    if let Some(p) = &a.populations {
        let mut samples: std::collections::BTreeMap<String, Vec<orchestra_incentive::score::SubScores>> =
            std::collections::BTreeMap::new();
        for r in &rows {
            samples.entry(r.kind.to_string()).or_default().push(r.sub.clone());
            if r.kind == "honest" {
                // A lazy cache re-serves answers it made honestly (same evidence, same checks);
                // a slow miner is honest but answers late in its deadline.
                samples.entry("lazy-cache".into()).or_default().push(r.sub.clone());
                let slow = orchestra_incentive::score::SubScores { latency_ratio: 0.85, ..r.sub.clone() };
                samples.entry("slow".into()).or_default().push(slow);
            }
        }
        let out = json!({
            "source": format!("scripts/eval.sh: {} objectives of {}, world {}, through the real miner pipeline, the SIMULATED subnets and the real verifier",
                set.items.len(), a.devset, a.world.as_deref().unwrap_or("built-in")),
            "samples": samples,
        });
        std::fs::write(p, serde_json::to_vec_pretty(&out)?).with_context(|| p.clone())?;
    }
    sim.shutdown().await;
    Ok(())
}
