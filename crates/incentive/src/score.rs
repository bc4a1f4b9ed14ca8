//! Scores: one orchestration score per verified task from named sub-scores, and one Ledger
//! score per miner per epoch from proposal credits.

use serde::{Deserialize, Serialize};

use crate::policy::OwnerPolicy;

// The sub-scores and the score are wire types (task records, the gateway's answers): they live
// in `proto::score`; the rules that compute them live here.
pub use orchestra_proto::score::{SubScores, TaskScore};

fn clamp01(x: f64) -> f64 {
    if x.is_finite() { x.clamp(0.0, 1.0) } else { 0.0 }
}

/// Score one task. A response that fails its signature or receipt root scores zero outright:
/// without them nothing else it claims can be trusted.
pub fn task_score(s: &SubScores, policy: &OwnerPolicy) -> TaskScore {
    let zero = |why: &str| TaskScore { quality: 0.0, speed: 0.0, cost: 0.0, total: 0.0, zeroed: Some(why.into()) };
    if !s.signature {
        return zero("signature does not verify");
    }
    if !s.receipt_root {
        return zero("receipt root does not match the receipts");
    }
    if !s.schema {
        return zero("result does not validate against the target schema");
    }
    if s.contradicted {
        return zero("a re-probe contradicts the receipted evidence");
    }
    // Support: values traceable to the evidence, and (when the miner cites) cited exactly.
    let grounding = clamp01(s.grounding);
    let support = match s.citations {
        Some(c) => 0.5 * grounding + 0.5 * clamp01(c),
        None => grounding,
    };
    // Truth: agreement with the validator's own answer. Squared so a schema-valid answer that
    // is half wrong keeps a quarter of the credit, not half: wrong answers must not pay.
    let truth = s.accuracy.map(clamp01).map(|a| a * a).unwrap_or(1.0);
    // A re-probe that disagrees (or could not be made) counts 0 for its part, halving quality;
    // support, truth and reproducibility multiply, since each alone can be faked.
    let quality = match s.reprobe {
        Some(r) => support * truth * (0.5 + 0.5 * clamp01(r)),
        None => support * truth,
    };
    let quality = if s.quality_floor { quality } else { quality * 0.5 };
    // Meeting the deadline early is worth more, missing it is worth nothing.
    let speed =
        if s.latency_ratio.is_finite() && s.latency_ratio <= 1.0 { 1.0 - 0.5 * clamp01(s.latency_ratio) } else { 0.0 };
    let cost = if s.cost_ratio.is_finite() && s.cost_ratio <= 1.0 { 1.0 - 0.5 * clamp01(s.cost_ratio) } else { 0.0 };
    let w = &policy.orchestration;
    let wsum = w.quality + w.speed + w.cost;
    let total = if wsum > 0.0 { (w.quality * quality + w.speed * speed + w.cost * cost) / wsum } else { 0.0 };
    // Quality gates the rest: a fast, cheap, ungrounded answer must not out-earn a good one.
    let total = total * quality.sqrt();
    TaskScore { quality, speed, cost, total: clamp01(total), zeroed: None }
}

/// One miner's decided proposals in an epoch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LedgerActivity {
    pub discoveries: u32,
    pub confirmations: u32,
    pub false_proposals: u32,
}

/// Ledger score for an epoch: credits (capped per epoch) times accuracy, never below zero.
pub fn ledger_score(a: &LedgerActivity, policy: &OwnerPolicy) -> f64 {
    let c = &policy.ledger;
    let cap = c.per_epoch_cap;
    let good = a.discoveries + a.confirmations;
    let decided = good + a.false_proposals;
    if decided == 0 {
        return 0.0;
    }
    let d = a.discoveries.min(cap);
    let cf = a.confirmations.min(cap.saturating_sub(d));
    let credits = d as f64 * c.discovery + cf as f64 * c.confirmation;
    let accuracy = good as f64 / decided as f64;
    (credits * accuracy - a.false_proposals as f64 * c.false_penalty).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> SubScores {
        SubScores {
            signature: true,
            receipt_root: true,
            schema: true,
            grounding: 1.0,
            reprobe: Some(1.0),
            latency_ratio: 0.2,
            cost_ratio: 0.1,
            quality_floor: true,
            citations: Some(1.0),
            accuracy: Some(1.0),
            contradicted: false,
        }
    }

    #[test]
    fn failed_signature_or_root_zeroes() {
        let p = OwnerPolicy::default();
        assert!(task_score(&good(), &p).total > 0.8);
        assert_eq!(task_score(&SubScores { signature: false, ..good() }, &p).total, 0.0);
        assert_eq!(task_score(&SubScores { receipt_root: false, ..good() }, &p).total, 0.0);
        assert_eq!(task_score(&SubScores { schema: false, ..good() }, &p).total, 0.0);
    }

    #[test]
    fn hallucination_loses_to_grounded_work() {
        let p = OwnerPolicy::default();
        let honest = task_score(&SubScores { latency_ratio: 0.6, cost_ratio: 0.5, ..good() }, &p).total;
        let hallucinating = task_score(
            &SubScores { grounding: 0.0, reprobe: Some(0.0), latency_ratio: 0.01, cost_ratio: 0.0, ..good() },
            &p,
        )
        .total;
        assert!(honest > hallucinating, "{honest} vs {hallucinating}");
        let late = task_score(&SubScores { latency_ratio: 1.5, ..good() }, &p);
        assert_eq!(late.speed, 0.0);
    }

    #[test]
    fn wrong_or_fabricated_answers_do_not_pay() {
        let p = OwnerPolicy::default();
        let honest = task_score(&SubScores { accuracy: Some(0.95), ..good() }, &p).total;
        // Schema-valid, fully cited, but wrong in most fields: under 0.3 of honest.
        let wrong = task_score(&SubScores { accuracy: Some(0.3), ..good() }, &p).total;
        assert!(wrong < 0.3 * honest, "{wrong} vs {honest}");
        let caught = task_score(&SubScores { contradicted: true, ..good() }, &p);
        assert_eq!(caught.total, 0.0);
        assert!(caught.zeroed.as_deref().is_some_and(|z| z.contains("contradicts")));
        // Uncited answers lose half their support.
        let uncited = task_score(&SubScores { citations: Some(0.0), ..good() }, &p).total;
        assert!(uncited < 0.8 * task_score(&good(), &p).total);
    }

    #[test]
    fn ledger_cap_and_penalty() {
        let p = OwnerPolicy::default();
        assert_eq!(ledger_score(&LedgerActivity::default(), &p), 0.0);
        let honest = ledger_score(&LedgerActivity { discoveries: 2, confirmations: 1, false_proposals: 0 }, &p);
        assert!((honest - 2.2).abs() < 1e-12);
        let spam = ledger_score(&LedgerActivity { discoveries: 500, confirmations: 0, false_proposals: 0 }, &p);
        assert!((spam - 10.0).abs() < 1e-12, "capped");
        let liar = ledger_score(&LedgerActivity { discoveries: 1, confirmations: 0, false_proposals: 20 }, &p);
        assert_eq!(liar, 0.0);
    }
}
