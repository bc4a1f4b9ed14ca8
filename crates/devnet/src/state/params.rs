//! The per-subnet hyperparameters the devnet keeps, their devnet defaults, owner patches and
//! the checks a patch must pass.

use super::*;

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

    pub(super) fn validate(&self) -> Result<(), ApiError> {
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

    pub(super) fn yuma(&self) -> orchestra_yuma::Hyperparams {
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
