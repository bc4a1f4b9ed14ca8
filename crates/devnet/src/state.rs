//! The devnet's rules: a pure state machine (no I/O, no clock) holding accounts, subnets and
//! neurons, applying [`DevnetCall`]s and [`AdminCall`]s with subtensor's checks in subtensor's
//! order, and producing blocks that run Yuma epochs (crates/yuma) and pay emissions.
//!
//! Every rule violation is an [`ApiError`] carrying the chain's pallet and error name. A call that
//! fails changes nothing: each call checks everything first and mutates only at the end.
//!
//! Block model: `block` is the block being built. Calls apply in it (rate limits compare with
//! it) and [`DevnetState::advance_block`] moves to the next block, running `on_initialize`-like
//! work there: emission accrues, then the subnets whose tempo ends run their epoch (legacy rule
//! `(block + netuid + 1) % (tempo + 1) == 0`, reference 3.8).

use std::collections::{BTreeMap, VecDeque};

use orchestra_chain::devnet_api::{ApiError, ApiErrorKind, DevnetCall};
use orchestra_chain::{
    AxonInfo, Commitment, CommitmentData, ExtrinsicReceipt, Hyperparams, MAIN_MECHANISM, Metagraph, NetUid, NeuronInfo,
    RemarkEvent, ServeAxonArgs, TransferEvent, commit_hash, netuid_index, remark_hash,
};
use orchestra_keys::PublicKey;
use orchestra_yuma::math::{check_vec_max_limited, vec_u16_max_upscale_to_u16};
use orchestra_yuma::{EpochInput, EpochOutput, Fidelity, Variant};
use serde::{Deserialize, Serialize};

use crate::admin::AdminCall;

/// Pallet name of most rules.
pub const SUBTENSOR: &str = "SubtensorModule";
/// Pallet of `set_commitment`.
pub const COMMITMENTS: &str = "Commitments";
/// Pallet of hyperparameter setters.
pub const ADMIN_UTILS: &str = "AdminUtils";
/// Pallet of transfers.
pub const BALANCES: &str = "Balances";
/// rao per TAO.
pub const RAO_PER_TAO: u64 = 1_000_000_000;
/// Commitments `MaxSpace`: bytes per (netuid, hotkey) per epoch.
pub const MAX_SPACE: u64 = 3100;
/// The least a `set_commitment` is charged against [`MAX_SPACE`].
pub const MIN_COMMITMENT_CHARGE: u64 = 100;
/// Commitments `MaxFields`.
pub const MAX_COMMITMENT_FIELDS: usize = 3;
/// Unrevealed commit-reveal v2 commits a hotkey may hold.
pub const MAX_UNREVEALED_COMMITS: usize = 10;
/// `MAX_TEMPO`.
pub const MAX_TEMPO: u16 = 50_400;
/// Most a single faucet call hands out (1 000 000 TAO), so a typo cannot overflow balances.
pub const MAX_FAUCET: u64 = 1_000_000 * RAO_PER_TAO;

fn subtensor(name: &str, message: impl Into<String>) -> ApiError {
    ApiError::dispatch(SUBTENSOR, name, message)
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(ApiErrorKind::BadRequest, message)
}

fn subnet_not_found(netuid: NetUid) -> ApiError {
    ApiError {
        kind: ApiErrorKind::SubnetNotFound,
        pallet: Some(SUBTENSOR.into()),
        name: Some("SubnetNotExists".into()),
        message: format!("subnet {netuid} does not exist"),
    }
}

fn bad_origin(message: impl Into<String>) -> ApiError {
    ApiError::dispatch("System", "BadOrigin", message)
}

/// Every hyperparameter the devnet keeps per subnet, in the chain's raw units. Owners change them
/// with [`AdminCall::SetHyperparams`] (a JSON object of the fields to change).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetParams {
    /// Blocks between epochs.
    pub tempo: u16,
    /// Yuma rho (reported only).
    pub rho: u16,
    /// Yuma kappa (u16 proportion).
    pub kappa: u16,
    /// Blocks a new registration is protected from pruning.
    pub immunity_period: u16,
    /// `MinAllowedWeights` (the check uses `min(this, n)`).
    pub min_allowed_weights: u16,
    /// `MaxWeightsLimit` (u16 proportion of the normalized row).
    pub max_weights_limit: u16,
    /// `WeightsVersionKey`.
    pub weights_version: u64,
    /// `WeightsSetRateLimit` in blocks.
    pub weights_rate_limit: u64,
    /// Activity cutoff in blocks.
    pub activity_cutoff: u16,
    /// `NetworkRegistrationAllowed`.
    pub registration_allowed: bool,
    /// `MaxAllowedValidators`.
    pub max_validators: u16,
    /// `MaxAllowedUids`.
    pub max_allowed_uids: u16,
    /// `ServingRateLimit` in blocks.
    pub serving_rate_limit: u64,
    /// `BondsMovingAverage` (per million).
    pub bonds_moving_avg: u64,
    /// `BondsPenalty` (u16 proportion).
    pub bonds_penalty: u16,
    /// `CommitRevealWeightsEnabled`.
    pub commit_reveal_weights_enabled: bool,
    /// `RevealPeriodEpochs` (1..=100).
    pub commit_reveal_period: u64,
    /// `LiquidAlphaOn`.
    pub liquid_alpha_enabled: bool,
    /// Liquid alpha high (u16 proportion).
    pub alpha_high: u16,
    /// Liquid alpha low (u16 proportion).
    pub alpha_low: u16,
    /// `AlphaSigmoidSteepness`.
    pub alpha_sigmoid_steepness: i16,
    /// `Yuma3On`.
    pub yuma3_enabled: bool,
    /// `StakeThreshold` in rao.
    pub stake_threshold: u64,
    /// `MinBurn` in rao.
    pub min_burn: u64,
    /// `MaxBurn` in rao.
    pub max_burn: u64,
    /// `Burn`: what `burned_register` costs now, in rao (kept constant on the devnet).
    pub burn: u64,
    /// `SubnetOwnerCut` (u16 proportion of each block's emission paid to the owner).
    pub subnet_owner_cut: u16,
}

