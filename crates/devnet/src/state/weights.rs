//! Weights: `set_weights` checks and storage, and commit-reveal v2 (`commit_weights` /
//! `reveal_weights`).

use super::*;

impl DevnetState {
    /// `do_set_weights` checks, in the chain's order (reference 3.4); returns what to store.
    pub(super) fn check_set_weights(
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

    pub(super) fn store_weights(&mut self, netuid: NetUid, p: PreparedWeights) {
        let now = self.block;
        if let Some(n) = self.subnets.get_mut(&netuid).and_then(|s| s.neurons.get_mut(usize::from(p.uid))) {
            n.weights = p.row;
            if p.update_last {
                n.last_update = now;
            }
        }
    }

    /// `do_commit_weights` (commit-reveal v2).
    pub(super) fn commit_weights(
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
    pub(super) fn reveal_weights(
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
}

/// What `check_set_weights` approved.
pub(super) struct PreparedWeights {
    uid: u16,
    row: Vec<(u16, u16)>,
    update_last: bool,
}
