//! The Subnet Ledger's entry model: what Orchestra knows about how to reach a subnet, what it can
//! do, what its requests and responses look like, how well it performs and who vouched for it.
//!
//! Subnet access is data, not code: a [`TransportSpec`] says how to reach a subnet, and one
//! generic adapter per transport serves every entry.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    ProtoError,
    canonical::{Digest, digest_in},
};

/// Digest context for Ledger entry leaves (distinct from receipt leaves).
pub const ENTRY_LEAF_CONTEXT: &str = "orchestra 2026-11 ledger entry leaf v1";
/// Digest context for proposal content hashes (dedupe key).
pub const PROPOSAL_CONTEXT: &str = "orchestra 2026-11 ledger proposal v1";

/// How a caller authenticates to a subnet endpoint.
///
/// Only the *kind* is taken from a Ledger entry: it says that the subnet wants a credential.
/// The secret itself (and the header name) comes from the operator's credential map, keyed by
/// netuid (`--subnet.credentials`, see `orchestra_subnets::Credentials`); the `env` and `name`
/// fields here are ignored, so an entry can never make a node read an environment variable of
/// its choosing or send a secret to an address of its choosing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum AuthKind {
    None,
    /// Bittensor hotkey signature (the transport's own scheme: v10 headers or btauth/1).
    Hotkey,
    /// `Authorization: Bearer <secret>` where the secret comes from the named env var.
    Bearer {
        env: String,
    },
    /// A custom header holding the secret from the named env var.
    Header {
        name: String,
        env: String,
    },
}

/// How calls to a subnet's axons are signed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AxonDialect {
    /// The v10 `bt_header_*` headers every deployed axon checks.
    #[default]
    #[serde(rename = "v10")]
    V10,
    /// `btauth/1` (`X-Bittensor-*`) headers, bittensor 11.
    #[serde(rename = "btauth/1")]
    Btauth,
}

impl AxonDialect {
    pub fn is_v10(&self) -> bool {
        *self == AxonDialect::V10
    }
}

/// One way to reach a subnet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TransportSpec {
    /// Bittensor v10 axons of the subnet's miners, found through the metagraph (or a fixed one).
    AxonV10 {
        synapse: String,
        /// Fields of the synapse class without default (sent as `bt_header_input_obj_*`).
        #[serde(default)]
        required_fields: Vec<String>,
        #[serde(default)]
        hash_fields: Vec<String>,
        /// A fixed axon `ip:port` (local networks); otherwise from the metagraph.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hotkey: Option<String>,
        /// The signing dialect the axons speak: v10 headers (every deployed axon) or btauth/1
        /// (bittensor 11). Left out of the JSON when v10, so older entries keep their leaves.
        #[serde(default, skip_serializing_if = "AxonDialect::is_v10")]
        dialect: AxonDialect,
    },
    /// btauth/1-signed HTTP.
    Btauth { url: String, method: String },
    /// Plain HTTP JSON API.
    HttpJson { url: String, method: String, auth: AuthKind },
    /// OpenAI-compatible chat completions (`POST {base_url}/chat/completions`).
    OpenaiChat { base_url: String, model: String, auth: AuthKind },
}

impl TransportSpec {
    /// Whether the transport names a place or a credential (which only operators and subnet
    /// owners may set): any URL, a fixed axon endpoint or hotkey, or an auth other than
    /// none/hotkey. Only a metagraph-routed axon transport names neither.
    pub fn is_addressed(&self) -> bool {
        match self {
            TransportSpec::AxonV10 { endpoint, hotkey, .. } => endpoint.is_some() || hotkey.is_some(),
            TransportSpec::Btauth { .. } | TransportSpec::HttpJson { .. } | TransportSpec::OpenaiChat { .. } => true,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            TransportSpec::AxonV10 { .. } => "axon_v10",
            TransportSpec::Btauth { .. } => "btauth",
            TransportSpec::HttpJson { .. } => "http_json",
            TransportSpec::OpenaiChat { .. } => "openai_chat",
        }
    }
}

/// Lifecycle of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// Known but not yet confirmed by a validator probe.
    Candidate,
    /// Confirmed by at least one probe.
    Verified,
    Deprecated,
}

/// Who proposed and who verified an entry, and on what evidence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    #[serde(default)]
    pub proposer: Option<String>,
    #[serde(default)]
    pub verifiers: Vec<String>,
    /// Receipt leaf hashes that showed the facts in this entry.
    #[serde(default)]
    pub evidence: Vec<Digest>,
}

