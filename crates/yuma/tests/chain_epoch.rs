//! Epoch scenarios ported from subtensor's `pallets/subtensor/src/tests/epoch.rs`, adapted to
//! the pure function: a small simulator replays what the chain test does to storage
//! (registration, `set_weights`, block steps, neuron replacement) and feeds each epoch's new
//! bonds and permits into the next. Each test keeps the chain test's name and asserts the
//! chain's own expected values (exact u16/u64 where the chain asserts exactly, the chain's
//! 1e-3 for the Yuma 3 scenarios).

use orchestra_yuma::math::vec_u16_max_upscale_to_u16;
use orchestra_yuma::{EpochInput, EpochOutput, Fidelity, Hyperparams, Variant, epoch};
use substrate_fixed::types::I32F32;

/// `get_activity_cutoff_blocks` on main: `max(1, 13889 · tempo / 1000)`.
fn activity_cutoff(tempo: u64) -> u64 {
    (13_889 * tempo / 1000).max(1)
}

/// The test tempo `u16::MAX - 1` that keeps the chain from running epochs on its own.
const HIGH_TEMPO: u64 = (u16::MAX - 1) as u64;

struct Sim {
    input: EpochInput,
    hp: Hyperparams,
    variant: Variant,
}

impl Sim {
    /// `n` uids registered at `block` with the given stakes; no permits, weights or bonds yet.
    fn new(stakes: &[u64], block: u64, hp: Hyperparams, variant: Variant, fidelity: Fidelity) -> Sim {
        let n = stakes.len();
        Sim {
            input: EpochInput {
                block,
                stake: stakes.to_vec(),
                weights: vec![vec![0; n]; n],
                last_update: vec![block; n],
                block_at_registration: vec![block; n],
                validator_permit: vec![false; n],
                emission: 1_000_000_000,
                fidelity,
                ..EpochInput::default()
            },
            hp,
            variant,
        }
    }

    fn n(&self) -> usize {
        self.input.stake.len()
    }

    /// `set_weights`: the row is replaced by the max-upscaled values; `LastUpdate = now`.
    fn set_weights(&mut self, uid: usize, dests: &[usize], values: &[u16]) {
        let upscaled = vec_u16_max_upscale_to_u16(values);
        let mut row = vec![0; self.n()];
        for (&j, &w) in dests.iter().zip(upscaled.iter()) {
            row[j] = w;
        }
        self.input.weights[uid] = row;
        self.input.last_update[uid] = self.input.block;
    }

    fn next_block(&mut self) {
        self.input.block += 1;
    }

    /// `replace_neuron` + `clear_neuron`: a new hotkey (no stake) takes the uid.
    fn replace(&mut self, uid: usize) {
        let block = self.input.block;
        self.input.block_at_registration[uid] = block;
        self.input.last_update[uid] = block;
        self.input.stake[uid] = 0;
        self.input.validator_permit[uid] = false;
        self.input.weights[uid] = vec![0; self.n()];
        for row in self.input.weights.iter_mut() {
            row[uid] = 0;
        }
        if !self.input.bonds.is_empty() {
            self.input.bonds[uid] = vec![0; self.n()];
        }
    }

    /// Run an epoch and persist its bonds and permits, as the chain does.
    fn epoch(&mut self) -> EpochOutput {
        let out = epoch(&self.input, &self.hp, self.variant).expect("valid epoch input");
        self.input.bonds.clone_from(&out.new_bonds);
        self.input.validator_permit.clone_from(&out.new_validator_permit);
        out
    }
}

const FIDELITIES: [Fidelity; 2] = [Fidelity::Dense, Fidelity::Chain];

#[test]
fn test_1_graph() {
    for fidelity in FIDELITIES {
        let hp = Hyperparams { tempo: HIGH_TEMPO, activity_cutoff: activity_cutoff(HIGH_TEMPO), ..Default::default() };
        let mut sim = Sim::new(&[1_000_000_000], 1, hp, Variant::Yuma2, fidelity);
        sim.set_weights(0, &[0], &[u16::MAX]);
        let out = sim.epoch();
        assert_eq!(out.consensus, vec![0]);
        assert_eq!(out.incentive, vec![0]);
        assert_eq!(out.dividends, vec![0]);
        // Not asserted on chain: with no usable weights the stake takes the whole emission.
        assert_eq!(out.emission, vec![1_000_000_000]);
    }
}

#[test]
fn test_10_graph() {
    for fidelity in FIDELITIES {
        let hp = Hyperparams { tempo: HIGH_TEMPO, activity_cutoff: activity_cutoff(HIGH_TEMPO), ..Default::default() };
        // append_neuron at block 0, epoch at block 1.
        let mut sim = Sim::new(&[1; 10], 0, hp, Variant::Yuma2, fidelity);
        sim.next_block();
        for i in 0..10 {
            sim.set_weights(i, &[i], &[u16::MAX]);
        }
        let out = sim.epoch();
        for i in 0..10 {
            assert_eq!(out.consensus[i], 0);
            assert_eq!(out.incentive[i], 0);
            assert_eq!(out.dividends[i], 0);
            assert_eq!(out.emission[i], 99_999_999);
        }
    }
}

