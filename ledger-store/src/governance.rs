//! Governance: how proposals become Ledger changes.
//!
//! A proposal is shape-checked and deduplicated by the hash of the change it asks for (not of
//! who asked), so the first valid proposer of a change is credited with the discovery and later
//! proposers are recorded as confirmations. A [`Prober`] (the validator implements it) then
//! checks the claim against the live subnet; the decision, the new entry version, the credits
//! and the change events are written in one atomic batch.

use std::future::Future;

use orchestra_proto::canonical::{Digest, digest_in};
use orchestra_proto::ledger::{EntryStatus, LedgerEntry, Metrics, PROPOSAL_CONTEXT};
use orchestra_proto::schema_diff;
use orchestra_proto::synapses::{LedgerProposal, UpdateType};
use serde_json::{Value, json};

use crate::{
    ChangeKind, Confirmation, Credit, CreditKind, Decision, LedgerStore, ProposalRecord, ProposalStatus, StoreError,
    now_ms,
};

/// Longest accepted field path.
const MAX_FIELD_LEN: usize = 256;

/// The dedupe key of a proposal: the hash of the change itself (netuid, kind, field, old and
/// new value). Proposer, task and evidence are left out on purpose.
pub fn proposal_id(p: &LedgerProposal) -> Result<Digest, StoreError> {
    let content = json!({
        "netuid": p.netuid,
        "update_type": p.update_type,
        "field": p.field,
        "old_value": p.old_value,
        "new_value": p.new_value,
    });
    Ok(digest_in(PROPOSAL_CONTEXT, &content)?)
}

/// What happened to a received proposal.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A new change: this proposer gets the discovery credit if it is approved.
    New(Digest),
    /// The same change was already proposed by someone else: recorded as a confirmation.
    Confirmation(Digest),
    /// The same proposer sent the same change again: nothing recorded.
    Duplicate(Digest),
}

/// Check a proposal's shape before anything is stored. The error names the problem.
pub fn validate_shape(store: &LedgerStore, p: &LedgerProposal) -> Result<(), StoreError> {
    let bad = |m: String| Err(StoreError::Invalid(m));
    if p.evidence.is_empty() {
        return bad("a proposal must cite at least one receipt leaf as evidence".into());
    }
    if p.proposed_by.trim().is_empty() {
        return bad("proposed_by is empty".into());
    }
    if p.field.len() > MAX_FIELD_LEN || p.field.split('.').any(|s| s.is_empty()) && !p.field.is_empty() {
        return bad(format!("field `{}` is not a dotted path of non-empty segments", p.field));
    }
    let existing = store.entry(p.netuid)?;
    match p.update_type {
        UpdateType::NewSubnet => {
            if existing.is_some() {
                return bad(format!("netuid {} is already in the Ledger; propose a change instead", p.netuid));
            }
            let e: LedgerEntry = serde_json::from_value(p.new_value.clone())
                .map_err(|e| StoreError::Invalid(format!("new_value is not a Ledger entry: {e}")))?;
            if e.netuid != p.netuid {
                return bad(format!("new_value.netuid {} differs from netuid {}", e.netuid, p.netuid));
            }
            e.validate()?;
        }
        _ => {
            if existing.is_none() {
                return bad(format!("netuid {} is not in the Ledger; propose new_subnet first", p.netuid));
            }
        }
    }
    match p.update_type {
        UpdateType::SchemaChange if !(p.field.starts_with("output_schema") || p.field.starts_with("input_schema")) => {
            bad(format!("schema_change field `{}` must start with input_schema or output_schema", p.field))
        }
        UpdateType::EndpointChange if !p.field.starts_with("transports") => {
            bad(format!("endpoint_change field `{}` must start with transports", p.field))
        }
        UpdateType::CapabilityAdded if !p.new_value.is_string() => {
            bad("capability_added needs new_value to be the capability name".into())
        }
        UpdateType::MetricsUpdate if !p.field.starts_with("metrics") => {
            bad(format!("metrics_update field `{}` must start with metrics", p.field))
        }
        _ => Ok(()),
    }
}

