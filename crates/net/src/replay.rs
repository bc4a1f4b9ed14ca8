//! The axon's replay cache: every (sender, nonce) accepted inside the freshness window.
//!
//! Why not the SDK's rule? The Python axon keeps the last nonce per `hotkey:uuid` and refuses any
//! nonce that is not strictly greater. That only works for a server that handles requests one at
//! a time in arrival order; our axon verifies on every core at once, so two requests from one
//! dendrite can overtake each other between the socket and the check, and the strictly-greater
//! rule would refuse the slower one although it is genuine. Instead a nonce is accepted when it
//! is fresh (inside a time window around now, checked by the caller) and has not been seen
//! before; entries are kept until the window has passed for them, after which the freshness check
//! refuses the nonce anyway. Memory is bounded by (accepted requests per second) × (window).
//!
//! Sharded by key hash so that parallel requests rarely touch the same lock.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};

use parking_lot::Mutex;

const SHARDS: usize = 64;

/// One accepted request: `who` hashes the scheme, the sender hotkey and (v10) the dendrite
/// uuid, with a per-process random key so that nobody can aim collisions at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ReplayKey {
    who: u64,
    nonce: u64,
}

#[derive(Default)]
struct Shard {
    seen: HashSet<ReplayKey>,
    /// Insertion order with each entry's expiry. Expiries are nearly but not exactly sorted
    /// (nonces arrive slightly out of order), so an entry may outlive its expiry a little
    /// while an older one sits in front of it; it is never dropped early.
    order: VecDeque<(u64, ReplayKey)>,
}

pub(crate) struct ReplayCache {
    shards: Box<[Mutex<Shard>]>,
    hasher: std::collections::hash_map::RandomState,
}

impl ReplayCache {
    pub(crate) fn new() -> Self {
        ReplayCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// The key for `(scheme, hotkey, uuid, nonce)`.
    pub(crate) fn key(&self, scheme: u8, hotkey: &str, uuid: &str, nonce: u64) -> ReplayKey {
        let mut h = self.hasher.build_hasher();
        scheme.hash(&mut h);
        hotkey.hash(&mut h);
        uuid.hash(&mut h);
        ReplayKey { who: h.finish(), nonce }
    }

    /// Records `key` until `expires_ns`; false when it was already there (a replay).
    pub(crate) fn insert(&self, key: ReplayKey, expires_ns: u64, now_ns: u64) -> bool {
        let idx = (key.who ^ key.nonce.wrapping_mul(0x9E37_79B9_7F4A_7C15)) as usize % SHARDS;
        let mut shard = self.shards[idx].lock();
        // Prune as we go: amortized O(1) per insert, no background sweeper needed.
        while let Some(&(exp, old)) = shard.order.front() {
            if exp > now_ns {
                break;
            }
            shard.order.pop_front();
            shard.seen.remove(&old);
        }
        if !shard.seen.insert(key) {
            return false;
        }
        shard.order.push_back((expires_ns, key));
        true
    }

    /// Entries currently held (for tests and metrics).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().seen.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_replays_and_accepts_reordering() {
        let c = ReplayCache::new();
        let now = 1_000_000_000_000;
        for n in [5u64, 3, 4, 1, 2] {
            assert!(c.insert(c.key(0, "5A", "u", now + n), now + 16_000_000_000, now));
        }
        assert!(!c.insert(c.key(0, "5A", "u", now + 3), now + 16_000_000_000, now));
        // The same nonce from another uuid, hotkey or scheme is a different request.
        assert!(c.insert(c.key(0, "5A", "v", now + 3), now + 16_000_000_000, now));
        assert!(c.insert(c.key(0, "5B", "u", now + 3), now + 16_000_000_000, now));
        assert!(c.insert(c.key(1, "5A", "u", now + 3), now + 16_000_000_000, now));
    }

    #[test]
    fn expired_entries_are_pruned() {
        let c = ReplayCache::new();
        for n in 0..1000u64 {
            assert!(c.insert(c.key(0, "5A", "u", n), 10, 0));
        }
        assert_eq!(c.len(), 1000);
        // Each shard prunes on its next insert.
        for n in 0..10_000u64 {
            c.insert(c.key(0, "5B", "u", n), 100, 11);
        }
        assert_eq!(c.len(), 10_000);
    }
}
