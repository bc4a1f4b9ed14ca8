//! Records kept by the Ledger store: change events, proposals and decisions, API keys, webhooks
//! and webhook deliveries.

use orchestra_proto::canonical::Digest;
use orchestra_proto::synapses::LedgerProposal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a change event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    EntryCreated,
    EntryUpdated,
    SchemaChanged,
    EndpointChanged,
    CapabilityAdded,
    MetricsUpdated,
    EntryDeprecated,
    EntryVerified,
    /// A verified entry the validator's re-probes found unreliable or down (see
    /// [`crate::upkeep`]).
    EntryDegraded,
    /// A degraded entry answering again: verified once more.
    EntryRecovered,
    ProposalReceived,
    ProposalConfirmed,
    ProposalApproved,
    ProposalRejected,
}

impl ChangeKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ChangeKind::EntryCreated => "entry_created",
            ChangeKind::EntryUpdated => "entry_updated",
            ChangeKind::SchemaChanged => "schema_changed",
            ChangeKind::EndpointChanged => "endpoint_changed",
            ChangeKind::CapabilityAdded => "capability_added",
            ChangeKind::MetricsUpdated => "metrics_updated",
            ChangeKind::EntryDeprecated => "entry_deprecated",
            ChangeKind::EntryVerified => "entry_verified",
            ChangeKind::EntryDegraded => "entry_degraded",
            ChangeKind::EntryRecovered => "entry_recovered",
            ChangeKind::ProposalReceived => "proposal_received",
            ChangeKind::ProposalConfirmed => "proposal_confirmed",
            ChangeKind::ProposalApproved => "proposal_approved",
            ChangeKind::ProposalRejected => "proposal_rejected",
        }
    }
}

/// One entry of the change feed. `seq` is dense and strictly increasing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeEvent {
    pub seq: u64,
    pub at_ms: u64,
    pub kind: ChangeKind,
    #[serde(default)]
    pub netuid: Option<u16>,
    /// The entry version this event produced, for entry changes.
    #[serde(default)]
    pub version: Option<u64>,
    /// Who caused it: a validator or miner hotkey, `seed`, or an operator name.
    pub actor: String,
    #[serde(default)]
    pub detail: Value,
}

/// Where a proposal stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ProposalStatus {
    Pending,
    Approved,
    Rejected { reason: String },
}

/// A proposal as received, deduplicated by content hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProposalRecord {
    /// Content hash of the proposed change (see [`crate::governance::proposal_id`]).
    pub id: Digest,
    pub proposal: LedgerProposal,
    /// The first valid proposer: earns the discovery credit.
    pub first_proposer: String,
    pub received_ms: u64,
    /// Later proposers of the same change, in arrival order.
    #[serde(default)]
    pub confirmations: Vec<Confirmation>,
    pub status: ProposalStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confirmation {
    pub hotkey: String,
    pub at_ms: u64,
}

/// The decision on a proposal, with what the probe saw and who is credited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub proposal_id: Digest,
    pub approved: bool,
    pub reason: String,
    pub decided_by: String,
    pub decided_ms: u64,
    /// The probe's own observation (response digest, fields seen, latency).
    #[serde(default)]
    pub probe: Value,
    /// Entry version produced by an approval.
    #[serde(default)]
    pub version: Option<u64>,
    pub credits: Vec<Credit>,
}

/// Credit (or penalty) earned from a decided proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credit {
    pub hotkey: String,
    pub kind: CreditKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditKind {
    /// First valid proposer of an approved change.
    Discovery,
    /// A later proposer of an approved change.
    Confirmation,
    /// A proposer of a change the probe refuted.
    FalseProposal,
}

/// API tiers of the Ledger API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Free,
    Developer,
    Production,
    Enterprise,
}

impl std::str::FromStr for Tier {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "free" => Ok(Tier::Free),
            "developer" => Ok(Tier::Developer),
            "production" => Ok(Tier::Production),
            "enterprise" => Ok(Tier::Enterprise),
            other => Err(format!("unknown tier `{other}` (free, developer, production, enterprise)")),
        }
    }
}

