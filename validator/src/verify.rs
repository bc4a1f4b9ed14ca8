//! Verification of one Orchestrate response. Each check is a named sub-score stored with the
//! task, so a miner can see exactly why it scored what it did.
//!
//! - **signature**: the miner's hotkey signed `commitment(task_id, result_digest, root)`;
//! - **receipt_root**: the root recomputes from the receipts, and every evidence body hashes to
//!   its receipt's digests (the bodies are locked with the receipts);
//! - **schema**: the result validates against the target schema;
//! - **grounding**: the share of the result's values (numbers, names, text) that can be found in
//!   the receipted responses;
//! - **reprobe**: the validator re-issues a random sample of receipted requests itself and
//!   compares (exact canonical digest, or word-set similarity where answers vary);
//! - **deadline** and **cost**: response time over the deadline, receipted cost over the budget.

use std::collections::BTreeSet;
use std::time::Duration;

use orchestra_incentive::score::SubScores;
use orchestra_keys::{PublicKey, parse_signature_hex};
use orchestra_proto::canonical::{request_digest, response_digest};
use orchestra_proto::ledger::LedgerEntry;
use orchestra_proto::receipt::{CallStatus, commitment, receipt_root, result_digest};
use orchestra_proto::shorthand;
use orchestra_proto::synapses::{Orchestrate, OrchestrateRequest};
use orchestra_subnets::Adapters;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Everything measured about one response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    pub sub: SubScores,
    /// Why each failed check failed (empty when all passed).
    pub notes: Vec<String>,
    /// Receipts re-probed (indexes) and their agreement.
    pub reprobed: Vec<(usize, f64)>,
}

/// Knobs of verification.
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    /// Share of successful receipts to re-probe (at least one when any exist and rate > 0).
    pub reprobe_rate: f64,
    /// Seed of the re-probe sample (per task), so a miner cannot predict which receipts are
    /// re-probed but a validator can reproduce its own choice.
    pub seed: u64,
    pub reprobe_timeout: Duration,
}

/// Words of all strings in a JSON value, lowercased.
fn words(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            for w in s.split(|c: char| !c.is_alphanumeric() && c != '.' && c != '$').filter(|w| !w.is_empty()) {
                out.insert(w.trim_end_matches('.').to_lowercase());
            }
        }
        Value::Array(a) => a.iter().for_each(|x| words(x, out)),
        Value::Object(m) => m.values().for_each(|x| words(x, out)),
        Value::Number(n) => {
            out.insert(n.to_string());
        }
        _ => {}
    }
}

fn all_text(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Number(n) => {
            out.push_str(&n.to_string());
            out.push('\n');
        }
        Value::Array(a) => a.iter().for_each(|x| all_text(x, out)),
        Value::Object(m) => m.values().for_each(|x| all_text(x, out)),
        _ => {}
    }
}

/// Leaf values of the result worth grounding: numbers and non-trivial strings.
fn leaves<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Number(_) => out.push(v),
        Value::String(s) if s.trim().len() >= 3 => out.push(v),
        Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        Value::Object(m) => m.values().for_each(|x| leaves(x, out)),
        _ => {}
    }
}

/// Share of the result's leaf values traceable to the evidence: a number whose decimal text
/// appears in a response, a short string found verbatim, or prose whose words (≥ 80%) appear.
pub fn grounding(result: &Value, responses: &[&Value]) -> f64 {
    let mut corpus = String::new();
    let mut vocab = BTreeSet::new();
    for r in responses {
        all_text(r, &mut corpus);
        words(r, &mut vocab);
    }
    let corpus_lc = corpus.to_lowercase();
    let mut ls = Vec::new();
    leaves(result, &mut ls);
    if ls.is_empty() {
        return 0.0;
    }
    let grounded = ls
        .iter()
        .filter(|v| match v {
            Value::Number(n) => {
                let t = n.to_string();
                // 2.5 may be written $2.50 in a page.
                corpus.contains(&t) || n.as_f64().is_some_and(|f| corpus.contains(&format!("{f:.2}")))
            }
            Value::String(s) => {
                let s_lc = s.to_lowercase();
                if s.len() <= 80 {
                    return corpus_lc.contains(&s_lc);
                }
                let mut w = BTreeSet::new();
                words(v, &mut w);
                let hit = w.iter().filter(|x| vocab.contains(*x)).count();
                !w.is_empty() && hit as f64 / w.len() as f64 >= 0.8
            }
            _ => false,
        })
        .count();
    grounded as f64 / ls.len() as f64
}

