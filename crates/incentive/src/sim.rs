//! The owner's simulator: what a policy does to emissions before it is published.
//!
//! Populations of miners (honest, lazy, hallucinating, copycat, Ledger spammer, sybil swarm)
//! produce per-task verification sub-scores drawn deterministically around their behaviour;
//! every validator scores them with the real [`crate::score`] and [`crate::ema`] code, turns the
//! scores into weights with the real [`crate::weights`] code, and crates/yuma runs the chain's
//! epoch on those weights. Emissions are summed over K epochs per population.
//!
//! By default the per-task sub-scores of each population are **measured**: samples of what the
//! real verifier gave the red-team strategies that play that population (`scripts/eval.sh`
//! runs the dev set through the real miner, the simulated subnets and the verifier, and writes
//! `crates/incentive/data/measured-populations.json`, embedded here). A population without
//! samples falls back to the behaviour model stated next to it below. The scoring, weights and
//! consensus are the production code either way.

use std::collections::BTreeMap;

use orchestra_proto::canonical::Digest;
use orchestra_proto::synapses::{LedgerProposal, UpdateType};
use orchestra_yuma::{EpochInput, Fidelity, Hyperparams, Variant};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::IncentiveError;
use crate::ema::Ema;
use crate::policy::OwnerPolicy;
use crate::score::{LedgerActivity, SubScores, ledger_score, task_score};
use crate::weights::{MinerScores, combine, to_chain};

/// A kind of miner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Population {
    /// Does the work: grounded results, genuine receipts, some Ledger discoveries.
    Honest,
    /// Cheap, fast, thin results: schema-valid but weakly grounded.
    Lazy,
    /// Invents values: genuine receipts, ungrounded result.
    Hallucinating,
    /// Re-signs another miner's answer. Succeeds only when validators send the same task to
    /// several miners; with per-miner randomized tasks the copy answers the wrong request.
    Copycat,
    /// Lazy orchestration plus a flood of the Ledger proposals that used to be credited: no-op
    /// and unknown-field metrics updates, self-set costs, endpoint changes to its own server,
    /// new subnets carrying URLs and credentials. Each is run through the validators' own rule
    /// ([`LedgerProposal::miner_refusal`]); refused ones earn nothing and count as false.
    LedgerSpammer,
    /// Many identities each doing lazy work.
    SybilSwarm,
}

impl Population {
    pub const ALL: [Population; 6] = [
        Population::Honest,
        Population::Lazy,
        Population::Hallucinating,
        Population::Copycat,
        Population::LedgerSpammer,
        Population::SybilSwarm,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Population::Honest => "honest",
            Population::Lazy => "lazy",
            Population::Hallucinating => "hallucinating",
            Population::Copycat => "copycat",
            Population::LedgerSpammer => "ledger_spammer",
            Population::SybilSwarm => "sybil_swarm",
        }
    }

    fn color(self) -> &'static str {
        match self {
            Population::Honest => "#2e7d32",
            Population::Lazy => "#f9a825",
            Population::Hallucinating => "#c62828",
            Population::Copycat => "#6a1b9a",
            Population::LedgerSpammer => "#ef6c00",
            Population::SybilSwarm => "#455a64",
        }
    }
}

/// What to simulate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimSpec {
    /// Miners per population (a sybil swarm is many miners of one operator).
    pub populations: Vec<(Population, u16)>,
    /// Measured sub-scores per population (see [`Measured`]); `None` = the behaviour models.
    #[serde(default)]
    pub measured: Option<Measured>,
    pub validators: u16,
    pub epochs: u64,
    pub tasks_per_epoch: u32,
    /// Validators send each miner its own randomized task (the production behaviour).
    pub randomized_tasks: bool,
    pub seed: u64,
}

impl Default for SimSpec {
    fn default() -> Self {
        SimSpec {
            measured: Measured::builtin().ok(),
            populations: vec![
                (Population::Honest, 4),
                (Population::Lazy, 2),
                (Population::Hallucinating, 2),
                (Population::Copycat, 2),
                (Population::LedgerSpammer, 2),
                (Population::SybilSwarm, 8),
            ],
            validators: 4,
            epochs: 20,
            tasks_per_epoch: 4,
            randomized_tasks: true,
            seed: 1,
        }
    }
}

