//! The epoch: a port of subtensor's `Pallet::epoch_dense_mechanism`
//! (`pallets/subtensor/src/epoch/run_epoch.rs`), with the on-chain `epoch_mechanism`'s extra
//! rules behind [`Fidelity::Chain`]. Step numbers follow the chain's section comments.

use substrate_fixed::types::{I32F32, I64F64, I96F32};

use crate::math::{
    SafeDiv, compute_liquid_alpha_values, fixed_to_fixed_u16_proportion, fixed64_to_fixed32, fixed64_to_u64,
    inplace_col_clip, inplace_col_max_upscale, inplace_col_normalize, inplace_mask_cols, inplace_normalize,
    inplace_normalize_64, inplace_normalize_using_sum, inplace_row_normalize, interpolate, is_topk_nonzero, is_zero,
    mat_ema, mat_ema_alpha, mat_ema_alpha_drop_absent, mat_vec_mul, matmul, matmul_transpose, row_hadamard, row_sum,
    sum, u16_to_fixed, vec_fixed_proportions_to_u16, vec_mul, weighted_median_col,
};
use crate::{EpochInput, EpochOutput, Fidelity, Fractions, Hyperparams, Variant, YumaError};

type Matrix = Vec<Vec<I32F32>>;

fn zero() -> I32F32 {
    I32F32::from_bits(0)
}