/// Receive a proposal from `proposer` (the hotkey that served it, which the caller has
/// authenticated; it overrides whatever the proposal says).
pub fn receive(store: &LedgerStore, mut p: LedgerProposal, proposer: &str) -> Result<Received, StoreError> {
    p.proposed_by = proposer.to_string();
    validate_shape(store, &p)?;
    let id = proposal_id(&p)?;
    let (r, _) = store.write(|tx| match tx.store().proposal(&id)? {
        None => {
            let rec = ProposalRecord {
                id,
                proposal: p.clone(),
                first_proposer: proposer.to_string(),
                received_ms: now_ms(),
                confirmations: Vec::new(),
                status: ProposalStatus::Pending,
            };
            tx.put_proposal(&rec)?;
            tx.event(
                ChangeKind::ProposalReceived,
                Some(p.netuid),
                None,
                proposer,
                json!({"proposal_id": id, "update_type": p.update_type, "field": p.field}),
            )?;
            Ok(Received::New(id))
        }
        Some(mut rec) => {
            if rec.first_proposer == proposer || rec.confirmations.iter().any(|c| c.hotkey == proposer) {
                return Ok(Received::Duplicate(id));
            }
            rec.confirmations.push(Confirmation { hotkey: proposer.to_string(), at_ms: now_ms() });
            tx.put_proposal(&rec)?;
            tx.event(ChangeKind::ProposalConfirmed, Some(p.netuid), None, proposer, json!({"proposal_id": id}))?;
            Ok(Received::Confirmation(id))
        }
    })?;
    Ok(r)
}

/// Expand a schema field path: `output_schema.metadata.ts` addresses the property
/// `output_schema.properties.metadata.properties.ts` (the shorthand of the design's worked
/// example); a path that already names `properties` is taken literally.
fn expand_path(field: &str) -> Vec<String> {
    let segs: Vec<&str> = field.split('.').collect();
    let is_schema = matches!(segs.first(), Some(&"input_schema") | Some(&"output_schema"));
    if !is_schema || segs.contains(&"properties") {
        return segs.iter().map(|s| s.to_string()).collect();
    }
    let mut out = vec![segs[0].to_string()];
    for s in &segs[1..] {
        out.push("properties".into());
        out.push(s.to_string());
    }
    out
}

fn get_path<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = root;
    for seg in path {
        cur = match cur {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn set_path(root: &mut Value, path: &[String], value: Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("empty path".into());
    };
    let mut cur = root;
    for seg in parents {
        cur = match cur {
            Value::Object(m) => m.entry(seg.clone()).or_insert_with(|| json!({"type": "object", "properties": {}})),
            Value::Array(a) => {
                let i: usize = seg.parse().map_err(|_| format!("`{seg}` is not an array index"))?;
                a.get_mut(i).ok_or_else(|| format!("index {i} is out of range"))?
            }
            _ => return Err(format!("cannot descend into a scalar at `{seg}`")),
        };
    }
    match cur {
        Value::Object(m) => {
            if value.is_null() {
                m.remove(last);
            } else {
                m.insert(last.clone(), value);
            }
            Ok(())
        }
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| format!("`{last}` is not an array index"))?;
            let slot = a.get_mut(i).ok_or_else(|| format!("index {i} is out of range"))?;
            *slot = value;
            Ok(())
        }
        _ => Err("cannot set a field on a scalar".into()),
    }
}