/// An API key; only the sha256 of the secret is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    /// Lowercase hex sha256 of the secret.
    pub key_hash: String,
    pub tier: Tier,
    #[serde(default)]
    pub name: String,
    pub created_ms: u64,
    #[serde(default)]
    pub revoked: bool,
    /// Enterprise: custom monthly quota (None = the tier's default).
    #[serde(default)]
    pub monthly_quota: Option<u64>,
    /// Enterprise: custom requests per second (None = the tier's default).
    #[serde(default)]
    pub rate_per_sec: Option<u32>,
    /// The key stops working at this time (Unix ms); None = never. Keys bought with TAO run for
    /// the months paid for, and a later payment extends them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
}

impl ApiKey {
    /// Whether the key has expired at `now_ms`.
    pub fn expired_at(&self, now_ms: u64) -> bool {
        self.expires_ms.is_some_and(|e| now_ms >= e)
    }
}

/// A price quote for an API key paid in TAO. The buyer transfers `amount_rao` to `pay_to` with
/// `reference` in the same extrinsic (a `System.remark_with_event`), then presents the
/// transaction; the quote is redeemed at most once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyQuote {
    /// Random id (hex).
    pub id: String,
    /// What the payment's remark must be, byte for byte.
    pub reference: String,
    pub tier: Tier,
    pub months: u32,
    /// Price × months, in rao.
    pub amount_rao: u64,
    /// SS58 of the coldkey the transfer must reach.
    pub pay_to: String,
    /// SS58 of the account that must sign the transfer, if the buyer named one.
    #[serde(default)]
    pub payer: Option<String>,
    /// A new key: the sha256 (hex) of the secret the buyer generated (the secret never travels).
    #[serde(default)]
    pub key_hash: Option<String>,
    /// An extension: the id of the key to extend.
    #[serde(default)]
    pub extend_key: Option<String>,
    /// Monthly quota the key gets (None = unlimited).
    #[serde(default)]
    pub monthly_quota: Option<u64>,
    pub created_ms: u64,
    /// Pay before this time (Unix ms).
    pub expires_ms: u64,
    /// Set once the quote is paid and the key issued or extended.
    #[serde(default)]
    pub redeemed: Option<PaymentRecord>,
}

/// A payment that was accepted for a key; its id is never accepted again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    /// `{block}/{extrinsic}`: where the transfer is on chain.
    pub id: String,
    pub quote_id: String,
    pub key_id: String,
    pub payer: String,
    pub amount_rao: u64,
    pub block_number: u64,
    #[serde(default)]
    pub block_hash: Option<String>,
    pub extrinsic_hash: String,
    pub tier: Tier,
    pub months: u32,
    /// The key's expiry after this payment (Unix ms).
    pub key_expires_ms: u64,
    pub at_ms: u64,
}

/// A webhook subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    /// HMAC-SHA256 secret.
    pub secret: String,
    /// Only events for these netuids (empty = all).
    #[serde(default)]
    pub netuids: Vec<u16>,
    /// Only these kinds (empty = all).
    #[serde(default)]
    pub kinds: Vec<ChangeKind>,
    /// API key id that owns it.
    pub owner: String,
    pub active: bool,
    pub created_ms: u64,
}

impl Webhook {
    pub fn matches(&self, ev: &ChangeEvent) -> bool {
        let net_ok = self.netuids.is_empty() || ev.netuid.is_some_and(|n| self.netuids.contains(&n));
        let kind_ok = self.kinds.is_empty() || self.kinds.contains(&ev.kind);
        net_ok && kind_ok
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// Gave up after the maximum number of attempts (the dead-letter state).
    Dead,
}

/// One event to deliver to one webhook (the outbox row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub webhook_id: String,
    pub event: ChangeEvent,
    pub attempts: u32,
    pub next_attempt_ms: u64,
    pub state: DeliveryState,
    #[serde(default)]
    pub last_error: Option<String>,
}

impl Delivery {
    pub fn new(webhook_id: String, event: ChangeEvent) -> Self {
        Delivery {
            webhook_id,
            next_attempt_ms: event.at_ms,
            event,
            attempts: 0,
            state: DeliveryState::Pending,
            last_error: None,
        }
    }

    /// The event id the receiver sees (stable across retries, for deduplication).
    pub fn event_id(&self) -> String {
        format!("{}-{}", self.event.seq, self.webhook_id)
    }
}
