//! The JSON bodies of the Ledger API, shared by the server (which pre-serializes them into its
//! snapshot) and the client (which parses them).
//!
//! Types from `orchestra-proto` and `orchestra-ledger-store` ([`LedgerEntry`], [`ChangeEvent`],
//! [`InclusionProof`]) are sent as they are; the OpenAPI document describes them as objects
//! pointing to those crates.

use orchestra_ledger_store::{ChangeEvent, ChangeKind, Tier};
use orchestra_proto::canonical::Digest;
use orchestra_proto::ledger::{EntryStatus, LedgerEntry};
use orchestra_proto::receipt::InclusionProof;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};

/// What the free tier sees of an entry: who it is and what it does, without schemas,
/// transports or metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SubnetSummary {
    pub netuid: u16,
    pub name: String,
    pub description: String,
    pub capabilities: Vec<String>,
    /// `candidate`, `verified` or `deprecated`.
    #[schema(value_type = String, example = "verified")]
    pub status: EntryStatus,
    pub version: u64,
    #[serde(default)]
    pub simulated: bool,
}

impl From<&LedgerEntry> for SubnetSummary {
    fn from(e: &LedgerEntry) -> Self {
        SubnetSummary {
            netuid: e.netuid,
            name: e.name.clone(),
            description: e.description.clone(),
            capabilities: e.capabilities.clone(),
            status: e.status,
            version: e.version,
            simulated: e.simulated,
        }
    }
}

/// An entry as a tier sees it: the whole [`LedgerEntry`] (developer and up) or a
/// [`SubnetSummary`] (free).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SubnetView {
    // Tried first when parsing: a summary lacks the entry's required fields, so it never
    // parses as a full entry.
    Full(Box<LedgerEntry>),
    Summary(SubnetSummary),
}

impl SubnetView {
    pub fn netuid(&self) -> u16 {
        match self {
            SubnetView::Full(e) => e.netuid,
            SubnetView::Summary(s) => s.netuid,
        }
    }
    pub fn name(&self) -> &str {
        match self {
            SubnetView::Full(e) => &e.name,
            SubnetView::Summary(s) => &s.name,
        }
    }
    /// The full entry, when the tier was allowed to see it.
    pub fn full(&self) -> Option<&LedgerEntry> {
        match self {
            SubnetView::Full(e) => Some(e),
            SubnetView::Summary(_) => None,
        }
    }
}

/// The schema of a full Ledger entry (documented in `orchestra_proto::ledger::LedgerEntry`).
pub(crate) fn ledger_entry_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "A full Ledger entry (orchestra_proto::ledger::LedgerEntry): netuid, name, description, \
             capabilities, transports, input_schema, output_schema, fixture, metrics, version, \
             last_verified_ms, provenance, status, simulated.",
        ))
        .property("netuid", ObjectBuilder::new().schema_type(Type::Integer))
        .property("name", ObjectBuilder::new().schema_type(Type::String))
        .property("description", ObjectBuilder::new().schema_type(Type::String))
        .property(
            "capabilities",
            utoipa::openapi::schema::ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)),
        )
        .property(
            "transports",
            utoipa::openapi::schema::ArrayBuilder::new().items(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .description(Some("tagged by `kind`: axon_v10, btauth, http_json, openai_chat")),
            ),
        )
        .property("input_schema", ObjectBuilder::new().schema_type(Type::Object).description(Some("JSON Schema")))
        .property("output_schema", ObjectBuilder::new().schema_type(Type::Object).description(Some("JSON Schema")))
        .property("fixture", ObjectBuilder::new().description(Some("request used for probing")))
        .property(
            "metrics",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some("latency_p50_ms, latency_p95_ms, reliability, cost_micros")),
        )
        .property("version", ObjectBuilder::new().schema_type(Type::Integer))
        .property("last_verified_ms", ObjectBuilder::new().schema_type(Type::Integer))
        .property(
            "provenance",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some("proposer, verifiers, evidence leaf hashes")),
        )
        .property(
            "status",
            ObjectBuilder::new().schema_type(Type::String).enum_values(Some([
                "candidate",
                "verified",
                "degraded",
                "deprecated",
            ])),
        )
        .property("simulated", ObjectBuilder::new().schema_type(Type::Boolean))
        .required("netuid")
        .required("name")
        .required("capabilities")
        .required("transports")
        .required("input_schema")
        .required("output_schema")
        .required("status")
        .into()
}

