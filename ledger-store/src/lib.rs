//! The Subnet Ledger: its records, rules and change feed, on the `orchestra-store` engine.
//!
//! One [`LedgerStore`] owns an engine database with a column family per kind of record (see
//! `keys`): current entries, every entry version, proposals, decisions, the change feed
//! (monotonic sequence numbers), API keys, usage counters, webhooks and the webhook outbox,
//! quotes and payments. Every logical change is one atomic batch (the entry, its version, its
//! change event and the outbox deliveries it triggers land together or not at all), synced by
//! the engine so that a write acknowledged to a caller survives a crash.
//!
//! Writes are serialized by one mutex: sequence numbers must be dense and ordered, and the
//! write rate of a Ledger (proposals, key changes) is tiny next to its read rate; reads never
//! take the lock.
//!
//! - [`governance`]: the rules that turn proposals into entry changes.
//! - [`upkeep`]: the rules that keep entries true from a validator's scheduled re-probes
//!   (latency, reliability, observed schema, cost; verified → degraded → deprecated).
//! - [`records`]: the stored record types.

pub mod governance;
mod keys;
pub mod records;
pub mod upkeep;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use orchestra_proto::canonical::Digest;
use orchestra_proto::ledger::LedgerEntry;
use orchestra_proto::receipt::{InclusionProof, merkle_root, prove};
use orchestra_store::{Batch, Schema, Store};
use parking_lot::{Mutex, RwLock};

pub use keys::CF_KV;
pub use orchestra_store::StoreConfig;
pub use records::*;

use keys::*;

/// Current on-disk schema version. Bump it and add a step to the migration in
/// [`LedgerStore::open`] for any change to keys or record layouts.
pub const SCHEMA_VERSION: u32 = 1;

/// The Ledger's database layout, for the engine.
const SCHEMA: Schema = Schema { name: "ledger", version: SCHEMA_VERSION, column_families: ALL_CFS };

/// Errors of the Ledger.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage engine failed (I/O, lock, corrupt record, schema version).
    #[error(transparent)]
    Engine(#[from] orchestra_store::StoreError),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Proto(#[from] orchestra_proto::ProtoError),
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A function called after every committed write that added change events (see
/// [`LedgerStore::on_commit`]).
pub type CommitListener = Box<dyn Fn(u64) + Send + Sync>;

/// The Ledger database.
pub struct LedgerStore {
    db: Store,
    /// Serializes writers and holds the last assigned change sequence number.
    writer: Mutex<u64>,
    /// Mirror of the last committed sequence number, so readers (API snapshots, SSE) can ask
    /// "has anything changed?" without waiting behind a writer's fsync.
    committed: AtomicU64,
    /// Told about every commit that added change events.
    listeners: RwLock<Vec<CommitListener>>,
}

impl std::fmt::Debug for LedgerStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerStore").field("path", &self.db.path()).finish()
    }
}

/// A batch being assembled under the writer lock; committed atomically.
pub struct Tx<'a> {
    store: &'a LedgerStore,
    batch: Batch,
    seq: u64,
    events: Vec<ChangeEvent>,
}

impl LedgerStore {
    /// Open (creating if needed) and migrate to [`SCHEMA_VERSION`].
    pub fn open(config: StoreConfig) -> Result<Self, StoreError> {
        // Version 0 → 1: a new database; nothing to convert. Later steps go here, each adding
        // its conversion to the batch that stamps the new version.
        let db = Store::open_with_migration(&config, SCHEMA, |_, _, _| Ok(()))?;
        let seq = LAST_SEQ.get(&db)?.unwrap_or(0);
        Ok(LedgerStore {
            db,
            writer: Mutex::new(seq),
            committed: AtomicU64::new(seq),
            listeners: RwLock::new(Vec::new()),
        })
    }

    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// The engine under the Ledger, for records that live next to it (the validator's own
    /// keyspaces in [`CF_KV`]). Batches committed on it directly do not take the Ledger's writer
    /// lock, so they must not touch Ledger records (entries, feed, ...), only their own.
    pub fn db(&self) -> &Store {
        &self.db
    }

