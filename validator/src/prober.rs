//! The validator's [`Prober`]: decide a Ledger proposal by calling the live subnet with the
//! entry's fixture and checking the claimed change in what comes back. A probe that fails for a
//! transient reason (timeout, no connection, HTTP 5xx/429) decides nothing: the proposal waits
//! and is probed again, and nobody is penalized for a subnet that was briefly down.

use std::time::Duration;

use orchestra_ledger_store::governance::{ProbeOutcome, Prober, Undecided};
use orchestra_proto::ledger::{LedgerEntry, Metrics};
use orchestra_proto::synapses::{LedgerProposal, UpdateType};
use orchestra_subnets::probe::{ProbeClass, ProbeReport};
use orchestra_subnets::{Adapters, Drift};
use serde_json::json;

/// Probes subnets through the generic adapters (the guarded client, the operator's credentials).
#[derive(Debug, Clone)]
pub struct LiveProber {
    pub adapters: Adapters,
    pub timeout: Duration,
}

impl LiveProber {
    /// Call `entry`'s subnet with its fixture: the one probe the prober, the validator's
    /// scheduled re-probes and `orchestra subnet probe` all run.
    pub async fn observe(&self, entry: &LedgerEntry) -> ProbeReport {
        orchestra_subnets::probe::probe(&self.adapters, entry, self.timeout).await
    }
}

impl Prober for LiveProber {
    async fn probe(&self, current: Option<&LedgerEntry>, proposed: &LedgerEntry, p: &LedgerProposal) -> ProbeOutcome {
        let refuted = |reason: String, obs| ProbeOutcome::refuted(reason, obs);
        // Probe with the *proposed* entry: a moved endpoint must answer at its new place, and a
        // new schema field must be present in a live answer checked against the new schema.
        let report = self.observe(proposed).await;
        let out = &report.outcome;
        let latency = u32::try_from(report.latency_ms).unwrap_or(u32::MAX);
        let obs = json!({
            "latency_ms": latency,
            "response_digest": out.receipt.as_ref().map(|r| r.response_digest),
            "drift": out.drift,
            "class": report.class,
        });
        let v = match (&out.output, report.class) {
            (Ok(v), _) => v.clone(),
            // A fixed summary (status, timeout, refusal): never the subnet's own text, which
            // would be published with the decision.
            (Err(e), ProbeClass::Transient) => {
                // A subnet briefly down is not a false proposal: probed again later.
                return ProbeOutcome::undecided(
                    Undecided::Transient,
                    format!("the subnet did not answer the fixture: {}", e.summary()),
                    obs,
                );
            }
            (Err(e), ProbeClass::Local) => {
                return ProbeOutcome::undecided(
                    Undecided::Local,
                    format!("this validator cannot probe the subnet: {}", e.summary()),
                    obs,
                );
            }
            // A deprecation is decided by the re-probe rule: a subnet that fails in any way is
            // left to it (the proposal waits), one that answers refutes the claim.
            (Err(e), _) if p.update_type == UpdateType::Deprecation => {
                return ProbeOutcome::undecided(
                    Undecided::Transient,
                    format!("the subnet did not answer the fixture ({}); the re-probe rule decides", e.summary()),
                    obs,
                );
            }
            (Err(e), _) => return refuted(format!("the subnet did not answer the fixture: {}", e.summary()), obs),
        };
        // Our own measurement; the cost is the Ledger's, never a proposed value. Reliability
        // and percentiles over a window are the re-probe task's (`upkeep`).
        let metrics = Some(Metrics {
            latency_p50_ms: current.and_then(|c| c.metrics.latency_p50_ms).or(Some(latency)),
            latency_p95_ms: current.and_then(|c| c.metrics.latency_p95_ms).or(Some(latency)),
            reliability: current.and_then(|c| c.metrics.reliability),
            cost_micros: current.map(|c| c.metrics.cost_micros).unwrap_or(0),
        });
        match p.update_type {
            UpdateType::SchemaChange => {
                // Under the proposed schema the live answer must show no drift at the field.
                let field_path = p.field.trim_start_matches("output_schema.").trim_start_matches("input_schema.");
                let still = out.drift.iter().any(|d| match d {
                    Drift::Unknown { schema_path, .. }
                    | Drift::Retyped { schema_path, .. }
                    | Drift::Missing { schema_path, .. } => schema_path.ends_with(field_path),
                    Drift::Moved { .. } => false,
                });
                let present = current.is_some_and(|c| {
                    // With the current schema the live answer must have shown the drift, i.e. the
                    // claimed change is real and not already in the Ledger.
                    let d = orchestra_subnets::schema::detect(&c.output_schema, &v);
                    d.iter().any(|x| match x {
                        Drift::Unknown { schema_path, .. }
                        | Drift::Retyped { schema_path, .. }
                        | Drift::Missing { schema_path, .. } => {
                            schema_path == &p.field
                                || p.field.ends_with(schema_path.trim_start_matches("output_schema."))
                        }
                        Drift::Moved { .. } => false,
                    })
                });
                // A removal (`new_value` null) needs the same evidence as any change: the live
                // answer must show the drift under the current schema (a required field it no
                // longer returns). Removing an optional field the fixture's answer happens not
                // to contain proves nothing and earns nothing.
                if !still && present {
                    ProbeOutcome::confirmed("live response matches the proposed schema", obs, metrics)
                } else {
                    refuted("the live response does not show the claimed schema change".into(), obs)
                }
            }
            UpdateType::EndpointChange
            | UpdateType::NewSubnet
            | UpdateType::CapabilityAdded
            | UpdateType::MetricsUpdate => {
                // The proposed entry answered its fixture with a response matching its schema.
                if out.drift.is_empty() {
                    ProbeOutcome::confirmed("the proposed entry answers its fixture as described", obs, metrics)
                } else {
                    refuted("the proposed entry's live answer drifts from its schema".into(), obs)
                }
            }
            UpdateType::Deprecation => refuted("the subnet still answers; not deprecating".into(), obs),
        }
    }
}
