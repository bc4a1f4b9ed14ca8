//! Property tests of the epoch over random subnets: the emission is paid out in full (within
//! fixed-point truncation), nothing is NaN, negative or above one, and relabelling uids
//! (validators and miners alike) relabels the results and changes nothing else.

use orchestra_yuma::math::vec_u16_max_upscale_to_u16;
use orchestra_yuma::{EpochInput, EpochOutput, Fidelity, Hyperparams, Variant, epoch};
use proptest::prelude::*;

const BLOCK: u64 = 10_000;

fn variant() -> impl Strategy<Value = Variant> {
    prop_oneof![Just(Variant::Yuma2), Just(Variant::Yuma3)]
}

fn fidelity() -> impl Strategy<Value = Fidelity> {
    prop_oneof![Just(Fidelity::Dense), Just(Fidelity::Chain)]
}

fn hyperparams() -> impl Strategy<Value = Hyperparams> {
    (
        1u16..=u16::MAX,
        0u64..=1_000_000,
        any::<u16>(),
        any::<bool>(),
        0u16..=40_000,
        1u16..=12,
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
                stake_threshold: if threshold { 3_000 * 1_000_003 } else { 0 },
            })
        })
}

/// A random subnet of 1..=10 uids. Non-zero stakes are distinct and well separated so that
/// permit assignment has no ties (ties are broken by uid, which relabelling changes).
fn subnet() -> impl Strategy<Value = EpochInput> {
    (1usize..=10)
        .prop_flat_map(|n| {
            (
                prop::collection::hash_set(1u64..10_000, n),
                prop::collection::vec(prop::bool::weighted(0.7), n),
                prop::collection::vec(prop::collection::vec(prop_oneof![3 => Just(0u16), 7 => any::<u16>()], n), n),
                prop::collection::vec(prop::collection::vec(any::<u16>(), n), n),
                prop::collection::vec(BLOCK - 800..=BLOCK, n),
                prop::collection::vec(prop_oneof![Just(0u64), BLOCK - 900..=BLOCK], n),
                prop::collection::vec(any::<bool>(), n),
                1u64..=10_000_000_000_000,
                fidelity(),
                prop::option::of(0..n as u16),
                prop::option::of(prop::collection::vec(prop_oneof![Just(u64::MAX), BLOCK - 900..=BLOCK], n)),
            )
        })
        .prop_map(
            |(stakes, staked, weights, bonds, last_update, registered, permits, emission, fidelity, owner, commits)| {
                let stake: Vec<u64> =
                    stakes.into_iter().zip(staked).map(|(s, on)| if on { s * 1_000_003 } else { 0 }).collect();
                EpochInput {
                    block: BLOCK,
                    last_epoch_block: 0,
                    stake,
                    weights: weights.iter().map(|row| vec_u16_max_upscale_to_u16(row)).collect(),
                    bonds,
                    last_update,
                    block_at_registration: registered,
                    validator_permit: permits,
                    emission,
                    owner_uid: owner,
                    commit_block: commits,
                    fidelity,
                }
            },
        )
}

fn permute(input: &EpochInput, p: &[usize]) -> EpochInput {
    let vec = |v: &[u64]| p.iter().map(|&i| v[i]).collect::<Vec<u64>>();
    let mat = |m: &[Vec<u16>]| p.iter().map(|&i| p.iter().map(|&j| m[i][j]).collect()).collect::<Vec<Vec<u16>>>();
    let position = |uid: usize| p.iter().position(|&i| i == uid).expect("a permutation");
    EpochInput {
        stake: vec(&input.stake),
        weights: mat(&input.weights),
        bonds: mat(&input.bonds),
        last_update: vec(&input.last_update),
        block_at_registration: vec(&input.block_at_registration),
        validator_permit: p.iter().map(|&i| input.validator_permit[i]).collect(),
        owner_uid: input.owner_uid.map(|o| position(usize::from(o)) as u16),
        commit_block: input.commit_block.as_ref().map(|c| vec(c)),
        ..input.clone()
    }
}

fn all_finite_in_unit(values: &[f64]) -> bool {
    values.iter().all(|x| x.is_finite() && (0.0..=1.0 + 1e-9).contains(x))
}