/// Word-set (Jaccard) similarity of two JSON values' text, in `[0, 1]`.
pub fn similarity(a: &Value, b: &Value) -> f64 {
    let (mut wa, mut wb) = (BTreeSet::new(), BTreeSet::new());
    words(a, &mut wa);
    words(b, &mut wb);
    let union = wa.union(&wb).count();
    if union == 0 {
        return 1.0;
    }
    wa.intersection(&wb).count() as f64 / union as f64
}

fn pick(seed: u64, i: usize) -> f64 {
    let h = blake3::hash(format!("{seed}/{i}").as_bytes());
    h.as_bytes()[0] as f64 / 256.0
}

/// Verify `resp` against the request that was sent. `elapsed` is the round trip the validator
/// measured; `ledger` is the validator's own Ledger (re-probes go through it, never through
/// endpoints the miner names).
pub async fn verify(
    sent: &OrchestrateRequest,
    resp: &Orchestrate,
    expected_hotkey: &str,
    elapsed: Duration,
    ledger: &[LedgerEntry],
    adapters: &Adapters,
    cfg: &VerifyConfig,
) -> Verification {
    let mut notes = Vec::new();
    let mut sub = SubScores {
        signature: false,
        receipt_root: false,
        schema: false,
        grounding: 0.0,
        reprobe: None,
        latency_ratio: elapsed.as_secs_f64() * 1000.0 / sent.contract.deadline_ms.max(1) as f64,
        cost_ratio: 0.0,
        quality_floor: true,
    };
    let Some(result) = resp.result.as_ref() else {
        notes.push(format!("no result: {}", resp.error.as_deref().unwrap_or("the miner returned nothing")));
        return Verification { sub, notes, reprobed: Vec::new() };
    };
    if resp.request() != *sent {
        notes.push("the response does not echo the request that was sent".into());
        return Verification { sub, notes, reprobed: Vec::new() };
    }

    // Signature over the commitment.
    let root = receipt_root(&resp.receipts).ok();
    let sig_ok = (|| {
        if resp.miner_hotkey.as_deref() != Some(expected_hotkey) {
            return Err(format!("signed by {:?}, expected {expected_hotkey}", resp.miner_hotkey));
        }
        let pk = PublicKey::from_ss58(expected_hotkey).map_err(|e| e.to_string())?;
        let sig =
            parse_signature_hex(resp.miner_signature.as_deref().unwrap_or_default()).map_err(|e| e.to_string())?;
        let claimed = resp.receipt_root.ok_or("no receipt root")?;
        let rd = result_digest(result).map_err(|e| e.to_string())?;
        let c = commitment(&resp.task_id, &rd, &claimed);
        if pk.verify(&c.0, &sig) { Ok(()) } else { Err("signature does not verify over the commitment".to_string()) }
    })();
    match sig_ok {
        Ok(()) => sub.signature = true,
        Err(e) => notes.push(format!("signature: {e}")),
    }

    // Root and evidence.
    let mut root_ok = root.is_some() && root == resp.receipt_root;
    if !root_ok {
        notes.push("receipt_root does not match the receipts".into());
    }
    if resp.evidence.len() != resp.receipts.len() {
        root_ok = false;
        notes.push(format!("{} evidence bodies for {} receipts", resp.evidence.len(), resp.receipts.len()));
    } else {
        for (i, (r, e)) in resp.receipts.iter().zip(&resp.evidence).enumerate() {
            let rq = request_digest(&e.request).ok();
            let rs = response_digest(&e.response).ok();
            if rq != Some(r.request_digest) || rs != Some(r.response_digest) {
                root_ok = false;
                notes.push(format!("evidence {i} does not hash to receipt {i}"));
                break;
            }
        }
    }
    sub.receipt_root = root_ok;

    // Schema.
    match shorthand::to_json_schema(&sent.target_schema)
        .map_err(|e| e.to_string())
        .and_then(|s| jsonschema::validator_for(&s).map_err(|e| e.to_string()).map(|v| v.is_valid(result)))
    {
        Ok(true) => sub.schema = true,
        Ok(false) => notes.push("result does not validate against the target schema".into()),
        Err(e) => notes.push(format!("target schema: {e}")),
    }

    // Grounding against the bodies of successful calls only.
    let ok_bodies: Vec<&Value> = resp
        .receipts
        .iter()
        .zip(&resp.evidence)
        .filter(|(r, _)| r.status == CallStatus::Ok)
        .map(|(_, e)| &e.response)
        .collect();
    sub.grounding = if root_ok { grounding(result, &ok_bodies) } else { 0.0 };

    // Cost: what the receipts say was spent.
    let cost: u64 = resp.receipts.iter().map(|r| r.cost_micros).sum();
    sub.cost_ratio = cost as f64 / sent.contract.budget_micros.max(1) as f64;

    // Re-probe a sample of successful calls through our own Ledger entries.
    let mut reprobed = Vec::new();
    if root_ok && cfg.reprobe_rate > 0.0 {
        let candidates: Vec<usize> =
            resp.receipts.iter().enumerate().filter(|(_, r)| r.status == CallStatus::Ok).map(|(i, _)| i).collect();
        let mut sample: Vec<usize> =
            candidates.iter().copied().filter(|i| pick(cfg.seed, *i) < cfg.reprobe_rate).collect();
        if sample.is_empty()
            && let Some(first) =
                candidates.iter().copied().min_by(|a, b| pick(cfg.seed, *a).total_cmp(&pick(cfg.seed, *b)))
        {
            sample.push(first);
        }
        for i in sample {
            let r = &resp.receipts[i];
            let Some(entry) = ledger.iter().find(|e| e.netuid == r.netuid) else {
                notes.push(format!("receipt {i}: netuid {} is not in the validator's Ledger", r.netuid));
                reprobed.push((i, 0.0));
                continue;
            };
            let out = adapters.call(entry, &resp.evidence[i].request, "reprobe", cfg.reprobe_timeout).await;
            let agreement = match out.output {
                Ok(v) => {
                    if response_digest(&v).ok() == Some(r.response_digest) {
                        1.0
                    } else {
                        similarity(&v, &resp.evidence[i].response)
                    }
                }
                // The subnet failing now says nothing about the miner; count it neutral.
                Err(_) => 0.5,
            };
            reprobed.push((i, agreement));
        }
        if !reprobed.is_empty() {
            sub.reprobe = Some(reprobed.iter().map(|x| x.1).sum::<f64>() / reprobed.len() as f64);
        }
    }
    Verification { sub, notes, reprobed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn grounding_counts_traceable_values() {
        let bodies = [
            json!({"content": "NVIDIA H100 SXM: $2.49 per GPU-hour. Lambda Cloud."}),
            json!({"x": "[simulated LLM] Key figures: $2.49"}),
        ];
        let refs: Vec<&Value> = bodies.iter().collect();
        let good = json!({"name": "Lambda Cloud", "price": 2.49, "why": "[simulated LLM] Key figures: $2.49"});
        assert!((grounding(&good, &refs) - 1.0).abs() < 1e-9);
        let bad = json!({"name": "Acme GPU", "price": 1.11, "why": "trust me, this is the best price on the market today for sure"});
        assert_eq!(grounding(&bad, &refs), 0.0);
        assert!((similarity(&bodies[0], &bodies[0]) - 1.0).abs() < 1e-9);
        assert!(similarity(&bodies[0], &json!({"a": "totally different words"})) < 0.2);
    }
}