/// Outcome of one simulation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimResult {
    pub label: String,
    pub split: f64,
    /// Share of miner emission per population (sums to 1 when anything was paid).
    pub shares: BTreeMap<Population, f64>,
    /// Gini coefficient of emission over miners.
    pub gini: f64,
    /// Mean emission of a copycat over mean emission of an honest miner.
    pub copy_payoff: f64,
}

fn noise(seed: u64, parts: &[u64]) -> f64 {
    let mut h = blake3::Hasher::new();
    h.update(&seed.to_le_bytes());
    for p in parts {
        h.update(&p.to_le_bytes());
    }
    let b = h.finalize();
    let mut x = [0u8; 8];
    x.copy_from_slice(&b.as_bytes()[..8]);
    (u64::from_le_bytes(x) >> 11) as f64 / (1u64 << 53) as f64
}

fn honest(n: f64) -> SubScores {
    SubScores {
        signature: true,
        receipt_root: true,
        schema: true,
        grounding: 0.9 + 0.1 * n,
        reprobe: Some(1.0),
        latency_ratio: 0.3 + 0.3 * n,
        cost_ratio: 0.3 + 0.2 * n,
        quality_floor: true,
        citations: Some(0.95 + 0.05 * n),
        accuracy: Some(0.9 + 0.1 * n),
        contradicted: false,
    }
}

/// Sub-scores the real verifier gave each strategy, by strategy name (`honest`, `fabricator`,
/// `wrong-template`, `replayer`, `lazy-cache`, `slow`); [`Measured::strategy`] says which plays
/// which population.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measured {
    /// Where the samples come from (command, dev set, date).
    #[serde(default)]
    pub source: String,
    pub samples: BTreeMap<String, Vec<SubScores>>,
}

impl Measured {
    /// The samples committed with the crate (regenerated by `scripts/eval.sh`).
    pub fn builtin() -> Result<Measured, IncentiveError> {
        serde_json::from_str(include_str!("../data/measured-populations.json"))
            .map_err(|e| IncentiveError::Input(format!("built-in measured populations: {e}")))
    }

    /// The red-team strategy that plays `p`, where one does. The lazy population (thin,
    /// weakly grounded answers) and the swarms built on it keep their behaviour model: the
    /// lazy-cache strategy re-serves correct answers, which is not what they model.
    fn strategy(p: Population, randomized: bool) -> Option<&'static str> {
        match p {
            Population::Honest => Some("honest"),
            Population::Hallucinating => Some("fabricator"),
            // With randomized tasks a copied answer is for another task: what a replayer gets.
            Population::Copycat if randomized => Some("replayer"),
            Population::Copycat | Population::Lazy | Population::LedgerSpammer | Population::SybilSwarm => None,
        }
    }

    fn sample(&self, p: Population, n: f64, randomized: bool) -> Option<SubScores> {
        let v = self.samples.get(Measured::strategy(p, randomized)?).filter(|v| !v.is_empty())?;
        let i = ((n.clamp(0.0, 1.0) * v.len() as f64) as usize).min(v.len() - 1);
        v.get(i).cloned()
    }
}

fn task(p: Population, n: f64, randomized: bool) -> SubScores {
    match p {
        Population::Honest => honest(n),
        Population::Lazy | Population::LedgerSpammer | Population::SybilSwarm => SubScores {
            grounding: 0.35 + 0.2 * n,
            citations: Some(0.3 + 0.2 * n),
            accuracy: Some(0.4 + 0.2 * n),
            latency_ratio: 0.05,
            cost_ratio: 0.05,
            ..honest(n)
        },
        Population::Hallucinating => SubScores {
            grounding: 0.05 * n,
            citations: Some(0.05 * n),
            accuracy: Some(0.1 * n),
            latency_ratio: 0.02,
            cost_ratio: 0.0,
            ..honest(n)
        },
        Population::Copycat => {
            if randomized {
                // The copied answer is for another miner's task: it does not echo our request.
                SubScores { signature: false, ..honest(n) }
            } else {
                SubScores { latency_ratio: 0.35 + 0.3 * n, ..honest(n) }
            }
        }
    }
}

