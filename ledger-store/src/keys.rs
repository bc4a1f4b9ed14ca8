//! The Ledger's keyspaces: where each record kind lives (column family, prefix) and its key
//! type. The bytes are the layout of schema version 1, so existing databases read unchanged.

use orchestra_proto::canonical::Digest;
use orchestra_proto::ledger::LedgerEntry;
use orchestra_store::{BigEndian, Key, Keyspace, Slot};

use crate::governance::{Deferral, PromotionState};
use crate::records::{ApiKey, ChangeEvent, Decision, Delivery, KeyQuote, PaymentRecord, ProposalRecord, Webhook};
use crate::upkeep::UpkeepState;

pub(crate) const CF_ENTRIES: &str = "entries";
pub(crate) const CF_VERSIONS: &str = "versions";
pub(crate) const CF_PROPOSALS: &str = "proposals";
pub(crate) const CF_DECISIONS: &str = "decisions";
pub(crate) const CF_CHANGES: &str = "changes";
pub(crate) const CF_API_KEYS: &str = "api_keys";
pub(crate) const CF_USAGE: &str = "usage";
pub(crate) const CF_WEBHOOKS: &str = "webhooks";
pub(crate) const CF_OUTBOX: &str = "outbox";
/// The general-purpose family: the Ledger's bookkeeping outside the root and the feed (upkeep,
/// deferrals, promotions) and the validator's own records, each under its own prefix.
pub const CF_KV: &str = "kv";
/// Key quotes (`quote/{id}`) and accepted payments (`paid/{payment id}`).
pub(crate) const CF_PAYMENTS: &str = "payments";

/// Every column family of a Ledger database ([`orchestra_store::META_CF`] comes with the engine).
pub(crate) const ALL_CFS: &[&str] = &[
    CF_ENTRIES,
    CF_VERSIONS,
    CF_PROPOSALS,
    CF_DECISIONS,
    CF_CHANGES,
    CF_API_KEYS,
    CF_USAGE,
    CF_WEBHOOKS,
    CF_OUTBOX,
    CF_KV,
    CF_PAYMENTS,
];

/// Current entries by netuid.
pub(crate) const ENTRIES: Keyspace<u16, LedgerEntry> = Keyspace::new(CF_ENTRIES, "");
/// Every version of every entry by (netuid, version).
pub(crate) const VERSIONS: Keyspace<(u16, u64), LedgerEntry> = Keyspace::new(CF_VERSIONS, "");
pub(crate) const PROPOSALS: Keyspace<[u8; 32], ProposalRecord> = Keyspace::new(CF_PROPOSALS, "");
pub(crate) const DECISIONS: Keyspace<[u8; 32], Decision> = Keyspace::new(CF_DECISIONS, "");
/// The change feed by sequence number.
pub(crate) const CHANGES: Keyspace<u64, ChangeEvent> = Keyspace::new(CF_CHANGES, "");
/// API keys by the hash of the secret.
pub(crate) const API_KEYS: Keyspace<String, ApiKey> = Keyspace::new(CF_API_KEYS, "");
/// Usage counters by `{key_id}/{period}`.
pub(crate) const USAGE: Keyspace<String, u64, BigEndian> = Keyspace::new(CF_USAGE, "");
pub(crate) const WEBHOOKS: Keyspace<String, Webhook> = Keyspace::new(CF_WEBHOOKS, "");
pub(crate) const OUTBOX: Keyspace<DeliveryKey, Delivery> = Keyspace::new(CF_OUTBOX, "");
pub(crate) const QUOTES: Keyspace<String, KeyQuote> = Keyspace::new(CF_PAYMENTS, "quote/");
pub(crate) const PAYMENTS: Keyspace<String, PaymentRecord> = Keyspace::new(CF_PAYMENTS, "paid/");
/// The last assigned change sequence number.
pub(crate) const LAST_SEQ: Slot<u64, BigEndian> = Slot::new(orchestra_store::META_CF, "last_seq");
/// Upkeep state by netuid.
pub(crate) const UPKEEP: Keyspace<PaddedNetuid, UpkeepState> = Keyspace::new(CF_KV, "upkeep/entry/");
/// Proposals waiting for another probe.
pub(crate) const DEFERRED: Keyspace<HexDigest, Deferral> = Keyspace::new(CF_KV, "governance/deferred/");
/// Candidates' runs of successful promotion probes.
pub(crate) const PROMOTIONS: Keyspace<DecimalNetuid, PromotionState> = Keyspace::new(CF_KV, "governance/promotion/");

/// A netuid as five zero-padded decimal digits: text, and still in netuid order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PaddedNetuid(pub u16);

impl Key for PaddedNetuid {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("{:05}", self.0).as_bytes());
    }
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        parse_netuid(bytes).map(PaddedNetuid)
    }
}

/// A netuid as unpadded decimal text (the promotion layout; looked up, never scanned in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DecimalNetuid(pub u16);

impl Key for DecimalNetuid {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0.to_string().as_bytes());
    }
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        parse_netuid(bytes).map(DecimalNetuid)
    }
}

fn parse_netuid(bytes: &[u8]) -> Result<u16, String> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("`{}` is not a netuid", String::from_utf8_lossy(bytes)))
}

/// A digest as its hex text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HexDigest(pub Digest);

impl Key for HexDigest {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0.to_string().as_bytes());
    }
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let s = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
        Digest::from_hex(s).map(HexDigest).map_err(|e| e.to_string())
    }
}

/// An outbox row: the event's sequence number (big-endian, so rows are in feed order), `/`, the
/// webhook id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeliveryKey {
    pub seq: u64,
    pub webhook_id: String,
}

impl DeliveryKey {
    pub(crate) fn of(d: &Delivery) -> Self {
        DeliveryKey { seq: d.event.seq, webhook_id: d.webhook_id.clone() }
    }
}

impl Key for DeliveryKey {
    fn encode(&self, out: &mut Vec<u8>) {
        self.seq.encode(out);
        out.push(b'/');
        out.extend_from_slice(self.webhook_id.as_bytes());
    }
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < 9 || bytes[8] != b'/' {
            return Err("not `{seq}/{webhook id}`".into());
        }
        let seq = u64::decode(&bytes[..8])?;
        let webhook_id = String::decode(&bytes[9..])?;
        Ok(DeliveryKey { seq, webhook_id })
    }
}
