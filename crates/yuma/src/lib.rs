//! Yuma Consensus: a pure port of subtensor's epoch (opentensor/subtensor
//! `pallets/subtensor/src/epoch/run_epoch.rs`, `epoch_dense_mechanism`, with its helpers from
//! `epoch/math.rs`). No I/O, no clock, no randomness: the devnet pays emissions with it and the
//! owner's simulator shows what a configuration does.
//!
//! One call to [`epoch`] runs one epoch of one subnet:
//! activity and stake weighting, validator permits (top-k by stake), the stake-weighted median
//! consensus with kappa, weight clipping, validator trust, incentive, bonds (classic EMA,
//! [`Variant::Yuma2`], or Yuma 3 with optional liquid alpha, [`Variant::Yuma3`]), dividends and the
//! server/validator emission split. Feed [`EpochOutput::new_bonds`] and
//! [`EpochOutput::new_validator_permit`] into the next epoch's input to run a sequence.
//!
//! # Numeric fidelity
//!
//! All arithmetic uses the chain's own fixed-point crate (`substrate-fixed` 0.6: I32F32, stake in
//! I64F64, emission in I96F32) with the chain's order of operations, saturating ops and
//! `safe_div` (x/0 = 0). Stored forms (`u16` vectors, bonds, `u64` emissions) are therefore
//! **bit-identical** to the chain's for in-range inputs: tolerance 0. The `f64` views in
//! [`Fractions`] are exact conversions of the fixed-point values (I32F32 proportions fit an f64
//! mantissa), so they too carry no extra error beyond the chain's own fixed-point rounding
//! (about 2⁻³² per operation, e.g. the chain's `0.0999999999` for a stake of 1/10).
//! Known deviations, all outside the chain's operating range: sums saturate where the chain's
//! `Iterator::sum` would overflow (more than ~32 768 maximal raw weights in one row), and stake
//! is taken as whole `u64` units where the chain may carry a fraction from `TaoWeight`.
//!
//! # Dense versus on-chain rules
//!
//! [`Fidelity::Dense`] reproduces `epoch_dense_mechanism`, the function the chain's tests run.
//! [`Fidelity::Chain`] adds what the on-chain (sparse) `epoch_mechanism` does differently:
//! the subnet owner's uid is exempt from the stake threshold, always holds a permit and keeps its
//! self-weight; a commit-reveal mask hides weights toward uids registered after the validator's
//! earliest unrevealed commit; and under Yuma 3 with liquid alpha, a bond whose current weight
//! is absent is dropped rather than decayed (here "absent" means zero: the SDK never stores zero
//! weights; the chain's own Yuma 3 tests do store explicit zeros, which the sparse code decays,
//! so they are ported with [`Fidelity::Dense`]). Without an owner, commits or liquid alpha the
//! two are identical; both are checked against the chain's tests.

pub mod case;
mod epoch;
#[cfg(test)]
mod epoch_dense;
pub mod math;

pub use case::{CASE_FORMAT_HELP, Case, run_case, run_case_json};
pub use epoch::epoch;

use serde::{Deserialize, Serialize};

/// Which bonds mechanism runs (the chain's per-subnet `Yuma3On`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// Classic bonds: EMA of column-normalized `W∘S` with `α = 1 − bonds_moving_average/1e6`,
    /// stored column max-upscaled; dividends `D = B·I`.
    #[default]
    Yuma2,
    /// Yuma 3: bonds are proportions updated by `mat_ema_alpha` toward the weights themselves,
    /// with liquid alpha when enabled; dividends weighted by active stake.
    Yuma3,
}

impl std::str::FromStr for Variant {
    type Err = YumaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "yuma2" | "yuma" | "2" => Ok(Variant::Yuma2),
            "yuma3" | "3" => Ok(Variant::Yuma3),
            other => Err(YumaError::InvalidInput(format!("unknown variant `{other}`; expected yuma2 or yuma3"))),
        }
    }
}