/// The entry a proposal would produce, or why it cannot apply (e.g. `old_value` no longer
/// matches: the proposal is stale).
pub fn apply(current: Option<&LedgerEntry>, p: &LedgerProposal) -> Result<LedgerEntry, String> {
    if p.update_type == UpdateType::NewSubnet {
        let mut e: LedgerEntry = serde_json::from_value(p.new_value.clone()).map_err(|e| e.to_string())?;
        e.status = EntryStatus::Candidate;
        e.version = 0;
        return Ok(e);
    }
    let cur = current.ok_or_else(|| format!("netuid {} is not in the Ledger", p.netuid))?;
    let mut v = serde_json::to_value(cur).map_err(|e| e.to_string())?;
    match p.update_type {
        UpdateType::CapabilityAdded => {
            let cap = p.new_value.as_str().ok_or("capability name must be a string")?;
            if cur.has_capability(cap) {
                return Err(format!("capability `{cap}` is already listed"));
            }
            let mut e = cur.clone();
            e.capabilities.push(cap.to_string());
            return Ok(e);
        }
        UpdateType::Deprecation => {
            let mut e = cur.clone();
            e.status = EntryStatus::Deprecated;
            return Ok(e);
        }
        _ => {}
    }
    let path = expand_path(&p.field);
    let now = get_path(&v, &path).cloned().unwrap_or(Value::Null);
    if now != p.old_value {
        return Err(format!("stale: `{}` is {now} in the Ledger, the proposal expected {}", p.field, p.old_value));
    }
    if now == p.new_value {
        return Err(format!("no change: `{}` already equals the proposed value", p.field));
    }
    set_path(&mut v, &path, p.new_value.clone())?;
    let e: LedgerEntry = serde_json::from_value(v).map_err(|e| format!("the result is not a valid entry: {e}"))?;
    e.validate().map_err(|e| e.to_string())?;
    Ok(e)
}

/// What a probe of the live subnet concluded about a proposal.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOutcome {
    pub confirmed: bool,
    pub reason: String,
    /// What the probe saw (response digest, fields, status), stored with the decision.
    pub observation: Value,
    /// Fresh metrics from the probe, if it measured any.
    pub metrics: Option<Metrics>,
}

/// Checks a proposal against the live subnet. The validator implements it with real calls.
pub trait Prober: Send + Sync {
    /// Probe `proposed` (the entry as the proposal would make it; `current` is the entry now) by
    /// calling the subnet with the entry's fixture and checking the claimed change.
    fn probe(
        &self,
        current: Option<&LedgerEntry>,
        proposed: &LedgerEntry,
        proposal: &LedgerProposal,
    ) -> impl Future<Output = ProbeOutcome> + Send;
}

fn change_kind(u: UpdateType) -> ChangeKind {
    match u {
        UpdateType::NewSubnet => ChangeKind::EntryCreated,
        UpdateType::SchemaChange => ChangeKind::SchemaChanged,
        UpdateType::EndpointChange => ChangeKind::EndpointChanged,
        UpdateType::CapabilityAdded => ChangeKind::CapabilityAdded,
        UpdateType::MetricsUpdate => ChangeKind::MetricsUpdated,
        UpdateType::Deprecation => ChangeKind::EntryDeprecated,
    }
}

/// Probe a pending proposal and record the decision. `validator` is the deciding hotkey.
pub async fn govern<P: Prober>(
    store: &LedgerStore,
    prober: &P,
    id: &Digest,
    validator: &str,
) -> Result<Decision, StoreError> {
    let rec = store.proposal(id)?.ok_or_else(|| StoreError::NotFound(format!("proposal {id}")))?;
    if rec.status != ProposalStatus::Pending {
        return Err(StoreError::Conflict(format!("proposal {id} is already decided")));
    }
    let current = store.entry(rec.proposal.netuid)?;
    let outcome = match apply(current.as_ref(), &rec.proposal) {
        Err(reason) => ProbeOutcome { confirmed: false, reason, observation: Value::Null, metrics: None },
        Ok(proposed) => prober.probe(current.as_ref(), &proposed, &rec.proposal).await,
    };
    decide(store, id, outcome, validator)
}