/// Measured performance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    #[serde(default)]
    pub latency_p50_ms: Option<u32>,
    #[serde(default)]
    pub latency_p95_ms: Option<u32>,
    /// Share of probes and calls that succeeded, in `[0, 1]`.
    #[serde(default)]
    pub reliability: Option<f64>,
    /// Cost per call in micro-units.
    #[serde(default)]
    pub cost_micros: u64,
}

/// One subnet in the Ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub netuid: u16,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Capability names, e.g. `web_search`, `scrape`, `llm_chat`.
    pub capabilities: Vec<String>,
    /// Ways to reach it, in order of preference.
    pub transports: Vec<TransportSpec>,
    pub input_schema: Value,
    pub output_schema: Value,
    /// A request used for probing; must validate against `input_schema`.
    #[serde(default)]
    pub fixture: Value,
    #[serde(default)]
    pub metrics: Metrics,
    /// Monotonic per entry; bumped by every accepted change.
    #[serde(default)]
    pub version: u64,
    /// Unix ms of the last successful probe.
    #[serde(default)]
    pub last_verified_ms: Option<u64>,
    #[serde(default)]
    pub provenance: Provenance,
    pub status: EntryStatus,
    /// True for the simulated subnets of local runs and tests (never on a real network).
    #[serde(default)]
    pub simulated: bool,
}

impl LedgerEntry {
    /// Shape checks: what a store refuses before anything is written.
    pub fn validate(&self) -> Result<(), ProtoError> {
        if self.name.trim().is_empty() || self.name.len() > 64 {
            return Err(ProtoError::Invalid(format!("entry {}: name must be 1..=64 bytes", self.netuid)));
        }
        if self.capabilities.is_empty() {
            return Err(ProtoError::Invalid(format!("entry {}: at least one capability is required", self.netuid)));
        }
        if let Some(c) = self.capabilities.iter().find(|c| !is_capability_name(c)) {
            return Err(ProtoError::Invalid(format!(
                "entry {}: capability `{c}` must be lowercase letters, digits and `_`",
                self.netuid
            )));
        }
        if self.transports.is_empty() {
            return Err(ProtoError::Invalid(format!("entry {}: at least one transport is required", self.netuid)));
        }
        for (what, s) in [("input_schema", &self.input_schema), ("output_schema", &self.output_schema)] {
            if !s.is_object() {
                return Err(ProtoError::Invalid(format!("entry {}: {what} must be a JSON Schema object", self.netuid)));
            }
        }
        if let Some(r) = self.metrics.reliability
            && !(0.0..=1.0).contains(&r)
        {
            return Err(ProtoError::Invalid(format!("entry {}: reliability {r} is not in [0, 1]", self.netuid)));
        }
        Ok(())
    }

    /// The entry's leaf in the Ledger's Merkle tree.
    pub fn leaf(&self) -> Result<Digest, ProtoError> {
        digest_in(ENTRY_LEAF_CONTEXT, self)
    }

    /// Whether this entry may be used to verify anyone's work (the validator's re-probes, a
    /// miner's routing of calls whose receipts will be verified): a Verified entry, or a
    /// candidate the operator seeded (no proposer). A candidate that came from a proposal (a
    /// new subnet) verifies no one until it is promoted to Verified; deprecated entries never.
    pub fn verifies(&self) -> bool {
        match self.status {
            EntryStatus::Verified => true,
            EntryStatus::Candidate => self.provenance.proposer.is_none(),
            EntryStatus::Deprecated => false,
        }
    }

    pub fn has_capability(&self, cap: &str) -> bool {
        self.capabilities.iter().any(|c| c == cap)
    }
}

/// The one ranking rule for entries offering a capability, best first. The Ledger store's
/// `find`, the Ledger API's `/v1/find` and the miner's router all sort with it, so "best" means
/// the same thing everywhere (and the miner's fallback order is the order the API shows):
///
/// 1. status: verified, then candidate, then deprecated (callers of [`rank_for_capability`]
///    never see deprecated entries);
/// 2. reliability, higher first; an unmeasured entry counts as 0.5;
/// 3. p50 latency, lower first; an unmeasured entry comes after every measured one;
/// 4. cost per call, lower first;
/// 5. the one tie rule: the lower netuid first. The order never depends on the input order.
pub fn rank_cmp(a: &LedgerEntry, b: &LedgerEntry) -> std::cmp::Ordering {
    fn status(s: EntryStatus) -> u8 {
        match s {
            EntryStatus::Verified => 0,
            EntryStatus::Candidate => 1,
            EntryStatus::Deprecated => 2,
        }
    }
    // A total order on reliability: NaN (never valid, see `validate`) ranks as 0, and -0.0 as 0.0.
    fn reliability(e: &LedgerEntry) -> f64 {
        match e.metrics.reliability.unwrap_or(0.5) {
            r if r.is_nan() => 0.0,
            r => r + 0.0,
        }
    }
    status(a.status)
        .cmp(&status(b.status))
        .then_with(|| reliability(b).total_cmp(&reliability(a)))
        .then_with(|| a.metrics.latency_p50_ms.unwrap_or(u32::MAX).cmp(&b.metrics.latency_p50_ms.unwrap_or(u32::MAX)))
        .then_with(|| a.metrics.cost_micros.cmp(&b.metrics.cost_micros))
        .then_with(|| a.netuid.cmp(&b.netuid))
}

