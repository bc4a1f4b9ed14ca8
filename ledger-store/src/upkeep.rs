//! Upkeep: the rules that keep Ledger entries true from a validator's own scheduled re-probes.
//!
//! The validator re-probes every entry that is not deprecated on a jittered schedule (its
//! `ledger-upkeep` task) and reports each probe here as an [`Observation`]. [`record`] keeps,
//! per entry, the probes of the last [`UpkeepRule::window`] (latency, success, measured cost),
//! the current runs of failures and successes, the output schema the subnet was last seen
//! answering with and the drift from the entry's schema, and decides the entry's status:
//!
//! | from | to | when |
//! |---|---|---|
//! | candidate | verified | [`crate::governance::promote_observed`]: N successful probes spread over T, no failure in between |
//! | verified | degraded | reliability over the window below [`UpkeepRule::min_reliability`] (at least [`UpkeepRule::min_samples`] probes since the last status change), or [`UpkeepRule::fail_streak`] failures in a row spanning at least the window ("down") |
//! | degraded | verified | [`UpkeepRule::recover_probes`] successful probes in a row ("recovered") |
//! | degraded | deprecated | failing without a success for [`UpkeepRule::deprecate_after`] (a longer window) |
//!
//! Each status change is one new entry version with its change event
//! ([`ChangeKind::EntryDegraded`], [`ChangeKind::EntryRecovered`], [`ChangeKind::EntryDeprecated`])
//! carrying the rule that fired and the numbers behind it, and the fresh metrics. Between status
//! changes, the entry's metrics (p50/p95 latency of the successful probes in the window,
//! reliability = successes / probes in the window, cost = the median measured cost) are written
//! only when they moved materially and at most once per [`UpkeepRule::publish_every`]
//! ([`ChangeKind::MetricsUpdated`]); every other probe is bookkeeping kept beside the Ledger (in
//! the key-value space, like the promotion count): it changes neither the entry's version, nor
//! the root, nor the change feed.
//!
//! A probe the validator could not make ([`Observation::NotProbed`]: no operator credential, a
//! destination its network policy refuses) says nothing about the subnet and is not counted.

use std::time::Duration;

use orchestra_proto::ledger::{EntryStatus, Metrics};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::keys::{PaddedNetuid, UPKEEP};
use crate::{ChangeKind, LedgerStore, StoreError};

/// Largest observed schema kept (serialized bytes); a larger one is summarized as absent.
const MAX_SCHEMA_BYTES: usize = 16 * 1024;

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The thresholds of the status rules.
#[derive(Debug, Clone, PartialEq)]
pub struct UpkeepRule {
    /// The window reliability and latency are measured over, and the least time a run of
    /// failures must span before an entry counts as down.
    pub window: Duration,
    /// Reliability over the window below this degrades a verified entry.
    pub min_reliability: f64,
    /// Probes needed (since the last status change, inside the window) before reliability can
    /// degrade an entry.
    pub min_samples: u32,
    /// Failures in a row (spanning at least the window) that make an entry down.
    pub fail_streak: u32,
    /// Successes in a row that bring a degraded entry back to verified.
    pub recover_probes: u32,
    /// A degraded entry failing without a success for this long is deprecated.
    pub deprecate_after: Duration,
    /// Metrics are written to the entry at most this often between status changes.
    pub publish_every: Duration,
    /// Probes kept per entry at most (oldest dropped first).
    pub max_samples: usize,
}

impl Default for UpkeepRule {
    fn default() -> Self {
        UpkeepRule {
            window: Duration::from_secs(1800),
            min_reliability: 0.8,
            min_samples: 5,
            fail_streak: 3,
            recover_probes: 3,
            deprecate_after: Duration::from_secs(3 * 24 * 3600),
            publish_every: Duration::from_secs(1800),
            max_samples: 256,
        }
    }
}