/// Record a decision atomically: proposal status, decision with credits, and on approval the
/// new entry version; each with its change event. Fails with `Conflict` if already decided or
/// if the entry moved on since the proposal was applied (the caller may re-govern).
pub fn decide(
    store: &LedgerStore,
    id: &Digest,
    outcome: ProbeOutcome,
    validator: &str,
) -> Result<Decision, StoreError> {
    let (d, _) = store.write(|tx| {
        let mut rec = tx.store().proposal(id)?.ok_or_else(|| StoreError::NotFound(format!("proposal {id}")))?;
        if rec.status != ProposalStatus::Pending {
            return Err(StoreError::Conflict(format!("proposal {id} is already decided")));
        }
        let p = rec.proposal.clone();
        let current = tx.store().entry(p.netuid)?;
        let applied = if outcome.confirmed { apply(current.as_ref(), &p) } else { Err(outcome.reason.clone()) };
        let mut proposers = vec![rec.first_proposer.clone()];
        proposers.extend(rec.confirmations.iter().map(|c| c.hotkey.clone()));
        let now = now_ms();
        let decision = match applied {
            Ok(mut entry) => {
                let severity = current.as_ref().and_then(|c| {
                    let d1 = schema_diff::diff(&c.output_schema, &entry.output_schema);
                    let d2 = schema_diff::diff(&c.input_schema, &entry.input_schema);
                    schema_diff::severity(&[d1, d2].concat())
                });
                entry.status = if p.update_type == UpdateType::Deprecation {
                    EntryStatus::Deprecated
                } else {
                    EntryStatus::Verified
                };
                entry.last_verified_ms = Some(now);
                if let Some(m) = &outcome.metrics {
                    entry.metrics = m.clone();
                }
                if entry.provenance.proposer.is_none() || p.update_type == UpdateType::NewSubnet {
                    entry.provenance.proposer = Some(rec.first_proposer.clone());
                }
                if !entry.provenance.verifiers.iter().any(|v| v == validator) {
                    entry.provenance.verifiers.push(validator.to_string());
                }
                for ev in &p.evidence {
                    if !entry.provenance.evidence.contains(ev) {
                        entry.provenance.evidence.push(*ev);
                    }
                }
                let ev = tx.upsert_entry(
                    entry,
                    change_kind(p.update_type),
                    validator,
                    json!({"proposal_id": id, "field": p.field, "old_value": p.old_value, "new_value": p.new_value,
                           "severity": severity, "proposed_by": rec.first_proposer}),
                )?;
                rec.status = ProposalStatus::Approved;
                let mut credits = vec![Credit { hotkey: rec.first_proposer.clone(), kind: CreditKind::Discovery }];
                credits.extend(
                    rec.confirmations
                        .iter()
                        .map(|c| Credit { hotkey: c.hotkey.clone(), kind: CreditKind::Confirmation }),
                );
                Decision {
                    proposal_id: *id,
                    approved: true,
                    reason: outcome.reason.clone(),
                    decided_by: validator.to_string(),
                    decided_ms: now,
                    probe: outcome.observation.clone(),
                    version: ev.version,
                    credits,
                }
            }
            Err(reason) => {
                rec.status = ProposalStatus::Rejected { reason: reason.clone() };
                Decision {
                    proposal_id: *id,
                    approved: false,
                    reason,
                    decided_by: validator.to_string(),
                    decided_ms: now,
                    probe: outcome.observation.clone(),
                    version: None,
                    credits: proposers
                        .into_iter()
                        .map(|h| Credit { hotkey: h, kind: CreditKind::FalseProposal })
                        .collect(),
                }
            }
        };
        tx.put_proposal(&rec)?;
        tx.put_decision(&decision)?;
        let kind = if decision.approved { ChangeKind::ProposalApproved } else { ChangeKind::ProposalRejected };
        tx.event(
            kind,
            Some(p.netuid),
            decision.version,
            validator,
            json!({"proposal_id": id, "reason": decision.reason, "credits": decision.credits}),
        )?;
        Ok(decision)
    })?;
    Ok(d)
}
