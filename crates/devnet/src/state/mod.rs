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
//!
//! By concern: this file holds the chain-wide state and its reads; `params` the per-subnet
//! hyperparameters, `subnet` subnets and neurons, `extrinsics` the signed calls and their
//! dispatch, `weights` `set_weights` and commit-reveal, `setup` the devnet administration
//! calls, `epoch` blocks, emission and Yuma epochs.

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

mod epoch;
mod extrinsics;
mod params;
mod setup;
mod subnet;
mod weights;

pub use epoch::{EpochReport, epoch_input};
pub use params::SubnetParams;
pub use subnet::{Neuron, SpaceUsage, Subnet, WeightCommit};

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