    // ---------------------------------------------------------------- writes

    /// Run `f` against a new batch under the writer lock and commit it atomically. Change events
    /// added by `f` get dense sequence numbers and fan out to matching webhooks in the same
    /// batch. Returns `f`'s value and the committed events.
    pub fn write<R>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<R, StoreError>,
    ) -> Result<(R, Vec<ChangeEvent>), StoreError> {
        let mut guard = self.writer.lock();
        let mut tx = Tx { store: self, batch: Batch::new(), seq: *guard, events: Vec::new() };
        let r = f(&mut tx)?;
        let Tx { mut batch, seq, events, .. } = tx;
        if !events.is_empty() {
            let hooks = self.webhooks()?;
            for ev in &events {
                for h in hooks.iter().filter(|h| h.active && h.matches(ev)) {
                    let d = Delivery::new(h.id.clone(), ev.clone());
                    OUTBOX.put(&mut batch, &DeliveryKey::of(&d), &d)?;
                }
            }
            LAST_SEQ.put(&mut batch, &seq)?;
        }
        self.db.commit(batch)?;
        *guard = seq;
        self.committed.store(seq, Ordering::Release);
        drop(guard);
        if !events.is_empty() {
            for l in self.listeners.read().iter() {
                l(seq);
            }
        }
        Ok((r, events))
    }

    /// Call `listener` with the new last sequence number after every committed write that
    /// added change events (after the batch is durable and the writer lock is released). It
    /// runs on the writer's thread: it must be quick and must not block or write to the store
    /// (e.g. send on a channel).
    pub fn on_commit(&self, listener: impl Fn(u64) + Send + Sync + 'static) {
        self.listeners.write().push(Box::new(listener));
    }

    /// Create or replace an entry (bumping its version) with a change event. The entry is
    /// validated first; nothing is written if it is malformed.
    pub fn upsert_entry(&self, entry: LedgerEntry, kind: ChangeKind, actor: &str) -> Result<ChangeEvent, StoreError> {
        let (_, mut events) = self.write(|tx| tx.upsert_entry(entry, kind, actor, serde_json::Value::Null))?;
        events.pop().ok_or_else(|| StoreError::Invalid("no change event recorded".into()))
    }

    /// Load entries that are not in the store yet (a seed Ledger). Existing entries are left
    /// alone, so re-seeding after a restart changes nothing. Returns how many were added.
    pub fn seed(&self, entries: Vec<LedgerEntry>) -> Result<usize, StoreError> {
        for e in &entries {
            e.validate()?;
        }
        let (n, _) = self.write(|tx| {
            let mut n = 0;
            for e in entries {
                if tx.store.entry(e.netuid)?.is_none() {
                    tx.upsert_entry(e, ChangeKind::EntryCreated, "seed", serde_json::Value::Null)?;
                    n += 1;
                }
            }
            Ok(n)
        })?;
        Ok(n)
    }

    // ---------------------------------------------------------------- entries

    pub fn entry(&self, netuid: u16) -> Result<Option<LedgerEntry>, StoreError> {
        Ok(ENTRIES.get(&self.db, &netuid)?)
    }

    /// All current entries in netuid order.
    pub fn entries(&self) -> Result<Vec<LedgerEntry>, StoreError> {
        values(ENTRIES.scan(&self.db))
    }

    /// Entries offering a capability, best first by the shared ranking rule
    /// ([`orchestra_proto::ledger::rank_cmp`]). Deprecated entries are left out.
    pub fn find(&self, capability: &str) -> Result<Vec<LedgerEntry>, StoreError> {
        let entries = self.entries()?;
        Ok(orchestra_proto::ledger::rank_for_capability(&entries, capability).into_iter().cloned().collect())
    }

    /// One version of an entry.
    pub fn entry_version(&self, netuid: u16, version: u64) -> Result<Option<LedgerEntry>, StoreError> {
        Ok(VERSIONS.get(&self.db, &(netuid, version))?)
    }

    /// Every version of an entry, oldest first.
    pub fn history(&self, netuid: u16) -> Result<Vec<LedgerEntry>, StoreError> {
        values(VERSIONS.range(&self.db, (netuid, 0)..=(netuid, u64::MAX)))
    }

    /// The Merkle root over current entries (leaves in netuid order).
    pub fn root(&self) -> Result<Digest, StoreError> {
        let leaves = self.entries()?.iter().map(LedgerEntry::leaf).collect::<Result<Vec<_>, _>>()?;
        Ok(merkle_root(&leaves))
    }

    /// An entry with its inclusion proof under the current root.
    pub fn proof(&self, netuid: u16) -> Result<(LedgerEntry, InclusionProof, Digest), StoreError> {
        let entries = self.entries()?;
        let index = entries
            .iter()
            .position(|e| e.netuid == netuid)
            .ok_or_else(|| StoreError::NotFound(format!("no Ledger entry for netuid {netuid}")))?;
        let leaves = entries.iter().map(LedgerEntry::leaf).collect::<Result<Vec<_>, _>>()?;
        let proof = prove(&leaves, index)?;
        let root = merkle_root(&leaves);
        Ok((entries[index].clone(), proof, root))
    }

    // ---------------------------------------------------------------- change feed

    /// Change events with `seq > since`, oldest first, at most `limit`.
    pub fn changes_since(&self, since: u64, limit: usize) -> Result<Vec<ChangeEvent>, StoreError> {
        // Keys are big-endian sequence numbers: the range seeks straight to the first one after
        // `since`, and the limit stops decoding.
        let mut out = Vec::new();
        for item in CHANGES.iter(&self.db, since.saturating_add(1)..)?.take(limit) {
            out.push(item?.1);
        }
        Ok(out)
    }

    /// Sequence number of the newest committed change event (0 when there is none). Lock-free:
    /// cheap enough to poll on a request path.
    pub fn last_seq(&self) -> u64 {
        self.committed.load(Ordering::Acquire)
    }

    /// Whether any change event was committed after `seq`.
    pub fn changed_since(&self, seq: u64) -> bool {
        self.last_seq() > seq
    }

    // ---------------------------------------------------------------- proposals

    pub fn proposal(&self, id: &Digest) -> Result<Option<ProposalRecord>, StoreError> {
        Ok(PROPOSALS.get(&self.db, &id.0)?)
    }

    pub fn proposals(&self) -> Result<Vec<ProposalRecord>, StoreError> {
        values(PROPOSALS.scan(&self.db))
    }

    pub fn decision(&self, id: &Digest) -> Result<Option<Decision>, StoreError> {
        Ok(DECISIONS.get(&self.db, &id.0)?)
    }

    // ---------------------------------------------------------------- API keys, usage, webhooks

    pub fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        Ok(API_KEYS.get(&self.db, &key_hash.to_string())?)
    }

    pub fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        values(API_KEYS.scan(&self.db))
    }

    pub fn put_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.write(|tx| Ok(API_KEYS.put(&mut tx.batch, &key.key_hash, key)?))?;
        Ok(())
    }

    /// The key with this id (a scan: key management is rare).
    pub fn api_key_by_id(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.api_keys()?.into_iter().find(|k| k.id == id))
    }

    // ---------------------------------------------------------------- keys paid in TAO

    pub fn put_quote(&self, q: &KeyQuote) -> Result<(), StoreError> {
        self.write(|tx| Ok(QUOTES.put(&mut tx.batch, &q.id, q)?))?;
        Ok(())
    }

    pub fn quote(&self, id: &str) -> Result<Option<KeyQuote>, StoreError> {
        Ok(QUOTES.get(&self.db, &id.to_string())?)
    }

    /// The accepted payment with this id, if any.
    pub fn payment(&self, id: &str) -> Result<Option<PaymentRecord>, StoreError> {
        Ok(PAYMENTS.get(&self.db, &id.to_string())?)
    }

    /// Every accepted payment, in id order.
    pub fn payments(&self) -> Result<Vec<PaymentRecord>, StoreError> {
        values(PAYMENTS.scan(&self.db))
    }

    /// Redeems a quote with a payment in one atomic batch: the quote is marked redeemed, the
    /// payment recorded (so it is never accepted again) and `key` stored (issued or extended).
    /// Fails with [`StoreError::Conflict`] when the quote was redeemed already or the payment was
    /// used before, checked under the writer lock so two concurrent redemptions cannot both win.
    pub fn redeem_quote(&self, payment: &PaymentRecord, key: &ApiKey) -> Result<KeyQuote, StoreError> {
        let (q, _) = self.write(|tx| {
            let mut q = tx
                .store
                .quote(&payment.quote_id)?
                .ok_or_else(|| StoreError::NotFound(format!("quote {}", payment.quote_id)))?;
            if let Some(done) = &q.redeemed {
                return Err(StoreError::Conflict(format!(
                    "quote {} was redeemed already with payment {}",
                    q.id, done.id
                )));
            }
            if let Some(used) = tx.store.payment(&payment.id)? {
                return Err(StoreError::Conflict(format!(
                    "payment {} was used already (quote {}, key {})",
                    used.id, used.quote_id, used.key_id
                )));
            }
            q.redeemed = Some(payment.clone());
            QUOTES.put(&mut tx.batch, &q.id, &q)?;
            PAYMENTS.put(&mut tx.batch, &payment.id, payment)?;
            API_KEYS.put(&mut tx.batch, &key.key_hash, key)?;
            Ok(q)
        })?;
        Ok(q)
    }

    /// Add `n` to a usage counter and return the new value.
    pub fn add_usage(&self, key_id: &str, period: &str, n: u64) -> Result<u64, StoreError> {
        let k = format!("{key_id}/{period}");
        let (v, _) = self.write(|tx| {
            let cur = USAGE.get(&tx.store.db, &k)?.unwrap_or(0);
            let next = cur.saturating_add(n);
            USAGE.put(&mut tx.batch, &k, &next)?;
            Ok(next)
        })?;
        Ok(v)
    }

    pub fn usage(&self, key_id: &str, period: &str) -> Result<u64, StoreError> {
        Ok(USAGE.get(&self.db, &format!("{key_id}/{period}"))?.unwrap_or(0))
    }

    pub fn webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
        values(WEBHOOKS.scan(&self.db))
    }

    pub fn put_webhook(&self, hook: &Webhook) -> Result<(), StoreError> {
        self.write(|tx| Ok(WEBHOOKS.put(&mut tx.batch, &hook.id, hook)?))?;
        Ok(())
    }

    pub fn webhook(&self, id: &str) -> Result<Option<Webhook>, StoreError> {
        Ok(WEBHOOKS.get(&self.db, &id.to_string())?)
    }

    /// Remove a webhook and its still-pending deliveries in one batch (delivered and dead rows
    /// stay as a record). Returns whether the webhook existed.
    pub fn delete_webhook(&self, id: &str) -> Result<bool, StoreError> {
        let (existed, _) = self.write(|tx| {
            if tx.store.webhook(id)?.is_none() {
                return Ok(false);
            }
            WEBHOOKS.delete(&mut tx.batch, &id.to_string());
            let pending = tx.store.deliveries()?;
            for d in pending.iter().filter(|d| d.webhook_id == id && d.state == DeliveryState::Pending) {
                OUTBOX.delete(&mut tx.batch, &DeliveryKey::of(d));
            }
            Ok(true)
        })?;
        Ok(existed)
    }

    /// Deliveries due at `now_ms` (pending, next attempt reached), oldest first.
    pub fn due_deliveries(&self, now_ms: u64, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        Ok(self
            .deliveries()?
            .into_iter()
            .filter(|d| d.state == DeliveryState::Pending && d.next_attempt_ms <= now_ms)
            .take(limit)
            .collect())
    }

    pub fn deliveries(&self) -> Result<Vec<Delivery>, StoreError> {
        values(OUTBOX.scan(&self.db))
    }

    /// Delete delivered outbox rows whose event is older than `before_ms` (pending rows are
    /// never touched; dead rows stay for inspection). Returns how many were removed. Keeps the
    /// outbox, which [`LedgerStore::due_deliveries`] scans, from growing without bound.
    pub fn prune_delivered(&self, before_ms: u64) -> Result<usize, StoreError> {
        let (n, _) = self.write(|tx| {
            let mut n = 0;
            for d in tx.store.deliveries()? {
                if d.state == DeliveryState::Delivered && d.event.at_ms < before_ms {
                    OUTBOX.delete(&mut tx.batch, &DeliveryKey::of(&d));
                    n += 1;
                }
            }
            Ok(n)
        })?;
        Ok(n)
    }

    /// Retention of the outbox: delete delivered rows whose event is older than
    /// `delivered_before_ms` and dead (dead-lettered) rows whose event is older than
    /// `dead_before_ms`. Pending rows are never touched. Returns (delivered, dead) removed.
    pub fn prune_outbox(&self, delivered_before_ms: u64, dead_before_ms: u64) -> Result<(usize, usize), StoreError> {
        let (n, _) = self.write(|tx| {
            let (mut delivered, mut dead) = (0, 0);
            for d in tx.store.deliveries()? {
                let gone = match d.state {
                    DeliveryState::Delivered if d.event.at_ms < delivered_before_ms => {
                        delivered += 1;
                        true
                    }
                    DeliveryState::Dead if d.event.at_ms < dead_before_ms => {
                        dead += 1;
                        true
                    }
                    _ => false,
                };
                if gone {
                    OUTBOX.delete(&mut tx.batch, &DeliveryKey::of(&d));
                }
            }
            Ok((delivered, dead))
        })?;
        Ok(n)
    }

    /// Retention of proposals: delete decided proposals (with their decisions) decided before
    /// `decided_before_ms`, proposals still pending since before `pending_before_ms` (never
    /// decided: their validator stopped), and then the oldest beyond `max_kept`. A removed
    /// proposal that arrives again is judged again; one whose change is already applied is
    /// refused as a no-op by [`governance::receive`], so nothing is credited twice. Returns how
    /// many proposals were removed.
    pub fn prune_proposals(
        &self,
        decided_before_ms: u64,
        pending_before_ms: u64,
        max_kept: usize,
    ) -> Result<usize, StoreError> {
        // (time, id, decided): the time a record counts from.
        let mut all: Vec<(u64, Digest, bool)> = Vec::new();
        for p in self.proposals()? {
            if p.status == ProposalStatus::Pending {
                all.push((p.received_ms, p.id, false));
            } else {
                let at = self.decision(&p.id)?.map(|d| d.decided_ms).unwrap_or(p.received_ms);
                all.push((at, p.id, true));
            }
        }
        let mut gone: Vec<Digest> = Vec::new();
        all.retain(|(at, id, decided)| {
            let old = if *decided { *at < decided_before_ms } else { *at < pending_before_ms };
            if old {
                gone.push(*id);
            }
            !old
        });
        if all.len() > max_kept {
            all.sort_by_key(|(at, id, _)| (*at, id.0));
            let extra = all.len() - max_kept;
            gone.extend(all.iter().take(extra).map(|(_, id, _)| *id));
        }
        if gone.is_empty() {
            return Ok(0);
        }
        let n = gone.len();
        self.write(|tx| {
            for id in &gone {
                PROPOSALS.delete(&mut tx.batch, &id.0);
                DECISIONS.delete(&mut tx.batch, &id.0);
            }
            Ok(())
        })?;
        Ok(n)
    }

    /// Retention of usage counters: delete those of periods (`YYYY-MM`) before `before_period`.
    /// Returns how many were removed.
    pub fn prune_usage(&self, before_period: &str) -> Result<usize, StoreError> {
        let gone: Vec<String> = USAGE
            .keys(&self.db)?
            .into_iter()
            .filter(|k| k.rsplit_once('/').is_some_and(|(_, period)| period < before_period))
            .collect();
        if gone.is_empty() {
            return Ok(0);
        }
        let n = gone.len();
        self.write(|tx| {
            for k in &gone {
                USAGE.delete(&mut tx.batch, k);
            }
            Ok(())
        })?;
        Ok(n)
    }

    /// Record the outcome of a delivery attempt.
    pub fn put_delivery(&self, d: &Delivery) -> Result<(), StoreError> {
        self.write(|tx| Ok(OUTBOX.put(&mut tx.batch, &DeliveryKey::of(d), d)?))?;
        Ok(())
    }
}