/// Chain helper `distribute_nodes`: blockwise, regular or shuffled validator placement.
fn distribute_nodes(validators_n: usize, network_n: usize, interleave: usize) -> (Vec<usize>, Vec<usize>) {
    match interleave {
        0 => ((0..validators_n).collect(), (validators_n..network_n).collect()),
        1 => (0..network_n).partition(|i| i % (network_n / validators_n) == 0),
        _ => {
            let mut uids: Vec<usize> = (0..network_n).collect();
            let mut state: u64 = 0x2545_F491_4F6C_DD1D;
            for i in (1..uids.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                uids.swap(i, (state % (i as u64 + 1)) as usize);
            }
            (uids[..validators_n].to_vec(), uids[validators_n..].to_vec())
        }
    }
}

/// Chain `init_run_epochs` with fixed (non-random) weights.
fn init_run_epochs(validators: &[usize], servers: &[usize], epochs: usize, stake: u64, server_self: bool) -> Sim {
    let n = validators.len() + servers.len();
    let mut stakes = vec![0; n];
    for &v in validators {
        stakes[v] = stake;
    }
    let hp = Hyperparams {
        tempo: HIGH_TEMPO,
        activity_cutoff: activity_cutoff(HIGH_TEMPO),
        max_allowed_validators: validators.len() as u16,
        ..Default::default()
    };
    let mut sim = Sim::new(&stakes, 0, hp, Variant::Yuma2, Fidelity::Dense);
    sim.next_block();
    sim.epoch(); // sets the permits
    let weights = vec![u16::MAX / n as u16; servers.len()];
    for &v in validators {
        sim.set_weights(v, servers, &weights);
    }
    if server_self {
        for &s in servers {
            sim.set_weights(s, &[s], &[u16::MAX]);
        }
    }
    for _ in 0..epochs {
        sim.epoch();
    }
    sim
}

#[test]
fn test_512_graph() {
    let (network_n, validators_n) = (512, 64);
    let max_stake_per_validator: u64 = 328_125_000_000_000;
    for interleave in 0..3 {
        for server_self in [false, true] {
            let (validators, servers) = distribute_nodes(validators_n, network_n, interleave);
            let server = servers[0];
            let validator = validators[0];
            let mut sim = init_run_epochs(&validators, &servers, 2, max_stake_per_validator, server_self);
            let out = sim.epoch(); // the third epoch
            let bonds = &out.new_bonds;
            for &uid in &validators {
                assert_eq!(out.consensus[uid], 0);
                assert_eq!(out.incentive[uid], 0);
                assert_eq!(out.dividends[uid], 1023); // floor(1 / 64 * 65_535)
                assert_eq!(out.emission[uid], 7_812_500); // 0.5 / 64 * 1e9
                assert_eq!(bonds[uid][validator], 0);
                assert_eq!(bonds[uid][server], 65_535);
            }
            for &uid in &servers {
                assert_eq!(out.consensus[uid], 146); // floor(1 / (512 - 64) * 65_535)
                assert_eq!(out.incentive[uid], 146);
                assert_eq!(out.dividends[uid], 0);
                assert_eq!(out.emission[uid], 1_116_071); // floor(0.5 / (512 - 64) * 1e9)
                assert_eq!(bonds[uid][validator], 0);
                assert_eq!(bonds[uid][server], 0);
            }
        }
    }
}

#[test]
fn test_bonds() {
    for fidelity in FIDELITIES {
        let hp = Hyperparams {
            tempo: 1,
            activity_cutoff: activity_cutoff(1),
            max_allowed_validators: 8,
            ..Default::default()
        };
        let mut sim = Sim::new(&[1, 2, 3, 4, 0, 0, 0, 0], 1, hp, Variant::Yuma2, fidelity);
        sim.epoch(); // permits
        sim.next_block();
        let servers = [4, 5, 6, 7];
        let m = u16::MAX;
        for uid in 0..4 {
            sim.set_weights(uid, &servers, &[m / 4, m / 2, (m / 4) * 3, m]);
        }
        let col = |out: &EpochOutput, j: usize| -> Vec<u16> { (0..4).map(|i| out.new_bonds[i][j]).collect() };
        let out = sim.epoch();
        assert_eq!(col(&out, 4), [16383, 32767, 49151, 65535]);

        // Self-weight only on val1, then val2, then val3.
        sim.set_weights(0, &[0], &[m]);
        sim.next_block();
        assert_eq!(col(&sim.epoch(), 4), [14582, 32767, 49151, 65535]);
        sim.set_weights(1, &[1], &[m]);
        sim.next_block();
        assert_eq!(col(&sim.epoch(), 4), [12603, 28321, 49151, 65535]);
        sim.set_weights(2, &[2], &[m]);
        sim.next_block();
        assert_eq!(col(&sim.epoch(), 7), [12602, 28320, 49150, 65535]);

        // val3 -> srv4: 1
        sim.set_weights(2, &[7], &[m]);
        sim.next_block();
        assert_eq!(col(&sim.epoch(), 7), [10951, 24609, 49150, 65535]);
        sim.next_block();
        assert_eq!(col(&sim.epoch(), 7), [9559, 21482, 49150, 65535]);
        sim.next_block();
        assert_eq!(col(&sim.epoch(), 7), [8376, 18824, 49150, 65535]);
    }
}

