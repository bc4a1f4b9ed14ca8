//! The Subnet Ledger and the other durable state of a validator, on RocksDB.
//!
//! One [`LedgerStore`] owns a RocksDB database with a column family per kind of record: current
//! entries, every entry version, proposals, decisions, the change feed (monotonic sequence
//! numbers), API keys, usage counters, webhooks and the webhook outbox. Every logical change is
//! one atomic `WriteBatch` (the entry, its version, its change event and the outbox deliveries
//! it triggers land together or not at all), written with `sync` so that a write acknowledged to
//! a caller survives a crash of the process or the machine.
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
pub mod records;
pub mod upkeep;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use orchestra_proto::canonical::Digest;
use orchestra_proto::ledger::LedgerEntry;
use orchestra_proto::receipt::{InclusionProof, merkle_root, prove};
use parking_lot::{Mutex, RwLock};
use rocksdb::{ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions};
use serde::{Serialize, de::DeserializeOwned};

pub use records::*;

/// Current on-disk schema version. Bump it and add a step to [`LedgerStore::migrate`] for any
/// change to keys or record layouts.
pub const SCHEMA_VERSION: u32 = 1;

const CF_META: &str = "meta";
const CF_ENTRIES: &str = "entries";
const CF_VERSIONS: &str = "versions";
const CF_PROPOSALS: &str = "proposals";
const CF_DECISIONS: &str = "decisions";
const CF_CHANGES: &str = "changes";
const CF_API_KEYS: &str = "api_keys";
const CF_USAGE: &str = "usage";
const CF_WEBHOOKS: &str = "webhooks";
const CF_OUTBOX: &str = "outbox";
const CF_KV: &str = "kv";
/// Key quotes (`quote/{id}`) and accepted payments (`paid/{payment id}`).
const CF_PAYMENTS: &str = "payments";
const ALL_CFS: &[&str] = &[
    CF_META,
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
const META_SCHEMA: &[u8] = b"schema_version";
const META_SEQ: &[u8] = b"last_seq";

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("RocksDB at {path}: {source}")]
    Db { path: PathBuf, source: rocksdb::Error },
    #[error("stored record under `{key}` in `{cf}` is corrupt: {reason}")]
    Corrupt { cf: &'static str, key: String, reason: String },
    #[error("on-disk schema version {found} is newer than this binary supports ({supported}); upgrade orchestra")]
    SchemaTooNew { found: u32, supported: u32 },
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Proto(#[from] orchestra_proto::ProtoError),
}

/// Store options.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub path: PathBuf,
    /// fsync every batch (default). Off only for benchmarks and throwaway test stores.
    pub sync_writes: bool,
}

impl StoreConfig {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StoreConfig { path: path.into(), sync_writes: true }
    }
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
    db: DB,
    path: PathBuf,
    write_opts: WriteOptions,
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
        f.debug_struct("LedgerStore").field("path", &self.path).finish()
    }
}

/// A batch being assembled under the writer lock; committed atomically.
pub struct Tx<'a> {
    store: &'a LedgerStore,
    batch: WriteBatch,
    seq: u64,
    events: Vec<ChangeEvent>,
}