/// Which of the chain's two epoch implementations to follow (see the crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fidelity {
    /// `epoch_dense_mechanism`: what the chain's own tests run.
    #[default]
    Dense,
    /// `epoch_mechanism` as run on chain: owner exemptions, commit-reveal mask, sparse liquid alpha.
    Chain,
}

/// The subnet hyperparameters the epoch reads, in the chain's raw units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hyperparams {
    /// `Kappa`, the consensus majority as a u16 proportion (32 767 ≈ 0.5).
    pub kappa: u16,
    /// `BondsMovingAverage` in millionths (900 000 ⇒ EMA α = 0.1). At most 1 000 000.
    pub bonds_moving_average: u64,
    /// `BondsPenalty` as a u16 proportion: 65 535 ⇒ bonds follow clipped weights, 0 ⇒ raw weights.
    pub bonds_penalty: u16,
    /// `LiquidAlphaOn` (used by Yuma 3 only, as on chain).
    pub liquid_alpha_enabled: bool,
    /// `AlphaValues.0`, the low liquid alpha as a u16 proportion (45 875 ≈ 0.7).
    pub alpha_low: u16,
    /// `AlphaValues.1`, the high liquid alpha as a u16 proportion (58 982 ≈ 0.9).
    pub alpha_high: u16,
    /// `AlphaSigmoidSteepness` (1000 ⇒ sigmoid slope 10).
    pub alpha_sigmoid_steepness: i16,
    /// `MaxAllowedValidators`: permits go to the top-k non-zero stakes.
    pub max_allowed_validators: u16,
    /// Activity cutoff in blocks (on main: `max(1, ActivityCutoffFactorMilli · tempo / 1000)`).
    pub activity_cutoff: u64,
    /// `Tempo`, used to find the previous epoch when `last_epoch_block` is 0.
    pub tempo: u64,
    /// `StakeThreshold`: stakes below it count as zero.
    pub stake_threshold: u64,
}

impl Default for Hyperparams {
    /// The chain's defaults (runtime and pallet constants), with the activity cutoff of v3.3.x.
    fn default() -> Self {
        Hyperparams {
            kappa: 32_767,
            bonds_moving_average: 900_000,
            bonds_penalty: u16::MAX,
            liquid_alpha_enabled: false,
            alpha_low: 45_875,
            alpha_high: 58_982,
            alpha_sigmoid_steepness: 1000,
            max_allowed_validators: 128,
            activity_cutoff: 5000,
            tempo: 360,
            stake_threshold: 0,
        }
    }
}

/// The subnet state one epoch reads. Every vector has one entry per uid (`n = stake.len()`);
/// matrices are `n × n`, row = the uid that set the weight or holds the bond.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EpochInput {
    /// Current block number.
    pub block: u64,
    /// Block of the previous epoch (`LastMechansimStepBlock`); 0 ⇒ `block − tempo` is used.
    pub last_epoch_block: u64,
    /// Stake weight per uid (alpha + tao·TaoWeight), in any whole unit.
    pub stake: Vec<u64>,
    /// Stored weights `Weights[i][j]` as set on chain (each row max-upscaled to u16).
    pub weights: Vec<Vec<u16>>,
    /// Stored bonds `Bonds[i][j]` from the previous epoch; an empty vector means no bonds.
    pub bonds: Vec<Vec<u16>>,
    /// `LastUpdate[i]`: block of uid i's last weights.
    pub last_update: Vec<u64>,
    /// `BlockAtRegistration[i]`.
    pub block_at_registration: Vec<u64>,
    /// `ValidatorPermit[i]` from the previous epoch.
    pub validator_permit: Vec<bool>,
    /// Alpha to distribute this epoch (rao).
    pub emission: u64,
    /// The subnet owner's uid, if registered ([`Fidelity::Chain`] only).
    pub owner_uid: Option<u16>,
    /// Per uid, the block of its earliest unexpired weight commit (`u64::MAX` = none); `None`
    /// when commit-reveal is off ([`Fidelity::Chain`] only).
    pub commit_block: Option<Vec<u64>>,
    /// Which epoch implementation to follow.
    pub fidelity: Fidelity,
}

