//! A JSON front end for subnet owners: describe validators, miners, stakes and weights, run
//! one or more epochs, and read consensus, incentive, dividends and the new bonds.
//!
//! `orchestra yuma --input case.json [--variant yuma2|yuma3]` calls [`run_case_json`].
//!
//! # Input format
//!
//! ```json
//! {
//!   "validators": ["big", "eager", "lazy"],
//!   "miners": ["m1", "m2"],
//!   "stakes": [8, 1, 1],
//!   "weights": [[1.0, 0.0],
//!               [0.0, 1.0],
//!               [1.0, 0.0]],
//!   "bonds": [[6553, 0], [6553, 0], [6553, 0]],
//!   "emission": 1000000000,
//!   "epochs": 1,
//!   "fidelity": "chain",
//!   "hyperparams": {
//!     "kappa": 32767,
//!     "bonds_moving_average": 900000,
//!     "bonds_penalty": 65535,
//!     "liquid_alpha_enabled": false,
//!     "alpha_low": 45875,
//!     "alpha_high": 58982,
//!     "alpha_sigmoid_steepness": 1000,
//!     "max_allowed_validators": 128
//!   }
//! }
//! ```
//!
//! Only `stakes` and `weights` are required; [`CASE_FORMAT_HELP`] describes every field. Each
//! validator row of `weights` is converted the way the SDK and the chain convert it
//! (`w / max(w)` rounded half-to-even to u16, then the chain's max-upscale), so only the ratios
//! within a row matter. Validators get uids `0..V`, miners `V..V+M`; all validators have set
//! their weights in the current block and nobody registered recently. With `epochs > 1` the
//! same weights are set again every epoch and the new bonds and permits carry over.
//!
//! The output is a JSON object with per-miner `consensus`, `incentive` and `miner_emission`,
//! per-validator `dividends`, `validator_trust`, `validator_permit` and `validator_emission`
//! (fractions as `f64`, emissions in rao), `new_bonds` (validators × miners, the chain's stored
//! u16 form: pass it back as `bonds` to continue), `new_bonds_fraction` (the same / 65535), the
//! chain's stored u16 vectors under `stored`, and a per-epoch `history` when `epochs > 1`.

use serde::{Deserialize, Serialize};
use serde_json::json;
use substrate_fixed::types::{I32F32, I64F64};

use crate::math::{fixed64_to_fixed32, inplace_normalize_64, is_topk_nonzero, vec_u16_max_upscale_to_u16};
use crate::{EpochInput, EpochOutput, Fidelity, Hyperparams, Variant, YumaError, epoch};

/// Help text for the case format, ready for a CLI's `--help`.
pub const CASE_FORMAT_HELP: &str = r#"Yuma case file (JSON object). Validators get uids 0..V, miners V..V+M.

  stakes       required  one number per validator (alpha; fractions allowed, converted to rao x1e9)
  weights      required  validators x miners matrix of non-negative numbers; each row is scaled
                         like the SDK and chain do (w/max, rounded to u16), so only ratios matter;
                         an all-zero row means the validator set no weights
  validators   optional  validator names (default v0, v1, ...)
  miners       optional  miner names (default m0, m1, ...)
  bonds        optional  validators x miners previous bonds in the chain's stored u16 form
                         (the "new_bonds" of an earlier run); default none
  emission     optional  alpha to distribute, in rao (default 1000000000)
  epochs       optional  epochs to run with the same weights, carrying bonds over (default 1)
  fidelity     optional  "chain" (on-chain rules, default) or "dense" (the chain's test function)
  hyperparams  optional  object, chain units, defaults in brackets:
      kappa                   consensus majority, u16 proportion [32767 = 0.5]
      bonds_moving_average    millionths; EMA alpha = 1 - value/1e6 [900000]
      bonds_penalty           u16 proportion; 65535 = bonds follow clipped weights [65535]
      liquid_alpha_enabled    Yuma 3 only [false]
      alpha_low, alpha_high   liquid alpha bounds, u16 proportions [45875, 58982]
      alpha_sigmoid_steepness [1000]
      max_allowed_validators  permits for the top-k stakes [128]
      stake_threshold         minimum stake in rao [0]
      activity_cutoff, tempo  blocks [5000, 360]

Example:
  {"stakes": [8, 1, 1],
   "weights": [[1, 0], [0, 1], [1, 0]],
   "hyperparams": {"bonds_moving_average": 975000, "liquid_alpha_enabled": true}}

Output: consensus, incentive, miner_emission per miner; dividends, validator_trust,
validator_permit, validator_emission per validator; new_bonds (stored u16, pass back as
"bonds"), new_bonds_fraction; stored u16 vectors; history when epochs > 1."#;

/// Most epochs one case may run.
pub const MAX_CASE_EPOCHS: u32 = 10_000;

/// Most validators plus miners in one case.
pub const MAX_CASE_UIDS: usize = 4096;

/// Alpha distributed per epoch when a case does not say (1 alpha in rao).
pub const DEFAULT_CASE_EMISSION: u64 = 1_000_000_000;

const RAO_PER_UNIT: f64 = 1e9;
const CASE_BLOCK: u64 = 1_000_000;

fn default_fidelity() -> Fidelity {
    Fidelity::Chain
}

/// A scenario for the owner's simulator; see the module docs for the format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Validator names; default `v0, v1, …`.
    #[serde(default)]
    pub validators: Option<Vec<String>>,
    /// Miner names; default `m0, m1, …`.
    #[serde(default)]
    pub miners: Option<Vec<String>>,
    /// Stake per validator, in alpha (converted to rao, ×1e9).
    pub stakes: Vec<f64>,
    /// Validators × miners weights (non-negative, any scale per row).
    pub weights: Vec<Vec<f64>>,
    /// Validators × miners bonds in the chain's stored u16 form.
    #[serde(default)]
    pub bonds: Option<Vec<Vec<u16>>>,
    /// Alpha per epoch in rao.
    #[serde(default)]
    pub emission: Option<u64>,
    /// Number of epochs to run.
    #[serde(default)]
    pub epochs: Option<u32>,
    /// Which epoch implementation to follow; default on-chain rules.
    #[serde(default = "default_fidelity")]
    pub fidelity: Fidelity,
    /// Hyperparameters in chain units; missing fields take the chain defaults.
    #[serde(default)]
    pub hyperparams: Hyperparams,
}

