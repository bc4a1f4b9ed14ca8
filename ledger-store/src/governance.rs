//! Governance: how proposals become Ledger changes.
//!
//! A proposal is shape-checked and deduplicated by the hash of the change it asks for (not of
//! who asked), so the first valid proposer of a change is credited with the discovery and later
//! proposers are recorded as confirmations. A [`Prober`] (the validator implements it) then
//! checks the claim against the live subnet; the decision, the new entry version, the credits
//! and the change events are written in one atomic batch.
//!
//! Trust rules (miners are untrusted; see `docs/threat-model.md`):
//! - Miners may propose schema drift and deprecations, never capabilities, transports, URLs or
//!   credentials: `endpoint_change` is refused, and a `new_subnet` entry may only name
//!   metagraph-routed axon transports (no URL, fixed endpoint, hotkey or credential).
//! - Metrics come only from the validator's own measurements: `metrics_update` is refused.
//! - A proposal that changes nothing (including a field the entry model does not have, which
//!   deserialization would drop) or is already stale is refused when it is received.
//! - A confirmation counts only while the proposal is pending; after a decision it is
//!   [`Received::AlreadyDecided`] and earns nothing.
//! - New subnets stay [`EntryStatus::Candidate`] when approved; a candidate becomes
//!   [`EntryStatus::Verified`] only through [`promote`] / [`promote_observed`] (N successful
//!   probes spread over at least T, no failure in between). [`LedgerEntry::verifies`] says which
//!   entries may be used to verify anyone's work.
//! - A transient outage is not a false proposal: when the decisive probe fails for a network or
//!   5xx reason ([`Undecided::Transient`]) the proposal stays pending and is probed again later
//!   ([`govern_with`], [`due_deferred`]); after [`DeferRule::give_up_after`] it is closed without
//!   credit or penalty. A probe this validator cannot make at all ([`Undecided::Local`]: no
//!   credential, a refused destination) closes it the same way at once.
//! - A deprecation is approved only once the validators' own re-probe rule has deprecated the
//!   entry ([`crate::upkeep`]); a subnet that answers refutes it, one that does not defers it.

use std::future::Future;

use orchestra_proto::canonical::{Digest, digest_in};
use orchestra_proto::ledger::{EntryStatus, LedgerEntry, Metrics, PROPOSAL_CONTEXT, TransportSpec};
use orchestra_proto::schema_diff;
use orchestra_proto::synapses::{LedgerProposal, UpdateType};
use serde_json::{Value, json};

use crate::keys::{DEFERRED, DecimalNetuid, HexDigest, PROMOTIONS};
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
    /// The change was already decided: nothing recorded, nothing credited.
    AlreadyDecided(Digest),
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
    if let Some(why) = p.miner_refusal() {
        return bad(why);
    }
    // A schema change may only touch the schemas (not, say, `transports.0.url`).
    let schema_field = |f: &str| {
        let root = f.split('.').next().unwrap_or_default();
        root == "input_schema" || root == "output_schema"
    };
    match p.update_type {
        UpdateType::SchemaChange if !schema_field(&p.field) => {
            return bad(format!("schema_change field `{}` must start with input_schema or output_schema", p.field));
        }
        UpdateType::CapabilityAdded if !p.new_value.is_string() => {
            return bad("capability_added needs new_value to be the capability name".into());
        }
        _ => {}
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
            e.validate().map_err(|e| StoreError::Invalid(format!("new_value: {e}")))?;
            // Checked again on the parsed entry (miner_refusal read the raw JSON).
            if e.transports.iter().any(TransportSpec::is_addressed) {
                return bad("a new_subnet proposal may not name URLs, endpoints or credentials".into());
            }
        }
        _ => {
            let Some(cur) = existing.as_ref() else {
                return bad(format!("netuid {} is not in the Ledger; propose new_subnet first", p.netuid));
            };
            // Refuse what would change nothing (or no longer applies) now, before it is stored
            // and probed: a no-op must never be approved and credited.
            apply(Some(cur), p).map_err(StoreError::Invalid)?;
        }
    }
    Ok(())
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
            if rec.status != ProposalStatus::Pending {
                return Ok(Received::AlreadyDecided(id));
            }
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
        // Status, metrics and provenance are the Ledger's own, never the proposer's.
        e.status = EntryStatus::Candidate;
        e.version = 0;
        e.metrics = Metrics::default();
        e.provenance = Default::default();
        e.last_verified_ms = None;
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
            if cur.status == EntryStatus::Deprecated {
                return Err(format!("no change: netuid {} is already deprecated", cur.netuid));
            }
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
    // A field the entry model does not have is dropped by deserialization: the "change" would
    // leave the entry as it is.
    if &e == cur {
        return Err(format!("no change: `{}` is not a field the entry has, or setting it changes nothing", p.field));
    }
    Ok(e)
}