/// Marker type carrying the [`LedgerEntry`] schema into the OpenAPI document.
#[derive(Debug)]
pub struct LedgerEntryDoc;

impl utoipa::PartialSchema for LedgerEntryDoc {
    fn schema() -> RefOr<Schema> {
        RefOr::T(ledger_entry_schema())
    }
}

impl ToSchema for LedgerEntryDoc {
    fn name() -> std::borrow::Cow<'static, str> {
        "LedgerEntry".into()
    }
}

/// Marker type carrying the change event schema into the OpenAPI document.
#[derive(Debug)]
pub struct ChangeEventDoc;

impl utoipa::PartialSchema for ChangeEventDoc {
    fn schema() -> RefOr<Schema> {
        RefOr::T(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some(
                    "One event of the change feed (orchestra_ledger_store::ChangeEvent); seq is dense and increasing.",
                ))
                .property("seq", ObjectBuilder::new().schema_type(Type::Integer))
                .property("at_ms", ObjectBuilder::new().schema_type(Type::Integer))
                .property(
                    "kind",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(ALL_KINDS.iter().map(|k| k.as_str()))),
                )
                .property("netuid", ObjectBuilder::new().schema_type(Type::Integer))
                .property("version", ObjectBuilder::new().schema_type(Type::Integer))
                .property("actor", ObjectBuilder::new().schema_type(Type::String))
                .property("detail", ObjectBuilder::new())
                .required("seq")
                .required("at_ms")
                .required("kind")
                .required("actor")
                .into(),
        )
    }
}

impl ToSchema for ChangeEventDoc {
    fn name() -> std::borrow::Cow<'static, str> {
        "ChangeEvent".into()
    }
}

/// Every change kind, for documentation and parsing.
pub const ALL_KINDS: [ChangeKind; 14] = [
    ChangeKind::EntryCreated,
    ChangeKind::EntryUpdated,
    ChangeKind::SchemaChanged,
    ChangeKind::EndpointChanged,
    ChangeKind::CapabilityAdded,
    ChangeKind::MetricsUpdated,
    ChangeKind::EntryDeprecated,
    ChangeKind::EntryVerified,
    ChangeKind::EntryDegraded,
    ChangeKind::EntryRecovered,
    ChangeKind::ProposalReceived,
    ChangeKind::ProposalConfirmed,
    ChangeKind::ProposalApproved,
    ChangeKind::ProposalRejected,
];

impl utoipa::PartialSchema for SubnetView {
    fn schema() -> RefOr<Schema> {
        RefOr::T(Schema::OneOf(
            OneOfBuilder::new()
                .item(Ref::from_schema_name("LedgerEntry"))
                .item(Ref::from_schema_name("SubnetSummary"))
                .description(Some("The full entry (developer tier and up) or its summary (free tier)."))
                .build(),
        ))
    }
}

impl ToSchema for SubnetView {}

/// `GET /v1/subnets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SubnetList {
    /// Change-feed sequence number this view is current to (use it as `since` for changes).
    pub seq: u64,
    pub count: usize,
    pub subnets: Vec<SubnetView>,
}

/// `GET /v1/find?capability=...`: best first (verified before candidate, then reliability,
/// then p50 latency, then cost; deprecated entries left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FindResult {
    pub capability: String,
    pub seq: u64,
    pub count: usize,
    pub subnets: Vec<SubnetView>,
}

/// `GET /v1/subnets/{netuid}/schema`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SchemaView {
    pub netuid: u16,
    pub name: String,
    pub version: u64,
    #[schema(value_type = Object)]
    pub input_schema: Value,
    #[schema(value_type = Object)]
    pub output_schema: Value,
    /// The request validators probe with; it validates against `input_schema`.
    #[schema(value_type = Object)]
    pub fixture: Value,
}

/// `GET /v1/subnets/{netuid}/history`: every version, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryView {
    pub netuid: u16,
    #[schema(value_type = Vec<LedgerEntryDoc>)]
    pub versions: Vec<LedgerEntry>,
}