fn check_ranges(out: &EpochOutput) -> Result<(), TestCaseError> {
    let f = &out.fractions;
    for (name, v) in [
        ("stake", &f.stake),
        ("active_stake", &f.active_stake),
        ("consensus", &f.consensus),
        ("incentive", &f.incentive),
        ("dividends", &f.dividends),
        ("server_emission", &f.server_emission),
        ("validator_emission", &f.validator_emission),
    ] {
        prop_assert!(all_finite_in_unit(v), "{name} out of [0, 1]: {v:?}");
    }
    for (name, m) in [("weights", &f.weights), ("bonds", &f.bonds)] {
        prop_assert!(m.iter().all(|row| all_finite_in_unit(row)), "{name} out of [0, 1]: {m:?}");
    }
    // Validator trust sums clipped normalized weights: at most one per row.
    prop_assert!(f.validator_trust.iter().all(|x| x.is_finite() && (0.0..=1.0 + 1e-6).contains(x)));
    for (name, v) in [("incentive", &f.incentive), ("dividends", &f.dividends)] {
        let s: f64 = v.iter().sum();
        prop_assert!(s == 0.0 || (s - 1.0).abs() < 1e-6, "{name} sums to {s}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn emission_is_paid_in_full(input in subnet(), hp in hyperparams(), variant in variant()) {
        let out = epoch(&input, &hp, variant).expect("valid input");
        let n = input.stake.len() as u64;
        let paid: u64 = out.server_emission.iter().chain(out.validator_emission.iter()).sum();
        let anyone_staked = input
            .stake
            .iter()
            .enumerate()
            .any(|(i, &s)| s > 0 && (s >= hp.stake_threshold || (input.fidelity == Fidelity::Chain && input.owner_uid == Some(i as u16))));
        if anyone_staked {
            // Each entry truncates below one rao; each normalization loses at most 2^-32 per entry.
            let tolerance = n + 1 + (input.emission as f64 * 8.0 * n as f64 / 2f64.powi(32)) as u64;
            prop_assert!(paid.abs_diff(input.emission) <= tolerance, "paid {paid} of {} (tolerance {tolerance})", input.emission);
            let stored: u64 = out.emission.iter().sum();
            prop_assert!(stored.abs_diff(input.emission) <= tolerance, "stored emission {stored} of {}", input.emission);
        } else {
            prop_assert_eq!(paid, 0);
        }
    }

    #[test]
    fn outputs_are_finite_and_in_range(input in subnet(), hp in hyperparams(), variant in variant()) {
        let out = epoch(&input, &hp, variant).expect("valid input");
        check_ranges(&out)?;
        let n = input.stake.len();
        prop_assert_eq!(out.new_bonds.len(), n);
        prop_assert!(out.new_bonds.iter().all(|row| row.len() == n));
        // Permits go to at most k uids with stake (plus the owner on chain).
        let permits = out.new_validator_permit.iter().filter(|p| **p).count();
        prop_assert!(permits <= usize::from(hp.max_allowed_validators) + 1);
    }

    #[test]
    fn relabelling_uids_relabels_results(
        (input, p) in subnet().prop_flat_map(|input| {
            let n = input.stake.len();
            (Just(input), Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
        }),
        hp in hyperparams(),
        variant in variant(),
    ) {
        let out = epoch(&input, &hp, variant).expect("valid input");
        let permuted = epoch(&permute(&input, &p), &hp, variant).expect("valid input");
        for (k, &i) in p.iter().enumerate() {
            prop_assert_eq!(permuted.consensus[k], out.consensus[i]);
            prop_assert_eq!(permuted.incentive[k], out.incentive[i]);
            prop_assert_eq!(permuted.dividends[k], out.dividends[i]);
            prop_assert_eq!(permuted.validator_trust[k], out.validator_trust[i]);
            prop_assert_eq!(permuted.new_validator_permit[k], out.new_validator_permit[i]);
            prop_assert_eq!(permuted.server_emission[k], out.server_emission[i]);
            prop_assert_eq!(permuted.validator_emission[k], out.validator_emission[i]);
            for (l, &j) in p.iter().enumerate() {
                prop_assert_eq!(permuted.new_bonds[k][l], out.new_bonds[i][j]);
            }
        }
    }

    #[test]
    fn mismatched_shapes_are_rejected(input in subnet(), hp in hyperparams()) {
        let mut bad = input.clone();
        bad.last_update.push(0);
        prop_assert!(epoch(&bad, &hp, Variant::Yuma2).is_err());
        let mut bad = input.clone();
        bad.weights[0].pop();
        prop_assert!(epoch(&bad, &hp, Variant::Yuma3).is_err());
        let mut bad = input;
        bad.owner_uid = Some(bad.stake.len() as u16);
        prop_assert!(epoch(&bad, &hp, Variant::Yuma3).is_err());
    }
}

#[test]
fn empty_network_is_fine() {
    let out = epoch(&EpochInput::default(), &Hyperparams::default(), Variant::Yuma3).expect("empty is valid");
    assert!(out.incentive.is_empty() && out.new_bonds.is_empty());
}

#[test]
fn error_messages_name_the_field() {
    let input = EpochInput { stake: vec![1, 2], weights: vec![vec![0, 0]], ..EpochInput::default() };
    let err = epoch(&input, &Hyperparams::default(), Variant::Yuma2).expect_err("mismatch");
    assert_eq!(err.to_string(), "`weights` has 1 entries but the network has 2 uids (one per uid, from `stake`)");
    let hp = Hyperparams { alpha_low: 2, alpha_high: 1, ..Hyperparams::default() };
    let input = EpochInput {
        stake: vec![1],
        weights: vec![vec![0]],
        last_update: vec![0],
        block_at_registration: vec![0],
        validator_permit: vec![false],
        ..EpochInput::default()
    };
    let err = epoch(&input, &hp, Variant::Yuma3).expect_err("bad alphas");
    assert!(err.to_string().contains("alpha_low (2) must not exceed alpha_high (1)"));
}
