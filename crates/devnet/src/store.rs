//! Persistence of the devnet: the state and the per-signer nonces in the general-purpose `kv`
//! column family of an `orchestra_ledger_store::LedgerStore` (RocksDB is wrapped there only).
//!
//! Keys: `devnet/meta` (block, settings, balances, hotkey owners, list of subnets),
//! `devnet/subnet/{netuid}` (one subnet each, so a call writes only its subnet),
//! `devnet/extrinsics` (the recorded transfers, by block) and `devnet/nonces`. Every applied extrinsic and every block is one atomic, synced batch.

use std::collections::BTreeMap;
use std::path::Path;

use orchestra_chain::NetUid;
use orchestra_ledger_store::{LedgerStore, StoreConfig};
use serde::{Deserialize, Serialize};

use crate::DevnetError;
use crate::state::{ChainSettings, Changes, DevnetState, Subnet};

/// Layout version of the stored state.
pub const STATE_SCHEMA: u32 = 1;
/// The ledger store's general-purpose column family (the one `kv_get`/`kv_put` use).
const CF_KV: &str = "kv";
const META_KEY: &str = "devnet/meta";
const NONCES_KEY: &str = "devnet/nonces";
const EXTRINSICS_KEY: &str = "devnet/extrinsics";

fn subnet_key(netuid: NetUid) -> String {
    format!("devnet/subnet/{netuid}")
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
    db: LedgerStore,
}

impl DevnetStore {
    /// Opens (creating) the store in `dir`. `sync` fsyncs every batch (turn it off only for
    /// benchmarks).
    pub fn open(dir: &Path, sync: bool) -> Result<Self, DevnetError> {
        let mut cfg = StoreConfig::new(dir);
        cfg.sync_writes = sync;
        Ok(DevnetStore { db: LedgerStore::open(cfg)? })
    }

    /// The stored state and nonces, if any.
    pub fn load(&self) -> Result<Option<(DevnetState, Nonces)>, DevnetError> {
        let Some(meta) = self.db.kv_get::<StoredMeta>(META_KEY)? else {
            return Ok(None);
        };
        let corrupt = |reason: String| DevnetError::Corrupt { path: self.db.path().display().to_string(), reason };
        if meta.schema != STATE_SCHEMA {
            return Err(corrupt(format!("state schema {} (this binary reads {STATE_SCHEMA})", meta.schema)));
        }
        let mut subnets = BTreeMap::new();
        for netuid in meta.netuids {
            let s: Subnet =
                self.db.kv_get(&subnet_key(netuid))?.ok_or_else(|| corrupt(format!("subnet {netuid} is missing")))?;
            subnets.insert(netuid, s);
        }
        let nonces: Nonces = self.db.kv_get(NONCES_KEY)?.unwrap_or_default();
        let state = DevnetState {
            block: meta.block,
            settings: meta.settings,
            balances: meta.balances,
            hotkey_owner: meta.hotkey_owner,
            subnets,
            extrinsics: self.db.kv_get(EXTRINSICS_KEY)?.unwrap_or_default(),
        };
        Ok(Some((state, nonces)))
    }

    /// Writes the parts of `state` named by `changes`, and the nonces, in one atomic batch.
    pub fn save(&self, state: &DevnetState, nonces: &Nonces, changes: &Changes) -> Result<(), DevnetError> {
        self.db.write(|tx| {
            if changes.meta {
                let meta = StoredMeta {
                    schema: STATE_SCHEMA,
                    block: state.block,
                    settings: state.settings.clone(),
                    balances: state.balances.clone(),
                    hotkey_owner: state.hotkey_owner.clone(),
                    netuids: state.subnets.keys().copied().collect(),
                };
                tx.put_json(CF_KV, META_KEY.as_bytes(), &meta)?;
            }
            if changes.extrinsics {
                tx.put_json(CF_KV, EXTRINSICS_KEY.as_bytes(), &state.extrinsics)?;
            }
            for netuid in &changes.subnets {
                if let Some(s) = state.subnets.get(netuid) {
                    tx.put_json(CF_KV, subnet_key(*netuid).as_bytes(), s)?;
                }
            }
            tx.put_json(CF_KV, NONCES_KEY.as_bytes(), nonces)
        })?;
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