impl LedgerStore {
    /// Open (creating if needed) and migrate to [`SCHEMA_VERSION`].
    pub fn open(config: StoreConfig) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = ALL_CFS.iter().map(|n| ColumnFamilyDescriptor::new(*n, Options::default()));
        let db = DB::open_cf_descriptors(&opts, &config.path, cfs)
            .map_err(|source| StoreError::Db { path: config.path.clone(), source })?;
        let mut write_opts = WriteOptions::default();
        write_opts.set_sync(config.sync_writes);
        let mut store = LedgerStore {
            db,
            path: config.path,
            write_opts,
            writer: Mutex::new(0),
            committed: AtomicU64::new(0),
            listeners: RwLock::new(Vec::new()),
        };
        store.migrate()?;
        let seq = store.read_u64(CF_META, META_SEQ)?.unwrap_or(0);
        store.writer = Mutex::new(seq);
        store.committed = AtomicU64::new(seq);
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let found = match self.get_raw(CF_META, META_SCHEMA)? {
            Some(b) => {
                let arr: [u8; 4] = b.as_slice().try_into().map_err(|_| StoreError::Corrupt {
                    cf: CF_META,
                    key: "schema_version".into(),
                    reason: format!("{} bytes, expected 4", b.len()),
                })?;
                u32::from_be_bytes(arr)
            }
            None => 0,
        };
        if found > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew { found, supported: SCHEMA_VERSION });
        }
        if found < SCHEMA_VERSION {
            // Version 0 → 1: a new database; nothing to convert. Later steps go here, each in
            // its own batch together with the version bump.
            let mut b = WriteBatch::default();
            b.put_cf(self.cf(CF_META)?, META_SCHEMA, SCHEMA_VERSION.to_be_bytes());
            self.db.write_opt(b, &self.write_opts).map_err(|e| self.db_err(e))?;
            tracing::info!(from = found, to = SCHEMA_VERSION, path = %self.path.display(), "ledger store migrated");
        }
        Ok(())
    }

    fn db_err(&self, source: rocksdb::Error) -> StoreError {
        StoreError::Db { path: self.path.clone(), source }
    }

    fn cf(&self, name: &'static str) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.db.cf_handle(name).ok_or_else(|| StoreError::Invalid(format!("column family `{name}` is missing")))
    }

    fn get_raw(&self, cf: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db.get_cf(self.cf(cf)?, key).map_err(|e| self.db_err(e))
    }

    fn read_u64(&self, cf: &'static str, key: &[u8]) -> Result<Option<u64>, StoreError> {
        match self.get_raw(cf, key)? {
            None => Ok(None),
            Some(b) => {
                let arr: [u8; 8] = b.as_slice().try_into().map_err(|_| StoreError::Corrupt {
                    cf,
                    key: String::from_utf8_lossy(key).into(),
                    reason: "expected 8 bytes".into(),
                })?;
                Ok(Some(u64::from_be_bytes(arr)))
            }
        }
    }

    fn get_json<T: DeserializeOwned>(&self, cf: &'static str, key: &[u8]) -> Result<Option<T>, StoreError> {
        match self.get_raw(cf, key)? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b).map(Some).map_err(|e| StoreError::Corrupt {
                cf,
                key: hex_key(key),
                reason: e.to_string(),
            }),
        }
    }

    /// Every record of a column family whose key starts with `prefix`, in key order.
    fn scan<T: DeserializeOwned>(&self, cf: &'static str, prefix: &[u8], limit: usize) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        let it = self.db.iterator_cf(self.cf(cf)?, IteratorMode::From(prefix, Direction::Forward));
        for item in it {
            let (k, v) = item.map_err(|e| self.db_err(e))?;
            if !k.starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push(serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                cf,
                key: hex_key(&k),
                reason: e.to_string(),
            })?);
        }
        Ok(out)
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
        let mut tx = Tx { store: self, batch: WriteBatch::default(), seq: *guard, events: Vec::new() };
        let r = f(&mut tx)?;
        let Tx { mut batch, seq, events, .. } = tx;
        if !events.is_empty() {
            let hooks = self.webhooks()?;
            for ev in &events {
                for h in hooks.iter().filter(|h| h.active && h.matches(ev)) {
                    let d = Delivery::new(h.id.clone(), ev.clone());
                    batch.put_cf(self.cf(CF_OUTBOX)?, d.key(), to_json(&d)?);
                }
            }
            batch.put_cf(self.cf(CF_META)?, META_SEQ, seq.to_be_bytes());
        }
        self.db.write_opt(batch, &self.write_opts).map_err(|e| self.db_err(e))?;
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
        self.get_json(CF_ENTRIES, &netuid.to_be_bytes())
    }

    /// All current entries in netuid order.
    pub fn entries(&self) -> Result<Vec<LedgerEntry>, StoreError> {
        self.scan(CF_ENTRIES, &[], usize::MAX)
    }

    /// Entries offering a capability, best first by the shared ranking rule
    /// ([`orchestra_proto::ledger::rank_cmp`]). Deprecated entries are left out.
    pub fn find(&self, capability: &str) -> Result<Vec<LedgerEntry>, StoreError> {
        let entries = self.entries()?;
        Ok(orchestra_proto::ledger::rank_for_capability(&entries, capability).into_iter().cloned().collect())
    }

    /// One version of an entry.
    pub fn entry_version(&self, netuid: u16, version: u64) -> Result<Option<LedgerEntry>, StoreError> {
        self.get_json(CF_VERSIONS, &version_key(netuid, version))
    }

    /// Every version of an entry, oldest first.
    pub fn history(&self, netuid: u16) -> Result<Vec<LedgerEntry>, StoreError> {
        self.scan(CF_VERSIONS, &netuid.to_be_bytes(), usize::MAX)
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
        // Keys are big-endian sequence numbers: seek straight to the first one after `since`.
        let start = since.saturating_add(1).to_be_bytes();
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_CHANGES)?, IteratorMode::From(&start, Direction::Forward)) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item.map_err(|e| self.db_err(e))?;
            out.push(serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                cf: CF_CHANGES,
                key: hex_key(&k),
                reason: e.to_string(),
            })?);
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
        self.get_json(CF_PROPOSALS, &id.0)
    }

    pub fn proposals(&self) -> Result<Vec<ProposalRecord>, StoreError> {
        self.scan(CF_PROPOSALS, &[], usize::MAX)
    }

    pub fn decision(&self, id: &Digest) -> Result<Option<Decision>, StoreError> {
        self.get_json(CF_DECISIONS, &id.0)
    }

    // ---------------------------------------------------------------- API keys, usage, webhooks

    pub fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.get_json(CF_API_KEYS, key_hash.as_bytes())
    }

    pub fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.scan(CF_API_KEYS, &[], usize::MAX)
    }

    pub fn put_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.write(|tx| tx.put_json(CF_API_KEYS, key.key_hash.as_bytes(), key))?;
        Ok(())
    }

    /// The key with this id (a scan: key management is rare).
    pub fn api_key_by_id(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.api_keys()?.into_iter().find(|k| k.id == id))
    }

    // ---------------------------------------------------------------- keys paid in TAO

    pub fn put_quote(&self, q: &KeyQuote) -> Result<(), StoreError> {
        self.write(|tx| tx.put_json(CF_PAYMENTS, format!("quote/{}", q.id).as_bytes(), q))?;
        Ok(())
    }

    pub fn quote(&self, id: &str) -> Result<Option<KeyQuote>, StoreError> {
        self.get_json(CF_PAYMENTS, format!("quote/{id}").as_bytes())
    }

    /// The accepted payment with this id, if any.
    pub fn payment(&self, id: &str) -> Result<Option<PaymentRecord>, StoreError> {
        self.get_json(CF_PAYMENTS, format!("paid/{id}").as_bytes())
    }

    /// Every accepted payment, in id order.
    pub fn payments(&self) -> Result<Vec<PaymentRecord>, StoreError> {
        self.scan(CF_PAYMENTS, b"paid/", usize::MAX)
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
            tx.put_json(CF_PAYMENTS, format!("quote/{}", q.id).as_bytes(), &q)?;
            tx.put_json(CF_PAYMENTS, format!("paid/{}", payment.id).as_bytes(), payment)?;
            tx.put_json(CF_API_KEYS, key.key_hash.as_bytes(), key)?;
            Ok(q)
        })?;
        Ok(q)
    }

    /// Add `n` to a usage counter and return the new value.
    pub fn add_usage(&self, key_id: &str, period: &str, n: u64) -> Result<u64, StoreError> {
        let k = format!("{key_id}/{period}");
        let (v, _) = self.write(|tx| {
            let cur = tx.store.read_u64(CF_USAGE, k.as_bytes())?.unwrap_or(0);
            let next = cur.saturating_add(n);
            tx.batch.put_cf(tx.store.cf(CF_USAGE)?, k.as_bytes(), next.to_be_bytes());
            Ok(next)
        })?;
        Ok(v)
    }

    pub fn usage(&self, key_id: &str, period: &str) -> Result<u64, StoreError> {
        Ok(self.read_u64(CF_USAGE, format!("{key_id}/{period}").as_bytes())?.unwrap_or(0))
    }

    pub fn webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
        self.scan(CF_WEBHOOKS, &[], usize::MAX)
    }

    pub fn put_webhook(&self, hook: &Webhook) -> Result<(), StoreError> {
        self.write(|tx| tx.put_json(CF_WEBHOOKS, hook.id.as_bytes(), hook))?;
        Ok(())
    }

    pub fn webhook(&self, id: &str) -> Result<Option<Webhook>, StoreError> {
        self.get_json(CF_WEBHOOKS, id.as_bytes())
    }

    /// Remove a webhook and its still-pending deliveries in one batch (delivered and dead rows
    /// stay as a record). Returns whether the webhook existed.
    pub fn delete_webhook(&self, id: &str) -> Result<bool, StoreError> {
        let (existed, _) = self.write(|tx| {
            if tx.store.webhook(id)?.is_none() {
                return Ok(false);
            }
            tx.batch.delete_cf(tx.store.cf(CF_WEBHOOKS)?, id.as_bytes());
            let pending = tx.store.deliveries()?;
            for d in pending.iter().filter(|d| d.webhook_id == id && d.state == DeliveryState::Pending) {
                tx.batch.delete_cf(tx.store.cf(CF_OUTBOX)?, d.key());
            }
            Ok(true)
        })?;
        Ok(existed)
    }

    /// Deliveries due at `now_ms` (pending, next attempt reached), oldest first.
    pub fn due_deliveries(&self, now_ms: u64, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let all: Vec<Delivery> = self.scan(CF_OUTBOX, &[], usize::MAX)?;
        Ok(all
            .into_iter()
            .filter(|d| d.state == DeliveryState::Pending && d.next_attempt_ms <= now_ms)
            .take(limit)
            .collect())
    }

    pub fn deliveries(&self) -> Result<Vec<Delivery>, StoreError> {
        self.scan(CF_OUTBOX, &[], usize::MAX)
    }

    /// Delete delivered outbox rows whose event is older than `before_ms` (pending rows are
    /// never touched; dead rows stay for inspection). Returns how many were removed. Keeps the
    /// outbox, which [`LedgerStore::due_deliveries`] scans, from growing without bound.
    pub fn prune_delivered(&self, before_ms: u64) -> Result<usize, StoreError> {
        let (n, _) = self.write(|tx| {
            let mut n = 0;
            for d in tx.store.deliveries()? {
                if d.state == DeliveryState::Delivered && d.event.at_ms < before_ms {
                    tx.batch.delete_cf(tx.store.cf(CF_OUTBOX)?, d.key());
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
                    tx.batch.delete_cf(tx.store.cf(CF_OUTBOX)?, d.key());
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
                tx.batch.delete_cf(tx.store.cf(CF_PROPOSALS)?, id.0);
                tx.batch.delete_cf(tx.store.cf(CF_DECISIONS)?, id.0);
            }
            Ok(())
        })?;
        Ok(n)
    }

    /// Retention of usage counters: delete those of periods (`YYYY-MM`) before `before_period`.
    /// Returns how many were removed.
    pub fn prune_usage(&self, before_period: &str) -> Result<usize, StoreError> {
        let mut gone = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_USAGE)?, IteratorMode::Start) {
            let (k, _) = item.map_err(|e| self.db_err(e))?;
            let key = String::from_utf8_lossy(&k);
            if key.rsplit_once('/').is_some_and(|(_, period)| period < before_period) {
                gone.push(k.to_vec());
            }
        }
        if gone.is_empty() {
            return Ok(0);
        }
        let n = gone.len();
        self.write(|tx| {
            for k in &gone {
                tx.batch.delete_cf(tx.store.cf(CF_USAGE)?, k);
            }
            Ok(())
        })?;
        Ok(n)
    }

    /// Record the outcome of a delivery attempt.
    pub fn put_delivery(&self, d: &Delivery) -> Result<(), StoreError> {
        self.write(|tx| tx.put_json(CF_OUTBOX, &d.key(), d))?;
        Ok(())
    }

    // ---------------------------------------------------------------- generic state

    /// A JSON value under `key` in the general-purpose state column family (validator scores,
    /// journals and similar small records that must survive restarts).
    pub fn kv_get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        self.get_json(CF_KV, key.as_bytes())
    }

    pub fn kv_put<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        self.write(|tx| tx.put_json(CF_KV, key.as_bytes(), value))?;
        Ok(())
    }

    /// Commits a [`KvBatch`] atomically, with one fsync however many records it holds.
    pub fn kv_commit(&self, batch: KvBatch) -> Result<(), StoreError> {
        if batch.puts.is_empty() && batch.deletes.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let cf = tx.store.cf(CF_KV)?;
            for k in &batch.deletes {
                tx.batch.delete_cf(cf, k.as_bytes());
            }
            for (k, v) in &batch.puts {
                tx.batch.put_cf(cf, k.as_bytes(), v);
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Every `(key, value)` in the general-purpose space whose key starts with `prefix`, in key
    /// order. Values are read as `T`, so a small `T` (a time stamp) scans large records cheaply.
    pub fn kv_scan<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<(String, T)>, StoreError> {
        let mut out = Vec::new();
        let p = prefix.as_bytes();
        for item in self.db.iterator_cf(self.cf(CF_KV)?, IteratorMode::From(p, Direction::Forward)) {
            let (k, v) = item.map_err(|e| self.db_err(e))?;
            if !k.starts_with(p) {
                break;
            }
            let key = String::from_utf8_lossy(&k).into_owned();
            let val = serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                cf: CF_KV,
                key: key.clone(),
                reason: e.to_string(),
            })?;
            out.push((key, val));
        }
        Ok(out)
    }

    /// Every key in the general-purpose space that starts with `prefix`, in order.
    pub fn kv_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        let p = prefix.as_bytes();
        for item in self.db.iterator_cf(self.cf(CF_KV)?, IteratorMode::From(p, Direction::Forward)) {
            let (k, _) = item.map_err(|e| self.db_err(e))?;
            if !k.starts_with(p) {
                break;
            }
            out.push(String::from_utf8_lossy(&k).into_owned());
        }
        Ok(out)
    }

    /// Write several keys in one atomic, synced batch.
    pub fn kv_put_many(&self, items: &[(&str, serde_json::Value)]) -> Result<(), StoreError> {
        self.write(|tx| {
            for (k, v) in items {
                tx.put_json(CF_KV, k.as_bytes(), v)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Remove several keys in one batch (retention). Returns how many were given.
    pub fn kv_delete_many(&self, keys: &[String]) -> Result<usize, StoreError> {
        if keys.is_empty() {
            return Ok(0);
        }
        self.write(|tx| {
            for k in keys {
                tx.batch.delete_cf(tx.store.cf(CF_KV)?, k.as_bytes());
            }
            Ok(())
        })?;
        Ok(keys.len())
    }

    /// Remove a key (retention of per-task records).
    pub fn kv_delete(&self, key: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.batch.delete_cf(tx.store.cf(CF_KV)?, key.as_bytes());
            Ok(())
        })?;
        Ok(())
    }
}

impl Tx<'_> {
    /// The store, for reads inside the transaction (they see committed state only).
    pub fn store(&self) -> &LedgerStore {
        self.store
    }

    pub fn put_json<T: Serialize>(&mut self, cf: &'static str, key: &[u8], v: &T) -> Result<(), StoreError> {
        let bytes = to_json(v)?;
        self.batch.put_cf(self.store.cf(cf)?, key, bytes);
        Ok(())
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
        self.put_json(CF_CHANGES, &self.seq.to_be_bytes(), &ev)?;
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
        self.put_json(CF_ENTRIES, &entry.netuid.to_be_bytes(), &entry)?;
        self.put_json(CF_VERSIONS, &version_key(entry.netuid, entry.version), &entry)?;
        self.event(kind, Some(entry.netuid), Some(entry.version), actor, detail)
    }

    /// A value in the general-purpose state, written with the rest of the batch.
    pub fn kv_put<T: Serialize>(&mut self, key: &str, value: &T) -> Result<(), StoreError> {
        self.put_json(CF_KV, key.as_bytes(), value)
    }

    /// Remove a general-purpose state key in this batch.
    pub fn kv_delete(&mut self, key: &str) -> Result<(), StoreError> {
        self.batch.delete_cf(self.store.cf(CF_KV)?, key.as_bytes());
        Ok(())
    }

    pub fn put_proposal(&mut self, rec: &ProposalRecord) -> Result<(), StoreError> {
        self.put_json(CF_PROPOSALS, &rec.id.0, rec)
    }

    pub fn put_decision(&mut self, d: &Decision) -> Result<(), StoreError> {
        self.put_json(CF_DECISIONS, &d.proposal_id.0, d)
    }
}

/// Writes to the general-purpose state gathered for one atomic [`LedgerStore::kv_commit`]:
/// a validator round records hundreds of miners' state, and with synced writes each separate
/// put costs an fsync (milliseconds on a VM disk). Deletes apply before puts.
#[derive(Debug, Default)]
pub struct KvBatch {
    puts: Vec<(String, Vec<u8>)>,
    deletes: Vec<String>,
}

impl KvBatch {
    pub fn put<T: Serialize>(&mut self, key: impl Into<String>, value: &T) -> Result<(), StoreError> {
        self.puts.push((key.into(), to_json(value)?));
        Ok(())
    }

    pub fn delete(&mut self, key: impl Into<String>) {
        self.deletes.push(key.into());
    }

    pub fn len(&self) -> usize {
        self.puts.len() + self.deletes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Invalid(format!("cannot serialize record: {e}")))
}

fn version_key(netuid: u16, version: u64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[..2].copy_from_slice(&netuid.to_be_bytes());
    k[2..].copy_from_slice(&version.to_be_bytes());
    k
}

fn hex_key(k: &[u8]) -> String {
    k.iter().map(|b| format!("{b:02x}")).collect()
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
