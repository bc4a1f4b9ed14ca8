//! Set-up of a local chain for tests and scripts: create a subnet, set its hyperparameters, stake,
//! produce blocks. Not part of what neurons need ([`crate::Chain`]), and only meaningful on a
//! chain the caller controls: the subtensor backend does these as the dev chain's Sudo key
//! (`Sudo.sudo(AdminUtils.sudo_set_*)`) and advances blocks with chopsticks' `dev_newBlock`; the
//! devnet (crates/devnet) does them through its admin API as the subnet owner.

use async_trait::async_trait;

use crate::{ChainError, NetUid};

/// A hyperparameter that [`ChainAdmin::set_hyperparam`] can set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hyperparam {
    /// `Tempo` (blocks between epochs).
    Tempo(u16),
    /// `WeightsSetRateLimit` in blocks.
    WeightsRateLimit(u64),
    /// `CommitRevealWeightsEnabled`.
    CommitRevealEnabled(bool),
    /// `RevealPeriodEpochs`.
    CommitRevealPeriod(u64),
    /// `MinAllowedWeights`.
    MinAllowedWeights(u16),
    /// `MaxAllowedValidators`.
    MaxValidators(u16),
    /// `ServingRateLimit` in blocks.
    ServingRateLimit(u64),
    /// `ActivityCutoff` in blocks.
    ActivityCutoff(u16),
    /// `ImmunityPeriod` in blocks.
    ImmunityPeriod(u16),
    /// `TargetRegistrationsPerInterval` (subtensor only: the devnet has no registration limits).
    TargetRegistrationsPerInterval(u16),
    /// `MaxRegistrationsPerBlock` (subtensor only: the devnet has no registration limits).
    MaxRegistrationsPerBlock(u16),
    /// The stake a hotkey needs to set weights, in rao: chain-wide `WeightsMinStake` on
    /// subtensor (the netuid is ignored), the subnet's `stake_threshold` on the devnet.
    WeightsMinStake(u64),
}

impl Hyperparam {
    /// The `AdminUtils` call that sets it on subtensor and its value argument's name.
    pub fn admin_utils_call(&self) -> (&'static str, &'static str, u128) {
        match *self {
            Hyperparam::Tempo(v) => ("sudo_set_tempo", "tempo", v.into()),
            Hyperparam::WeightsRateLimit(v) => ("sudo_set_weights_set_rate_limit", "weights_set_rate_limit", v.into()),
            Hyperparam::CommitRevealEnabled(v) => ("sudo_set_commit_reveal_weights_enabled", "enabled", v.into()),
            Hyperparam::CommitRevealPeriod(v) => ("sudo_set_commit_reveal_weights_interval", "interval", v.into()),
            Hyperparam::MinAllowedWeights(v) => ("sudo_set_min_allowed_weights", "min_allowed_weights", v.into()),
            Hyperparam::MaxValidators(v) => ("sudo_set_max_allowed_validators", "max_allowed_validators", v.into()),
            Hyperparam::ServingRateLimit(v) => ("sudo_set_serving_rate_limit", "serving_rate_limit", v.into()),
            Hyperparam::ActivityCutoff(v) => ("sudo_set_activity_cutoff", "activity_cutoff", v.into()),
            Hyperparam::ImmunityPeriod(v) => ("sudo_set_immunity_period", "immunity_period", v.into()),
            Hyperparam::TargetRegistrationsPerInterval(v) => {
                ("sudo_set_target_registrations_per_interval", "target_registrations_per_interval", v.into())
            }
            Hyperparam::MaxRegistrationsPerBlock(v) => {
                ("sudo_set_max_registrations_per_block", "max_registrations_per_block", v.into())
            }
            Hyperparam::WeightsMinStake(v) => ("sudo_set_weights_min_stake", "min_stake", v.into()),
        }
    }

    /// Whether the chain's call is chain-wide (takes no `netuid`).
    pub fn is_global(&self) -> bool {
        matches!(self, Hyperparam::WeightsMinStake(_))
    }

    /// Whether the value is a `bool` in the chain's call (the others are unsigned integers).
    pub fn is_bool(&self) -> bool {
        matches!(self, Hyperparam::CommitRevealEnabled(_))
    }
}

/// Local-chain administration; see the module docs.
#[async_trait]
pub trait ChainAdmin: Send + Sync {
    /// Creates a subnet owned by the admin's coldkey with `owner_hotkey` (SS58) as its owner's
    /// hotkey (registered as uid 0); returns its netuid.
    async fn create_subnet(&self, owner_hotkey: &str) -> Result<NetUid, ChainError>;

    /// Sets one hyperparameter of the subnet.
    async fn set_hyperparam(&self, netuid: NetUid, param: Hyperparam) -> Result<(), ChainError>;

    /// Stakes `amount` rao from the admin's coldkey to `hotkey` (SS58) on the subnet.
    async fn add_stake(&self, netuid: NetUid, hotkey: &str, amount: u64) -> Result<(), ChainError>;

    /// Produces `blocks` empty blocks now.
    async fn advance_blocks(&self, blocks: u32) -> Result<(), ChainError>;
}