/// Parse a case from JSON, run it, and return the results as JSON (see the module docs).
pub fn run_case_json(input: &str, variant: Variant) -> Result<serde_json::Value, YumaError> {
    let case: Case = serde_json::from_str(input).map_err(|e| YumaError::Json(e.to_string()))?;
    run_case(&case, variant)
}

/// Run a parsed case and return the results as JSON.
pub fn run_case(case: &Case, variant: Variant) -> Result<serde_json::Value, YumaError> {
    let v = case.stakes.len();
    let m = case.weights.first().map_or(0, Vec::len);
    check_case(case, v, m)?;
    let n = v + m;
    let validator_names = names(case.validators.as_ref(), "v", v);
    let miner_names = names(case.miners.as_ref(), "m", m);
    let epochs = case.epochs.unwrap_or(1);
    let hp = &case.hyperparams;

    // Stakes in rao; miners hold none.
    let mut stake = vec![0u64; n];
    for (cell, s) in stake.iter_mut().zip(case.stakes.iter()) {
        *cell = (s * RAO_PER_UNIT).round() as u64;
    }
    // Weights as set_weights stores them.
    let mut weights = vec![vec![0u16; n]; n];
    for (row, w) in weights.iter_mut().zip(case.weights.iter()) {
        for (cell, value) in row[v..].iter_mut().zip(sdk_weights_to_u16(w)) {
            *cell = value;
        }
    }
    let mut bonds = Vec::new();
    if let Some(case_bonds) = &case.bonds {
        bonds = vec![vec![0u16; n]; n];
        for (row, b) in bonds.iter_mut().zip(case_bonds.iter()) {
            row[v..].copy_from_slice(b);
        }
    }
    let mut input = EpochInput {
        block: CASE_BLOCK,
        last_epoch_block: 0,
        validator_permit: initial_permits(&stake, hp),
        stake,
        weights,
        bonds,
        last_update: vec![CASE_BLOCK; n],
        block_at_registration: vec![0; n],
        emission: case.emission.unwrap_or(DEFAULT_CASE_EMISSION),
        owner_uid: None,
        commit_block: None,
        fidelity: case.fidelity,
    };

    let mut history = Vec::new();
    let mut last: Option<EpochOutput> = None;
    for e in 0..epochs {
        let out = epoch(&input, hp, variant)?;
        if epochs > 1 {
            history.push(json!({
                "epoch": e + 1,
                "consensus": &out.fractions.consensus[v..],
                "incentive": &out.fractions.incentive[v..],
                "dividends": &out.fractions.dividends[..v],
            }));
        }
        input.bonds.clone_from(&out.new_bonds);
        input.validator_permit.clone_from(&out.new_validator_permit);
        input.last_epoch_block = input.block;
        input.block = input.block.saturating_add(hp.tempo.max(1));
        input.last_update = vec![input.block; n];
        last = Some(out);
    }
    let Some(out) = last else {
        return Err(YumaError::InvalidInput("epochs must be at least 1".into()));
    };

    let new_bonds: Vec<Vec<u16>> = out.new_bonds[..v].iter().map(|row| row[v..].to_vec()).collect();
    let new_bonds_fraction: Vec<Vec<f64>> =
        new_bonds.iter().map(|row| row.iter().map(|b| f64::from(*b) / f64::from(u16::MAX)).collect()).collect();
    let mut result = json!({
        "variant": variant,
        "fidelity": case.fidelity,
        "epochs": epochs,
        "validators": validator_names,
        "miners": miner_names,
        "consensus": &out.fractions.consensus[v..],
        "incentive": &out.fractions.incentive[v..],
        "miner_emission": &out.server_emission[v..],
        "dividends": &out.fractions.dividends[..v],
        "validator_trust": &out.fractions.validator_trust[..v],
        "validator_permit": &out.new_validator_permit[..v],
        "validator_emission": &out.validator_emission[..v],
        "new_bonds": new_bonds,
        "new_bonds_fraction": new_bonds_fraction,
        "stored": {
            "consensus": &out.consensus[v..],
            "incentive": &out.incentive[v..],
            "dividends": &out.dividends[..v],
            "validator_trust": &out.validator_trust[..v],
        },
    });
    if epochs > 1
        && let Some(obj) = result.as_object_mut()
    {
        obj.insert("history".into(), serde_json::Value::Array(history));
    }
    Ok(result)
}