impl UpkeepRule {
    /// Refuse thresholds that make no sense together (the error names the problem).
    pub fn validate(&self) -> Result<(), String> {
        if self.window.is_zero() {
            return Err("the upkeep window must be positive".into());
        }
        if !(0.0..=1.0).contains(&self.min_reliability) {
            return Err(format!("min_reliability {} is not in [0, 1]", self.min_reliability));
        }
        if self.fail_streak == 0 || self.recover_probes == 0 || self.min_samples == 0 {
            return Err("fail_streak, recover_probes and min_samples must be at least 1".into());
        }
        if self.deprecate_after <= self.window {
            return Err(format!(
                "deprecate_after ({} s) must be longer than the window ({} s)",
                self.deprecate_after.as_secs(),
                self.window.as_secs()
            ));
        }
        if self.max_samples == 0 {
            return Err("max_samples must be at least 1".into());
        }
        Ok(())
    }
}

/// One re-probe as the validator saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Observation {
    /// The subnet answered its fixture.
    Answered {
        latency_ms: u32,
        /// What the call cost as the validator measured it (e.g. the tokens an OpenAI-compatible
        /// answer reports at the validator's price); `None` when the answer says nothing.
        #[serde(default)]
        cost_micros: Option<u64>,
        /// The shape of the answer (an inferred JSON Schema).
        #[serde(default)]
        schema: Value,
        /// Where the answer differs from the entry's output schema (drift paths).
        #[serde(default)]
        drift: Vec<String>,
    },
    /// The subnet failed: a timeout, no connection, an error status, an answer that is not
    /// JSON. `reason` is a fixed summary, never the subnet's text.
    Failed { latency_ms: u32, reason: String },
    /// This validator could not make the probe: not counted.
    NotProbed { reason: String },
}

/// One counted probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub at_ms: u64,
    pub ok: bool,
    pub latency_ms: u32,
    #[serde(default)]
    pub cost_micros: Option<u64>,
}

/// What the upkeep keeps about one entry (beside the Ledger, not in it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpkeepState {
    pub netuid: u16,
    /// Counted probes of the window, oldest first.
    pub samples: Vec<Sample>,
    /// When the entry is due for its next probe.
    pub next_probe_ms: u64,
    pub last_probe_ms: Option<u64>,
    pub fail_streak: u32,
    /// The first failure of the current run of failures.
    pub fail_since_ms: Option<u64>,
    pub ok_streak: u32,
    pub last_ok_ms: Option<u64>,
    /// The entry's status when last seen, and since when (the start of the evaluation).
    pub status: Option<EntryStatus>,
    pub status_since_ms: u64,
    /// The schema of the last answer.
    pub observed_schema: Option<Value>,
    /// Drift of the last answer from the entry's output schema, and since when it is the same.
    pub drift: Vec<String>,
    pub drift_since_ms: Option<u64>,
    /// The last failure or skip.
    pub last_reason: Option<String>,
    /// When the entry was last written by the upkeep.
    pub published_ms: Option<u64>,
}

impl UpkeepState {
    fn new(netuid: u16, at_ms: u64) -> Self {
        UpkeepState { netuid, status_since_ms: at_ms, ..Default::default() }
    }

    /// Whether the answer has drifted from the entry's schema in the same way for at least
    /// `window` (what the validator turns into its own proposal).
    pub fn drift_persisted(&self, now_ms: u64, window: Duration) -> bool {
        !self.drift.is_empty() && self.drift_since_ms.is_some_and(|t| now_ms.saturating_sub(t) >= ms(window))
    }

    /// Counted probes in the window ending at `now_ms`.
    pub fn window_samples(&self, now_ms: u64, window: Duration) -> impl Iterator<Item = &Sample> {
        let from = now_ms.saturating_sub(ms(window));
        self.samples.iter().filter(move |s| s.at_ms >= from)
    }
}

/// A status change [`record`] made.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub from: EntryStatus,
    pub to: EntryStatus,
    /// Which rule fired: `down`, `unreliable`, `recovered`, `down_too_long`.
    pub rule: &'static str,
}

/// What [`record`] did with one observation.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The entry's status after it.
    pub status: EntryStatus,
    pub transition: Option<Transition>,
    /// Whether the entry was written (a new version with a change event).
    pub published: bool,
    /// The metrics over the window.
    pub metrics: Metrics,
    pub state: UpkeepState,
}