/// Why a probe could not judge a proposal on its merits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Undecided {
    /// The subnet did not answer for a reason that may pass (timeout, connection failure, HTTP
    /// 5xx or 429): the proposal stays pending and is probed again later.
    Transient,
    /// This validator cannot probe the subnet (no operator credential, a destination its network
    /// policy refuses, no signing key): closed at once, without credit or penalty.
    Local,
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
    /// Set when the probe could not judge the claim (`confirmed` is then false): nobody is
    /// credited or penalized for it.
    pub undecided: Option<Undecided>,
}

impl ProbeOutcome {
    /// The probe confirmed the claim.
    pub fn confirmed(reason: impl Into<String>, observation: Value, metrics: Option<Metrics>) -> Self {
        ProbeOutcome { confirmed: true, reason: reason.into(), observation, metrics, undecided: None }
    }

    /// The probe refuted the claim (its proposers are penalized).
    pub fn refuted(reason: impl Into<String>, observation: Value) -> Self {
        ProbeOutcome { confirmed: false, reason: reason.into(), observation, metrics: None, undecided: None }
    }

    /// The probe could not judge the claim.
    pub fn undecided(kind: Undecided, reason: impl Into<String>, observation: Value) -> Self {
        ProbeOutcome { confirmed: false, reason: reason.into(), observation, metrics: None, undecided: Some(kind) }
    }
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

/// What [`govern`] did with a pending proposal.
#[derive(Debug, Clone, PartialEq)]
pub enum Governed {
    Decided(Decision),
    /// The subnet did not answer for a transient reason: the proposal stays pending, nobody is
    /// penalized, and it is probed again from `next_ms` (see [`due_deferred`]).
    Deferred {
        reason: String,
        attempts: u32,
        next_ms: u64,
    },
}

impl Governed {
    pub fn decision(&self) -> Option<&Decision> {
        match self {
            Governed::Decided(d) => Some(d),
            Governed::Deferred { .. } => None,
        }
    }

    pub fn into_decision(self) -> Option<Decision> {
        match self {
            Governed::Decided(d) => Some(d),
            Governed::Deferred { .. } => None,
        }
    }
}

/// How proposals whose probe failed transiently are retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeferRule {
    /// Wait at least this long before probing a deferred proposal again.
    pub retry_after: std::time::Duration,
    /// Close a proposal still undecidable this long after its first deferral (no credit, no
    /// penalty).
    pub give_up_after: std::time::Duration,
}