impl SubnetParams {
    /// The chain's defaults (reference 3.5) with `tempo`, except that commit-reveal starts off
    /// (the chain's default is on) so that plain `set_weights` works on a fresh devnet subnet.
    pub fn devnet_defaults(tempo: u16) -> Self {
        SubnetParams {
            tempo,
            rho: 10,
            kappa: 32_767,
            immunity_period: 4096,
            min_allowed_weights: 1024,
            max_weights_limit: u16::MAX,
            weights_version: 0,
            weights_rate_limit: 100,
            activity_cutoff: 5000,
            registration_allowed: true,
            max_validators: 128,
            max_allowed_uids: 256,
            serving_rate_limit: 50,
            bonds_moving_avg: 900_000,
            bonds_penalty: u16::MAX,
            commit_reveal_weights_enabled: false,
            commit_reveal_period: 1,
            liquid_alpha_enabled: false,
            alpha_high: 58_982,
            alpha_low: 45_875,
            alpha_sigmoid_steepness: 1000,
            yuma3_enabled: false,
            stake_threshold: 0,
            min_burn: 500_000,
            max_burn: 100 * RAO_PER_TAO,
            burn: RAO_PER_TAO,
            subnet_owner_cut: 11_796,
        }
    }

    /// This set with the fields of `patch` (a JSON object) replaced; unknown fields and wrong
    /// types are a bad request, out-of-range values the chain's admin errors.
    pub fn patched(&self, patch: &serde_json::Map<String, serde_json::Value>) -> Result<SubnetParams, ApiError> {
        let mut v = serde_json::to_value(self).map_err(|e| ApiError::new(ApiErrorKind::Internal, e.to_string()))?;
        if let serde_json::Value::Object(m) = &mut v {
            for (k, val) in patch {
                if !m.contains_key(k) {
                    return Err(bad_request(format!("unknown hyperparameter `{k}`")));
                }
                m.insert(k.clone(), val.clone());
            }
        }
        let p: SubnetParams = serde_json::from_value(v).map_err(|e| bad_request(format!("hyperparameters: {e}")))?;
        p.validate()?;
        Ok(p)
    }

    fn validate(&self) -> Result<(), ApiError> {
        if self.tempo > MAX_TEMPO {
            return Err(bad_request(format!("tempo {} is above MAX_TEMPO {MAX_TEMPO}", self.tempo)));
        }
        if self.commit_reveal_period == 0 {
            return Err(subtensor("RevealPeriodTooSmall", "commit_reveal_period must be at least 1"));
        }
        if self.commit_reveal_period > 100 {
            return Err(subtensor("RevealPeriodTooLarge", "commit_reveal_period must be at most 100"));
        }
        if self.bonds_moving_avg > 1_000_000 {
            return Err(ApiError::dispatch(ADMIN_UTILS, "BondsMovingAverageMaxReached", "at most 1 000 000"));
        }
        if self.max_validators > self.max_allowed_uids {
            return Err(ApiError::dispatch(
                ADMIN_UTILS,
                "MaxValidatorsLargerThanMaxUIds",
                "max_validators must not exceed max_allowed_uids",
            ));
        }
        if self.max_allowed_uids == 0 {
            return Err(ApiError::dispatch(ADMIN_UTILS, "MaxAllowedUidsLessThanMinAllowedUids", "need at least 1 uid"));
        }
        if self.min_burn > self.max_burn || self.burn < self.min_burn || self.burn > self.max_burn {
            return Err(ApiError::dispatch(ADMIN_UTILS, "ValueNotInBounds", "need min_burn ≤ burn ≤ max_burn"));
        }
        if self.alpha_low > self.alpha_high {
            return Err(subtensor("AlphaLowOutOfRange", "alpha_low must not exceed alpha_high"));
        }
        Ok(())
    }

    /// The [`Hyperparams`] the `Chain` trait reports.
    pub fn to_hyperparams(&self) -> Hyperparams {
        Hyperparams {
            tempo: self.tempo,
            rho: self.rho,
            kappa: self.kappa,
            immunity_period: self.immunity_period,
            min_allowed_weights: self.min_allowed_weights,
            max_weights_limit: self.max_weights_limit,
            weights_version: self.weights_version,
            weights_rate_limit: self.weights_rate_limit,
            activity_cutoff: self.activity_cutoff,
            registration_allowed: self.registration_allowed,
            max_validators: self.max_validators,
            serving_rate_limit: self.serving_rate_limit,
            bonds_moving_avg: self.bonds_moving_avg,
            commit_reveal_weights_enabled: self.commit_reveal_weights_enabled,
            commit_reveal_period: self.commit_reveal_period,
            liquid_alpha_enabled: self.liquid_alpha_enabled,
            alpha_high: self.alpha_high,
            alpha_low: self.alpha_low,
            min_burn: self.min_burn,
            max_burn: self.max_burn,
            burn: self.burn,
        }
    }

    fn yuma(&self) -> orchestra_yuma::Hyperparams {
        orchestra_yuma::Hyperparams {
            kappa: self.kappa,
            bonds_moving_average: self.bonds_moving_avg,
            bonds_penalty: self.bonds_penalty,
            liquid_alpha_enabled: self.liquid_alpha_enabled,
            alpha_low: self.alpha_low,
            alpha_high: self.alpha_high,
            alpha_sigmoid_steepness: self.alpha_sigmoid_steepness,
            max_allowed_validators: self.max_validators,
            activity_cutoff: u64::from(self.activity_cutoff),
            tempo: u64::from(self.tempo),
            stake_threshold: self.stake_threshold,
        }
    }
}

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
    fn new(hotkey: String, block: u64) -> Self {
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

    fn stake_of(&self, hotkey: &str) -> u64 {
        self.stake.get(hotkey).copied().unwrap_or(0)
    }

    /// `get_epoch_index`: `(block + netuid + 1) / (tempo + 1)`.
    pub fn epoch_index(&self, block: u64) -> u64 {
        block.saturating_add(u64::from(self.netuid) + 1) / (u64::from(self.params.tempo) + 1)
    }

    fn is_commit_expired(&self, commit_block: u64, now: u64) -> bool {
        self.epoch_index(now) > self.epoch_index(commit_block).saturating_add(self.params.commit_reveal_period)
    }

    fn is_reveal_block_range(&self, commit_block: u64, now: u64) -> bool {
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

    fn is_owner_hotkey(&self, hotkey: &str) -> bool {
        self.owner_hotkey.as_deref() == Some(hotkey)
    }

    /// Which uid a new registration takes (`register_neuron` / `get_neuron_to_prune`): the next
    /// free uid, else the non-immune neuron with the lowest emission (then oldest registration,
    /// then lowest uid), else the immune one with the lowest; the owner hotkey is never pruned.
    fn uid_for_registration(&self, now: u64) -> Option<(u16, bool)> {
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

/// Which parts of the state a change touched, so persistence writes only those.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// The chain-wide part (block, balances, hotkey owners).
    pub meta: bool,
    /// Subnets written.
    pub subnets: Vec<NetUid>,
    /// The extrinsic log ([`DevnetState::extrinsics`]) grew.
    pub extrinsics: bool,
    /// The hash of the extrinsic the call recorded, if it recorded one (transfers).
    pub extrinsic_hash: Option<String>,
}

impl Changes {
    fn meta() -> Self {
        Changes { meta: true, ..Changes::default() }
    }

    fn subnet(netuid: NetUid) -> Self {
        Changes { subnets: vec![netuid], ..Changes::default() }
    }

    fn both(netuid: NetUid) -> Self {
        Changes { meta: true, subnets: vec![netuid], ..Changes::default() }
    }
}

/// Chain-wide settings of a devnet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainSettings {
    /// Tempo of subnets created without one.
    pub default_tempo: u16,
    /// Emission per block and subnet, rao (before the owner cut).
    pub emission_per_block: u64,
    /// Accept loopback axon IPs (127.0.0.1, ::1), which the chain refuses with `InvalidIpAddress`,
    /// so that neurons on one machine can find each other.
    pub allow_loopback_axons: bool,
}

impl Default for ChainSettings {
    fn default() -> Self {
        ChainSettings { default_tempo: 100, emission_per_block: RAO_PER_TAO, allow_loopback_axons: true }
    }
}

/// The whole simulated chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevnetState {
    /// The block being built.
    pub block: u64,
    /// Settings.
    pub settings: ChainSettings,
    /// Free balances (rao) by SS58.
    pub balances: BTreeMap<String, u64>,
    /// `Owner`: hotkey → coldkey.
    pub hotkey_owner: BTreeMap<String, String>,
    /// Subnets by netuid.
    pub subnets: BTreeMap<NetUid, Subnet>,
    /// Recorded extrinsics by block (transfers, with their events), so a payee can read a
    /// payment back; a block is finalized once the next one is being built.
    #[serde(default)]
    pub extrinsics: BTreeMap<u64, Vec<ExtrinsicReceipt>>,
}