/// The upkeep state of one entry, if it was ever probed.
pub fn state(store: &LedgerStore, netuid: u16) -> Result<Option<UpkeepState>, StoreError> {
    Ok(UPKEEP.get(store.db(), &PaddedNetuid(netuid))?)
}

/// The upkeep state of every probed entry, in netuid order.
pub fn states(store: &LedgerStore) -> Result<Vec<UpkeepState>, StoreError> {
    Ok(UPKEEP.scan(store.db())?.into_iter().map(|(_, s)| s).collect())
}

/// Entries due for a re-probe at `now_ms` (never probed, or their next probe time reached), most
/// overdue first; deprecated entries are not probed.
pub fn due(store: &LedgerStore, now_ms: u64) -> Result<Vec<u16>, StoreError> {
    let mut due = Vec::new();
    for e in store.entries()? {
        if e.status == EntryStatus::Deprecated {
            continue;
        }
        let next = state(store, e.netuid)?.map(|s| s.next_probe_ms).unwrap_or(0);
        if next <= now_ms {
            due.push((next, e.netuid));
        }
    }
    due.sort();
    Ok(due.into_iter().map(|(_, n)| n).collect())
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u32], p: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// The metrics of the probes in the window ending at `now_ms`; what the window cannot say
/// (no probe at all, no success for latency, no measured cost) is kept from `base`.
pub fn window_metrics(st: &UpkeepState, now_ms: u64, window: Duration, base: &Metrics) -> Metrics {
    let samples: Vec<&Sample> = st.window_samples(now_ms, window).collect();
    let mut m = base.clone();
    if samples.is_empty() {
        return m;
    }
    let ok = samples.iter().filter(|s| s.ok).count();
    // Rounded so that noise below a tenth of a percent never makes a different entry.
    m.reliability = Some((ok as f64 / samples.len() as f64 * 1000.0).round() / 1000.0);
    let mut lat: Vec<u32> = samples.iter().filter(|s| s.ok).map(|s| s.latency_ms).collect();
    lat.sort_unstable();
    if !lat.is_empty() {
        m.latency_p50_ms = percentile(&lat, 50.0);
        m.latency_p95_ms = percentile(&lat, 95.0);
    }
    let mut costs: Vec<u64> = samples.iter().filter(|s| s.ok).filter_map(|s| s.cost_micros).collect();
    costs.sort_unstable();
    if !costs.is_empty() {
        m.cost_micros = costs[(costs.len() - 1) / 2];
    }
    m
}

/// Whether `new` differs from `old` enough to be written: a value appearing, reliability by
/// 0.05 or more, a latency by 25% and 20 ms or more, the cost by 10% or more.
pub fn materially_changed(old: &Metrics, new: &Metrics) -> bool {
    let latency = |a: Option<u32>, b: Option<u32>| match (a, b) {
        (None, Some(_)) => true,
        (Some(x), Some(y)) => {
            let d = x.abs_diff(y);
            d >= 20 && f64::from(d) >= 0.25 * f64::from(x)
        }
        _ => false,
    };
    let reliability = match (old.reliability, new.reliability) {
        (None, Some(_)) => true,
        (Some(a), Some(b)) => (a - b).abs() >= 0.05 - 1e-9,
        _ => false,
    };
    let cost = old.cost_micros != new.cost_micros
        && (old.cost_micros == 0 || old.cost_micros.abs_diff(new.cost_micros) as f64 >= 0.1 * old.cost_micros as f64);
    reliability
        || latency(old.latency_p50_ms, new.latency_p50_ms)
        || latency(old.latency_p95_ms, new.latency_p95_ms)
        || cost
}