#[test]
fn test_active_stake() {
    for fidelity in FIDELITIES {
        let hp = Hyperparams {
            tempo: 1,
            activity_cutoff: activity_cutoff(1),
            max_allowed_validators: 4,
            ..Default::default()
        };
        let mut sim = Sim::new(&[1, 1, 1, 1], 0, hp, Variant::Yuma2, fidelity);
        sim.epoch();
        sim.next_block();
        for uid in 0..2 {
            sim.set_weights(uid, &[2, 3], &[u16::MAX / 2; 2]);
        }
        let out = sim.epoch();
        for uid in 0..4 {
            if uid < 2 {
                assert_eq!(out.dividends[uid], 32767); // floor(0.5 * 65_535)
                assert_eq!(out.new_bonds[uid], [0, 0, 65535, 65535]);
            }
            assert_eq!(out.emission[uid], 250_000_000);
        }

        // Validator weights become outdated; only uid 0 updates.
        sim.input.block = 5002;
        sim.set_weights(0, &[2, 3], &[u16::MAX / 2; 2]);
        let out = sim.epoch();
        assert_eq!(out.dividends[0], 36044); // floor((0.5 * 0.9 + 0.1) * 65_535)
        assert_eq!(out.emission[0], 274_999_999);
        assert_eq!(out.new_bonds[0][2..], [65535, 65535]);
        assert_eq!(out.dividends[1], 29490); // floor((0.5 * 0.9) * 65_535)
        assert_eq!(out.emission[1], 224_999_999);
        assert_eq!(out.new_bonds[1][2..], [53619, 53619]);

        // uid 1 updates as well.
        sim.set_weights(1, &[2, 3], &[u16::MAX / 2; 2]);
        sim.input.block = 5003;
        let out = sim.epoch();
        assert_eq!(out.dividends[0], 35716);
        assert_eq!(out.emission[0], 272_501_132);
        assert_eq!(out.new_bonds[0][2..], [65535, 65535]);
        assert_eq!(out.dividends[1], 29818);
        assert_eq!(out.emission[1], 227_498_866);
        assert_eq!(out.new_bonds[1][2..], [54712, 54712]);
    }
}

#[test]
fn test_outdated_weights() {
    for fidelity in FIDELITIES {
        let hp = Hyperparams {
            tempo: 0,
            activity_cutoff: activity_cutoff(0),
            max_allowed_validators: 4,
            ..Default::default()
        };
        let mut sim = Sim::new(&[1, 1, 1, 1], 1, hp, Variant::Yuma2, fidelity);
        sim.epoch();
        sim.next_block();
        let m = u16::MAX;
        for uid in 0..2 {
            sim.set_weights(uid, &[2, 3], &[2 * (m / 3), m / 3]);
        }
        for uid in 2..4 {
            sim.set_weights(uid, &[uid], &[m]);
        }
        assert_eq!(sim.input.weights[0][2..], [65535, 32768]);
        let out = sim.epoch();
        assert_eq!(out.emission, [250_000_000, 250_000_000, 333_331_637, 166_668_361]);

        // Deregister server2 at uid 3 and register a new key over it, then only uid 0 updates.
        sim.replace(3);
        sim.next_block();
        sim.set_weights(0, &[2, 3], &[2 * (m / 3), m / 3]);
        let out = sim.epoch();
        assert_eq!(out.dividends[0], 32767); // floor(0.5 * 65_535)
        assert_eq!(out.emission[0], 250_000_000);
        assert_eq!(out.new_bonds[0][2], 65535);
        assert_eq!(out.new_bonds[0][3], 65535);
    }
}

#[test]
fn test_zero_weights() {
    for fidelity in FIDELITIES {
        let hp = Hyperparams { tempo: HIGH_TEMPO, activity_cutoff: activity_cutoff(HIGH_TEMPO), ..Default::default() };
        let mut sim = Sim::new(&[1, 0], 1, hp, Variant::Yuma2, fidelity);
        // No weights.
        assert_eq!(sim.epoch().emission, [1_000_000_000, 0]);
        // Self-weights only.
        sim.set_weights(1, &[1], &[u16::MAX]);
        assert_eq!(sim.epoch().emission, [1_000_000_000, 0]);
        // Weights toward a server that then re-registers: outdated.
        sim.next_block();
        sim.set_weights(0, &[1], &[u16::MAX]);
        sim.replace(1);
        assert_eq!(sim.epoch().emission, [1_000_000_000, 0]);
        // Fresh weights produce incentive.
        sim.next_block();
        sim.set_weights(0, &[1], &[u16::MAX]);
        assert_eq!(sim.epoch().emission, [500_000_000, 500_000_000]);
    }
}