/// Run one epoch (chain: `epoch_dense_mechanism`, or `epoch_mechanism`'s rules with
/// [`Fidelity::Chain`]). Returns an error, computing nothing, when the input's shapes do not
/// agree or a hyperparameter is out of range.
///
/// # Row compaction
///
/// The chain's dense algorithm works on n×n matrices, but every matrix row of a uid without a
/// validator permit is zero (its weights are masked) unless its stored bonds are non-zero. Only
/// the "live" rows (permitted, or with a non-zero stored bond) are materialized here, in uid
/// order; all column operations (sums, maxima, the stake-weighted median, `matmul`) skip zero
/// rows, which is exact because adding zero and taking the maximum with zero change nothing and
/// `0 / x = 0`. Results are bit-identical to the dense port (a property test compares them).
pub fn epoch(input: &EpochInput, hp: &Hyperparams, variant: Variant) -> Result<EpochOutput, YumaError> {
    validate(input, hp)?;
    let n = input.stake.len();
    if n == 0 {
        return Ok(empty_output());
    }
    let chain = input.fidelity == Fidelity::Chain;
    let owner = if chain { input.owner_uid.map(usize::from) } else { None };
    let current_block = input.block;

    // == Active & updated ==
    let inactive: Vec<bool> =
        input.last_update.iter().map(|updated| updated.saturating_add(hp.activity_cutoff) < current_block).collect();
    let active: Vec<bool> = inactive.iter().map(|&b| !b).collect();
    // Columns of uids registered since the previous epoch lose their bonds.
    let last_tempo = if input.last_epoch_block == 0 {
        current_block.saturating_sub(hp.tempo)
    } else {
        input.last_epoch_block.saturating_add(1)
    };
    let recently_registered: Vec<bool> =
        input.block_at_registration.iter().map(|registered| last_tempo <= *registered).collect();

    // == Stake ==
    let mut filtered_stake: Vec<I64F64> = input
        .stake
        .iter()
        .enumerate()
        .map(|(uid, &s)| {
            let s = I64F64::saturating_from_num(s);
            if owner != Some(uid) && fixed64_to_u64(s) < hp.stake_threshold { I64F64::from_bits(0) } else { s }
        })
        .collect();
    inplace_normalize_64(&mut filtered_stake);
    let stake: Vec<I32F32> = filtered_stake.into_iter().map(fixed64_to_fixed32).collect();

    // == Validator permits ==
    let mut validator_permits = input.validator_permit.clone();
    if let Some(cell) = owner.and_then(|o| validator_permits.get_mut(o)) {
        *cell = true;
    }
    let mut new_validator_permits = is_topk_nonzero(&stake, usize::from(hp.max_allowed_validators));
    if let Some(cell) = owner.and_then(|o| new_validator_permits.get_mut(o)) {
        *cell = true;
    }

    // == Active stake ==
    let mut active_stake = stake.clone();
    for ((value, &inactive), &permit) in active_stake.iter_mut().zip(&inactive).zip(&validator_permits) {
        if inactive || !permit {
            *value = zero();
        }
    }
    inplace_normalize(&mut active_stake);

    // == Live rows ==
    // Every other row of every matrix below is zero. At least one row is kept so the matrices
    // keep their n columns (a zero row changes no result).
    let mut live: Vec<usize> = (0..n)
        .filter(|&i| validator_permits[i] || input.bonds.get(i).is_some_and(|row| row.iter().any(|&b| b != 0)))
        .collect();
    if live.is_empty() {
        live.push(0);
    }
    let mut position: Vec<Option<usize>> = vec![None; n];
    for (r, &i) in live.iter().enumerate() {
        position[i] = Some(r);
    }
    let live_active_stake: Vec<I32F32> = live.iter().map(|&i| active_stake[i]).collect();

    // == Weights ==
    let commit_block = if chain { input.commit_block.as_deref() } else { None };
    let mut weights: Matrix = live
        .iter()
        .map(|&i| {
            if !validator_permits[i] {
                return vec![zero(); n];
            }
            let updated = input.last_update[i];
            let committed = commit_block.map(|cb| cb[i]);
            let mut row: Vec<I32F32> = input.weights[i]
                .iter()
                .zip(&input.block_at_registration)
                .map(|(&w, &registered)| {
                    // outdated_ij: i last set weights before (or when) j last registered;
                    // epoch_mechanism also hides weights toward uids registered after i's
                    // earliest live commit.
                    if updated <= registered || committed.is_some_and(|cb| cb < registered) {
                        zero()
                    } else {
                        u16_to_fixed(w)
                    }
                })
                .collect();
            // The dense chain code masks the whole diagonal (it re-masks after sparing the
            // owner); on chain the owner keeps its self-weight.
            if owner != Some(i) {
                row[i] = zero();
            }
            row
        })
        .collect();
    inplace_row_normalize(&mut weights);

    // == Consensus, validator trust ==
    let kappa = I32F32::saturating_from_num(hp.kappa).safe_div(I32F32::saturating_from_num(u16::MAX));
    let consensus = weighted_median_col(&live_active_stake, &weights, kappa);
    let mut clipped_weights = weights.clone();
    inplace_col_clip(&mut clipped_weights, &consensus);
    let validator_trust = scatter(&live, n, &row_sum(&clipped_weights));

    // == Ranks, incentive ==
    let mut ranks = matmul(&clipped_weights, &live_active_stake);
    inplace_normalize(&mut ranks);
    let incentive = ranks;

    // == Bonds and dividends ==
    let bonds_penalty = I32F32::saturating_from_num(hp.bonds_penalty).safe_div(I32F32::saturating_from_num(u16::MAX));
    let interpolated: Matrix;
    let weights_for_bonds: &Matrix = if bonds_penalty == zero() {
        &weights
    } else if bonds_penalty == I32F32::from_num(1) {
        &clipped_weights
    } else {
        interpolated = interpolate(&weights, &clipped_weights, bonds_penalty);
        &interpolated
    };
    let stored_bonds: Matrix = if input.bonds.is_empty() {
        vec![vec![zero(); n]; live.len()]
    } else {
        live.iter().map(|&i| input.bonds[i].iter().copied().map(u16_to_fixed).collect()).collect()
    };

    let mut dividends: Vec<I32F32>;
    let mut ema_bonds: Matrix;
    match variant {
        Variant::Yuma3 => {
            // get_bonds_fixed_proportion: stored u16 read as proportions.
            let mut bonds: Matrix = stored_bonds
                .into_iter()
                .map(|row| row.into_iter().map(fixed_to_fixed_u16_proportion).collect())
                .collect();
            inplace_mask_cols(&recently_registered, &mut bonds);
            ema_bonds = compute_bonds(hp, chain, weights_for_bonds, &bonds, &consensus);
            let mut ema_bonds_norm = ema_bonds.clone();
            inplace_col_normalize(&mut ema_bonds_norm);
            let total_bonds_per_validator = row_sum(&mat_vec_mul(&ema_bonds_norm, &incentive));
            dividends = scatter(&live, n, &vec_mul(&total_bonds_per_validator, &live_active_stake));
            inplace_normalize(&mut dividends);
        }
        Variant::Yuma2 => {
            let mut bonds = stored_bonds;
            inplace_mask_cols(&recently_registered, &mut bonds);
            inplace_col_normalize(&mut bonds);
            // ΔB = W∘S, column-normalized.
            let mut bonds_delta = row_hadamard(weights_for_bonds, &live_active_stake);
            inplace_col_normalize(&mut bonds_delta);
            ema_bonds = mat_ema(&bonds_delta, &bonds, disabled_liquid_alpha(hp));
            inplace_col_normalize(&mut ema_bonds);
            dividends = scatter(&live, n, &matmul_transpose(&ema_bonds, &incentive));
            inplace_normalize(&mut dividends);
            inplace_col_max_upscale(&mut ema_bonds);
        }
    }

    // == Emission ==
    let combined_emission: Vec<I32F32> =
        incentive.iter().zip(dividends.iter()).map(|(ii, di)| ii.saturating_add(*di)).collect();
    let emission_sum = sum(&combined_emission);
    let mut normalized_server_emission = incentive.clone();
    let mut normalized_validator_emission = dividends.clone();
    let mut normalized_combined_emission = combined_emission;
    inplace_normalize_using_sum(&mut normalized_server_emission, emission_sum);
    inplace_normalize_using_sum(&mut normalized_validator_emission, emission_sum);
    inplace_normalize(&mut normalized_combined_emission);
    if emission_sum == zero() {
        // No weights, outdated weights or only self-weights: pay validators by stake.
        let fallback = if is_zero(&active_stake) { &stake } else { &active_stake };
        normalized_validator_emission.clone_from(fallback);
        normalized_combined_emission.clone_from(fallback);
    }
    let rao_emission = I96F32::saturating_from_num(input.emission);
    let to_rao = |v: &[I32F32]| -> Vec<u64> {
        v.iter()
            .map(|x| I96F32::saturating_from_num(*x).saturating_mul(rao_emission).saturating_to_num::<u64>())
            .collect()
    };
    let server_emission = to_rao(&normalized_server_emission);
    let validator_emission = to_rao(&normalized_validator_emission);
    let emission = to_rao(&normalized_combined_emission);

    // == Value storage ==
    let new_bonds: Vec<Vec<u16>> = (0..n)
        .map(|i| {
            if new_validator_permits[i] {
                match position[i] {
                    Some(r) => vec_fixed_proportions_to_u16(&ema_bonds[r]),
                    None => vec![0; n],
                }
            } else if validator_permits[i] {
                // Losing the permit clears the bonds row.
                vec![0; n]
            } else if input.bonds.is_empty() || position[i].is_none() {
                // A row that is not live has no stored bonds: zeros without copying them.
                vec![0; n]
            } else {
                input.bonds[i].clone()
            }
        })
        .collect();

    let to_f64 = |v: &[I32F32]| -> Vec<f64> { v.iter().map(|x| x.to_num::<f64>()).collect() };
    let mat_f64 = |m: &Matrix| -> Vec<Vec<f64>> {
        position.iter().map(|r| r.map_or_else(|| vec![0.0; n], |r| to_f64(&m[r]))).collect()
    };
    let fractions = Fractions {
        stake: to_f64(&stake),
        active_stake: to_f64(&active_stake),
        weights: mat_f64(&weights),
        consensus: to_f64(&consensus),
        validator_trust: to_f64(&validator_trust),
        incentive: to_f64(&incentive),
        dividends: to_f64(&dividends),
        bonds: mat_f64(&ema_bonds),
        server_emission: to_f64(&normalized_server_emission),
        validator_emission: to_f64(&normalized_validator_emission),
    };

    Ok(EpochOutput {
        active,
        stake_weight: vec_fixed_proportions_to_u16(&stake),
        consensus: vec_fixed_proportions_to_u16(&consensus),
        incentive: vec_fixed_proportions_to_u16(&incentive),
        dividends: vec_fixed_proportions_to_u16(&dividends),
        validator_trust: vec_fixed_proportions_to_u16(&validator_trust),
        new_validator_permit: new_validator_permits,
        new_bonds,
        server_emission,
        validator_emission,
        emission,
        fractions,
    })
}