/// What one epoch did, for logs and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochReport {
    /// The subnet.
    pub netuid: NetUid,
    /// The block it ran at.
    pub block: u64,
    /// Alpha distributed (rao).
    pub emission: u64,
}

impl DevnetState {
    /// A fresh chain at block 1 with no subnets.
    pub fn new(settings: ChainSettings) -> Self {
        DevnetState {
            block: 1,
            settings,
            balances: BTreeMap::new(),
            hotkey_owner: BTreeMap::new(),
            subnets: BTreeMap::new(),
            extrinsics: BTreeMap::new(),
        }
    }

    /// The subnet, or the chain's "does not exist".
    pub fn subnet(&self, netuid: NetUid) -> Result<&Subnet, ApiError> {
        self.subnets.get(&netuid).ok_or_else(|| subnet_not_found(netuid))
    }

    fn subnet_mut(&mut self, netuid: NetUid) -> Result<&mut Subnet, ApiError> {
        self.subnets.get_mut(&netuid).ok_or_else(|| subnet_not_found(netuid))
    }

    /// Free balance of `account` (rao).
    pub fn balance(&self, account: &str) -> u64 {
        self.balances.get(account).copied().unwrap_or(0)
    }

    fn credit(&mut self, account: &str, amount: u64) {
        let b = self.balances.entry(account.to_string()).or_insert(0);
        *b = b.saturating_add(amount);
    }

    /// The subnet's hyperparameters as the `Chain` trait reports them.
    pub fn hyperparams(&self, netuid: NetUid) -> Result<Hyperparams, ApiError> {
        Ok(self.subnet(netuid)?.params.to_hyperparams())
    }

    /// The subnet's metagraph at the current block.
    pub fn metagraph(&self, netuid: NetUid) -> Result<Metagraph, ApiError> {
        let s = self.subnet(netuid)?;
        let neurons = s
            .neurons
            .iter()
            .enumerate()
            .map(|(uid, n)| NeuronInfo {
                uid: uid as u16,
                hotkey: n.hotkey.clone(),
                coldkey: self.hotkey_owner.get(&n.hotkey).cloned().unwrap_or_default(),
                stake: s.stake_of(&n.hotkey),
                trust: n.trust,
                consensus: n.consensus,
                incentive: n.incentive,
                dividends: n.dividends,
                emission: n.emission,
                validator_permit: n.validator_permit,
                last_update: n.last_update,
                active: n.active,
                axon: n.axon,
            })
            .collect();
        Ok(Metagraph { netuid, block: self.block, neurons })
    }

    /// The commitment `hotkey` published on the subnet.
    pub fn commitment(&self, netuid: NetUid, hotkey: &str) -> Result<Option<Commitment>, ApiError> {
        Ok(self.subnet(netuid)?.commitments.get(hotkey).cloned())
    }

    // ------------------------------------------------------------------ extrinsics

    /// Applies `call` signed by `who` (an SS58 whose signature the caller verified) in the
    /// current block.
    pub fn apply(&mut self, who: &str, call: &DevnetCall) -> Result<Changes, ApiError> {
        match call {
            DevnetCall::SetWeights { netuid, mechanism, uids, weights, version_key } => {
                // The dispatchable refuses direct weights first when commit-reveal is on.
                if self.subnets.get(netuid).is_some_and(|s| s.params.commit_reveal_weights_enabled) {
                    return Err(subtensor("CommitRevealEnabled", "this subnet takes weights by commit-reveal only"));
                }
                let prepared = self.check_set_weights(who, *netuid, *mechanism, uids, weights, *version_key)?;
                self.store_weights(*netuid, prepared);
                Ok(Changes::subnet(*netuid))
            }
            DevnetCall::CommitWeights { netuid, mechanism, commit_hash } => {
                self.commit_weights(who, *netuid, *mechanism, commit_hash)
            }
            DevnetCall::RevealWeights { netuid, mechanism, uids, values, salt, version_key } => {
                self.reveal_weights(who, *netuid, *mechanism, uids, values, salt, *version_key)
            }
            DevnetCall::ServeAxon(args) => self.serve_axon(who, args),
            DevnetCall::SetCommitment { netuid, fields } => self.set_commitment(who, *netuid, fields),
            DevnetCall::BurnedRegister { netuid, hotkey } => self.burned_register(who, *netuid, hotkey),
            DevnetCall::Transfer { dest, amount, remark } => self.transfer(who, dest, *amount, remark.as_deref()),
        }
    }

