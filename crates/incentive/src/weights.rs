//! From per-miner EMA scores to the weights a validator submits:
//! `w = split × norm(orchestration) + (1 − split) × norm(ledger)`, then the SDK's u16 conversion.
//!
//! Each component is normalized over miners first, so the split is a split of emission and not
//! of raw score units. When nobody did any work of one kind, its share goes to the other kind
//! rather than being burned on no one.

use orchestra_proto::weights::convert_weights_and_uids_for_emit;

use crate::{IncentiveError, policy::OwnerPolicy};

/// One miner's smoothed scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinerScores {
    pub uid: u16,
    pub orchestration: f64,
    pub ledger: f64,
}

fn normalized(v: &[f64]) -> Option<Vec<f64>> {
    let clean: Vec<f64> = v.iter().map(|x| if x.is_finite() && *x > 0.0 { *x } else { 0.0 }).collect();
    let sum: f64 = clean.iter().sum();
    (sum > 0.0).then(|| clean.iter().map(|x| x / sum).collect())
}

/// Float weights per miner (summing to 1, or all zero when nobody earned anything).
pub fn combine(scores: &[MinerScores], policy: &OwnerPolicy) -> Result<Vec<(u16, f64)>, IncentiveError> {
    policy.validate()?;
    let mut seen = std::collections::HashSet::new();
    if let Some(d) = scores.iter().find(|s| !seen.insert(s.uid)) {
        return Err(IncentiveError::Input(format!("uid {} appears twice", d.uid)));
    }
    let o = normalized(&scores.iter().map(|s| s.orchestration).collect::<Vec<_>>());
    let l = normalized(&scores.iter().map(|s| s.ledger).collect::<Vec<_>>());
    let split = match (&o, &l) {
        (Some(_), Some(_)) => policy.split,
        (Some(_), None) => 1.0,
        (None, Some(_)) => 0.0,
        (None, None) => return Ok(scores.iter().map(|s| (s.uid, 0.0)).collect()),
    };
    Ok(scores
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let ov = o.as_ref().map(|v| v[i]).unwrap_or(0.0);
            let lv = l.as_ref().map(|v| v[i]).unwrap_or(0.0);
            (s.uid, split * ov + (1.0 - split) * lv)
        })
        .collect())
}

/// Weights as the chain takes them: uids and u16 values, max-upscaled, zeros dropped.
pub fn to_chain(weights: &[(u16, f64)]) -> Result<(Vec<u16>, Vec<u16>), IncentiveError> {
    let uids: Vec<u16> = weights.iter().map(|w| w.0).collect();
    let vals: Vec<f64> = weights.iter().map(|w| w.1).collect();
    Ok(convert_weights_and_uids_for_emit(&uids, &vals)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn split_applies_to_normalized_components() {
        let p = OwnerPolicy::default();
        let s = [
            MinerScores { uid: 1, orchestration: 10.0, ledger: 0.0 },
            MinerScores { uid: 2, orchestration: 0.0, ledger: 0.5 },
        ];
        let w = combine(&s, &p).expect("combine");
        assert!((w[0].1 - 0.6).abs() < 1e-12 && (w[1].1 - 0.4).abs() < 1e-12);
        let only_orch = [MinerScores { uid: 1, orchestration: 1.0, ledger: 0.0 }];
        assert_eq!(combine(&only_orch, &p).expect("combine")[0].1, 1.0);
        let dup = [s[0], s[0]];
        assert!(combine(&dup, &p).is_err());
        let (uids, vals) = to_chain(&w).expect("chain");
        assert_eq!(uids, vec![1, 2]);
        assert_eq!(vals[0], 65535);
    }

    proptest! {
        #[test]
        fn weights_sum_to_one_or_zero(v in proptest::collection::vec((0.0f64..10.0, 0.0f64..10.0), 1..50), split in 0.0f64..=1.0) {
            let p = OwnerPolicy { split, ..OwnerPolicy::default() };
            let s: Vec<MinerScores> = v.iter().enumerate().map(|(i, (o, l))| MinerScores { uid: i as u16, orchestration: *o, ledger: *l }).collect();
            let w = combine(&s, &p).expect("combine");
            let sum: f64 = w.iter().map(|x| x.1).sum();
            prop_assert!(sum == 0.0 || (sum - 1.0).abs() < 1e-9);
            prop_assert!(w.iter().all(|x| x.1 >= 0.0 && x.1.is_finite()));
        }
    }
}
