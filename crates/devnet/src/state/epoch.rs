//! Blocks and epochs: emission accrues per block, and a subnet whose tempo ends runs Yuma
//! Consensus (crates/yuma) and pays incentive and dividends into stake.

use super::*;

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

pub(super) fn dense(rows: impl Iterator<Item = Vec<(u16, u16)>>, n: usize) -> Vec<Vec<u16>> {
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

pub(super) fn sparse(row: &[u16]) -> Vec<(u16, u16)> {
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
pub(super) fn trust(out: &EpochOutput) -> Vec<u16> {
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
pub(super) fn run_epoch(s: &mut Subnet, block: u64) -> Result<EpochReport, orchestra_yuma::YumaError> {
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
