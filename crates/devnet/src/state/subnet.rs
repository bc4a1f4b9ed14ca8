//! A subnet and its neurons as the devnet stores them, with the per-subnet rules (uids, epoch
//! schedule, commit-reveal windows, owner hotkey) the calls consult.

use super::*;

/// One uid of a subnet, with what the chain stores per uid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Neuron {
    /// SS58 hotkey.
    pub hotkey: String,
    /// `BlockAtRegistration`.
    pub registered_at: u64,
    /// `LastUpdate`: block of the last weights (or commit).
    pub last_update: u64,
    /// `Axons` (all zero until served; `block` is the last serve block).
    pub axon: AxonInfo,
    /// `ValidatorPermit`.
    pub validator_permit: bool,
    /// `Active`.
    pub active: bool,
    /// `Weights` row: (uid, max-upscaled u16 weight).
    pub weights: Vec<(u16, u16)>,
    /// `Bonds` row: (uid, u16 bond).
    pub bonds: Vec<(u16, u16)>,
    /// `Consensus`.
    pub consensus: u16,
    /// `Incentive`.
    pub incentive: u16,
    /// `Dividends`.
    pub dividends: u16,
    /// Trust as the pre-3.x chain computed it (clipped rank / rank); current subtensor reports 0.
    pub trust: u16,
    /// `ValidatorTrust`.
    pub validator_trust: u16,
    /// `Emission` of the last epoch, rao.
    pub emission: u64,
}

impl Neuron {
    pub(super) fn new(hotkey: String, block: u64) -> Self {
        Neuron {
            hotkey,
            registered_at: block,
            last_update: block,
            axon: AxonInfo::default(),
            validator_permit: false,
            active: true,
            weights: Vec::new(),
            bonds: Vec::new(),
            consensus: 0,
            incentive: 0,
            dividends: 0,
            trust: 0,
            validator_trust: 0,
            emission: 0,
        }
    }
}

/// A commit-reveal v2 commit (`WeightCommits` entry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightCommit {
    /// The committed hash, `0x` hex.
    pub hash: String,
    /// Block of the commit.
    pub block: u64,
}

/// Commitment space used by a hotkey in one epoch (`UsedSpaceOf`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceUsage {
    /// Epoch index of the usage.
    pub epoch: u64,
    /// Bytes charged in that epoch.
    pub used: u64,
}

/// A subnet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    /// Its id.
    pub netuid: NetUid,
    /// `SubnetOwner` (coldkey SS58): may set hyperparameters.
    pub owner_coldkey: String,
    /// `SubnetOwnerHotkey`, if any: never pruned, exempt from the stake threshold and permits.
    pub owner_hotkey: Option<String>,
    /// Block the subnet was created at.
    pub created_at: u64,
    /// Hyperparameters.
    pub params: SubnetParams,
    /// Neurons by uid.
    pub neurons: Vec<Neuron>,
    /// Alpha stake per hotkey (rao); stays with the hotkey when its uid is pruned, as on chain.
    pub stake: BTreeMap<String, u64>,
    /// Emission accrued since the last epoch (rao).
    pub pending_emission: u64,
    /// Block of the last epoch (0 = never).
    pub last_epoch_block: u64,
    /// Unrevealed commit-reveal v2 commits per hotkey, oldest first.
    pub weight_commits: BTreeMap<String, VecDeque<WeightCommit>>,
    /// Published commitments per hotkey.
    pub commitments: BTreeMap<String, Commitment>,
    /// Commitment space used per hotkey.
    pub commitment_space: BTreeMap<String, SpaceUsage>,
}

impl Subnet {
    /// The uid of `hotkey`, if registered.
    pub fn uid_of(&self, hotkey: &str) -> Option<u16> {
        self.neurons.iter().position(|n| n.hotkey == hotkey).map(|i| i as u16)
    }

    pub(super) fn stake_of(&self, hotkey: &str) -> u64 {
        self.stake.get(hotkey).copied().unwrap_or(0)
    }