#[test]
fn test_deregistered_miner_bonds() {
    for fidelity in FIDELITIES {
        let hp = Hyperparams {
            tempo: 2,
            activity_cutoff: activity_cutoff(2),
            max_allowed_validators: 4,
            ..Default::default()
        };
        let mut sim = Sim::new(&[1, 1, 1, 1], 1, hp, Variant::Yuma2, fidelity);
        sim.epoch();
        sim.next_block();
        let m = u16::MAX;
        for uid in 0..2 {
            sim.set_weights(uid, &[2, 3], &[2 * (m / 3), m / 3]);
        }
        sim.next_block();
        sim.next_block();
        let out = sim.epoch();
        let (bond_0_2, bond_0_3) = (out.new_bonds[0][2], out.new_bonds[0][3]);
        assert!(bond_0_2 > 0 && bond_0_3 > 0);

        sim.next_block();
        sim.replace(3);
        for uid in 0..2 {
            sim.set_weights(uid, &[2, 3], &[2 * (m / 3), m / 3]);
        }
        sim.next_block();
        let out = sim.epoch();
        assert!(out.new_bonds[0][2] >= bond_0_2, "{} < {bond_0_2}", out.new_bonds[0][2]);
        assert!(out.new_bonds[0][3] <= bond_0_3, "{} > {bond_0_3}", out.new_bonds[0][3]);
    }
}

#[test]
fn test_validator_permits() {
    for interleave in 0..3 {
        for (network_n, validators_n) in [(2, 1), (4, 2), (8, 4)] {
            let min_stake = validators_n as u64;
            for assignment in 0..=1 {
                let (validators, servers) = distribute_nodes(validators_n, network_n, interleave);
                let mut stake = vec![0u64; network_n];
                for &v in &validators {
                    stake[v] = if assignment == 1 { (v + network_n) as u64 } else { 1 };
                }
                for &s in &servers {
                    stake[s] = if assignment == 1 { s as u64 } else { 0 };
                }
                let hp = Hyperparams {
                    tempo: HIGH_TEMPO,
                    activity_cutoff: activity_cutoff(HIGH_TEMPO),
                    max_allowed_validators: validators_n as u16,
                    stake_threshold: min_stake,
                    ..Default::default()
                };
                let mut sim = Sim::new(&stake, 1, hp, Variant::Yuma2, Fidelity::Dense);
                let out = sim.epoch();
                for &v in &validators {
                    assert_eq!(stake[v] >= min_stake, out.new_validator_permit[v]);
                }
                for &s in &servers {
                    assert!(!out.new_validator_permit[s]);
                }
                // Increase server stake above validators.
                for &s in &servers {
                    sim.input.stake[s] += 2 * network_n as u64;
                }
                let out = sim.epoch();
                for &v in &validators {
                    assert!(!out.new_validator_permit[v]);
                }
                for &s in &servers {
                    assert_eq!(stake[s] + 2 * network_n as u64 >= min_stake, out.new_validator_permit[s]);
                }
            }
        }
    }
}

#[test]
fn test_epoch_outputs_single_staker_registered_no_weights() {
    for variant in [Variant::Yuma2, Variant::Yuma3] {
        let hp = Hyperparams { tempo: HIGH_TEMPO, activity_cutoff: activity_cutoff(HIGH_TEMPO), ..Default::default() };
        let mut sim = Sim::new(&[1], 0, hp, variant, Fidelity::Chain);
        let out = sim.epoch();
        let total: u64 = out.server_emission.iter().chain(out.validator_emission.iter()).sum();
        assert!(total.abs_diff(1_000_000_000) <= 1_000, "{total}");
    }
}

// ---------------------------------------------------------------------------------------------
// Yuma 3 scenarios (chain `setup_yuma_3_scenario` and friends).

/// Chain `set_alpha_values_32`: a fixed proportion stored as u16.
fn alpha_u16(x: f64) -> u16 {
    I32F32::from_num(x).saturating_mul(I32F32::from_num(u16::MAX)).saturating_to_num::<u16>()
}

fn yuma3_sim(stakes: &[u64], fidelity: Fidelity, liquid_alpha: bool) -> Sim {
    let hp = Hyperparams {
        tempo: 1,
        activity_cutoff: activity_cutoff(1),
        bonds_penalty: 0,
        alpha_sigmoid_steepness: 1000,
        bonds_moving_average: 975_000,
        kappa: u16::MAX / 2,
        liquid_alpha_enabled: liquid_alpha,
        alpha_low: alpha_u16(0.1),
        alpha_high: alpha_u16(0.3),
        max_allowed_validators: 3,
        ..Default::default()
    };
    let mut sim = Sim::new(stakes, 1, hp, Variant::Yuma3, fidelity);
    sim.next_block();
    sim.epoch();
    sim
}

/// Chain `set_yuma_3_weights`: validator i sets `weights[i]` on `indices`.
fn set_yuma_3_weights(sim: &mut Sim, weights: &[Vec<u16>], indices: &[usize]) {
    for (uid, w) in weights.iter().enumerate() {
        sim.set_weights(uid, indices, w);
    }
}