fn check_case(case: &Case, v: usize, m: usize) -> Result<(), YumaError> {
    let bad = |msg: String| Err(YumaError::InvalidInput(msg));
    if v == 0 {
        return bad("`stakes` is empty: a case needs at least one validator".into());
    }
    if m == 0 {
        return bad("`weights` has no miner columns: a case needs at least one miner".into());
    }
    if v + m > MAX_CASE_UIDS {
        return bad(format!("{} validators and miners; a case has at most {MAX_CASE_UIDS}", v + m));
    }
    if case.weights.len() != v {
        return bad(format!("`weights` has {} rows but `stakes` has {v} validators", case.weights.len()));
    }
    for (row, w) in case.weights.iter().enumerate() {
        if w.len() != m {
            return Err(YumaError::RowLengthMismatch { field: "weights", row, expected: m, actual: w.len() });
        }
        if let Some(x) = w.iter().find(|x| !x.is_finite() || **x < 0.0) {
            return bad(format!("`weights` row {row} has {x}; weights must be finite and non-negative"));
        }
    }
    if let Some((i, s)) = case.stakes.iter().enumerate().find(|(_, s)| !s.is_finite() || **s < 0.0 || **s > 1.8e10) {
        return bad(format!("`stakes`[{i}] is {s}; stakes must be finite, non-negative and at most 1.8e10"));
    }
    if let Some(bonds) = &case.bonds {
        if bonds.len() != v {
            return bad(format!("`bonds` has {} rows but there are {v} validators", bonds.len()));
        }
        for (row, b) in bonds.iter().enumerate() {
            if b.len() != m {
                return Err(YumaError::RowLengthMismatch { field: "bonds", row, expected: m, actual: b.len() });
            }
        }
    }
    for (field, list, len) in [("validators", &case.validators, v), ("miners", &case.miners, m)] {
        if let Some(list) = list
            && list.len() != len
        {
            return bad(format!("`{field}` names {} entries but there are {len}", list.len()));
        }
    }
    match case.epochs {
        Some(0) => bad("`epochs` must be at least 1".into()),
        Some(e) if e > MAX_CASE_EPOCHS => bad(format!("`epochs` is {e}; at most {MAX_CASE_EPOCHS}")),
        _ => Ok(()),
    }
}

fn names(given: Option<&Vec<String>>, prefix: &str, len: usize) -> Vec<String> {
    match given {
        Some(list) => list.clone(),
        None => (0..len).map(|i| format!("{prefix}{i}")).collect(),
    }
}

/// The SDK's `convert_weights_and_uids_for_emit` (`w / max`, rounded half-to-even to u16;
/// all-zero rows set nothing), then the chain's `vec_u16_max_upscale_to_u16`.
fn sdk_weights_to_u16(w: &[f64]) -> Vec<u16> {
    let max = w.iter().copied().fold(0.0_f64, f64::max);
    if max <= 0.0 {
        return vec![0; w.len()];
    }
    let sdk: Vec<u16> = w.iter().map(|x| (x / max * f64::from(u16::MAX)).round_ties_even() as u16).collect();
    vec_u16_max_upscale_to_u16(&sdk)
}

/// Permits from an earlier epoch: the top-k non-zero stakes, as the chain assigns them.
fn initial_permits(stake: &[u64], hp: &Hyperparams) -> Vec<bool> {
    let mut s: Vec<I64F64> = stake
        .iter()
        .map(|&x| if x < hp.stake_threshold { I64F64::from_bits(0) } else { I64F64::saturating_from_num(x) })
        .collect();
    inplace_normalize_64(&mut s);
    let s32: Vec<I32F32> = s.into_iter().map(fixed64_to_fixed32).collect();
    is_topk_nonzero(&s32, usize::from(hp.max_allowed_validators))
}