/// A full-length vector from the live rows' values (zero elsewhere).
fn scatter(live: &[usize], n: usize, values: &[I32F32]) -> Vec<I32F32> {
    let mut out = vec![zero(); n];
    for (&i, &v) in live.iter().zip(values) {
        out[i] = v;
    }
    out
}

fn empty_output() -> EpochOutput {
    EpochOutput {
        active: Vec::new(),
        stake_weight: Vec::new(),
        consensus: Vec::new(),
        incentive: Vec::new(),
        dividends: Vec::new(),
        validator_trust: Vec::new(),
        new_validator_permit: Vec::new(),
        new_bonds: Vec::new(),
        server_emission: Vec::new(),
        validator_emission: Vec::new(),
        emission: Vec::new(),
        fractions: Fractions {
            stake: Vec::new(),
            active_stake: Vec::new(),
            weights: Vec::new(),
            consensus: Vec::new(),
            validator_trust: Vec::new(),
            incentive: Vec::new(),
            dividends: Vec::new(),
            bonds: Vec::new(),
            server_emission: Vec::new(),
            validator_emission: Vec::new(),
        },
    }
}

/// Chain `compute_disabled_liquid_alpha` / `compute_ema_bonds_normal`: `1 − bma / 1e6`.
fn disabled_liquid_alpha(hp: &Hyperparams) -> I32F32 {
    let bonds_moving_average =
        I64F64::saturating_from_num(hp.bonds_moving_average).safe_div(I64F64::saturating_from_num(1_000_000));
    I32F32::saturating_from_num(1).saturating_sub(I32F32::saturating_from_num(bonds_moving_average))
}