    /// `transfer_keep_alive` (batched with `remark_with_event` when there is a remark): moves
    /// `amount` rao and records the extrinsic with its `Transfer` and `Remarked` events in the
    /// current block. The existential deposit is not modelled.
    fn transfer(&mut self, who: &str, dest: &str, amount: u64, remark: Option<&str>) -> Result<Changes, ApiError> {
        PublicKey::from_ss58(dest).map_err(|e| bad_request(format!("dest {dest:?}: {e}")))?;
        let remark = match remark {
            None => None,
            Some(h) => Some(
                hex::decode(h.trim_start_matches("0x"))
                    .map_err(|e| bad_request(format!("remark {h:?} is not hex: {e}")))?,
            ),
        };
        if self.balance(who) < amount {
            return Err(ApiError::dispatch(
                BALANCES,
                "InsufficientBalance",
                format!("balance {} rao, transfer {amount}", self.balance(who)),
            ));
        }
        if let Some(b) = self.balances.get_mut(who) {
            *b -= amount;
        }
        self.credit(dest, amount);
        let block = self.block;
        let log = self.extrinsics.entry(block).or_default();
        let index = log.len() as u32;
        let remark_hex = remark.as_deref().map(hex::encode).unwrap_or_default();
        let hash =
            remark_hash(format!("devnet-extrinsic/{block}/{index}/{who}/{dest}/{amount}/{remark_hex}").as_bytes());
        let extrinsic_hash = format!("0x{}", hex::encode(hash));
        log.push(ExtrinsicReceipt {
            block_number: block,
            block_hash: None,
            extrinsic_index: index,
            extrinsic_hash: extrinsic_hash.clone(),
            signer: Some(who.to_string()),
            finalized: false,
            success: true,
            transfers: vec![TransferEvent { from: who.to_string(), to: dest.to_string(), amount }],
            remarks: remark.iter().map(|r| RemarkEvent { sender: who.to_string(), hash: remark_hash(r) }).collect(),
        });
        Ok(Changes { meta: true, extrinsics: true, extrinsic_hash: Some(extrinsic_hash), ..Changes::default() })
    }

    /// The recorded extrinsics of `block`, each marked finalized when the block is (every block
    /// before the one being built).
    pub fn block_extrinsics(&self, block: u64) -> orchestra_chain::devnet_api::BlockExtrinsics {
        let finalized = block < self.block;
        let extrinsics = self
            .extrinsics
            .get(&block)
            .map(|v| {
                v.iter()
                    .cloned()
                    .map(|mut x| {
                        x.finalized = finalized;
                        x
                    })
                    .collect()
            })
            .unwrap_or_default();
        orchestra_chain::devnet_api::BlockExtrinsics { block, finalized, extrinsics }
    }