    /// `get_epoch_index`: `(block + netuid + 1) / (tempo + 1)`.
    pub fn epoch_index(&self, block: u64) -> u64 {
        block.saturating_add(u64::from(self.netuid) + 1) / (u64::from(self.params.tempo) + 1)
    }

    pub(super) fn is_commit_expired(&self, commit_block: u64, now: u64) -> bool {
        self.epoch_index(now) > self.epoch_index(commit_block).saturating_add(self.params.commit_reveal_period)
    }

    pub(super) fn is_reveal_block_range(&self, commit_block: u64, now: u64) -> bool {
        self.epoch_index(now) == self.epoch_index(commit_block).saturating_add(self.params.commit_reveal_period)
    }

    /// Whether the epoch runs at `block` (legacy rule, reference 3.8).
    pub fn epoch_due(&self, block: u64) -> bool {
        let tempo = u64::from(self.params.tempo);
        tempo != 0 && block.saturating_add(u64::from(self.netuid) + 1).is_multiple_of(tempo + 1)
    }

    /// The first block ≥ `block` at which the epoch runs, if the tempo is not 0.
    pub fn next_epoch_block(&self, block: u64) -> Option<u64> {
        let tempo = u64::from(self.params.tempo);
        if tempo == 0 {
            return None;
        }
        let offset = block.saturating_add(u64::from(self.netuid) + 1) % (tempo + 1);
        Some(if offset == 0 { block } else { block + (tempo + 1 - offset) })
    }

    pub(super) fn is_owner_hotkey(&self, hotkey: &str) -> bool {
        self.owner_hotkey.as_deref() == Some(hotkey)
    }

    /// Which uid a new registration takes (`register_neuron` / `get_neuron_to_prune`): the next
    /// free uid, else the non-immune neuron with the lowest emission (then oldest registration,
    /// then lowest uid), else the immune one with the lowest; the owner hotkey is never pruned.
    pub(super) fn uid_for_registration(&self, now: u64) -> Option<(u16, bool)> {
        if self.neurons.len() < usize::from(self.params.max_allowed_uids) {
            return Some((self.neurons.len() as u16, false));
        }
        let mut best_free: Option<(u64, u64, u16)> = None;
        let mut best_immune: Option<(u64, u64, u16)> = None;
        for (uid, n) in self.neurons.iter().enumerate() {
            if self.is_owner_hotkey(&n.hotkey) {
                continue;
            }
            let key = (n.emission, n.registered_at, uid as u16);
            let immune = now.saturating_sub(n.registered_at) < u64::from(self.params.immunity_period);
            let slot = if immune { &mut best_immune } else { &mut best_free };
            if slot.is_none_or(|b| key < b) {
                *slot = Some(key);
            }
        }
        best_free.or(best_immune).map(|(_, _, uid)| (uid, true))
    }
}

/// `replace_neuron` + `clear_neuron`: the uid gets the new hotkey, its scores, bonds and weights
/// row are cleared, every weight toward it is zeroed, its axon is reset. `LastUpdate` and the
/// permit stay until the next epoch, as on chain.
pub(super) fn replace_neuron(s: &mut Subnet, uid: u16, hotkey: &str, now: u64) {
    for (i, n) in s.neurons.iter_mut().enumerate() {
        if i == usize::from(uid) {
            continue;
        }
        for (target, w) in n.weights.iter_mut() {
            if *target == uid {
                *w = 0;
            }
        }
    }
    if let Some(n) = s.neurons.get_mut(usize::from(uid)) {
        n.hotkey = hotkey.to_string();
        n.registered_at = now;
        n.active = true;
        n.axon = AxonInfo::default();
        n.weights.clear();
        n.bonds.clear();
        n.consensus = 0;
        n.incentive = 0;
        n.dividends = 0;
        n.trust = 0;
        n.validator_trust = 0;
        n.emission = 0;
    }
}