/// Chain `run_epoch_and_check_bonds_dividends`. The chain's bond check zips each bonds row with
/// `target.skip(3)` and so checks nothing; here the last columns are really compared.
fn run_epoch_and_check(sim: &mut Sim, target_bonds: &[Vec<f64>], target_dividends: &[f64], label: &str) {
    sim.next_block();
    let out = sim.epoch();
    let eps = 1e-3;
    let n = sim.n();
    for (i, target) in target_bonds.iter().enumerate() {
        let servers = target.len().min(n - 3);
        for k in 0..servers {
            let j = n - servers + k;
            let got = f64::from(out.new_bonds[i][j]) / 65535.0;
            let want = target[target.len() - servers + k];
            assert!((got - want).abs() <= eps, "{label}: bond[{i}][{j}] = {got:.4}, chain expects {want:.4}");
        }
    }
    for (i, want) in target_dividends.iter().enumerate() {
        let got = f64::from(out.dividends[i]) / 65535.0;
        assert!((got - want).abs() <= eps, "{label}: dividend[{i}] = {got:.4}, chain expects {want:.4}");
    }
}

type Scenario = (Vec<Vec<Vec<f64>>>, Vec<Vec<f64>>);

fn run_yuma3_scenario(
    name: &str,
    stakes: &[u64],
    indices: &[usize],
    liquid_alpha: bool,
    weights_for_epoch: impl Fn(usize) -> Option<Vec<Vec<u16>>>,
    (targets_bonds, targets_dividends): Scenario,
    fidelities: &[Fidelity],
) {
    for &fidelity in fidelities {
        let mut sim = yuma3_sim(stakes, fidelity, liquid_alpha);
        for (e, (tb, td)) in targets_bonds.iter().zip(targets_dividends.iter()).enumerate() {
            if let Some(w) = weights_for_epoch(e) {
                set_yuma_3_weights(&mut sim, &w, indices);
            }
            run_epoch_and_check(&mut sim, tb, td, &format!("{name} ({fidelity:?}) epoch {e}"));
        }
    }
}

const M: u16 = u16::MAX;

#[test]
fn test_yuma_3_kappa_moves_first() {
    let targets = (
        vec![
            vec![vec![0.1013, 0.0000], vec![0.1013, 0.0000], vec![0.1013, 0.0000]],
            vec![vec![0.0908, 0.1013], vec![0.3697, 0.0000], vec![0.3697, 0.0000]],
            vec![vec![0.0815, 0.1924], vec![0.3170, 0.1013], vec![0.5580, 0.0000]],
            vec![vec![0.0731, 0.2742], vec![0.2765, 0.1924], vec![0.4306, 0.1013]],
            vec![vec![0.0656, 0.3478], vec![0.2435, 0.2742], vec![0.3589, 0.1924]],
            vec![vec![0.0588, 0.4139], vec![0.2157, 0.3478], vec![0.3089, 0.2742]],
        ],
        vec![
            vec![0.8000, 0.1000, 0.1000, 0.0000, 0.0000],
            vec![1.0000, 0.0000, 0.0000, 0.0000, 0.0000],
            vec![0.9382, 0.0618, 0.0000, 0.0000, 0.0000],
            vec![0.8819, 0.0773, 0.0407, 0.0000, 0.0000],
            vec![0.8564, 0.0844, 0.0592, 0.0000, 0.0000],
            vec![0.8418, 0.0884, 0.0697, 0.0000, 0.0000],
        ],
    );
    run_yuma3_scenario(
        "kappa_moves_first",
        &[8, 1, 1, 0, 0],
        &[3, 4],
        true,
        |e| match e {
            0 => Some(vec![vec![M, 0]; 3]),
            1 => Some(vec![vec![0, M], vec![M, 0], vec![M, 0]]),
            2 => Some(vec![vec![0, M], vec![0, M], vec![M, 0]]),
            3 => Some(vec![vec![0, M]; 3]),
            _ => None,
        },
        targets,
        &[Fidelity::Dense],
    );
}

#[test]
fn test_yuma_3_kappa_moves_second() {
    let targets = (
        vec![
            vec![vec![0.1013, 0.0000], vec![0.1013, 0.0000], vec![0.1013, 0.0000]],
            vec![vec![0.1924, 0.0000], vec![0.0908, 0.2987], vec![0.1924, 0.0000]],
            vec![vec![0.1715, 0.1013], vec![0.0815, 0.3697], vec![0.4336, 0.0000]],
            vec![vec![0.1531, 0.1924], vec![0.0731, 0.4336], vec![0.3608, 0.1013]],
            vec![vec![0.1369, 0.2742], vec![0.0656, 0.4910], vec![0.3103, 0.1924]],
            vec![vec![0.1225, 0.3478], vec![0.0588, 0.5426], vec![0.2712, 0.2742]],
        ],
        vec![
            vec![0.8000, 0.1000, 0.1000, 0.0000, 0.0000],
            vec![0.8446, 0.0498, 0.1056, 0.0000, 0.0000],
            vec![0.6868, 0.3132, 0.0000, 0.0000, 0.0000],
            vec![0.7421, 0.2090, 0.0489, 0.0000, 0.0000],
            vec![0.7625, 0.1706, 0.0669, 0.0000, 0.0000],
            vec![0.7730, 0.1508, 0.0762, 0.0000, 0.0000],
        ],
    );
    run_yuma3_scenario(
        "kappa_moves_second",
        &[8, 1, 1, 0, 0],
        &[3, 4],
        true,
        |e| match e {
            0 => Some(vec![vec![M, 0]; 3]),
            1 => Some(vec![vec![M, 0], vec![0, M], vec![M, 0]]),
            2 => Some(vec![vec![0, M], vec![0, M], vec![M, 0]]),
            3 => Some(vec![vec![0, M]; 3]),
            _ => None,
        },
        targets,
        &[Fidelity::Dense],
    );
}