    /// `do_set_weights` checks, in the chain's order (reference 3.4); returns what to store.
    fn check_set_weights(
        &self,
        who: &str,
        netuid: NetUid,
        mechanism: u8,
        uids: &[u16],
        values: &[u16],
        version_key: u64,
    ) -> Result<PreparedWeights, ApiError> {
        if netuid == 0 {
            return Err(subtensor("CanNotSetRootNetworkWeights", "netuid 0 is the root network"));
        }
        if uids.len() != values.len() {
            return Err(subtensor("WeightVecNotEqualSize", format!("{} uids but {} values", uids.len(), values.len())));
        }
        let s = self.subnet(netuid)?;
        if mechanism != MAIN_MECHANISM {
            return Err(subtensor("MechanismDoesNotExist", format!("subnet {netuid} has only mechanism 0")));
        }
        let n = s.neurons.len();
        if uids.len() > n {
            return Err(subtensor(
                "UidsLengthExceedUidsInSubNet",
                format!("{} uids but the subnet has {n}", uids.len()),
            ));
        }
        let uid = s
            .uid_of(who)
            .ok_or_else(|| subtensor("HotKeyNotRegisteredInSubNet", format!("{who} is not registered on {netuid}")))?;
        let is_owner = s.is_owner_hotkey(who);
        if !is_owner && s.stake_of(who) < s.params.stake_threshold {
            return Err(subtensor(
                "NotEnoughStakeToSetWeights",
                format!("stake {} below the threshold {}", s.stake_of(who), s.params.stake_threshold),
            ));
        }
        let network_key = s.params.weights_version;
        if network_key != 0 && version_key < network_key {
            return Err(subtensor(
                "IncorrectWeightVersionKey",
                format!("version_key {version_key} is below the subnet's {network_key}"),
            ));
        }
        let neuron = &s.neurons[usize::from(uid)];
        if !s.params.commit_reveal_weights_enabled {
            let last = neuron.last_update;
            if last != 0 && self.block.saturating_sub(last) < s.params.weights_rate_limit {
                return Err(subtensor(
                    "SettingWeightsTooFast",
                    format!(
                        "last weights at block {last}, now {}, rate limit {} blocks",
                        self.block, s.params.weights_rate_limit
                    ),
                ));
            }
        }
        let self_weight = values.len() == 1 && uids.first() == Some(&uid);
        if !(self_weight || neuron.validator_permit || is_owner) {
            return Err(subtensor("NeuronNoValidatorPermit", format!("uid {uid} has no validator permit")));
        }
        let mut sorted = uids.to_vec();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(subtensor("DuplicateUids", format!("uid {} appears twice", w[0])));
        }
        if let Some(bad) = uids.iter().find(|&&u| usize::from(u) >= n) {
            return Err(subtensor("UidVecContainInvalidOne", format!("uid {bad} does not exist on {netuid}")));
        }
        let min_allowed = usize::from(s.params.min_allowed_weights).min(n);
        if !self_weight && values.len() < min_allowed {
            return Err(subtensor(
                "WeightVecLengthIsLow",
                format!("{} weights, at least {min_allowed} required", values.len()),
            ));
        }
        let upscaled = vec_u16_max_upscale_to_u16(values);
        if !self_weight
            && s.params.max_weights_limit != u16::MAX
            && !check_vec_max_limited(&upscaled, s.params.max_weights_limit)
        {
            return Err(subtensor(
                "MaxWeightExceeded",
                format!("a normalized weight exceeds max_weights_limit {}", s.params.max_weights_limit),
            ));
        }
        Ok(PreparedWeights {
            uid,
            row: uids.iter().copied().zip(upscaled).collect(),
            update_last: !s.params.commit_reveal_weights_enabled,
        })
    }

    fn store_weights(&mut self, netuid: NetUid, p: PreparedWeights) {
        let now = self.block;
        if let Some(n) = self.subnets.get_mut(&netuid).and_then(|s| s.neurons.get_mut(usize::from(p.uid))) {
            n.weights = p.row;
            if p.update_last {
                n.last_update = now;
            }
        }
    }

    /// `do_commit_weights` (commit-reveal v2).
    fn commit_weights(
        &mut self,
        who: &str,
        netuid: NetUid,
        mechanism: u8,
        hash: &[u8; 32],
    ) -> Result<Changes, ApiError> {
        let now = self.block;
        let s = self.subnet(netuid)?;
        if mechanism != MAIN_MECHANISM {
            return Err(subtensor("MechanismDoesNotExist", format!("subnet {netuid} has only mechanism 0")));
        }
        if !s.params.commit_reveal_weights_enabled {
            return Err(subtensor("CommitRevealDisabled", "commit-reveal is off on this subnet: use set_weights"));
        }
        let uid = s
            .uid_of(who)
            .ok_or_else(|| subtensor("HotKeyNotRegisteredInSubNet", format!("{who} is not registered on {netuid}")))?;
        let last = s.neurons[usize::from(uid)].last_update;
        if last != 0 && now.saturating_sub(last) < s.params.weights_rate_limit {
            return Err(subtensor(
                "CommittingWeightsTooFast",
                format!("last commit at block {last}, rate limit {} blocks", s.params.weights_rate_limit),
            ));
        }
        let mut queue = s.weight_commits.get(who).cloned().unwrap_or_default();
        while queue.front().is_some_and(|c| s.is_commit_expired(c.block, now)) {
            queue.pop_front();
        }
        if queue.len() >= MAX_UNREVEALED_COMMITS {
            return Err(subtensor(
                "TooManyUnrevealedCommits",
                format!("{MAX_UNREVEALED_COMMITS} commits are waiting to be revealed"),
            ));
        }
        queue.push_back(WeightCommit { hash: format!("0x{}", hex::encode(hash)), block: now });
        let s = self.subnet_mut(netuid)?;
        s.weight_commits.insert(who.to_string(), queue);
        s.neurons[usize::from(uid)].last_update = now;
        Ok(Changes::subnet(netuid))
    }

    /// `do_reveal_weights`: the hash must match an unexpired commit whose reveal epoch is now.
    #[allow(clippy::too_many_arguments)]
    fn reveal_weights(
        &mut self,
        who: &str,
        netuid: NetUid,
        mechanism: u8,
        uids: &[u16],
        values: &[u16],
        salt: &[u16],
        version_key: u64,
    ) -> Result<Changes, ApiError> {
        let now = self.block;
        let s = self.subnet(netuid)?;
        if mechanism != MAIN_MECHANISM {
            return Err(subtensor("MechanismDoesNotExist", format!("subnet {netuid} has only mechanism 0")));
        }
        if !s.params.commit_reveal_weights_enabled {
            return Err(subtensor("CommitRevealDisabled", "commit-reveal is off on this subnet"));
        }
        let mut queue = s
            .weight_commits
            .get(who)
            .cloned()
            .ok_or_else(|| subtensor("NoWeightsCommitFound", "no commit to reveal"))?;
        let mut expired = Vec::new();
        while let Some(c) = queue.front() {
            if !s.is_commit_expired(c.block, now) {
                break;
            }
            expired.push(c.hash.clone());
            queue.pop_front();
        }
        let account = PublicKey::from_ss58(who).map_err(|e| bad_request(format!("signer {who}: {e}")))?;
        let provided = format!(
            "0x{}",
            hex::encode(commit_hash(&account.0, netuid_index(netuid, mechanism), uids, values, salt, version_key))
        );
        let Some(position) = queue.iter().position(|c| c.hash == provided) else {
            return Err(if expired.contains(&provided) {
                subtensor("ExpiredWeightCommit", "the matching commit's reveal epoch has passed")
            } else if queue.is_empty() {
                subtensor("NoWeightsCommitFound", "no unexpired commit to reveal")
            } else {
                subtensor("InvalidRevealCommitHashNotMatch", "the reveal does not hash to any commit")
            });
        };
        let commit_block = queue[position].block;
        if !s.is_reveal_block_range(commit_block, now) {
            return Err(subtensor(
                "RevealTooEarly",
                format!(
                    "committed in epoch {}, reveal in epoch {} (now {})",
                    s.epoch_index(commit_block),
                    s.epoch_index(commit_block) + s.params.commit_reveal_period,
                    s.epoch_index(now)
                ),
            ));
        }
        queue.drain(..=position);
        let prepared = self.check_set_weights(who, netuid, mechanism, uids, values, version_key)?;
        self.store_weights(netuid, prepared);
        let s = self.subnet_mut(netuid)?;
        if queue.is_empty() {
            s.weight_commits.remove(who);
        } else {
            s.weight_commits.insert(who.to_string(), queue);
        }
        Ok(Changes::subnet(netuid))
    }

    /// `do_serve_axon` (serving.rs): registered, ip type, ip, rate limit, port.
    fn serve_axon(&mut self, who: &str, a: &ServeAxonArgs) -> Result<Changes, ApiError> {
        let now = self.block;
        let allow_loopback = self.settings.allow_loopback_axons;
        let s = self.subnet(a.netuid)?;
        let uid = s.uid_of(who).ok_or_else(|| {
            subtensor("HotKeyNotRegisteredInNetwork", format!("{who} is not registered on {}", a.netuid))
        })?;
        if a.ip_type != 4 && a.ip_type != 6 {
            return Err(subtensor("InvalidIpType", format!("ip_type {} (expected 4 or 6)", a.ip_type)));
        }
        let ip_ok = match a.ip_type {
            4 => a.ip < u128::from(u32::MAX) && (allow_loopback || a.ip != 0x7f00_0001),
            _ => a.ip != u128::MAX && (allow_loopback || a.ip != 1),
        };
        if !ip_ok {
            return Err(subtensor("InvalidIpAddress", format!("ip {} is not a valid IPv{} address", a.ip, a.ip_type)));
        }
        let prev = s.neurons[usize::from(uid)].axon;
        let limit = s.params.serving_rate_limit;
        if !(limit == 0 || prev.block == 0 || now.saturating_sub(prev.block) >= limit) {
            return Err(subtensor(
                "ServingRateLimitExceeded",
                format!("last served at block {}, rate limit {limit} blocks", prev.block),
            ));
        }
        if a.port == 0 {
            return Err(subtensor("InvalidPort", "port 0"));
        }
        let s = self.subnet_mut(a.netuid)?;
        s.neurons[usize::from(uid)].axon = AxonInfo {
            block: now,
            version: a.version,
            ip: a.ip,
            port: a.port,
            ip_type: a.ip_type,
            protocol: a.protocol,
        };
        Ok(Changes::subnet(a.netuid))
    }

    /// `Commitments.set_commitment`: registered hotkey, ≤ 3 fields, `MaxSpace` per epoch.
    fn set_commitment(&mut self, who: &str, netuid: NetUid, fields: &[CommitmentData]) -> Result<Changes, ApiError> {
        let now = self.block;
        let s = self.subnet(netuid)?;
        if s.uid_of(who).is_none() {
            return Err(ApiError::dispatch(
                COMMITMENTS,
                "AccountNotAllowedCommit",
                format!("{who} is not registered on {netuid}"),
            ));
        }
        if fields.len() > MAX_COMMITMENT_FIELDS {
            return Err(ApiError::dispatch(
                COMMITMENTS,
                "TooManyFieldsInCommitmentInfo",
                format!("{} fields, at most {MAX_COMMITMENT_FIELDS}", fields.len()),
            ));
        }
        if let Some(f) = fields.iter().find(|f| !f.fits()) {
            // The chain could not even decode such a field.
            return Err(bad_request(format!("commitment field {} is over its size bound", f.metadata_variant_name())));
        }
        let size: u64 = fields.iter().map(field_len).sum::<u64>().max(MIN_COMMITMENT_CHARGE);
        let epoch = s.epoch_index(now);
        let mut usage = s.commitment_space.get(who).copied().unwrap_or_default();
        if usage.epoch != epoch {
            usage = SpaceUsage { epoch, used: 0 };
        }
        if usage.used.saturating_add(size) > MAX_SPACE {
            return Err(ApiError::dispatch(
                COMMITMENTS,
                "SpaceLimitExceeded",
                format!("{} of {MAX_SPACE} bytes used this epoch, this commitment needs {size}", usage.used),
            ));
        }
        usage.used += size;
        let s = self.subnet_mut(netuid)?;
        s.commitment_space.insert(who.to_string(), usage);
        s.commitments.insert(who.to_string(), Commitment { block: now, fields: fields.to_vec() });
        Ok(Changes::subnet(netuid))
    }

    /// `do_burned_registration`, signed by the coldkey.
    fn burned_register(&mut self, coldkey: &str, netuid: NetUid, hotkey: &str) -> Result<Changes, ApiError> {
        let now = self.block;
        PublicKey::from_ss58(hotkey).map_err(|e| bad_request(format!("hotkey {hotkey:?}: {e}")))?;
        if netuid == 0 {
            return Err(subtensor("RegistrationNotPermittedOnRootSubnet", "netuid 0 is the root network"));
        }
        let s = self.subnet(netuid)?;
        if !s.params.registration_allowed {
            return Err(subtensor("SubNetRegistrationDisabled", format!("registration is closed on {netuid}")));
        }
        if s.uid_of(hotkey).is_some() {
            return Err(subtensor("HotKeyAlreadyRegisteredInSubNet", format!("{hotkey} is already on {netuid}")));
        }
        let cost = s.params.burn;
        if self.balance(coldkey) < cost {
            return Err(subtensor(
                "NotEnoughBalanceToStake",
                format!("balance {} rao, registration costs {cost}", self.balance(coldkey)),
            ));
        }
        if let Some(owner) = self.hotkey_owner.get(hotkey)
            && owner != coldkey
        {
            return Err(subtensor("NonAssociatedColdKey", format!("{hotkey} belongs to another coldkey")));
        }
        let (uid, replace) = s
            .uid_for_registration(now)
            .ok_or_else(|| subtensor("NoNeuronIdAvailable", "every uid is held by the owner"))?;
        // All checks passed: mutate.
        if let Some(b) = self.balances.get_mut(coldkey) {
            *b -= cost;
        }
        self.hotkey_owner.insert(hotkey.to_string(), coldkey.to_string());
        let s = self.subnet_mut(netuid)?;
        if replace {
            replace_neuron(s, uid, hotkey, now);
        } else {
            s.neurons.push(Neuron::new(hotkey.to_string(), now));
        }
        tracing::debug!(netuid, uid, hotkey, replace, "registered");
        Ok(Changes::both(netuid))
    }

    // ------------------------------------------------------------------ admin

    /// Applies a devnet administration call signed by `who`.
    pub fn apply_admin(&mut self, who: &str, call: &AdminCall) -> Result<Changes, ApiError> {
        match call {
            AdminCall::CreateSubnet { netuid, owner_hotkey, hyperparams } => {
                self.create_subnet(who, *netuid, owner_hotkey.as_deref(), hyperparams)
            }
            AdminCall::SetHyperparams { netuid, hyperparams } => {
                let s = self.subnet(*netuid)?;
                if s.owner_coldkey != who {
                    return Err(bad_origin(format!("only the owner of subnet {netuid} may set its hyperparameters")));
                }
                let params = s.params.patched(hyperparams)?;
                if usize::from(params.max_allowed_uids) < s.neurons.len() {
                    return Err(ApiError::dispatch(
                        ADMIN_UTILS,
                        "MaxAllowedUIdsLessThanCurrentUIds",
                        format!("{} uids are registered", s.neurons.len()),
                    ));
                }
                self.subnet_mut(*netuid)?.params = params;
                Ok(Changes::subnet(*netuid))
            }
            AdminCall::Faucet { amount } => {
                if *amount > MAX_FAUCET {
                    return Err(bad_request(format!("the faucet hands out at most {MAX_FAUCET} rao a call")));
                }
                self.credit(who, *amount);
                Ok(Changes::meta())
            }
            AdminCall::Transfer { dest, amount } => {
                PublicKey::from_ss58(dest).map_err(|e| bad_request(format!("dest {dest:?}: {e}")))?;
                if self.balance(who) < *amount {
                    return Err(ApiError::dispatch(
                        BALANCES,
                        "InsufficientBalance",
                        format!("balance {} rao, transfer {amount}", self.balance(who)),
                    ));
                }
                if let Some(b) = self.balances.get_mut(who) {
                    *b -= amount;
                }
                self.credit(dest, *amount);
                Ok(Changes::meta())
            }
            AdminCall::AddStake { netuid, hotkey, amount } => self.add_stake(who, *netuid, hotkey, *amount),
            AdminCall::AdvanceBlocks { .. } => Err(bad_request("advance_blocks is handled by the block producer")),
        }
    }

    fn create_subnet(
        &mut self,
        owner: &str,
        netuid: Option<NetUid>,
        owner_hotkey: Option<&str>,
        patch: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Changes, ApiError> {
        let netuid = match netuid {
            Some(0) => return Err(bad_request("netuid 0 is the root network")),
            Some(n) if n >= orchestra_chain::encode::GLOBAL_MAX_SUBNET_COUNT => {
                return Err(bad_request(format!("netuid {n} is out of range")));
            }
            Some(n) => n,
            None => (1..orchestra_chain::encode::GLOBAL_MAX_SUBNET_COUNT)
                .find(|n| !self.subnets.contains_key(n))
                .ok_or_else(|| subtensor("SubnetLimitReached", "no netuid left"))?,
        };
        if self.subnets.contains_key(&netuid) {
            return Err(subtensor("SubnetExists", format!("subnet {netuid} exists")));
        }
        let params = SubnetParams::devnet_defaults(self.settings.default_tempo).patched(patch)?;
        if let Some(hk) = owner_hotkey {
            PublicKey::from_ss58(hk).map_err(|e| bad_request(format!("owner_hotkey {hk:?}: {e}")))?;
            if self.hotkey_owner.get(hk).is_some_and(|c| c != owner) {
                return Err(subtensor("NonAssociatedColdKey", format!("{hk} belongs to another coldkey")));
            }
        }
        let now = self.block;
        let mut subnet = Subnet {
            netuid,
            owner_coldkey: owner.to_string(),
            owner_hotkey: owner_hotkey.map(str::to_string),
            created_at: now,
            params,
            neurons: Vec::new(),
            stake: BTreeMap::new(),
            pending_emission: 0,
            last_epoch_block: 0,
            weight_commits: BTreeMap::new(),
            commitments: BTreeMap::new(),
            commitment_space: BTreeMap::new(),
        };
        if let Some(hk) = owner_hotkey {
            // The owner's hotkey takes uid 0, as `register_network` does.
            subnet.neurons.push(Neuron::new(hk.to_string(), now));
            self.hotkey_owner.insert(hk.to_string(), owner.to_string());
        }
        self.subnets.insert(netuid, subnet);
        tracing::info!(netuid, owner, "subnet created");
        Ok(Changes::both(netuid))
    }

    /// `add_stake`: moves `amount` rao from the coldkey's balance to `hotkey`'s alpha on the
    /// subnet (1:1; the devnet has no AMM).
    fn add_stake(&mut self, coldkey: &str, netuid: NetUid, hotkey: &str, amount: u64) -> Result<Changes, ApiError> {
        self.subnet(netuid)?;
        if amount == 0 {
            return Err(subtensor("AmountTooLow", "stake amount 0"));
        }
        if !self.hotkey_owner.contains_key(hotkey) {
            return Err(subtensor("HotKeyAccountNotExists", format!("{hotkey} has never been registered")));
        }
        if self.balance(coldkey) < amount {
            return Err(subtensor(
                "NotEnoughBalanceToStake",
                format!("balance {} rao, stake {amount}", self.balance(coldkey)),
            ));
        }
        if let Some(b) = self.balances.get_mut(coldkey) {
            *b -= amount;
        }
        let s = self.subnet_mut(netuid)?;
        let st = s.stake.entry(hotkey.to_string()).or_insert(0);
        *st = st.saturating_add(amount);
        Ok(Changes::both(netuid))
    }

    // ------------------------------------------------------------------ blocks

    /// Moves to the next block: every subnet accrues `emission_per_block` (the owner's cut goes to
    /// the owner's balance), then subnets whose tempo ends run their epoch and pay out.
    pub fn advance_block(&mut self) -> Vec<EpochReport> {
        self.block += 1;
        let block = self.block;
        let per_block = self.settings.emission_per_block;
        let mut owner_cuts = Vec::new();
        let mut reports = Vec::new();
        for s in self.subnets.values_mut() {
            let cut = (u128::from(per_block) * u128::from(s.params.subnet_owner_cut) / u128::from(u16::MAX)) as u64;
            s.pending_emission = s.pending_emission.saturating_add(per_block - cut);
            owner_cuts.push((s.owner_coldkey.clone(), cut));
            if s.epoch_due(block) {
                match run_epoch(s, block) {
                    Ok(r) => reports.push(r),
                    Err(e) => tracing::warn!(netuid = s.netuid, block, error = %e, "epoch failed; emission kept"),
                }
            }
        }
        for (owner, cut) in owner_cuts {
            self.credit(&owner, cut);
        }
        reports
    }
}