impl Default for DeferRule {
    fn default() -> Self {
        DeferRule {
            retry_after: std::time::Duration::from_secs(300),
            give_up_after: std::time::Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// A pending proposal whose probe failed transiently (kept beside the Ledger, not in the change
/// feed).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Deferral {
    pub id: Digest,
    pub netuid: u16,
    pub attempts: u32,
    pub first_ms: u64,
    pub next_ms: u64,
    /// The last probe's failure (a fixed summary, never remote text).
    pub reason: String,
}

/// Every deferred proposal.
pub fn deferred(store: &LedgerStore) -> Result<Vec<Deferral>, StoreError> {
    Ok(DEFERRED.scan(store.db())?.into_iter().map(|(_, d)| d).collect())
}

/// Deferred proposals due for another probe at `now_ms`, longest waiting first.
pub fn due_deferred(store: &LedgerStore, now_ms: u64) -> Result<Vec<Digest>, StoreError> {
    let mut due: Vec<Deferral> = deferred(store)?.into_iter().filter(|d| d.next_ms <= now_ms).collect();
    due.sort_by_key(|d| d.next_ms);
    Ok(due.into_iter().map(|d| d.id).collect())
}

/// Probe a pending proposal and record the decision (or defer it) under the default
/// [`DeferRule`]. `validator` is the deciding hotkey.
pub async fn govern<P: Prober>(
    store: &LedgerStore,
    prober: &P,
    id: &Digest,
    validator: &str,
) -> Result<Governed, StoreError> {
    govern_with(store, prober, id, validator, &DeferRule::default()).await
}

/// Probe a pending proposal and record the decision. A probe that fails transiently defers the
/// proposal instead (no decision, no penalty) until `rule.give_up_after` has passed since its
/// first deferral; then it is closed without credit or penalty.
pub async fn govern_with<P: Prober>(
    store: &LedgerStore,
    prober: &P,
    id: &Digest,
    validator: &str,
    rule: &DeferRule,
) -> Result<Governed, StoreError> {
    let rec = store.proposal(id)?.ok_or_else(|| StoreError::NotFound(format!("proposal {id}")))?;
    if rec.status != ProposalStatus::Pending {
        return Err(StoreError::Conflict(format!("proposal {id} is already decided")));
    }
    let current = store.entry(rec.proposal.netuid)?;
    let outcome = if already_deprecated(&rec.proposal, current.as_ref()) {
        // The validators' re-probe rule deprecated the entry while the proposal waited: the
        // proposer was right.
        ProbeOutcome::confirmed("the entry was deprecated by the validators' re-probe rule", Value::Null, None)
    } else {
        match apply(current.as_ref(), &rec.proposal) {
            Err(reason) => ProbeOutcome::refuted(reason, Value::Null),
            Ok(proposed) => prober.probe(current.as_ref(), &proposed, &rec.proposal).await,
        }
    };
    if outcome.undecided == Some(Undecided::Transient) {
        let key = HexDigest(*id);
        let now = now_ms();
        let mut d: Deferral = DEFERRED.get(store.db(), &key)?.unwrap_or(Deferral {
            id: *id,
            netuid: rec.proposal.netuid,
            attempts: 0,
            first_ms: now,
            next_ms: now,
            reason: String::new(),
        });
        d.attempts = d.attempts.saturating_add(1);
        d.reason = outcome.reason.clone();
        if now.saturating_sub(d.first_ms) < rule.give_up_after.as_millis() as u64 {
            d.next_ms = now.saturating_add(rule.retry_after.as_millis() as u64);
            store.write(|tx| Ok(DEFERRED.put(tx.batch(), &key, &d)?))?;
            return Ok(Governed::Deferred { reason: d.reason, attempts: d.attempts, next_ms: d.next_ms });
        }
        let reason = format!(
            "undecidable: the subnet did not answer {} probes over {} s (last: {})",
            d.attempts,
            now.saturating_sub(d.first_ms) / 1000,
            outcome.reason
        );
        return decide(store, id, ProbeOutcome { reason, ..outcome }, validator).map(Governed::Decided);
    }
    decide(store, id, outcome, validator).map(Governed::Decided)
}

/// A deprecation of an entry that is deprecated already (by the re-probe rule).
fn already_deprecated(p: &LedgerProposal, current: Option<&LedgerEntry>) -> bool {
    p.update_type == UpdateType::Deprecation && current.is_some_and(|c| c.status == EntryStatus::Deprecated)
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
        DEFERRED.delete(tx.batch(), &HexDigest(*id));
        let mut proposers = vec![rec.first_proposer.clone()];
        proposers.extend(rec.confirmations.iter().map(|c| c.hotkey.clone()));
        let now = now_ms();
        let approval_credits = |rec: &ProposalRecord| {
            let mut credits = vec![Credit { hotkey: rec.first_proposer.clone(), kind: CreditKind::Discovery }];
            credits.extend(
                rec.confirmations.iter().map(|c| Credit { hotkey: c.hotkey.clone(), kind: CreditKind::Confirmation }),
            );
            credits
        };
        if outcome.confirmed && already_deprecated(&p, current.as_ref()) {
            // Nothing to write: the entry is deprecated already. The proposers were right.
            rec.status = ProposalStatus::Approved;
            let decision = Decision {
                proposal_id: *id,
                approved: true,
                reason: outcome.reason.clone(),
                decided_by: validator.to_string(),
                decided_ms: now,
                probe: outcome.observation.clone(),
                version: current.as_ref().map(|c| c.version),
                credits: approval_credits(&rec),
            };
            tx.put_proposal(&rec)?;
            tx.put_decision(&decision)?;
            tx.event(
                ChangeKind::ProposalApproved,
                Some(p.netuid),
                decision.version,
                validator,
                json!({"proposal_id": id, "reason": decision.reason, "credits": decision.credits}),
            )?;
            return Ok(decision);
        }
        let applied = if outcome.confirmed { apply(current.as_ref(), &p) } else { Err(outcome.reason.clone()) };
        let decision = match applied {
            Ok(mut entry) => {
                let severity = current.as_ref().and_then(|c| {
                    let d1 = schema_diff::diff(&c.output_schema, &entry.output_schema);
                    let d2 = schema_diff::diff(&c.input_schema, &entry.input_schema);
                    schema_diff::severity(&[d1, d2].concat())
                });
                // An approval never makes an entry Verified by itself: a new subnet (or a moved
                // endpoint) stays a candidate until `promote`; other changes keep the status.
                entry.status = match p.update_type {
                    UpdateType::Deprecation => EntryStatus::Deprecated,
                    UpdateType::NewSubnet | UpdateType::EndpointChange => EntryStatus::Candidate,
                    _ => current.as_ref().map(|c| c.status).unwrap_or(EntryStatus::Candidate),
                };
                entry.last_verified_ms = Some(now);
                if let Some(m) = &outcome.metrics {
                    entry.metrics = m.clone();
                }
                if p.update_type == UpdateType::NewSubnet {
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
                let credits = approval_credits(&rec);
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
                    // A claim the probe could not judge (the subnet unreachable for too long, or
                    // not probeable by this validator) is closed without a penalty.
                    credits: if outcome.undecided.is_some() {
                        Vec::new()
                    } else {
                        proposers.into_iter().map(|h| Credit { hotkey: h, kind: CreditKind::FalseProposal }).collect()
                    },
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

/// When a candidate entry becomes Verified: at least `min_probes` successful probes, the first
/// and the latest at least `min_span` apart, with at least `min_gap` between counted probes
/// and no failed probe in between (a failure starts the count again).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PromotionRule {
    pub min_probes: u32,
    pub min_span: std::time::Duration,
    pub min_gap: std::time::Duration,
}

impl Default for PromotionRule {
    fn default() -> Self {
        PromotionRule {
            min_probes: 3,
            min_span: std::time::Duration::from_secs(3600),
            min_gap: std::time::Duration::from_secs(600),
        }
    }
}

/// What [`promote`] did to one candidate.
#[derive(Debug, Clone, PartialEq)]
pub enum Promotion {
    /// Probed too recently: nothing done.
    NotDue,
    /// The probe succeeded and was counted; `probes_ok` so far.
    Counted(u32),
    /// The probe failed: the count starts again.
    Reset,
    /// The rule is met: the entry is now Verified.
    Verified,
}

/// Probe one candidate entry with its own fixture (through `prober`, as a no-change proposal)
/// and move it towards Verified under `rule`. Only this validator's own probes count; nothing a
/// miner sends is involved. Entries that are not candidates are left alone.
pub async fn promote<P: Prober>(
    store: &LedgerStore,
    prober: &P,
    netuid: u16,
    validator: &str,
    rule: &PromotionRule,
) -> Result<Promotion, StoreError> {
    let Some(entry) = store.entry(netuid)? else {
        return Err(StoreError::NotFound(format!("netuid {netuid}")));
    };
    if entry.status != EntryStatus::Candidate {
        return Ok(Promotion::NotDue);
    }
    let st = promotion_state(store, &entry)?;
    if let Some(last) = st.last_probe_ms
        && now_ms().saturating_sub(last) < rule.min_gap.as_millis() as u64
    {
        return Ok(Promotion::NotDue);
    }
    let probe = LedgerProposal {
        netuid,
        subnet: entry.name.clone(),
        update_type: UpdateType::CapabilityAdded,
        field: String::new(),
        old_value: Value::Null,
        new_value: Value::Null,
        evidence: Vec::new(),
        task_id: String::new(),
        proposed_by: validator.to_string(),
    };
    let outcome = prober.probe(Some(&entry), &entry, &probe).await;
    promote_observed(store, netuid, validator, rule, outcome.confirmed, None)
}

/// Count one probe of a candidate that the caller already made (the validator's re-probe task
/// probes every entry once per turn and reports here): a success counts if at least
/// `rule.min_gap` passed since the last counted probe (otherwise [`Promotion::NotDue`]), a
/// failure starts the count again. When the rule is met the entry becomes Verified (with
/// `metrics`, the caller's measurements over its window, when given). The count lives beside
/// the Ledger, not in the entry: probes that do not promote change neither the entry's version,
/// nor the root, nor the change feed.
pub fn promote_observed(
    store: &LedgerStore,
    netuid: u16,
    validator: &str,
    rule: &PromotionRule,
    ok: bool,
    metrics: Option<Metrics>,
) -> Result<Promotion, StoreError> {
    let Some(entry) = store.entry(netuid)? else {
        return Err(StoreError::NotFound(format!("netuid {netuid}")));
    };
    if entry.status != EntryStatus::Candidate {
        return Ok(Promotion::NotDue);
    }
    let key = DecimalNetuid(netuid);
    let mut st = promotion_state(store, &entry)?;
    let now = now_ms();
    if !ok {
        st.last_probe_ms = Some(now);
        st.probes_ok = 0;
        st.first_ok_ms = None;
        put_promotion(store, &key, &st)?;
        return Ok(Promotion::Reset);
    }
    if let Some(last) = st.last_probe_ms
        && now.saturating_sub(last) < rule.min_gap.as_millis() as u64
    {
        return Ok(Promotion::NotDue);
    }
    st.last_probe_ms = Some(now);
    st.probes_ok = st.probes_ok.saturating_add(1);
    let first = *st.first_ok_ms.get_or_insert(now);
    if st.probes_ok < rule.min_probes || now.saturating_sub(first) < rule.min_span.as_millis() as u64 {
        put_promotion(store, &key, &st)?;
        return Ok(Promotion::Counted(st.probes_ok));
    }
    let (r, _) = store.write(|tx| {
        let Some(mut e) = tx.store().entry(netuid)? else {
            return Err(StoreError::NotFound(format!("netuid {netuid}")));
        };
        if e.status != EntryStatus::Candidate || e.version != entry.version {
            return Ok(Promotion::NotDue);
        }
        e.status = EntryStatus::Verified;
        e.last_verified_ms = Some(now);
        if let Some(m) = metrics {
            e.metrics = m;
        }
        if !e.provenance.verifiers.iter().any(|v| v == validator) {
            e.provenance.verifiers.push(validator.to_string());
        }
        tx.upsert_entry(
            e,
            ChangeKind::EntryVerified,
            validator,
            json!({"promotion": {"probes_ok": st.probes_ok, "first_ok_ms": first, "last_ok_ms": now}}),
        )?;
        PROMOTIONS.delete(tx.batch(), &key);
        Ok(Promotion::Verified)
    })?;
    Ok(r)
}

fn put_promotion(store: &LedgerStore, key: &DecimalNetuid, st: &PromotionState) -> Result<(), StoreError> {
    store.write(|tx| Ok(PROMOTIONS.put(tx.batch(), key, st)?))?;
    Ok(())
}

/// The candidate's promotion count; a changed entry (another version) starts again.
fn promotion_state(store: &LedgerStore, entry: &LedgerEntry) -> Result<PromotionState, StoreError> {
    Ok(PROMOTIONS
        .get(store.db(), &DecimalNetuid(entry.netuid))?
        .filter(|s: &PromotionState| s.version == entry.version)
        .unwrap_or(PromotionState { version: entry.version, probes_ok: 0, first_ok_ms: None, last_probe_ms: None }))
}

/// A candidate's run of successful promotion probes (kept in the store's key-value space).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct PromotionState {
    /// The entry version the probes were of.
    version: u64,
    probes_ok: u32,
    first_ok_ms: Option<u64>,
    last_probe_ms: Option<u64>,
}