#[test]
fn test_yuma_3_kappa_moves_last() {
    let targets = (
        vec![
            vec![vec![0.1013, 0.0000], vec![0.1013, 0.0000], vec![0.1013, 0.0000]],
            vec![vec![0.1924, 0.0000], vec![0.0908, 0.2987], vec![0.1924, 0.0000]],
            vec![vec![0.2742, 0.0000], vec![0.0815, 0.5081], vec![0.1715, 0.2987]],
            vec![vec![0.2416, 0.1013], vec![0.0731, 0.5580], vec![0.1531, 0.3697]],
            vec![vec![0.2141, 0.1924], vec![0.0656, 0.6028], vec![0.1369, 0.4336]],
            vec![vec![0.1903, 0.2742], vec![0.0588, 0.6430], vec![0.1225, 0.4910]],
        ],
        vec![
            vec![0.8000, 0.1000, 0.1000, 0.0000, 0.0000],
            vec![0.8446, 0.0498, 0.1056, 0.0000, 0.0000],
            vec![0.8966, 0.0333, 0.0701, 0.0000, 0.0000],
            vec![0.4663, 0.3210, 0.2127, 0.0000, 0.0000],
            vec![0.5976, 0.2340, 0.1683, 0.0000, 0.0000],
            vec![0.6592, 0.1932, 0.1475, 0.0000, 0.0000],
        ],
    );
    run_yuma3_scenario(
        "kappa_moves_last",
        &[8, 1, 1, 0, 0],
        &[3, 4],
        true,
        |e| match e {
            0 => Some(vec![vec![M, 0]; 3]),
            1 => Some(vec![vec![M, 0], vec![0, M], vec![M, 0]]),
            2 => Some(vec![vec![M, 0], vec![0, M], vec![0, M]]),
            3 => Some(vec![vec![0, M]; 3]),
            _ => None,
        },
        targets,
        &[Fidelity::Dense],
    );
}

#[test]
fn test_yuma_3_one_epoch_switch() {
    let targets = (
        vec![
            vec![vec![0.1013, 0.0000], vec![0.1013, 0.0000], vec![0.1013, 0.0000]],
            vec![vec![0.1924, 0.0000], vec![0.1924, 0.0000], vec![0.1924, 0.0000]],
            vec![vec![0.2742, 0.0000], vec![0.2742, 0.0000], vec![0.1715, 0.2987]],
            vec![vec![0.3478, 0.0000], vec![0.3478, 0.0000], vec![0.2554, 0.2618]],
            vec![vec![0.4139, 0.0000], vec![0.4139, 0.0000], vec![0.3309, 0.2312]],
            vec![vec![0.4733, 0.0000], vec![0.4733, 0.0000], vec![0.3987, 0.2051]],
        ],
        vec![
            vec![0.3300, 0.3300, 0.3400, 0.0000, 0.0000],
            vec![0.3300, 0.3300, 0.3400, 0.0000, 0.0000],
            vec![0.3782, 0.3782, 0.2436, 0.0000, 0.0000],
            vec![0.3628, 0.3628, 0.2745, 0.0000, 0.0000],
            vec![0.3541, 0.3541, 0.2917, 0.0000, 0.0000],
            vec![0.3487, 0.3487, 0.3026, 0.0000, 0.0000],
        ],
    );
    run_yuma3_scenario(
        "one_epoch_switch",
        &[33, 33, 34, 0, 0],
        &[3, 4],
        true,
        |e| match e {
            2 => Some(vec![vec![M, 0], vec![M, 0], vec![0, M]]),
            _ => Some(vec![vec![M, 0]; 3]),
        },
        targets,
        &[Fidelity::Dense],
    );
}

#[test]
fn test_yuma_3_liquid_alpha_disabled() {
    let targets = (
        vec![
            vec![vec![0.0000, 0.0250, 0.0000], vec![0.0000, 0.0250, 0.0000], vec![0.0000, 0.0250, 0.0000]],
            vec![vec![0.0000, 0.0494, 0.0000], vec![0.0000, 0.0494, 0.0000], vec![0.0000, 0.0494, 0.0000]],
            vec![vec![0.0000, 0.0731, 0.0000], vec![0.0000, 0.0731, 0.0000], vec![0.0000, 0.0481, 0.0250]],
            vec![vec![0.0000, 0.0963, 0.0000], vec![0.0000, 0.0963, 0.0000], vec![0.0000, 0.0719, 0.0244]],
            vec![vec![0.0000, 0.1189, 0.0000], vec![0.0000, 0.1189, 0.0000], vec![0.0000, 0.0951, 0.0238]],
            vec![vec![0.0000, 0.1409, 0.0000], vec![0.0000, 0.1409, 0.0000], vec![0.0000, 0.1178, 0.0232]],
        ],
        vec![
            vec![0.3300, 0.3300, 0.3400, 0.0000, 0.0000],
            vec![0.3300, 0.3300, 0.3400, 0.0000, 0.0000],
            vec![0.3734, 0.3734, 0.2532, 0.0000, 0.0000],
            vec![0.3611, 0.3611, 0.2779, 0.0000, 0.0000],
            vec![0.3541, 0.3541, 0.2919, 0.0000, 0.0000],
            vec![0.3495, 0.3495, 0.3009, 0.0000, 0.0000],
        ],
    );
    // Without liquid alpha the dense and on-chain rules agree.
    run_yuma3_scenario(
        "liquid_alpha_disabled",
        &[33, 33, 34, 0, 0],
        &[3, 4],
        false,
        |e| match e {
            2 => Some(vec![vec![M, 0], vec![M, 0], vec![0, M]]),
            _ => Some(vec![vec![M, 0]; 3]),
        },
        targets,
        &FIDELITIES,
    );
}