/// What `check_set_weights` approved.
struct PreparedWeights {
    uid: u16,
    row: Vec<(u16, u16)>,
    update_last: bool,
}

/// `Data::len_for_rate_limit`.
fn field_len(f: &CommitmentData) -> u64 {
    match f {
        CommitmentData::None | CommitmentData::ResetBondsFlag => 0,
        CommitmentData::Raw(b) | CommitmentData::BigRaw(b) => b.len() as u64,
        CommitmentData::BlakeTwo256(_)
        | CommitmentData::Sha256(_)
        | CommitmentData::Keccak256(_)
        | CommitmentData::ShaThree256(_) => 32,
        CommitmentData::TimelockEncrypted { encrypted, .. } => encrypted.len() as u64,
    }
}

/// `replace_neuron` + `clear_neuron`: the uid gets the new hotkey, its scores, bonds and weights
/// row are cleared, every weight toward it is zeroed, its axon is reset. `LastUpdate` and the
/// permit stay until the next epoch, as on chain.
fn replace_neuron(s: &mut Subnet, uid: u16, hotkey: &str, now: u64) {
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

fn dense(rows: impl Iterator<Item = Vec<(u16, u16)>>, n: usize) -> Vec<Vec<u16>> {
    rows.map(|row| {
        let mut d = vec![0u16; n];
        for (j, v) in row {
            if let Some(x) = d.get_mut(usize::from(j)) {
                *x = v;
            }
        }
        d
    })
    .collect()
}

fn sparse(row: &[u16]) -> Vec<(u16, u16)> {
    row.iter().enumerate().filter(|(_, v)| **v != 0).map(|(j, v)| (j as u16, *v)).collect()
}

/// The subnet's epoch input at `block`.
pub fn epoch_input(s: &Subnet, block: u64) -> EpochInput {
    let n = s.neurons.len();
    let commit_block = s.params.commit_reveal_weights_enabled.then(|| {
        s.neurons
            .iter()
            .map(|nrn| {
                s.weight_commits
                    .get(&nrn.hotkey)
                    .and_then(|q| q.iter().filter(|c| !s.is_commit_expired(c.block, block)).map(|c| c.block).min())
                    .unwrap_or(u64::MAX)
            })
            .collect()
    });
    EpochInput {
        block,
        last_epoch_block: s.last_epoch_block,
        stake: s.neurons.iter().map(|nrn| s.stake_of(&nrn.hotkey)).collect(),
        weights: dense(s.neurons.iter().map(|nrn| nrn.weights.clone()), n),
        bonds: dense(s.neurons.iter().map(|nrn| nrn.bonds.clone()), n),
        last_update: s.neurons.iter().map(|nrn| nrn.last_update).collect(),
        block_at_registration: s.neurons.iter().map(|nrn| nrn.registered_at).collect(),
        validator_permit: s.neurons.iter().map(|nrn| nrn.validator_permit).collect(),
        emission: s.pending_emission,
        owner_uid: s.owner_hotkey.as_deref().and_then(|h| s.uid_of(h)),
        commit_block,
        fidelity: Fidelity::Chain,
    }
}

/// Trust as subtensor computed it before it was deprecated: clipped rank over rank, per uid.
fn trust(out: &EpochOutput) -> Vec<u16> {
    let w = &out.fractions.weights;
    let s = &out.fractions.active_stake;
    let c = &out.fractions.consensus;
    let n = c.len();
    let mut rank = vec![0f64; n];
    let mut pre = vec![0f64; n];
    for (row, st) in w.iter().zip(s) {
        for (j, wij) in row.iter().enumerate().take(n) {
            pre[j] += wij * st;
            rank[j] += wij.min(c[j]) * st;
        }
    }
    rank.iter().zip(&pre).map(|(r, p)| if *p > 0.0 { ((r / p).min(1.0) * 65535.0) as u16 } else { 0 }).collect()
}

/// Runs the subnet's epoch at `block` and pays it: server and validator emission go to each
/// hotkey's stake (the owner hotkey's incentive is burned, as on chain).
fn run_epoch(s: &mut Subnet, block: u64) -> Result<EpochReport, orchestra_yuma::YumaError> {
    let input = epoch_input(s, block);
    let variant = if s.params.yuma3_enabled { Variant::Yuma3 } else { Variant::Yuma2 };
    let out = orchestra_yuma::epoch(&input, &s.params.yuma(), variant)?;
    let trust = trust(&out);
    let owner_uid = input.owner_uid.map(usize::from);
    let emission = input.emission;
    for (i, n) in s.neurons.iter_mut().enumerate() {
        n.consensus = out.consensus.get(i).copied().unwrap_or(0);
        n.incentive = out.incentive.get(i).copied().unwrap_or(0);
        n.dividends = out.dividends.get(i).copied().unwrap_or(0);
        n.validator_trust = out.validator_trust.get(i).copied().unwrap_or(0);
        n.trust = trust.get(i).copied().unwrap_or(0);
        n.emission = out.emission.get(i).copied().unwrap_or(0);
        n.active = out.active.get(i).copied().unwrap_or(false);
        n.validator_permit = out.new_validator_permit.get(i).copied().unwrap_or(false);
        n.bonds = out.new_bonds.get(i).map(|r| sparse(r)).unwrap_or_default();
        let server = out.server_emission.get(i).copied().unwrap_or(0);
        let validator = out.validator_emission.get(i).copied().unwrap_or(0);
        let paid = if owner_uid == Some(i) { validator } else { server.saturating_add(validator) };
        let st = s.stake.entry(n.hotkey.clone()).or_insert(0);
        *st = st.saturating_add(paid);
    }
    s.pending_emission = 0;
    s.last_epoch_block = block;
    tracing::debug!(netuid = s.netuid, block, emission, "epoch");
    Ok(EpochReport { netuid: s.netuid, block, emission })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use orchestra_keys::Keypair;

    fn key(uri: &str) -> String {
        Keypair::from_uri(uri).unwrap().ss58().to_string()
    }

    fn setup(n: usize) -> (DevnetState, String, Vec<String>) {
        let mut st = DevnetState::new(ChainSettings { default_tempo: 10, ..Default::default() });
        let owner = key("//Owner");
        st.apply_admin(&owner, &AdminCall::Faucet { amount: 1000 * RAO_PER_TAO }).unwrap();
        let mut patch = serde_json::Map::new();
        patch.insert("min_allowed_weights".into(), 1.into());
        patch.insert("weights_rate_limit".into(), 2.into());
        st.apply_admin(&owner, &AdminCall::CreateSubnet { netuid: Some(1), owner_hotkey: None, hyperparams: patch })
            .unwrap();
        let hotkeys: Vec<String> = (0..n).map(|i| key(&format!("//hk{i}"))).collect();
        for hk in &hotkeys {
            st.apply(&owner, &DevnetCall::BurnedRegister { netuid: 1, hotkey: hk.clone() }).unwrap();
        }
        (st, owner, hotkeys)
    }

    #[test]
    fn registration_assigns_uids_and_prunes_when_full() {
        let (mut st, owner, hks) = setup(3);
        assert_eq!(st.subnet(1).unwrap().uid_of(&hks[2]), Some(2));
        let e = st.apply(&owner, &DevnetCall::BurnedRegister { netuid: 1, hotkey: hks[0].clone() }).unwrap_err();
        assert_eq!(e.name.as_deref(), Some("HotKeyAlreadyRegisteredInSubNet"));
        let mut p = serde_json::Map::new();
        p.insert("max_allowed_uids".into(), 3.into());
        p.insert("max_validators".into(), 3.into());
        p.insert("immunity_period".into(), 5.into());
        st.apply_admin(&owner, &AdminCall::SetHyperparams { netuid: 1, hyperparams: p }).unwrap();
        // uid 1 set weights on uid 2 earlier; uid 0 is replaced next.
        st.subnets.get_mut(&1).unwrap().neurons[1].weights = vec![(0, 65535), (2, 10)];
        st.subnets.get_mut(&1).unwrap().neurons[0].emission = 0;
        st.subnets.get_mut(&1).unwrap().neurons[1].emission = 5;
        st.subnets.get_mut(&1).unwrap().neurons[2].emission = 5;
        let newcomer = key("//new");
        // All immune: the lowest emission (uid 0) still goes.
        st.apply(&owner, &DevnetCall::BurnedRegister { netuid: 1, hotkey: newcomer.clone() }).unwrap();
        let s = st.subnet(1).unwrap();
        assert_eq!(s.uid_of(&newcomer), Some(0));
        assert_eq!(s.neurons[1].weights, vec![(0, 0), (2, 10)]);
        assert_eq!(s.neurons.len(), 3);
    }

    #[test]
    fn failed_calls_change_nothing() {
        let (mut st, _, hks) = setup(2);
        st.advance_block();
        st.advance_block();
        let before = st.clone();
        let e = st
            .apply(
                &hks[0],
                &DevnetCall::SetWeights {
                    netuid: 1,
                    mechanism: 0,
                    uids: vec![1, 1],
                    weights: vec![1, 2],
                    version_key: 0,
                },
            )
            .unwrap_err();
        assert_eq!(e.name.as_deref(), Some("NeuronNoValidatorPermit"));
        assert_eq!(st, before);
    }

    #[test]
    fn epoch_schedule_matches_legacy_rule() {
        let (st, _, _) = setup(0);
        let s = st.subnet(1).unwrap();
        // tempo 10, netuid 1: (b + 2) % 11 == 0 ⇒ b = 9, 20, 31
        assert!(s.epoch_due(9) && s.epoch_due(20) && !s.epoch_due(10));
        assert_eq!(s.next_epoch_block(10), Some(20));
        assert_eq!(s.next_epoch_block(20), Some(20));
        assert_eq!(s.epoch_index(8), 0);
        assert_eq!(s.epoch_index(9), 1);
    }
}