/// `GET /v1/changes?since=SEQ` as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChangesPage {
    pub since: u64,
    /// The newest sequence number in the feed.
    pub last_seq: u64,
    /// Pass this as `since` to get the next page (equal to `since` when nothing is new).
    pub next_since: u64,
    #[schema(value_type = Vec<ChangeEventDoc>)]
    pub events: Vec<ChangeEvent>,
}

/// One entry's leaf and inclusion proof under the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProofItem {
    pub netuid: u16,
    pub version: u64,
    /// blake3 leaf of the entry's canonical JSON (`LedgerEntry::leaf`).
    #[schema(value_type = String, example = "0x3a…")]
    pub leaf: Digest,
    /// `{index, leaf_count, siblings: [[side, digest], ...]}` (orchestra_proto::receipt::InclusionProof).
    #[schema(value_type = Object)]
    pub proof: InclusionProof,
}

/// `GET /v1/root`: the Merkle root over current entries (netuid order) and every proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RootView {
    pub seq: u64,
    #[schema(value_type = String)]
    pub root: Digest,
    pub leaf_count: usize,
    pub entries: Vec<ProofItem>,
}

/// `GET /v1/root?netuid=N`: one entry's proof, with the entry itself for developer and up
/// (recompute its leaf and check the proof against a root published on chain).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EntryProofView {
    pub seq: u64,
    #[schema(value_type = String)]
    pub root: Digest,
    pub netuid: u16,
    pub version: u64,
    #[schema(value_type = String)]
    pub leaf: Digest,
    #[schema(value_type = Object)]
    pub proof: InclusionProof,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<LedgerEntryDoc>)]
    pub entry: Option<LedgerEntry>,
}

impl EntryProofView {
    /// Whether the proof holds for the entry (recomputing its leaf) under `root`.
    pub fn verify_against(&self, root: &Digest) -> bool {
        let leaf_ok = match &self.entry {
            Some(e) => e.leaf().map(|l| l == self.leaf).unwrap_or(false),
            None => true,
        };
        leaf_ok && self.proof.verify(&self.leaf, root)
    }
}

/// `POST /v1/webhooks` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// `http://` or `https://` URL that receives `POST`s.
    pub url: String,
    /// Only events of these netuids (empty: all).
    #[serde(default)]
    pub netuids: Vec<u16>,
    /// Only these change kinds (empty: all), e.g. `schema_changed`, `endpoint_changed`.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub kinds: Vec<ChangeKind>,
}

/// `POST /v1/webhooks` answer. The secret is shown once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookCreated {
    pub id: String,
    pub url: String,
    pub netuids: Vec<u16>,
    #[schema(value_type = Vec<String>)]
    pub kinds: Vec<ChangeKind>,
    /// HMAC-SHA256 key for `X-Orchestra-Signature`; store it, it is not shown again.
    pub secret: String,
    pub created_ms: u64,
}

/// Delivery counts of one webhook.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryCounts {
    pub pending: usize,
    pub delivered: usize,
    /// Gave up after the maximum number of attempts.
    pub dead: usize,
}

/// `GET /v1/webhooks/{id}` (no secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub netuids: Vec<u16>,
    #[schema(value_type = Vec<String>)]
    pub kinds: Vec<ChangeKind>,
    pub active: bool,
    pub created_ms: u64,
    pub deliveries: DeliveryCounts,
}

/// What a webhook receiver gets in the body of each `POST`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookPayload {
    /// Event id, stable across retries (also in `X-Orchestra-Event-Id`): dedupe on it.
    pub id: String,
    pub webhook_id: String,
    #[schema(value_type = ChangeEventDoc)]
    pub event: ChangeEvent,
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    /// Sequence number the served snapshot is current to.
    pub seq: u64,
    pub entries: usize,
    /// The Ledger root of that snapshot.
    #[schema(value_type = String)]
    pub root: Digest,
}

/// Lowercase tier name as used on the wire and the command line.
pub fn tier_str(t: Tier) -> &'static str {
    crate::error::tier_name(t)
}