/// The status rule that fires for an entry in `status` with upkeep state `st` at `now_ms`, if
/// any (pure: the table in the module documentation). Candidates are promoted by
/// [`crate::governance::promote_observed`], not here; deprecated entries stay deprecated.
pub fn evaluate(status: EntryStatus, st: &UpkeepState, now_ms: u64, rule: &UpkeepRule) -> Option<Transition> {
    let down_for = st.fail_since_ms.filter(|_| st.fail_streak > 0).map(|t| now_ms.saturating_sub(t));
    match status {
        EntryStatus::Verified => {
            if st.fail_streak >= rule.fail_streak && down_for.is_some_and(|d| d >= ms(rule.window)) {
                return Some(Transition { from: status, to: EntryStatus::Degraded, rule: "down" });
            }
            let since = now_ms.saturating_sub(ms(rule.window)).max(st.status_since_ms);
            let (n, ok) = st
                .samples
                .iter()
                .filter(|s| s.at_ms >= since)
                .fold((0u32, 0u32), |(n, ok), s| (n + 1, ok + u32::from(s.ok)));
            if n >= rule.min_samples && f64::from(ok) < rule.min_reliability * f64::from(n) {
                return Some(Transition { from: status, to: EntryStatus::Degraded, rule: "unreliable" });
            }
            None
        }
        EntryStatus::Degraded => {
            if down_for.is_some_and(|d| d >= ms(rule.deprecate_after)) {
                return Some(Transition { from: status, to: EntryStatus::Deprecated, rule: "down_too_long" });
            }
            if st.ok_streak >= rule.recover_probes {
                return Some(Transition { from: status, to: EntryStatus::Verified, rule: "recovered" });
            }
            None
        }
        EntryStatus::Candidate | EntryStatus::Deprecated => None,
    }
}