#[test]
fn test_yuma_3_stable_miner() {
    let h = M / 2;
    let targets = (
        vec![
            vec![vec![0.0507, 0.0000, 0.0507], vec![0.0507, 0.0000, 0.0507], vec![0.0507, 0.0000, 0.0507]],
            vec![vec![0.0962, 0.0000, 0.0962], vec![0.0455, 0.1000, 0.0962], vec![0.0962, 0.0000, 0.0962]],
            vec![vec![0.0863, 0.0507, 0.1371], vec![0.0408, 0.1405, 0.1371], vec![0.1770, 0.0000, 0.1371]],
            vec![vec![0.0774, 0.0962, 0.1739], vec![0.0367, 0.1770, 0.1739], vec![0.1579, 0.0507, 0.1739]],
            vec![vec![0.0694, 0.1371, 0.2069], vec![0.0329, 0.2097, 0.2069], vec![0.1411, 0.0962, 0.2069]],
            vec![vec![0.0623, 0.1739, 0.2366], vec![0.0296, 0.2391, 0.2366], vec![0.1263, 0.1371, 0.2366]],
        ],
        vec![
            vec![0.8000, 0.1000, 0.1000, 0.0000, 0.0000, 0.0000],
            vec![0.8226, 0.0745, 0.1028, 0.0000, 0.0000, 0.0000],
            vec![0.7750, 0.1685, 0.0565, 0.0000, 0.0000, 0.0000],
            vec![0.7864, 0.1372, 0.0764, 0.0000, 0.0000, 0.0000],
            vec![0.7912, 0.1241, 0.0847, 0.0000, 0.0000, 0.0000],
            vec![0.7937, 0.1173, 0.0890, 0.0000, 0.0000, 0.0000],
        ],
    );
    run_yuma3_scenario(
        "stable_miner",
        &[8, 1, 1, 0, 0, 0],
        &[3, 4, 5],
        true,
        |e| match e {
            0 => Some(vec![vec![h, 0, h]; 3]),
            1 => Some(vec![vec![h, 0, h], vec![0, h, h], vec![h, 0, h]]),
            2 => Some(vec![vec![0, h, h], vec![0, h, h], vec![h, 0, h]]),
            3 => Some(vec![vec![0, h, h]; 3]),
            _ => None,
        },
        targets,
        &[Fidelity::Dense],
    );
}

#[test]
fn test_yuma_3_bonds_reset() {
    let targets_dividends: Vec<(usize, Vec<f64>)> = vec![
        (0, vec![0.8000, 0.1000, 0.1000, 0.0000, 0.0000]),
        (1, vec![0.8944, 0.0528, 0.0528, 0.0000, 0.0000]),
        (2, vec![0.5230, 0.2385, 0.2385, 0.0000, 0.0000]),
        (19, vec![0.7919, 0.1040, 0.1040, 0.0000, 0.0000]),
        (20, vec![0.7928, 0.1036, 0.1036, 0.0000, 0.0000]),
        (21, vec![0.8467, 0.0766, 0.0766, 0.0000, 0.0000]),
        (40, vec![0.7928, 0.1036, 0.1036, 0.0000, 0.0000]),
    ];
    let targets_bonds: Vec<Vec<Vec<f64>>> = vec![
        vec![vec![0.1013, 0.0000], vec![0.1013, 0.0000], vec![0.1013, 0.0000]],
        vec![vec![0.1924, 0.0000], vec![0.0908, 0.2987], vec![0.0908, 0.2987]],
        vec![vec![0.1715, 0.1013], vec![0.0815, 0.3697], vec![0.0815, 0.3697]],
        vec![vec![0.0269, 0.8539], vec![0.0131, 0.8975], vec![0.0131, 0.8975]],
        vec![vec![0.0000, 0.8687], vec![0.0000, 0.9079], vec![0.0000, 0.9079]],
        vec![vec![0.0000, 0.8820], vec![0.2987, 0.6386], vec![0.2987, 0.6386]],
        vec![vec![0.8687, 0.0578], vec![0.9079, 0.0523], vec![0.9079, 0.0523]],
    ];
    let mut sim = yuma3_sim(&[8, 1, 1, 0, 0], Fidelity::Dense, true);
    let mut checked = 0;
    for e in 0..=40 {
        let w = match e {
            0 => vec![vec![M, 0]; 3],
            1 => vec![vec![M, 0], vec![0, M], vec![0, M]],
            2..=20 => vec![vec![0, M]; 3],
            21 => vec![vec![0, M], vec![M, 0], vec![M, 0]],
            _ => vec![vec![M, 0]; 3],
        };
        set_yuma_3_weights(&mut sim, &w, &[3, 4]);
        if e == 20 {
            // do_reset_bonds for the hotkey at uid 3 (bonds reset enabled): its column goes.
            for row in sim.input.bonds.iter_mut() {
                row[3] = 0;
            }
        }
        match targets_dividends.iter().position(|(te, _)| *te == e) {
            Some(k) => {
                run_epoch_and_check(
                    &mut sim,
                    &targets_bonds[k],
                    &targets_dividends[k].1,
                    &format!("bonds_reset epoch {e}"),
                );
                checked += 1;
            }
            None => {
                sim.next_block();
                sim.epoch();
            }
        }
    }
    assert_eq!(checked, 7);
}