/// The entries offering `capability`, deprecated ones left out, in [`rank_cmp`] order.
pub fn rank_for_capability<'a>(
    entries: impl IntoIterator<Item = &'a LedgerEntry>,
    capability: &str,
) -> Vec<&'a LedgerEntry> {
    let mut v: Vec<&LedgerEntry> =
        entries.into_iter().filter(|e| e.has_capability(capability) && e.status != EntryStatus::Deprecated).collect();
    v.sort_by(|a, b| rank_cmp(a, b));
    v
}

fn is_capability_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 48 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn entry() -> LedgerEntry {
        LedgerEntry {
            netuid: 22,
            name: "desearch".into(),
            description: "web search".into(),
            capabilities: vec!["web_search".into()],
            transports: vec![TransportSpec::HttpJson {
                url: "http://127.0.0.1:1/search".into(),
                method: "POST".into(),
                auth: AuthKind::None,
            }],
            input_schema: json!({"type": "object"}),
            output_schema: json!({"type": "object"}),
            fixture: json!({"prompt": "gpu pricing"}),
            metrics: Metrics::default(),
            version: 1,
            last_verified_ms: None,
            provenance: Provenance::default(),
            status: EntryStatus::Candidate,
            simulated: true,
        }
    }

    #[test]
    fn validation() {
        assert!(entry().validate().is_ok());
        let mut e = entry();
        e.capabilities = vec!["Web Search".into()];
        assert!(e.validate().expect_err("cap").to_string().contains("capability"));
        let mut e = entry();
        e.transports.clear();
        assert!(e.validate().is_err());
        let mut e = entry();
        e.output_schema = json!(1);
        assert!(e.validate().expect_err("schema").to_string().contains("output_schema"));
    }

    #[test]
    fn leaf_binds_content() {
        let a = entry();
        let mut b = entry();
        b.version = 2;
        assert_ne!(a.leaf().expect("leaf"), b.leaf().expect("leaf"));
        let text = serde_json::to_string(&a).expect("json");
        let back: LedgerEntry = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, a);
    }

    fn ranked(status: EntryStatus, netuid: u16, reliability: Option<f64>, p50: Option<u32>, cost: u64) -> LedgerEntry {
        let mut e = entry();
        e.netuid = netuid;
        e.status = status;
        e.metrics = Metrics { latency_p50_ms: p50, latency_p95_ms: None, reliability, cost_micros: cost };
        e
    }

    #[test]
    fn ranking_is_status_reliability_latency_cost_then_netuid() {
        use EntryStatus::*;
        let entries = [
            ranked(Candidate, 1, Some(1.0), Some(1), 0),
            ranked(Verified, 9, Some(0.9), Some(50), 5),
            ranked(Verified, 8, Some(0.9), Some(50), 5), // ties 9 on everything but netuid
            ranked(Verified, 7, Some(0.9), Some(50), 1), // cheaper
            ranked(Verified, 6, Some(0.9), Some(10), 9), // faster
            ranked(Verified, 5, None, Some(1), 0),       // unmeasured reliability = 0.5
            ranked(Verified, 4, Some(0.99), None, 0),    // more reliable beats unmeasured latency
            ranked(Deprecated, 3, Some(1.0), Some(1), 0),
            ranked(Verified, 2, Some(0.9), None, 0), // unmeasured latency after measured
        ];
        let order: Vec<u16> = rank_for_capability(&entries, "web_search").iter().map(|e| e.netuid).collect();
        assert_eq!(order, vec![4, 6, 7, 8, 9, 2, 5, 1]);
        let mut reversed: Vec<LedgerEntry> = entries.to_vec();
        reversed.reverse();
        let again: Vec<u16> = rank_for_capability(&reversed, "web_search").iter().map(|e| e.netuid).collect();
        assert_eq!(again, order, "the order does not depend on the input order");
        assert!(rank_for_capability(&entries, "scrape").is_empty());
    }
}