fn ledger(p: Population, n: f64) -> LedgerActivity {
    match p {
        Population::Honest => {
            LedgerActivity { discoveries: u32::from(n < 0.3), confirmations: u32::from(n < 0.6), false_proposals: 0 }
        }
        Population::LedgerSpammer => {
            let mut a = LedgerActivity::default();
            for p in spam_proposals(n) {
                match p.miner_refusal() {
                    Some(_) => a.false_proposals += 1,
                    // Not refused by kind: it would still have to pass the live probe.
                    None => a.discoveries += 1,
                }
            }
            a
        }
        _ => LedgerActivity::default(),
    }
}

/// One epoch of the Ledger spammer's proposals (the strategies the issue measured at 4.5-9.1%
/// of emission before validators refused them).
fn spam_proposals(n: f64) -> Vec<LedgerProposal> {
    let p = |update_type, field: &str, new_value: Value| LedgerProposal {
        netuid: 22,
        subnet: "desearch".into(),
        update_type,
        field: field.into(),
        old_value: Value::Null,
        new_value,
        evidence: vec![Digest([7; 32])],
        task_id: "made-up".into(),
        proposed_by: "spammer".into(),
    };
    let k = (n * 1000.0) as u64;
    let mut out = Vec::new();
    for i in 0..10u64 {
        out.push(p(UpdateType::MetricsUpdate, &format!("metrics.unknown_{}", k + i), json!(k + i)));
        out.push(p(UpdateType::MetricsUpdate, "metrics.cost_micros", json!(i)));
    }
    for i in 0..5u64 {
        out.push(p(
            UpdateType::EndpointChange,
            "transports.0.url",
            json!(format!("http://203.0.113.9:{}/x", 8000 + i)),
        ));
        let mut ns = p(
            UpdateType::NewSubnet,
            "",
            json!({"netuid": 900 + i, "name": "free", "capabilities": ["web_search"],
                   "transports": [{"kind": "http_json", "url": "http://127.0.0.1:9/steal", "method": "POST",
                                   "auth": {"kind": "bearer", "env": "HOME"}}],
                   "input_schema": {"type": "object"}, "output_schema": {"type": "object"}, "status": "verified"}),
        );
        ns.netuid = 900 + i as u16;
        out.push(ns);
    }
    out
}

