//! Decompressed sr25519 verifying keys by hotkey ss58, so the request path pays for SS58
//! decoding (a blake2b checksum) and ristretto decompression once per caller, not per request.
//!
//! Only keys that have produced a valid signature are inserted, so a flood of requests claiming
//! random hotkeys cannot fill the cache. A shard that still grows past its share of the cap is
//! cleared (the keys are cheap to rebuild); sharding keeps parallel lookups off a common lock.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use orchestra_keys::{KeyError, PublicKey, VerifyingKey};
use parking_lot::RwLock;

const SHARDS: usize = 16;

type Shard = RwLock<HashMap<Box<str>, Arc<VerifyingKey>>>;

pub struct KeyCache {
    shards: Box<[Shard]>,
    hasher: std::collections::hash_map::RandomState,
    per_shard_cap: usize,
}

impl KeyCache {
    pub fn new(capacity: usize) -> Self {
        KeyCache {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
            per_shard_cap: capacity.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, hotkey: &str) -> &Shard {
        &self.shards[self.hasher.hash_one(hotkey) as usize % SHARDS]
    }

    /// The cached key for `hotkey`, or a freshly decoded one (not yet cached: call
    /// [`KeyCache::remember`] once it has verified a signature).
    pub fn get(&self, hotkey: &str) -> Result<(Arc<VerifyingKey>, bool), KeyError> {
        if let Some(k) = self.shard(hotkey).read().get(hotkey) {
            return Ok((Arc::clone(k), true));
        }
        let pk = PublicKey::from_ss58(hotkey)?;
        Ok((Arc::new(VerifyingKey::new(&pk)?), false))
    }

    /// Caches `key` for `hotkey`.
    pub fn remember(&self, hotkey: &str, key: Arc<VerifyingKey>) {
        let mut shard = self.shard(hotkey).write();
        if shard.len() >= self.per_shard_cap {
            shard.clear();
        }
        shard.insert(hotkey.into(), key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caches_only_when_told() {
        let c = KeyCache::new(4);
        let alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
        let (k, hit) = c.get(alice).expect("decode");
        assert!(!hit);
        c.remember(alice, k);
        let (_, hit) = c.get(alice).expect("decode");
        assert!(hit);
        assert!(c.get("not-an-address").is_err());
    }
}
