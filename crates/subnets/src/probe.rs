//! Probing: call a subnet with its Ledger entry's own fixture and classify what came back. This
//! is the one probe every tool runs: the validator's prober (deciding proposals), its scheduled
//! re-probes (keeping the Ledger true) and `orchestra subnet probe` (an operator checking an
//! endpoint and a key) all go through [`probe`], under the same guarded client and the operator's
//! credentials.

use std::time::{Duration, Instant};

use orchestra_proto::ledger::LedgerEntry;
use serde::Serialize;
use serde_json::Value;

use crate::{Adapters, CallOutcome, Drift, SubnetError};

/// What a probe says about the subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeClass {
    /// The subnet answered its fixture (maybe with drift from the entry's output schema).
    Answered,
    /// The subnet failed for a reason that may pass: a timeout, no connection, HTTP 5xx or 429.
    Transient,
    /// The subnet answered, but not usefully: another error status, a redirect, an answer that
    /// is not JSON or too large.
    Failed,
    /// This side could not make the call (no operator credential, a destination the network
    /// policy refuses, no signing key, a fixture its own schema refuses): says nothing about
    /// the subnet.
    Local,
}

impl ProbeClass {
    /// The class of a failed call's error.
    pub fn of(e: &SubnetError) -> ProbeClass {
        if e.is_local() {
            ProbeClass::Local
        } else if e.is_transient() {
            ProbeClass::Transient
        } else {
            ProbeClass::Failed
        }
    }
}

/// One probe: the call (receipt, evidence, output, drift), its wall time and its class.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    pub netuid: u16,
    pub class: ProbeClass,
    pub latency_ms: u64,
    pub outcome: CallOutcome,
}

impl ProbeReport {
    pub fn answered(&self) -> bool {
        self.class == ProbeClass::Answered
    }

    /// The answer, when there is one.
    pub fn output(&self) -> Option<&Value> {
        self.outcome.output.as_ref().ok()
    }

    pub fn error(&self) -> Option<&SubnetError> {
        self.outcome.output.as_ref().err()
    }

    /// A fixed description of a failure (no remote text), for records that are published.
    pub fn summary(&self) -> String {
        match self.error() {
            Some(e) => e.summary(),
            None if self.outcome.drift.is_empty() => "answered".into(),
            None => format!("answered with {} drift finding(s)", self.outcome.drift.len()),
        }
    }

    /// Tokens the answer reports using (OpenAI-compatible `usage`), if any.
    pub fn usage_tokens(&self) -> Option<u64> {
        self.output().and_then(usage_tokens)
    }

    /// The drift findings as paths (`data[].metadata`, `moved:/new`).
    pub fn drift_paths(&self) -> Vec<String> {
        self.outcome
            .drift
            .iter()
            .map(|d| match d {
                Drift::Unknown { path, .. } => format!("unknown:{path}"),
                Drift::Missing { path, .. } => format!("missing:{path}"),
                Drift::Retyped { path, .. } => format!("retyped:{path}"),
                Drift::Moved { to, .. } => format!("moved:{to}"),
            })
            .collect()
    }
}

/// Call `entry`'s subnet with its fixture (as plan step `probe`) within `timeout`.
pub async fn probe(adapters: &Adapters, entry: &LedgerEntry, timeout: Duration) -> ProbeReport {
    let t0 = Instant::now();
    let outcome = adapters.call(entry, &entry.fixture, "probe", timeout).await;
    let latency_ms = outcome.receipt.as_ref().map(|r| r.latency_ms).unwrap_or_else(|| t0.elapsed().as_millis() as u64);
    let class = match &outcome.output {
        Ok(_) => ProbeClass::Answered,
        Err(e) => ProbeClass::of(e),
    };
    ProbeReport { netuid: entry.netuid, class, latency_ms, outcome }
}

/// Tokens an OpenAI-compatible response says it used (`usage.total_tokens`, or prompt +
/// completion); `None` without a `usage` object.
pub fn usage_tokens(response: &Value) -> Option<u64> {
    let u = response.get("usage")?.as_object()?;
    let get = |k: &str| u.get(k).and_then(Value::as_u64);
    Some(
        get("total_tokens")
            .unwrap_or_else(|| get("prompt_tokens").unwrap_or(0) + get("completion_tokens").unwrap_or(0)),
    )
}

/// Micro-units for `tokens` at `micros_per_1k_tokens`, rounded up.
pub fn token_cost(tokens: u64, micros_per_1k_tokens: f64) -> u64 {
    let c = tokens as f64 * micros_per_1k_tokens.max(0.0) / 1000.0;
    if c.is_finite() { c.ceil() as u64 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classes_of_failures() {
        assert_eq!(ProbeClass::of(&SubnetError::Timeout(Duration::from_secs(1))), ProbeClass::Transient);
        assert_eq!(ProbeClass::of(&SubnetError::Connect("refused".into())), ProbeClass::Transient);
        assert_eq!(ProbeClass::of(&SubnetError::Status { code: 503, message: String::new() }), ProbeClass::Transient);
        assert_eq!(ProbeClass::of(&SubnetError::Status { code: 429, message: String::new() }), ProbeClass::Transient);
        assert_eq!(ProbeClass::of(&SubnetError::Status { code: 404, message: String::new() }), ProbeClass::Failed);
        assert_eq!(ProbeClass::of(&SubnetError::Malformed("x".into())), ProbeClass::Failed);
        assert_eq!(ProbeClass::of(&SubnetError::MissingSecret("x".into())), ProbeClass::Local);
        assert_eq!(ProbeClass::of(&SubnetError::Refused("x".into())), ProbeClass::Local);
    }

    #[test]
    fn token_usage() {
        assert_eq!(usage_tokens(&json!({"usage": {"total_tokens": 1500}})), Some(1500));
        assert_eq!(usage_tokens(&json!({"usage": {"prompt_tokens": 10, "completion_tokens": 5}})), Some(15));
        assert_eq!(usage_tokens(&json!({"data": []})), None);
        assert_eq!(token_cost(1500, 500.0), 750);
        assert_eq!(token_cost(1, 500.0), 1);
    }
}