/// Gini coefficient of non-negative values (0 = equal, → 1 = one takes all).
pub fn gini(v: &[f64]) -> f64 {
    let n = v.len();
    let sum: f64 = v.iter().sum();
    if n == 0 || sum <= 0.0 {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let weighted: f64 = s.iter().enumerate().map(|(i, x)| (i as f64 + 1.0) * x).sum();
    (2.0 * weighted) / (n as f64 * sum) - (n as f64 + 1.0) / n as f64
}

/// Run one simulation under `policy`.
pub fn simulate(spec: &SimSpec, policy: &OwnerPolicy, label: &str) -> Result<SimResult, IncentiveError> {
    policy.validate()?;
    let v = spec.validators as usize;
    let miners: Vec<Population> =
        spec.populations.iter().flat_map(|(p, k)| std::iter::repeat_n(*p, *k as usize)).collect();
    let m = miners.len();
    if v == 0 || m == 0 {
        return Err(IncentiveError::Input("need at least one validator and one miner".into()));
    }
    let n = v + m;
    if n > 4096 {
        return Err(IncentiveError::Input(format!("{n} uids is more than a subnet holds")));
    }
    let mut orch = vec![vec![Ema::default(); m]; v];
    let mut led = vec![vec![Ema::default(); m]; v];
    let mut bonds: Vec<Vec<u16>> = Vec::new();
    let mut paid = vec![0f64; m];
    let hp = Hyperparams::default();
    let tempo = 360u64;
    for epoch in 0..spec.epochs {
        let mut weights = vec![vec![0u16; n]; n];
        for (vi, row) in weights.iter_mut().enumerate().take(v) {
            let mut scores = Vec::with_capacity(m);
            for (mi, pop) in miners.iter().enumerate() {
                let mut sum = 0.0;
                for t in 0..spec.tasks_per_epoch {
                    let nz = noise(spec.seed, &[epoch, vi as u64, mi as u64, t as u64]);
                    let sub = spec
                        .measured
                        .as_ref()
                        .and_then(|m| m.sample(*pop, nz, spec.randomized_tasks))
                        .unwrap_or_else(|| task(*pop, nz, spec.randomized_tasks));
                    sum += task_score(&sub, policy).total;
                }
                let mean = sum / spec.tasks_per_epoch.max(1) as f64;
                orch[vi][mi].observe(mean, epoch, policy.half_life_orchestration);
                let nz = noise(spec.seed ^ 0x5eed, &[epoch, vi as u64, mi as u64]);
                led[vi][mi].observe(ledger_score(&ledger(*pop, nz), policy), epoch, policy.half_life_ledger);
                scores.push(MinerScores {
                    uid: (v + mi) as u16,
                    orchestration: orch[vi][mi].value,
                    ledger: led[vi][mi].value,
                });
            }
            let w = combine(&scores, policy)?;
            let (uids, vals) = to_chain(&w)?;
            for (u, x) in uids.iter().zip(vals) {
                row[*u as usize] = x;
            }
        }
        let block = (epoch + 1) * tempo;
        let input = EpochInput {
            block,
            last_epoch_block: block - tempo,
            stake: (0..n).map(|i| if i < v { 1_000_000_000_000 } else { 0 }).collect(),
            weights,
            bonds: bonds.clone(),
            last_update: vec![block; n],
            block_at_registration: vec![0; n],
            validator_permit: (0..n).map(|i| i < v).collect(),
            emission: 1_000_000_000,
            owner_uid: None,
            commit_block: None,
            fidelity: Fidelity::Dense,
        };
        let out =
            orchestra_yuma::epoch(&input, &hp, Variant::Yuma2).map_err(|e| IncentiveError::Input(e.to_string()))?;
        for (mi, p) in paid.iter_mut().enumerate() {
            *p += out.server_emission[v + mi] as f64;
        }
        bonds = out.new_bonds;
    }
    let total: f64 = paid.iter().sum();
    let mut shares: BTreeMap<Population, f64> = BTreeMap::new();
    for (p, x) in miners.iter().zip(&paid) {
        *shares.entry(*p).or_default() += if total > 0.0 { x / total } else { 0.0 };
    }
    let mean_of = |pop: Population| {
        let xs: Vec<f64> = miners.iter().zip(&paid).filter(|(p, _)| **p == pop).map(|(_, x)| *x).collect();
        if xs.is_empty() { 0.0 } else { xs.iter().sum::<f64>() / xs.len() as f64 }
    };
    let honest_mean = mean_of(Population::Honest);
    let copy_payoff = if honest_mean > 0.0 { mean_of(Population::Copycat) / honest_mean } else { 0.0 };
    Ok(SimResult { label: label.into(), split: policy.split, shares, gini: gini(&paid), copy_payoff })
}

/// A plain-text table of results, one row per simulation.
pub fn table(results: &[SimResult]) -> String {
    let mut s = format!("{:<28} {:>5}", "policy", "split");
    for p in Population::ALL {
        s.push_str(&format!(" {:>14}", p.name()));
    }
    s.push_str(&format!(" {:>6} {:>12}\n", "gini", "copy_payoff"));
    for r in results {
        s.push_str(&format!("{:<28} {:>5.2}", r.label, r.split));
        for p in Population::ALL {
            s.push_str(&format!(" {:>13.1}%", 100.0 * r.shares.get(&p).copied().unwrap_or(0.0)));
        }
        s.push_str(&format!(" {:>6.3} {:>12.3}\n", r.gini, r.copy_payoff));
    }
    s
}

/// An SVG chart: one stacked horizontal bar of emission shares per simulation.
pub fn svg(results: &[SimResult]) -> String {
    let (w, bar_h, gap, left, top) = (900.0, 26.0, 10.0, 260.0, 40.0);
    let h = top + results.len() as f64 * (bar_h + gap) + 60.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
<text x=\"10\" y=\"22\" font-size=\"15\">Emission share per population (owner simulator)</text>\n"
    );
    let span = w - left - 20.0;
    for (i, r) in results.iter().enumerate() {
        let y = top + i as f64 * (bar_h + gap);
        s.push_str(&format!(
            "<text x=\"10\" y=\"{}\">{} (split {:.2})</text>\n",
            y + bar_h * 0.7,
            xml_escape(&r.label),
            r.split
        ));
        let mut x = left;
        for p in Population::ALL {
            let share = r.shares.get(&p).copied().unwrap_or(0.0);
            let bw = share * span;
            if bw > 0.0 {
                s.push_str(&format!(
                    "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bar_h}\" fill=\"{}\"><title>{}: {:.1}%</title></rect>\n",
                    p.color(),
                    p.name(),
                    share * 100.0
                ));
            }
            x += bw;
        }
    }
    let ly = top + results.len() as f64 * (bar_h + gap) + 20.0;
    for (i, p) in Population::ALL.iter().enumerate() {
        let lx = 10.0 + i as f64 * 145.0;
        s.push_str(&format!(
            "<rect x=\"{lx}\" y=\"{ly}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>\n",
            p.color(),
            lx + 16.0,
            ly + 11.0,
            p.name()
        ));
    }
    s.push_str("</svg>\n");
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honest_miners_earn_most_and_cheats_do_not_pay() {
        let spec = SimSpec { epochs: 8, ..SimSpec::default() };
        let r = simulate(&spec, &OwnerPolicy::default(), "default").expect("sim");
        let total: f64 = r.shares.values().sum();
        assert!((total - 1.0).abs() < 1e-6, "shares sum to 1: {total}");
        let honest = r.shares[&Population::Honest];
        assert!(honest > 0.5, "{}", table(std::slice::from_ref(&r)));
        assert!(r.shares[&Population::Hallucinating] < 0.05, "{}", table(std::slice::from_ref(&r)));
        assert!(r.copy_payoff < 0.05, "copying does not pay with randomized tasks");
        // Without task randomization copying pays: the simulator shows why it matters.
        let open =
            simulate(&SimSpec { randomized_tasks: false, ..spec }, &OwnerPolicy::default(), "same tasks").expect("sim");
        assert!(open.copy_payoff > 0.3, "{}", table(std::slice::from_ref(&open)));
        assert!(svg(&[r, open]).starts_with("<svg"));
    }

    /// The Ledger spammer's proposals are all refused under the validators' rules, so its Ledger
    /// score is 0 and it earns no more than a lazy miner (its orchestration is lazy): spam adds
    /// nothing. Before the rules, 1 of its 30 proposals a epoch was approved and it earned
    /// 4.5-9.1% of emission.
    #[test]
    fn ledger_spam_earns_nothing() {
        let policy = OwnerPolicy::default();
        for n in [0.0, 0.5, 0.99] {
            let a = ledger(Population::LedgerSpammer, n);
            assert_eq!(a.discoveries + a.confirmations, 0, "{a:?}");
            assert_eq!(a.false_proposals, 30);
            assert_eq!(ledger_score(&a, &policy), 0.0);
        }
        for split in [0.6, 0.3, 0.0] {
            let pol = OwnerPolicy { split, ..OwnerPolicy::default() };
            let spec = SimSpec { epochs: 8, ..SimSpec::default() };
            let r = simulate(&spec, &pol, "spam").expect("sim");
            let per = |p: Population| {
                let k = spec.populations.iter().find(|(q, _)| *q == p).map(|(_, k)| *k).unwrap_or(1);
                r.shares[&p] / f64::from(k)
            };
            assert!(
                per(Population::LedgerSpammer) <= per(Population::Lazy) * 1.05 + 1e-9,
                "split {split}: spam must not pay beyond lazy work\n{}",
                table(std::slice::from_ref(&r))
            );
            if split == 0.0 {
                // All emission is Ledger credit: the spammer gets none of it.
                assert!(r.shares[&Population::LedgerSpammer] < 1e-6, "{}", table(std::slice::from_ref(&r)));
            }
        }
    }

    #[test]
    fn gini_bounds() {
        assert_eq!(gini(&[1.0, 1.0, 1.0]), 0.0);
        assert!((gini(&[0.0, 0.0, 0.0, 1.0]) - 0.75).abs() < 1e-12);
        assert_eq!(gini(&[]), 0.0);
    }
}