/// Everything one epoch produces. `u16` vectors are the chain's stored proportions
/// (`value · 65535`, truncated); [`Fractions`] has the same values as `f64`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochOutput {
    /// `Active[i]`: updated weights within the activity cutoff.
    pub active: Vec<bool>,
    /// `StakeWeight[i]`: normalized stake.
    pub stake_weight: Vec<u16>,
    /// `Consensus[j]`: stake-weighted median weight on uid j.
    pub consensus: Vec<u16>,
    /// `Incentive[j]`: normalized clipped rank.
    pub incentive: Vec<u16>,
    /// `Dividends[i]`.
    pub dividends: Vec<u16>,
    /// `ValidatorTrust[i]`: sum of uid i's clipped weights.
    pub validator_trust: Vec<u16>,
    /// `ValidatorPermit[i]` after this epoch.
    pub new_validator_permit: Vec<bool>,
    /// `Bonds[i][j]` after this epoch, as stored (Yuma 2: column max-upscaled; Yuma 3: proportion).
    pub new_bonds: Vec<Vec<u16>>,
    /// Alpha paid to uid i as a server (incentive share).
    pub server_emission: Vec<u64>,
    /// Alpha paid to uid i as a validator (dividend share).
    pub validator_emission: Vec<u64>,
    /// `Emission[i]`: normalized incentive + dividends times the emission (what the chain stores).
    pub emission: Vec<u64>,
    /// The same quantities as fractions, for display.
    pub fractions: Fractions,
}

/// The epoch's intermediate and final values as `f64` (exact conversions of the fixed point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fractions {
    /// Normalized stake after the stake threshold.
    pub stake: Vec<f64>,
    /// Stake of active, permitted validators, normalized.
    pub active_stake: Vec<f64>,
    /// Row-normalized weights after all masks.
    pub weights: Vec<Vec<f64>>,
    /// Consensus per uid.
    pub consensus: Vec<f64>,
    /// Validator trust per uid.
    pub validator_trust: Vec<f64>,
    /// Incentive per uid (sums to 1 unless all zero).
    pub incentive: Vec<f64>,
    /// Dividends per uid (sums to 1 unless all zero).
    pub dividends: Vec<f64>,
    /// New bonds before conversion to u16 (Yuma 2: column max-upscaled; Yuma 3: proportions).
    pub bonds: Vec<Vec<f64>>,
    /// Server share of the emission per uid.
    pub server_emission: Vec<f64>,
    /// Validator share of the emission per uid.
    pub validator_emission: Vec<f64>,
}

/// Bad input to the epoch or to a case; nothing is computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum YumaError {
    /// A per-uid vector does not have one entry per uid.
    #[error("`{field}` has {actual} entries but the network has {expected} uids (one per uid, from `stake`)")]
    LengthMismatch {
        /// The offending field.
        field: &'static str,
        /// The number of uids.
        expected: usize,
        /// What was given.
        actual: usize,
    },
    /// A matrix row does not have one entry per uid (or per miner, in a case).
    #[error("`{field}` row {row} has {actual} entries, expected {expected}")]
    RowLengthMismatch {
        /// The offending field.
        field: &'static str,
        /// The row index.
        row: usize,
        /// The expected row length.
        expected: usize,
        /// What was given.
        actual: usize,
    },
    /// More uids than a u16 can address.
    #[error("{0} uids: a subnet has at most 65535")]
    TooManyUids(usize),
    /// The owner uid is not a uid of the network.
    #[error("owner_uid {uid} is out of range for {n} uids")]
    OwnerUidOutOfRange {
        /// The given owner uid.
        uid: u16,
        /// The number of uids.
        n: usize,
    },
    /// A hyperparameter outside the range the chain accepts.
    #[error("invalid hyperparameter: {0}")]
    InvalidHyperparameter(String),
    /// Any other bad input (case files, variant names).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A case that is not valid JSON or does not match the format.
    #[error("case JSON: {0}")]
    Json(String),
}
