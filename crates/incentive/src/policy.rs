//! The owner policy: how emissions are split between orchestration and Ledger work and how each
//! is scored. The subnet owner publishes it on chain as a commitment; every validator reads it.

use serde::{Deserialize, Serialize};

use crate::IncentiveError;

/// Weights of the orchestration sub-scores (normalized on use).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrchestrationWeights {
    /// Verified quality (schema, grounding, re-probe agreement).
    #[serde(rename = "q")]
    pub quality: f64,
    /// Speed against the contract deadline.
    #[serde(rename = "s")]
    pub speed: f64,
    /// Cost against the contract budget.
    #[serde(rename = "c")]
    pub cost: f64,
}

/// Credits for Ledger work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerCredits {
    /// First valid proposer of an approved change.
    #[serde(rename = "d")]
    pub discovery: f64,
    /// A later proposer of an approved change.
    #[serde(rename = "cf")]
    pub confirmation: f64,
    /// Subtracted per refuted proposal.
    #[serde(rename = "p")]
    pub false_penalty: f64,
    /// Most credited proposals per proposer per epoch (stops spam from paying).
    #[serde(rename = "cap")]
    pub per_epoch_cap: u32,
}

/// The published policy. Field names are short because the chain commitment is small.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OwnerPolicy {
    /// Policy format version.
    #[serde(rename = "v")]
    pub version: u32,
    /// Share of weight for orchestration; the rest goes to Ledger work. Default 0.6.
    #[serde(rename = "split")]
    pub split: f64,
    #[serde(rename = "ow")]
    pub orchestration: OrchestrationWeights,
    #[serde(rename = "lc")]
    pub ledger: LedgerCredits,
    /// Half-life of the orchestration EMA, in epochs.
    #[serde(rename = "hlo")]
    pub half_life_orchestration: f64,
    /// Half-life of the Ledger EMA, in epochs.
    #[serde(rename = "hll")]
    pub half_life_ledger: f64,
    /// Share of receipts a validator re-probes.
    #[serde(rename = "rp")]
    pub reprobe_rate: f64,
}

impl Default for OwnerPolicy {
    fn default() -> Self {
        OwnerPolicy {
            version: 1,
            split: 0.6,
            orchestration: OrchestrationWeights { quality: 0.6, speed: 0.25, cost: 0.15 },
            ledger: LedgerCredits { discovery: 1.0, confirmation: 0.2, false_penalty: 1.0, per_epoch_cap: 10 },
            half_life_orchestration: 4.0,
            half_life_ledger: 8.0,
            reprobe_rate: 0.2,
        }
    }
}

/// Largest commitment we publish: the chain's `Raw128` data variant.
pub const MAX_COMMITMENT_BYTES: usize = 128;

impl OwnerPolicy {
    /// Check every term; the error names the bad one.
    pub fn validate(&self) -> Result<(), IncentiveError> {
        let unit = |name: &str, v: f64| {
            if v.is_finite() && (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(IncentiveError::Policy(format!("{name} = {v} must be in [0, 1]")))
            }
        };
        if self.version != 1 {
            return Err(IncentiveError::Policy(format!("unsupported policy version {}", self.version)));
        }
        unit("split", self.split)?;
        unit("reprobe_rate", self.reprobe_rate)?;
        let w = &self.orchestration;
        for (n, v) in [("quality", w.quality), ("speed", w.speed), ("cost", w.cost)] {
            if !v.is_finite() || v < 0.0 {
                return Err(IncentiveError::Policy(format!("orchestration weight {n} = {v} must be ≥ 0")));
            }
        }
        if w.quality + w.speed + w.cost <= 0.0 {
            return Err(IncentiveError::Policy("orchestration weights are all zero".into()));
        }
        for (n, v) in
            [("half_life_orchestration", self.half_life_orchestration), ("half_life_ledger", self.half_life_ledger)]
        {
            if !v.is_finite() || !(0.1..=10_000.0).contains(&v) {
                return Err(IncentiveError::Policy(format!("{n} = {v} epochs must be in [0.1, 10000]")));
            }
        }
        let l = &self.ledger;
        for (n, v) in [("discovery", l.discovery), ("confirmation", l.confirmation), ("false_penalty", l.false_penalty)]
        {
            if !v.is_finite() || v < 0.0 {
                return Err(IncentiveError::Policy(format!("ledger credit {n} = {v} must be ≥ 0")));
            }
        }
        Ok(())
    }

    /// Compact JSON for the on-chain commitment (at most [`MAX_COMMITMENT_BYTES`]).
    pub fn to_commitment(&self) -> Result<Vec<u8>, IncentiveError> {
        self.validate()?;
        let bytes = serde_json::to_vec(self).map_err(|e| IncentiveError::Policy(e.to_string()))?;
        if bytes.len() > MAX_COMMITMENT_BYTES {
            return Err(IncentiveError::Policy(format!(
                "policy encodes to {} bytes; the commitment holds at most {MAX_COMMITMENT_BYTES}",
                bytes.len()
            )));
        }
        Ok(bytes)
    }

    /// Parse and validate a commitment read from chain.
    pub fn from_commitment(bytes: &[u8]) -> Result<Self, IncentiveError> {
        let p: OwnerPolicy = serde_json::from_slice(bytes)
            .map_err(|e| IncentiveError::Policy(format!("commitment is not a policy: {e}")))?;
        p.validate()?;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_fits_a_commitment_and_round_trips() {
        let p = OwnerPolicy::default();
        let b = p.to_commitment().expect("encode");
        assert!(b.len() <= MAX_COMMITMENT_BYTES, "{} bytes", b.len());
        assert_eq!(OwnerPolicy::from_commitment(&b).expect("decode"), p);
    }

    #[test]
    fn bad_terms_are_named() {
        let p = OwnerPolicy { split: 1.5, ..OwnerPolicy::default() };
        assert!(p.validate().expect_err("split").to_string().contains("split"));
        let p = OwnerPolicy { half_life_ledger: 0.0, ..OwnerPolicy::default() };
        assert!(p.validate().expect_err("hl").to_string().contains("half_life_ledger"));
        assert!(OwnerPolicy::from_commitment(b"{\"v\":1}").is_err());
        assert!(OwnerPolicy::from_commitment(b"garbage").is_err());
    }
}
