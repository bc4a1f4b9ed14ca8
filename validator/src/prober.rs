//! The validator's [`Prober`]: decide a Ledger proposal by calling the live subnet with the
//! entry's fixture and checking the claimed change in what comes back.

use std::time::Duration;

use orchestra_ledger_store::governance::{ProbeOutcome, Prober};
use orchestra_proto::ledger::{LedgerEntry, Metrics};
use orchestra_proto::synapses::{LedgerProposal, UpdateType};
use orchestra_subnets::{Adapters, Drift};
use serde_json::json;

/// Probes subnets through the generic adapters.
#[derive(Debug, Clone)]
pub struct LiveProber {
    pub adapters: Adapters,
    pub timeout: Duration,
}

impl Prober for LiveProber {
    async fn probe(&self, current: Option<&LedgerEntry>, proposed: &LedgerEntry, p: &LedgerProposal) -> ProbeOutcome {
        let refuted = |reason: String, obs| ProbeOutcome { confirmed: false, reason, observation: obs, metrics: None };
        // Probe with the *proposed* entry: a moved endpoint must answer at its new place, and a
        // new schema field must be present in a live answer checked against the new schema.
        let t0 = std::time::Instant::now();
        let out = self.adapters.call(proposed, &proposed.fixture, "probe", self.timeout).await;
        let latency = t0.elapsed().as_millis() as u32;
        let obs = json!({
            "latency_ms": latency,
            "response_digest": out.receipt.as_ref().map(|r| r.response_digest),
            "drift": out.drift,
        });
        let v = match out.output {
            Ok(v) => v,
            // A fixed summary (status, timeout, refusal): never the subnet's own text, which
            // would be published with the decision.
            Err(e) => return refuted(format!("the subnet did not answer the fixture: {}", e.summary()), obs),
        };
        // Our own measurement; the cost is the Ledger's, never a proposed value.
        let metrics = Some(Metrics {
            latency_p50_ms: Some(latency),
            latency_p95_ms: Some(latency),
            reliability: current.and_then(|c| c.metrics.reliability).or(Some(1.0)),
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
                    ProbeOutcome {
                        confirmed: true,
                        reason: "live response matches the proposed schema".into(),
                        observation: obs,
                        metrics,
                    }
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
                    ProbeOutcome {
                        confirmed: true,
                        reason: "the proposed entry answers its fixture as described".into(),
                        observation: obs,
                        metrics,
                    }
                } else {
                    refuted("the proposed entry's live answer drifts from its schema".into(), obs)
                }
            }
            UpdateType::Deprecation => refuted("the subnet still answers; not deprecating".into(), obs),
        }
    }
}
