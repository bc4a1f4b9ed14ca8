//! What the axon knows about its callers: a snapshot of the subnet's metagraph (hotkey → uid,
//! stake, validator permit) and the blacklist policy evaluated against it.
//!
//! The snapshot is swapped whole at run time (a chain sync loop calls
//! [`MetagraphHandle::store`]); readers on the request path take a lock-free [`arc_swap`] load, so
//! a sync never stalls requests and requests never see a half-updated metagraph.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arc_swap::ArcSwap;

/// One registered neuron, as the blacklist and the priority gate see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peer {
    pub uid: u16,
    /// Stake in TAO (or alpha); only compared, so the unit just has to be consistent.
    pub stake: f64,
    pub validator_permit: bool,
}

/// The metagraph at one moment, keyed by hotkey ss58.
#[derive(Debug, Clone, Default)]
pub struct MetagraphSnapshot {
    pub by_hotkey: HashMap<String, Peer>,
    /// Block the snapshot was taken at, for logs.
    pub block: u64,
}

impl MetagraphSnapshot {
    /// The peer registered under `hotkey`, if any.
    pub fn peer(&self, hotkey: &str) -> Option<&Peer> {
        self.by_hotkey.get(hotkey)
    }
}

/// A shared, swappable [`MetagraphSnapshot`]. Cloning shares the same cell.
#[derive(Debug, Clone, Default)]
pub struct MetagraphHandle(Arc<ArcSwap<MetagraphSnapshot>>);

impl MetagraphHandle {
    /// A handle holding `snapshot`.
    pub fn new(snapshot: MetagraphSnapshot) -> Self {
        MetagraphHandle(Arc::new(ArcSwap::from_pointee(snapshot)))
    }

    /// Replaces the snapshot; requests already past the blacklist keep the one they saw.
    pub fn store(&self, snapshot: MetagraphSnapshot) {
        self.0.store(Arc::new(snapshot));
    }

    /// The current snapshot.
    pub fn load(&self) -> Arc<MetagraphSnapshot> {
        self.0.load_full()
    }

    /// The current snapshot without bumping the reference count (request path).
    pub(crate) fn guard(&self) -> arc_swap::Guard<Arc<MetagraphSnapshot>> {
        self.0.load()
    }
}

/// Who may call the axon. The default lets everyone in (an axon without a metagraph would
/// otherwise refuse every caller); a miner facing a real subnet should use
/// [`BlacklistPolicy::validators`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlacklistPolicy {
    /// Refuse hotkeys that are not in the metagraph snapshot.
    pub require_registered: bool,
    /// Refuse registered hotkeys without a validator permit.
    pub require_validator_permit: bool,
    /// Refuse registered hotkeys whose stake is below this.
    pub min_stake: f64,
    /// Always allowed, whatever the metagraph says (e.g. the subnet owner's tooling).
    pub allow: HashSet<String>,
    /// Always refused.
    pub deny: HashSet<String>,
}

impl BlacklistPolicy {
    /// Everyone may call (no metagraph needed).
    pub fn allow_all() -> Self {
        BlacklistPolicy::default()
    }

    /// Only registered validators (with a permit) holding at least `min_stake`.
    pub fn validators(min_stake: f64) -> Self {
        BlacklistPolicy { require_registered: true, require_validator_permit: true, min_stake, ..Default::default() }
    }

    /// `Err(reason)` when `hotkey` must be refused. The reason completes the SDK's message
    /// `Forbidden. Key is blacklisted: <reason>.`
    pub fn check(&self, hotkey: &str, peer: Option<&Peer>) -> Result<(), String> {
        if self.deny.contains(hotkey) {
            return Err(format!("hotkey {hotkey} is on the deny list"));
        }
        if self.allow.contains(hotkey) {
            return Ok(());
        }
        let Some(peer) = peer else {
            if self.require_registered || self.require_validator_permit || self.min_stake > 0.0 {
                return Err(format!("hotkey {hotkey} is not registered on this subnet"));
            }
            return Ok(());
        };
        if self.require_validator_permit && !peer.validator_permit {
            return Err(format!("hotkey {hotkey} (uid {}) has no validator permit", peer.uid));
        }
        // A NaN stake compares as nothing and is refused too.
        if self.min_stake > 0.0 && peer.stake.partial_cmp(&self.min_stake).is_none_or(|o| o.is_lt()) {
            return Err(format!(
                "hotkey {hotkey} (uid {}) has stake {} below the minimum {}",
                peer.uid, peer.stake, self.min_stake
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(stake: f64, permit: bool) -> Peer {
        Peer { uid: 3, stake, validator_permit: permit }
    }

    #[test]
    fn default_allows_everyone() {
        let p = BlacklistPolicy::default();
        assert!(p.check("5X", None).is_ok());
        assert!(p.check("5X", Some(&peer(0.0, false))).is_ok());
    }

    #[test]
    fn validators_policy() {
        let p = BlacklistPolicy::validators(100.0);
        assert!(p.check("5X", None).expect_err("refused").contains("not registered"));
        assert!(p.check("5X", Some(&peer(1000.0, false))).expect_err("refused").contains("no validator permit"));
        assert!(p.check("5X", Some(&peer(99.0, true))).expect_err("refused").contains("below the minimum"));
        assert!(p.check("5X", Some(&peer(f64::NAN, true))).is_err());
        assert!(p.check("5X", Some(&peer(100.0, true))).is_ok());
    }

    #[test]
    fn allow_and_deny_lists_win() {
        let mut p = BlacklistPolicy::validators(100.0);
        p.allow.insert("5A".into());
        p.deny.insert("5D".into());
        assert!(p.check("5A", None).is_ok());
        assert!(p.check("5D", Some(&peer(1e9, true))).expect_err("refused").contains("deny list"));
    }

    #[test]
    fn handle_swaps() {
        let h = MetagraphHandle::default();
        assert!(h.load().peer("5A").is_none());
        let mut s = MetagraphSnapshot::default();
        s.by_hotkey.insert("5A".into(), peer(1.0, true));
        h.clone().store(s);
        assert_eq!(h.guard().peer("5A").map(|p| p.uid), Some(3));
    }
}