// ---------------------------------------------------------------------------------------------
// On-chain rules of `epoch_mechanism` (Fidelity::Chain).

#[test]
fn test_can_set_self_weight_as_subnet_owner() {
    // Owner hotkey at uid 0 with all the stake and the only permit; it weights itself and uid 1
    // equally.
    let hp = Hyperparams::default();
    let mut sim = Sim::new(&[5_000_000_000_000, 0], 1, hp, Variant::Yuma2, Fidelity::Chain);
    sim.input.validator_permit = vec![true, false];
    sim.input.owner_uid = Some(0);
    sim.input.weights[0] = vec![u16::MAX / 2, u16::MAX / 2];
    sim.input.block = 2;
    sim.input.last_update = vec![2, 0];
    let out = sim.epoch();
    assert!(out.server_emission[0] > 0);
    assert!(out.server_emission[1] > 0);
    assert_eq!(out.server_emission[0], out.server_emission[1]);

    // The dense test function masks the owner's self-weight like any other.
    sim.input.fidelity = Fidelity::Dense;
    sim.input.validator_permit = vec![true, false];
    let out = sim.epoch();
    assert_eq!(out.server_emission[0], 0);
    assert!(out.server_emission[1] > 0);
}

/// The owner keeps its permit and is exempt from the stake threshold on chain.
#[test]
fn owner_permit_and_stake_threshold_exemption() {
    let hp = Hyperparams { stake_threshold: 1_000, max_allowed_validators: 1, ..Default::default() };
    let mut sim = Sim::new(&[10, 5_000, 0], 1, hp, Variant::Yuma2, Fidelity::Chain);
    sim.input.owner_uid = Some(0);
    let out = sim.epoch();
    assert_eq!(out.new_validator_permit, [true, true, false]);
    assert!(out.stake_weight[0] > 0);
    sim.input.fidelity = Fidelity::Dense;
    let out = sim.epoch();
    assert_eq!(out.new_validator_permit, [false, true, false]);
    assert_eq!(out.stake_weight[0], 0);
}

#[test]
fn test_epoch_does_not_mask_outside_window_but_masks_inside() {
    // Validator uid 0 committed at block 20; uid 1 registered before it, uids 2 and 3 after.
    let hp = Hyperparams { tempo: 8, max_allowed_validators: 1, ..Default::default() };
    let mut sim = Sim::new(&[10_000, 1_000, 1_000, 1_000], 10, hp, Variant::Yuma2, Fidelity::Chain);
    sim.epoch();
    sim.input.block_at_registration = vec![1, 10, 21, 21];
    sim.input.block = 22;
    sim.set_weights(0, &[1, 2, 3], &[u16::MAX / 3; 3]);
    sim.input.commit_block = Some(vec![20, u64::MAX, u64::MAX, u64::MAX]);
    let out = sim.epoch();
    assert!(out.incentive[1] > 0, "uid 1 (registered before the commit) unmasked");
    assert_eq!(out.incentive[2], 0, "uid 2 (inside window) masked");
    assert_eq!(out.incentive[3], 0, "uid 3 (inside window) masked");

    // test_epoch_no_mask_when_commit_reveal_disabled: no live commits, no mask.
    sim.input.commit_block = None;
    let out = sim.epoch();
    assert!(out.incentive[1..].iter().all(|&i| i > 0));
}

/// On chain (sparse `mat_ema_alpha_sparse`), under Yuma 3 with liquid alpha, a bond toward a
/// miner the validator no longer weights is dropped at once; the dense function decays it.
#[test]
fn chain_liquid_alpha_drops_absent_bonds() {
    let mut final_bond = Vec::new();
    for fidelity in FIDELITIES {
        let mut sim = yuma3_sim(&[8, 1, 1, 0, 0], fidelity, true);
        set_yuma_3_weights(&mut sim, &[vec![M, 0], vec![M, 0], vec![M, 0]], &[3, 4]);
        sim.next_block();
        sim.epoch();
        assert!(sim.input.bonds[1][3] > 0);
        set_yuma_3_weights(&mut sim, &[vec![M, 0], vec![0, M], vec![M, 0]], &[3, 4]);
        sim.next_block();
        sim.epoch();
        final_bond.push(sim.input.bonds[1][3]);
    }
    assert!(final_bond[0] > 0, "dense decays the bond");
    assert_eq!(final_bond[1], 0, "chain drops the bond");
}
