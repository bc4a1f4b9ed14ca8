//! The contract every Orchestrate task runs under: deadline, budget, quality floor, which
//! subnets may be used, and the retry policy. Miners refuse contracts they cannot meet up
//! front instead of failing late.

use serde::{Deserialize, Serialize};

use crate::ProtoError;

/// Shortest deadline a miner is asked to honour: below this no subnet round trip fits.
pub const MIN_DEADLINE_MS: u64 = 100;
/// Longest deadline: one tempo on finney is 72 minutes; a task must finish well inside it.
pub const MAX_DEADLINE_MS: u64 = 30 * 60 * 1000;
/// Upper bound on retries per step, so a contract cannot ask a miner to hammer a subnet.
pub const MAX_RETRIES: u32 = 10;

/// Terms of one task. Costs are in micro-units of the Ledger's cost unit (1e-6 USD-equivalent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    /// Wall-clock time allowed from receipt of the request to the response, in milliseconds.
    pub deadline_ms: u64,
    /// Maximum total cost of subnet calls, in micro-units.
    pub budget_micros: u64,
    /// Minimum acceptable quality in `[0, 1]` (the validator's verification score).
    #[serde(default)]
    pub quality_floor: f64,
    /// Netuids the miner may call; empty means any subnet in the Ledger.
    #[serde(default)]
    pub allowed_subnets: Vec<u16>,
    /// Retries per step before falling back to the next subnet.
    #[serde(default = "default_retries")]
    pub max_retries: u32,
}

fn default_retries() -> u32 {
    2
}

impl Default for Contract {
    fn default() -> Self {
        Contract {
            deadline_ms: 30_000,
            budget_micros: 1_000_000,
            quality_floor: 0.0,
            allowed_subnets: Vec::new(),
            max_retries: default_retries(),
        }
    }
}

impl Contract {
    /// Check the terms are satisfiable; the error says which term is wrong and why.
    pub fn validate(&self) -> Result<(), ProtoError> {
        if self.deadline_ms < MIN_DEADLINE_MS || self.deadline_ms > MAX_DEADLINE_MS {
            return Err(ProtoError::Contract(format!(
                "deadline_ms {} is outside {MIN_DEADLINE_MS}..={MAX_DEADLINE_MS}",
                self.deadline_ms
            )));
        }
        if !(0.0..=1.0).contains(&self.quality_floor) || self.quality_floor.is_nan() {
            return Err(ProtoError::Contract(format!("quality_floor {} is not in [0, 1]", self.quality_floor)));
        }
        if self.max_retries > MAX_RETRIES {
            return Err(ProtoError::Contract(format!("max_retries {} exceeds {MAX_RETRIES}", self.max_retries)));
        }
        let mut seen = std::collections::BTreeSet::new();
        for n in &self.allowed_subnets {
            if !seen.insert(n) {
                return Err(ProtoError::Contract(format!("allowed_subnets lists netuid {n} twice")));
            }
        }
        Ok(())
    }

    /// Whether the contract lets the miner call `netuid`.
    pub fn allows(&self, netuid: u16) -> bool {
        self.allowed_subnets.is_empty() || self.allowed_subnets.contains(&netuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_bad_terms_are_named() {
        assert!(Contract::default().validate().is_ok());
        let c = Contract { deadline_ms: 5, ..Contract::default() };
        assert!(c.validate().expect_err("deadline").to_string().contains("deadline_ms"));
        let c = Contract { quality_floor: 1.5, ..Contract::default() };
        assert!(c.validate().expect_err("quality").to_string().contains("quality_floor"));
        let c = Contract { quality_floor: f64::NAN, ..Contract::default() };
        assert!(c.validate().is_err());
        let c = Contract { allowed_subnets: vec![22, 22], ..Contract::default() };
        assert!(c.validate().expect_err("dup").to_string().contains("twice"));
        let c = Contract { max_retries: 99, ..Contract::default() };
        assert!(c.validate().is_err());
    }

    #[test]
    fn allows() {
        assert!(Contract::default().allows(13));
        let c = Contract { allowed_subnets: vec![22], ..Contract::default() };
        assert!(c.allows(22) && !c.allows(13));
    }
}
