//! Persistence of the devnet: the state and the per-signer nonces in an `orchestra_store`
//! database of its own, with only the devnet's keyspaces (RocksDB is wrapped there only).
//!
//! Keys, in the `kv` column family (where the devnet kept them when it borrowed a Ledger
//! database, so existing data directories open): `devnet/meta` (block, settings, balances,
//! hotkey owners, list of subnets), `devnet/subnet/{netuid}` (one subnet each, so a call writes
//! only its subnet), `devnet/extrinsics` (the recorded transfers, by block) and
//! `devnet/nonces`. Every applied extrinsic and every block is one atomic, synced batch.

use std::collections::BTreeMap;
use std::path::Path;

use orchestra_chain::NetUid;
use orchestra_store::{Batch, Key, Keyspace, Schema, Slot, Store, StoreConfig};
use serde::{Deserialize, Serialize};

use crate::DevnetError;
use crate::state::{ChainSettings, Changes, DevnetState, Subnet};

/// Layout version of the stored state.
pub const STATE_SCHEMA: u32 = 1;
const CF_KV: &str = "kv";
/// The database: version 1 like the Ledger layout the devnet's data directories were first
/// written with, so they open without a migration.
const SCHEMA: Schema = Schema { name: "devnet", version: 1, column_families: &[CF_KV] };
const META: Slot<StoredMeta> = Slot::new(CF_KV, "devnet/meta");
const NONCES: Slot<Nonces> = Slot::new(CF_KV, "devnet/nonces");
const EXTRINSICS: Slot<ExtrinsicLog> = Slot::new(CF_KV, "devnet/extrinsics");
const SUBNETS: Keyspace<SubnetKey, Subnet> = Keyspace::new(CF_KV, "devnet/subnet/");

/// The recorded extrinsics, as [`DevnetState`] holds them.
type ExtrinsicLog = BTreeMap<u64, Vec<orchestra_chain::ExtrinsicReceipt>>;

/// A netuid as decimal text (the stored layout; looked up, not scanned in order).
struct SubnetKey(NetUid);

impl Key for SubnetKey {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0.to_string().as_bytes());
    }
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.parse().ok())
            .map(SubnetKey)
            .ok_or_else(|| format!("`{}` is not a netuid", String::from_utf8_lossy(bytes)))
    }
}

/// Last accepted nonce per signer (SS58).
pub type Nonces = BTreeMap<String, u64>;

#[derive(Serialize, Deserialize)]
struct StoredMeta {
    schema: u32,
    block: u64,
    settings: ChainSettings,
    balances: BTreeMap<String, u64>,
    hotkey_owner: BTreeMap<String, String>,
    netuids: Vec<NetUid>,
}

/// The devnet's database.
#[derive(Debug)]
pub struct DevnetStore {
    db: Store,
}

impl DevnetStore {
    /// Opens (creating) the store in `dir`. `sync` fsyncs every batch (turn it off only for
    /// benchmarks).
    pub fn open(dir: &Path, sync: bool) -> Result<Self, DevnetError> {
        let mut cfg = StoreConfig::new(dir);
        cfg.sync_writes = sync;
        Ok(DevnetStore { db: Store::open(&cfg, SCHEMA)? })
    }

    /// The stored state and nonces, if any.
    pub fn load(&self) -> Result<Option<(DevnetState, Nonces)>, DevnetError> {
        let Some(meta) = META.get(&self.db)? else {
            return Ok(None);
        };
        let corrupt = |reason: String| DevnetError::Corrupt { path: self.db.path().display().to_string(), reason };
        if meta.schema != STATE_SCHEMA {
            return Err(corrupt(format!("state schema {} (this binary reads {STATE_SCHEMA})", meta.schema)));
        }
        let mut subnets = BTreeMap::new();
        for netuid in meta.netuids {
            let s = SUBNETS
                .get(&self.db, &SubnetKey(netuid))?
                .ok_or_else(|| corrupt(format!("subnet {netuid} is missing")))?;
            subnets.insert(netuid, s);
        }
        let nonces = NONCES.get(&self.db)?.unwrap_or_default();
        let state = DevnetState {
            block: meta.block,
            settings: meta.settings,
            balances: meta.balances,
            hotkey_owner: meta.hotkey_owner,
            subnets,
            extrinsics: EXTRINSICS.get(&self.db)?.unwrap_or_default(),
        };
        Ok(Some((state, nonces)))
    }

    /// Writes the parts of `state` named by `changes`, and the nonces, in one atomic batch.
    pub fn save(&self, state: &DevnetState, nonces: &Nonces, changes: &Changes) -> Result<(), DevnetError> {
        let mut b = Batch::new();
        if changes.meta {
            let meta = StoredMeta {
                schema: STATE_SCHEMA,
                block: state.block,
                settings: state.settings.clone(),
                balances: state.balances.clone(),
                hotkey_owner: state.hotkey_owner.clone(),
                netuids: state.subnets.keys().copied().collect(),
            };
            META.put(&mut b, &meta)?;
        }
        if changes.extrinsics {
            EXTRINSICS.put(&mut b, &state.extrinsics)?;
        }
        for netuid in &changes.subnets {
            if let Some(s) = state.subnets.get(netuid) {
                SUBNETS.put(&mut b, &SubnetKey(*netuid), s)?;
            }
        }
        NONCES.put(&mut b, nonces)?;
        self.db.commit(b)?;
        Ok(())
    }

    /// Writes everything.
    pub fn save_all(&self, state: &DevnetState, nonces: &Nonces) -> Result<(), DevnetError> {
        let changes = Changes {
            meta: true,
            subnets: state.subnets.keys().copied().collect(),
            extrinsics: true,
            extrinsic_hash: None,
        };
        self.save(state, nonces, &changes)
    }
}