impl Tx<'_> {
    /// The store, for reads inside the transaction (they see committed state only).
    pub fn store(&self) -> &LedgerStore {
        self.store
    }

    /// The batch this transaction commits, for records of other keyspaces that must land with
    /// the Ledger's writes.
    pub fn batch(&mut self) -> &mut Batch {
        &mut self.batch
    }

    /// Append a change event (its sequence number is assigned here).
    pub fn event(
        &mut self,
        kind: ChangeKind,
        netuid: Option<u16>,
        version: Option<u64>,
        actor: &str,
        detail: serde_json::Value,
    ) -> Result<ChangeEvent, StoreError> {
        self.seq += 1;
        let ev =
            ChangeEvent { seq: self.seq, at_ms: now_ms(), kind, netuid, version, actor: actor.to_string(), detail };
        CHANGES.put(&mut self.batch, &self.seq, &ev)?;
        self.events.push(ev.clone());
        Ok(ev)
    }

    /// Write an entry as the next version of its netuid, with its change event.
    pub fn upsert_entry(
        &mut self,
        mut entry: LedgerEntry,
        kind: ChangeKind,
        actor: &str,
        detail: serde_json::Value,
    ) -> Result<ChangeEvent, StoreError> {
        entry.validate()?;
        let prev = self.store.entry(entry.netuid)?;
        entry.version = prev.as_ref().map(|p| p.version + 1).unwrap_or(1).max(entry.version);
        if let Some(p) = &prev
            && entry.version <= p.version
        {
            entry.version = p.version + 1;
        }
        ENTRIES.put(&mut self.batch, &entry.netuid, &entry)?;
        VERSIONS.put(&mut self.batch, &(entry.netuid, entry.version), &entry)?;
        self.event(kind, Some(entry.netuid), Some(entry.version), actor, detail)
    }

    pub fn put_proposal(&mut self, rec: &ProposalRecord) -> Result<(), StoreError> {
        Ok(PROPOSALS.put(&mut self.batch, &rec.id.0, rec)?)
    }

    pub fn put_decision(&mut self, d: &Decision) -> Result<(), StoreError> {
        Ok(DECISIONS.put(&mut self.batch, &d.proposal_id.0, d)?)
    }
}

/// The values of a keyspace scan, in key order.
fn values<K, V>(scan: Result<Vec<(K, V)>, orchestra_store::StoreError>) -> Result<Vec<V>, StoreError> {
    Ok(scan?.into_iter().map(|(_, v)| v).collect())
}

/// The seed entries for the real access paths of SN22 (Desearch), SN13 (Data Universe) and SN64
/// (Chutes), from `shared/reference/subnets-and-rust-sdks.md`. They are `candidate` (unverified)
/// until a validator's probe confirms them; endpoints that need a key read it from the env var
/// named in the entry.
pub fn real_subnet_seed() -> Result<Vec<LedgerEntry>, StoreError> {
    let entries: Vec<LedgerEntry> = serde_json::from_str(include_str!("../seed/real-subnets.json"))
        .map_err(|e| StoreError::Invalid(format!("built-in seed: {e}")))?;
    for e in &entries {
        e.validate()?;
    }
    Ok(entries)
}
