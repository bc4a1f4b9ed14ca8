//! Fault injection for the simulated subnets: what can go wrong, and a deterministic roll per
//! request so that "30% errors" means the same 30% of requests on every run.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A change to the response shape, applied to every item of the response's main list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DriftKind {
    /// A new field appears at the dotted path (e.g. `metadata.scrape_timestamp`).
    AddField { path: String, value: Value },
    /// The field at the path disappears.
    RemoveField { path: String },
    /// The field at the path becomes a string (numbers, objects) or a number (strings).
    Retype { path: String },
}

/// Schema drift starting at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// Milliseconds after the simulator (or the fault change) started; 0 = at once.
    #[serde(default)]
    pub after_ms: u64,
    #[serde(flatten)]
    pub kind: DriftKind,
}

/// Faults of one simulated subnet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Fixed latency added to every answer.
    pub latency_ms: u64,
    /// Extra latency, uniform in `0..=jitter_ms`.
    pub jitter_ms: u64,
    /// Share of requests answered with HTTP 500.
    pub error_rate: f64,
    /// Share of requests that never answer in time (held for `timeout_hold_ms`).
    pub timeout_rate: f64,
    /// How long a "timed out" request is held (default 30 s).
    pub timeout_hold_ms: u64,
    /// Share of requests answered with a malformed (non-JSON) body.
    pub malformed_rate: f64,
    /// Every request gets 503: the subnet is down.
    pub down: bool,
    /// Schema drift.
    pub drift: Option<Drift>,
    /// The main endpoint moved to this path: the old path answers 301 with the new location.
    pub moved_to: Option<String>,
    /// LLM subnets: share of extracted leaves (numbers, entity names) answered wrong, keeping
    /// their citation (default 0.02).
    pub llm_error_rate: f64,
    /// LLM subnets: share of fields the documents do not support that are filled with an
    /// invented, uncited value anyway (default 0).
    pub llm_hallucination_rate: f64,
}

/// Default share of wrong extracted leaves of a simulated LLM.
pub const DEFAULT_LLM_ERROR_RATE: f64 = 0.02;

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0,
            jitter_ms: 0,
            error_rate: 0.0,
            timeout_rate: 0.0,
            timeout_hold_ms: 0,
            malformed_rate: 0.0,
            down: false,
            drift: None,
            moved_to: None,
            llm_error_rate: DEFAULT_LLM_ERROR_RATE,
            llm_hallucination_rate: 0.0,
        }
    }
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Normal,
    Error,
    Timeout,
    Malformed,
    Down,
}

/// A number in `[0, 1)` from the seed, the request number and a salt (blake3, so it is the same
/// on every machine and run).
pub fn roll(seed: u64, n: u64, salt: &str) -> f64 {
    let mut h = blake3::Hasher::new();
    h.update(&seed.to_le_bytes());
    h.update(&n.to_le_bytes());
    h.update(salt.as_bytes());
    let b = h.finalize();
    let mut x = [0u8; 8];
    x.copy_from_slice(&b.as_bytes()[..8]);
    (u64::from_le_bytes(x) >> 11) as f64 / (1u64 << 53) as f64
}

impl Faults {
    pub fn outcome(&self, seed: u64, n: u64) -> Outcome {
        if self.down {
            return Outcome::Down;
        }
        let r = roll(seed, n, "outcome");
        if r < self.error_rate {
            Outcome::Error
        } else if r < self.error_rate + self.timeout_rate {
            Outcome::Timeout
        } else if r < self.error_rate + self.timeout_rate + self.malformed_rate {
            Outcome::Malformed
        } else {
            Outcome::Normal
        }
    }

    pub fn latency_ms(&self, seed: u64, n: u64) -> u64 {
        let j = if self.jitter_ms > 0 { (roll(seed, n, "jitter") * (self.jitter_ms + 1) as f64) as u64 } else { 0 };
        self.latency_ms + j
    }

    pub fn validate(&self) -> Result<(), String> {
        for (n, v) in [
            ("error_rate", self.error_rate),
            ("timeout_rate", self.timeout_rate),
            ("malformed_rate", self.malformed_rate),
            ("llm_error_rate", self.llm_error_rate),
            ("llm_hallucination_rate", self.llm_hallucination_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{n} = {v} must be in [0, 1]"));
            }
        }
        if self.error_rate + self.timeout_rate + self.malformed_rate > 1.0 {
            return Err("error_rate + timeout_rate + malformed_rate exceed 1".into());
        }
        if let Some(p) = &self.moved_to
            && !p.starts_with('/')
        {
            return Err(format!("moved_to `{p}` must be a path starting with /"));
        }
        Ok(())
    }
}

/// Apply a drift to one JSON item.
pub fn apply_drift(item: &mut Value, kind: &DriftKind) {
    let path = match kind {
        DriftKind::AddField { path, .. } | DriftKind::RemoveField { path } | DriftKind::Retype { path } => path,
    };
    let segs: Vec<&str> = path.split('.').collect();
    let Some((last, parents)) = segs.split_last() else { return };
    let mut cur = item;
    for s in parents {
        if !cur.is_object() {
            return;
        }
        cur = match cur.as_object_mut() {
            Some(m) => m.entry(s.to_string()).or_insert_with(|| Value::Object(Default::default())),
            None => return,
        };
    }
    let Some(obj) = cur.as_object_mut() else { return };
    match kind {
        DriftKind::AddField { value, .. } => {
            obj.insert(last.to_string(), value.clone());
        }
        DriftKind::RemoveField { .. } => {
            obj.remove(*last);
        }
        DriftKind::Retype { .. } => {
            if let Some(v) = obj.get_mut(*last) {
                let new = match &*v {
                    Value::String(s) => Value::from(s.len() as u64),
                    other => Value::String(other.to_string()),
                };
                *v = new;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rates_are_respected_and_deterministic() {
        let f = Faults { error_rate: 0.3, ..Faults::default() };
        let errors = (0..10_000).filter(|n| f.outcome(7, *n) == Outcome::Error).count();
        assert!((2700..3300).contains(&errors), "{errors}");
        assert_eq!(f.outcome(7, 42), f.outcome(7, 42));
        assert!(Faults { error_rate: 0.8, timeout_rate: 0.5, ..Faults::default() }.validate().is_err());
    }

    #[test]
    fn drift_ops() {
        let mut v = json!({"uri": "u", "metadata": {"a": 1}});
        apply_drift(
            &mut v,
            &DriftKind::AddField { path: "metadata.scrape_timestamp".into(), value: json!("2026-11-22T00:00:00Z") },
        );
        assert_eq!(v["metadata"]["scrape_timestamp"], json!("2026-11-22T00:00:00Z"));
        apply_drift(&mut v, &DriftKind::RemoveField { path: "uri".into() });
        assert!(v.get("uri").is_none());
        apply_drift(&mut v, &DriftKind::Retype { path: "metadata.a".into() });
        assert_eq!(v["metadata"]["a"], json!("1"));
    }
}