/// Chain `compute_bonds` (dense) / `compute_bonds_sparse` (chain): Yuma 3's bond EMA, with
/// liquid alpha when enabled and some consensus is non-zero.
fn compute_bonds(hp: &Hyperparams, chain: bool, weights: &Matrix, bonds: &Matrix, consensus: &[I32F32]) -> Matrix {
    if hp.liquid_alpha_enabled && consensus.iter().any(|&c| c != zero()) {
        let u16_max = I32F32::saturating_from_num(u16::MAX);
        let alpha_low = I32F32::saturating_from_num(hp.alpha_low).safe_div(u16_max);
        let alpha_high = I32F32::saturating_from_num(hp.alpha_high).safe_div(u16_max);
        let steepness = I32F32::saturating_from_num(hp.alpha_sigmoid_steepness);
        let alphas = compute_liquid_alpha_values(weights, bonds, consensus, alpha_low, alpha_high, steepness);
        if chain { mat_ema_alpha_drop_absent(weights, bonds, &alphas) } else { mat_ema_alpha(weights, bonds, &alphas) }
    } else {
        mat_ema(weights, bonds, disabled_liquid_alpha(hp))
    }
}

fn validate(input: &EpochInput, hp: &Hyperparams) -> Result<(), YumaError> {
    let n = input.stake.len();
    if n > usize::from(u16::MAX) {
        return Err(YumaError::TooManyUids(n));
    }
    let check_len = |field: &'static str, actual: usize| {
        if actual == n { Ok(()) } else { Err(YumaError::LengthMismatch { field, expected: n, actual }) }
    };
    check_len("weights", input.weights.len())?;
    check_len("last_update", input.last_update.len())?;
    check_len("block_at_registration", input.block_at_registration.len())?;
    check_len("validator_permit", input.validator_permit.len())?;
    if !input.bonds.is_empty() {
        check_len("bonds", input.bonds.len())?;
    }
    if let Some(commit_block) = &input.commit_block {
        check_len("commit_block", commit_block.len())?;
    }
    for (field, matrix) in [("weights", &input.weights), ("bonds", &input.bonds)] {
        for (row, values) in matrix.iter().enumerate() {
            if values.len() != n {
                return Err(YumaError::RowLengthMismatch { field, row, expected: n, actual: values.len() });
            }
        }
    }
    if let Some(uid) = input.owner_uid
        && usize::from(uid) >= n
    {
        return Err(YumaError::OwnerUidOutOfRange { uid, n });
    }
    if hp.bonds_moving_average > 1_000_000 {
        return Err(YumaError::InvalidHyperparameter(format!(
            "bonds_moving_average is {} but must be at most 1000000 (it is in millionths)",
            hp.bonds_moving_average
        )));
    }
    if hp.alpha_low > hp.alpha_high {
        return Err(YumaError::InvalidHyperparameter(format!(
            "alpha_low ({}) must not exceed alpha_high ({})",
            hp.alpha_low, hp.alpha_high
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The row-compacted [`epoch`] against the dense reference port, bit for bit, on random
    //! subnets (including the shapes compaction must get right: non-validators with stored
    //! bonds, no validators at all, owners, commit masks, penalties of 0 and 1).
    use proptest::prelude::*;

    use super::epoch;
    use crate::epoch_dense::epoch_dense;
    use crate::{EpochInput, Fidelity, Hyperparams, Variant};

    const BLOCK: u64 = 10_000;

    fn hyperparams() -> impl Strategy<Value = Hyperparams> {
        (
            prop_oneof![Just(32_767u16), any::<u16>()],
            prop_oneof![Just(900_000u64), 0u64..=1_000_000],
            prop_oneof![Just(0u16), Just(u16::MAX), any::<u16>()],
            any::<bool>(),
            0u16..=40_000,
            0u16..=14,
            prop::bool::weighted(0.2),
        )
            .prop_flat_map(|(kappa, bma, penalty, liquid, low, k, threshold)| {
                (low..=u16::MAX, -2000i16..=2000).prop_map(move |(high, steep)| Hyperparams {
                    kappa,
                    bonds_moving_average: bma,
                    bonds_penalty: penalty,
                    liquid_alpha_enabled: liquid,
                    alpha_low: low,
                    alpha_high: high,
                    alpha_sigmoid_steepness: steep,
                    max_allowed_validators: k,
                    activity_cutoff: 500,
                    tempo: 100,
                    stake_threshold: if threshold { 3_000 } else { 0 },
                })
            })
    }

    fn subnet(max_n: usize) -> impl Strategy<Value = EpochInput> {
        (1usize..=max_n)
            .prop_flat_map(|n| {
                (
                    prop::collection::vec(prop_oneof![2 => Just(0u64), 1 => Just(5_000u64), 5 => 1u64..10_000], n),
                    prop::collection::vec(prop::bool::weighted(0.5), n),
                    prop::collection::vec(prop::collection::vec(prop_oneof![3 => Just(0u16), 7 => any::<u16>()], n), n),
                    prop_oneof![
                        1 => Just(None),
                        3 => prop::collection::vec(
                            prop_oneof![
                                1 => Just(vec![0u16; n]),
                                2 => prop::collection::vec(prop_oneof![Just(0u16), any::<u16>()], n)
                            ],
                            n
                        )
                        .prop_map(Some),
                    ],
                    prop::collection::vec(BLOCK - 800..=BLOCK, n),
                    prop::collection::vec(prop_oneof![Just(0u64), BLOCK - 900..=BLOCK], n),
                    (prop::option::of(0..n as u16), prop::option::of(prop::collection::vec(BLOCK - 900..=BLOCK, n))),
                    prop_oneof![Just(Fidelity::Dense), Just(Fidelity::Chain)],
                    prop_oneof![Just(0u64), Just(BLOCK - 150)],
                )
            })
            .prop_map(
                |(
                    stake,
                    permit,
                    weights,
                    bonds,
                    last_update,
                    registered,
                    (owner_uid, commit_block),
                    fidelity,
                    last,
                )| {
                    EpochInput {
                        block: BLOCK,
                        last_epoch_block: last,
                        stake,
                        weights,
                        bonds: bonds.unwrap_or_default(),
                        last_update,
                        block_at_registration: registered,
                        validator_permit: permit,
                        emission: 1_000_000_000,
                        owner_uid,
                        commit_block,
                        fidelity,
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

        #[test]
        fn compacted_epoch_equals_dense_reference(
            input in subnet(12),
            hp in hyperparams(),
            variant in prop_oneof![Just(Variant::Yuma2), Just(Variant::Yuma3)],
        ) {
            let fast = epoch(&input, &hp, variant);
            prop_assert_eq!(&fast, &epoch_dense(&input, &hp, variant));
            // And the next epoch, fed the new bonds and permits.
            if let Ok(out) = fast {
                let mut next = input.clone();
                next.bonds = out.new_bonds;
                next.validator_permit = out.new_validator_permit;
                prop_assert_eq!(epoch(&next, &hp, variant), epoch_dense(&next, &hp, variant));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

        #[test]
        fn compacted_epoch_equals_dense_reference_larger(
            input in subnet(48),
            hp in hyperparams(),
            variant in prop_oneof![Just(Variant::Yuma2), Just(Variant::Yuma3)],
        ) {
            prop_assert_eq!(epoch(&input, &hp, variant), epoch_dense(&input, &hp, variant));
        }
    }
}