/// Record one re-probe of `netuid` made at `at_ms` (the next one is due at `next_probe_ms`) and
/// apply the status rules: the upkeep state, and the entry when it changes status or its
/// metrics are due to be written, are committed in one atomic batch. `validator` is the hotkey
/// that probed.
pub fn record(
    store: &LedgerStore,
    netuid: u16,
    obs: &Observation,
    at_ms: u64,
    next_probe_ms: u64,
    validator: &str,
    rule: &UpkeepRule,
) -> Result<Recorded, StoreError> {
    let (r, _) = store.write(|tx| {
        let Some(entry) = tx.store().entry(netuid)? else {
            return Err(StoreError::NotFound(format!("netuid {netuid}")));
        };
        let key = PaddedNetuid(netuid);
        let mut st: UpkeepState = UPKEEP.get(tx.store().db(), &key)?.unwrap_or_else(|| UpkeepState::new(netuid, at_ms));
        st.next_probe_ms = next_probe_ms;
        if st.status != Some(entry.status) {
            // Changed elsewhere (a promotion, an approved proposal) or first seen: the
            // evaluation starts now.
            st.status = Some(entry.status);
            st.status_since_ms = at_ms;
        }
        match obs {
            Observation::NotProbed { reason } => {
                st.last_reason = Some(reason.clone());
                UPKEEP.put(tx.batch(), &key, &st)?;
                let metrics = window_metrics(&st, at_ms, rule.window, &entry.metrics);
                return Ok(Recorded { status: entry.status, transition: None, published: false, metrics, state: st });
            }
            Observation::Answered { latency_ms, cost_micros, schema, drift } => {
                st.samples.push(Sample { at_ms, ok: true, latency_ms: *latency_ms, cost_micros: *cost_micros });
                st.ok_streak = st.ok_streak.saturating_add(1);
                st.fail_streak = 0;
                st.fail_since_ms = None;
                st.last_ok_ms = Some(at_ms);
                st.observed_schema =
                    serde_json::to_vec(schema).ok().filter(|b| b.len() <= MAX_SCHEMA_BYTES).map(|_| schema.clone());
                if drift.is_empty() {
                    st.drift.clear();
                    st.drift_since_ms = None;
                } else if &st.drift != drift {
                    st.drift = drift.clone();
                    st.drift_since_ms = Some(at_ms);
                }
            }
            Observation::Failed { latency_ms, reason } => {
                st.samples.push(Sample { at_ms, ok: false, latency_ms: *latency_ms, cost_micros: None });
                st.fail_streak = st.fail_streak.saturating_add(1);
                st.fail_since_ms.get_or_insert(at_ms);
                st.ok_streak = 0;
                st.last_reason = Some(reason.clone());
            }
        }
        st.last_probe_ms = Some(at_ms);
        let from = at_ms.saturating_sub(ms(rule.window));
        st.samples.retain(|s| s.at_ms >= from);
        if st.samples.len() > rule.max_samples {
            let extra = st.samples.len() - rule.max_samples;
            st.samples.drain(..extra);
        }
        let metrics = window_metrics(&st, at_ms, rule.window, &entry.metrics);
        let transition = evaluate(entry.status, &st, at_ms, rule);
        let due_metrics = matches!(entry.status, EntryStatus::Verified | EntryStatus::Degraded)
            && materially_changed(&entry.metrics, &metrics)
            && st.published_ms.is_none_or(|p| at_ms.saturating_sub(p) >= ms(rule.publish_every));
        let mut published = false;
        let mut status = entry.status;
        if transition.is_some() || due_metrics {
            let mut e = entry.clone();
            e.metrics = metrics.clone();
            if st.last_ok_ms.is_some() {
                e.last_verified_ms = st.last_ok_ms;
            }
            let (kind, detail) = match &transition {
                Some(t) => {
                    e.status = t.to;
                    let kind = match t.to {
                        EntryStatus::Degraded => ChangeKind::EntryDegraded,
                        EntryStatus::Verified => ChangeKind::EntryRecovered,
                        _ => ChangeKind::EntryDeprecated,
                    };
                    let detail = json!({
                        "upkeep": {
                            "rule": t.rule,
                            "from": t.from,
                            "to": t.to,
                            "window_secs": rule.window.as_secs(),
                            "fail_streak": st.fail_streak,
                            "down_since_ms": st.fail_since_ms,
                            "ok_streak": st.ok_streak,
                            "last_ok_ms": st.last_ok_ms,
                            "reliability": metrics.reliability,
                            "samples": st.window_samples(at_ms, rule.window).count(),
                            "reason": st.last_reason,
                        }
                    });
                    (kind, detail)
                }
                None => (
                    ChangeKind::MetricsUpdated,
                    json!({"upkeep": {"metrics": metrics, "samples": st.window_samples(at_ms, rule.window).count(),
                                       "window_secs": rule.window.as_secs()}}),
                ),
            };
            if !e.provenance.verifiers.iter().any(|v| v == validator) {
                e.provenance.verifiers.push(validator.to_string());
            }
            status = e.status;
            tx.upsert_entry(e, kind, validator, detail)?;
            published = true;
            st.published_ms = Some(at_ms);
            if let Some(t) = &transition {
                st.status = Some(t.to);
                st.status_since_ms = at_ms;
                if t.to == EntryStatus::Degraded {
                    // Recovery needs successes after the degradation.
                    st.ok_streak = 0;
                }
            }
        }
        UPKEEP.put(tx.batch(), &key, &st)?;
        Ok(Recorded { status, transition, published, metrics, state: st })
    })?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> UpkeepRule {
        UpkeepRule {
            window: Duration::from_secs(10),
            min_reliability: 0.8,
            min_samples: 5,
            fail_streak: 3,
            recover_probes: 2,
            deprecate_after: Duration::from_secs(60),
            publish_every: Duration::from_secs(10),
            max_samples: 100,
        }
    }

    fn st(samples: &[(u64, bool)]) -> UpkeepState {
        let mut s = UpkeepState::new(1, 0);
        for &(t, ok) in samples {
            s.samples.push(Sample { at_ms: t, ok, latency_ms: 10, cost_micros: None });
            if ok {
                s.ok_streak += 1;
                s.fail_streak = 0;
                s.fail_since_ms = None;
            } else {
                s.fail_streak += 1;
                s.fail_since_ms.get_or_insert(t);
                s.ok_streak = 0;
            }
        }
        s
    }

    #[test]
    fn down_needs_the_streak_and_the_span() {
        let r = rule();
        // Three failures, but only 2 s apart: not down yet.
        let s = st(&[(0, true), (1_000, false), (2_000, false), (3_000, false)]);
        assert_eq!(evaluate(EntryStatus::Verified, &s, 3_000, &r), None);
        // The same run still failing 10 s after it began: down.
        let s = st(&[(0, true), (1_000, false), (2_000, false), (3_000, false), (11_000, false)]);
        let t = evaluate(EntryStatus::Verified, &s, 11_000, &r).expect("degraded");
        assert_eq!((t.to, t.rule), (EntryStatus::Degraded, "down"));
        // Long but only two failures in a row: not down.
        let s = st(&[(0, false), (20_000, false)]);
        assert_eq!(evaluate(EntryStatus::Verified, &s, 20_000, &r), None);
    }

    #[test]
    fn unreliable_needs_enough_probes_since_the_last_change() {
        let r = rule();
        let flaky = [(1_000, true), (2_000, false), (3_000, true), (4_000, false), (5_000, true)];
        let s = st(&flaky);
        let t = evaluate(EntryStatus::Verified, &s, 5_000, &r).expect("degraded");
        assert_eq!(t.rule, "unreliable");
        // The same probes before the entry's last status change do not count.
        let mut s = st(&flaky);
        s.status_since_ms = 3_000;
        assert_eq!(evaluate(EntryStatus::Verified, &s, 5_000, &r), None);
        // Outside the window they do not count either.
        let s = st(&flaky);
        assert_eq!(evaluate(EntryStatus::Verified, &s, 13_500, &r), None);
    }

    #[test]
    fn degraded_recovers_or_is_deprecated() {
        let r = rule();
        let s = st(&[(0, false), (1_000, true), (2_000, true)]);
        let t = evaluate(EntryStatus::Degraded, &s, 2_000, &r).expect("recovered");
        assert_eq!((t.to, t.rule), (EntryStatus::Verified, "recovered"));
        let s = st(&[(0, false), (30_000, false)]);
        assert_eq!(evaluate(EntryStatus::Degraded, &s, 30_000, &r), None, "down, not long enough");
        let s = st(&[(0, false), (60_000, false)]);
        let t = evaluate(EntryStatus::Degraded, &s, 60_000, &r).expect("deprecated");
        assert_eq!((t.to, t.rule), (EntryStatus::Deprecated, "down_too_long"));
        assert_eq!(evaluate(EntryStatus::Candidate, &s, 60_000, &r), None, "candidates are promoted elsewhere");
    }

    #[test]
    fn metrics_over_the_window() {
        let mut s = UpkeepState::new(1, 0);
        for (i, lat) in [100u32, 20, 30, 40, 50, 60, 70, 80, 90, 10].iter().enumerate() {
            s.samples.push(Sample { at_ms: i as u64 * 1000, ok: true, latency_ms: *lat, cost_micros: Some(5) });
        }
        s.samples.push(Sample { at_ms: 10_000, ok: false, latency_ms: 5_000, cost_micros: None });
        let base = Metrics { cost_micros: 200, ..Metrics::default() };
        let m = window_metrics(&s, 10_000, Duration::from_secs(60), &base);
        assert_eq!(m.latency_p50_ms, Some(50));
        assert_eq!(m.latency_p95_ms, Some(100));
        assert_eq!(m.reliability, Some(0.909));
        assert_eq!(m.cost_micros, 5, "measured cost replaces the operator's");
        // Nothing in the window: the entry's metrics stay.
        let m = window_metrics(&s, 100_000, Duration::from_secs(10), &base);
        assert_eq!(m, base);
        assert!(materially_changed(&Metrics::default(), &Metrics { reliability: Some(1.0), ..Metrics::default() }));
        let a =
            Metrics { latency_p50_ms: Some(100), latency_p95_ms: Some(200), reliability: Some(1.0), cost_micros: 10 };
        let jitter =
            Metrics { latency_p50_ms: Some(110), latency_p95_ms: Some(215), reliability: Some(0.97), ..a.clone() };
        assert!(!materially_changed(&a, &jitter), "noise is not written");
        let slower = Metrics { latency_p50_ms: Some(200), ..a.clone() };
        assert!(materially_changed(&a, &slower));
    }

    #[test]
    fn rules_are_checked() {
        assert!(UpkeepRule::default().validate().is_ok());
        let bad = UpkeepRule { deprecate_after: Duration::from_secs(5), ..rule() };
        assert!(bad.validate().expect_err("deprecate").contains("longer than the window"));
    }
}
