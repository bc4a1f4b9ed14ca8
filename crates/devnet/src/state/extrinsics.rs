//! Signed extrinsics: the dispatch of a [`DevnetCall`] and the calls other than weights
//! (transfers, `serve_axon`, commitments, `burned_register`), with the block's extrinsic log.

use super::subnet::replace_neuron;
use super::*;

impl DevnetState {
    // ------------------------------------------------------------------ extrinsics

    /// Applies `call` signed by `who` (an SS58 whose signature the caller verified) in the
    /// current block.
    pub fn apply(&mut self, who: &str, call: &DevnetCall) -> Result<Changes, ApiError> {
        match call {
            DevnetCall::SetWeights { netuid, mechanism, uids, weights, version_key } => {
                // The dispatchable refuses direct weights first when commit-reveal is on.
                if self.subnets.get(netuid).is_some_and(|s| s.params.commit_reveal_weights_enabled) {
                    return Err(subtensor("CommitRevealEnabled", "this subnet takes weights by commit-reveal only"));
                }
                let prepared = self.check_set_weights(who, *netuid, *mechanism, uids, weights, *version_key)?;
                self.store_weights(*netuid, prepared);
                Ok(Changes::subnet(*netuid))
            }
            DevnetCall::CommitWeights { netuid, mechanism, commit_hash } => {
                self.commit_weights(who, *netuid, *mechanism, commit_hash)
            }
            DevnetCall::RevealWeights { netuid, mechanism, uids, values, salt, version_key } => {
                self.reveal_weights(who, *netuid, *mechanism, uids, values, salt, *version_key)
            }
            DevnetCall::ServeAxon(args) => self.serve_axon(who, args),
            DevnetCall::SetCommitment { netuid, fields } => self.set_commitment(who, *netuid, fields),
            DevnetCall::BurnedRegister { netuid, hotkey } => self.burned_register(who, *netuid, hotkey),
            DevnetCall::Transfer { dest, amount, remark } => self.transfer(who, dest, *amount, remark.as_deref()),
        }
    }

    /// `transfer_keep_alive` (batched with `remark_with_event` when there is a remark): moves
    /// `amount` rao and records the extrinsic with its `Transfer` and `Remarked` events in the
    /// current block. The existential deposit is not modelled.
    pub(super) fn transfer(
        &mut self,
        who: &str,
        dest: &str,
        amount: u64,
        remark: Option<&str>,
    ) -> Result<Changes, ApiError> {
        PublicKey::from_ss58(dest).map_err(|e| bad_request(format!("dest {dest:?}: {e}")))?;
        let remark = match remark {
            None => None,
            Some(h) => Some(
                hex::decode(h.trim_start_matches("0x"))
                    .map_err(|e| bad_request(format!("remark {h:?} is not hex: {e}")))?,
            ),
        };
        if self.balance(who) < amount {
            return Err(ApiError::dispatch(
                BALANCES,
                "InsufficientBalance",
                format!("balance {} rao, transfer {amount}", self.balance(who)),
            ));
        }
        if let Some(b) = self.balances.get_mut(who) {
            *b -= amount;
        }
        self.credit(dest, amount);
        let block = self.block;
        let log = self.extrinsics.entry(block).or_default();
        let index = log.len() as u32;
        let remark_hex = remark.as_deref().map(hex::encode).unwrap_or_default();
        let hash =
            remark_hash(format!("devnet-extrinsic/{block}/{index}/{who}/{dest}/{amount}/{remark_hex}").as_bytes());
        let extrinsic_hash = format!("0x{}", hex::encode(hash));
        log.push(ExtrinsicReceipt {
            block_number: block,
            block_hash: None,
            extrinsic_index: index,
            extrinsic_hash: extrinsic_hash.clone(),
            signer: Some(who.to_string()),
            finalized: false,
            success: true,
            transfers: vec![TransferEvent { from: who.to_string(), to: dest.to_string(), amount }],
            remarks: remark.iter().map(|r| RemarkEvent { sender: who.to_string(), hash: remark_hash(r) }).collect(),
        });
        Ok(Changes { meta: true, extrinsics: true, extrinsic_hash: Some(extrinsic_hash), ..Changes::default() })
    }

    /// The recorded extrinsics of `block`, each marked finalized when the block is (every block
    /// before the one being built).
    pub fn block_extrinsics(&self, block: u64) -> orchestra_chain::devnet_api::BlockExtrinsics {
        let finalized = block < self.block;
        let extrinsics = self
            .extrinsics
            .get(&block)
            .map(|v| {
                v.iter()
                    .cloned()
                    .map(|mut x| {
                        x.finalized = finalized;
                        x
                    })
                    .collect()
            })
            .unwrap_or_default();
        orchestra_chain::devnet_api::BlockExtrinsics { block, finalized, extrinsics }
    }

    /// `do_serve_axon` (serving.rs): registered, ip type, ip, rate limit, port.
    pub(super) fn serve_axon(&mut self, who: &str, a: &ServeAxonArgs) -> Result<Changes, ApiError> {
        let now = self.block;
        let allow_loopback = self.settings.allow_loopback_axons;
        let s = self.subnet(a.netuid)?;
        let uid = s.uid_of(who).ok_or_else(|| {
            subtensor("HotKeyNotRegisteredInNetwork", format!("{who} is not registered on {}", a.netuid))
        })?;
        if a.ip_type != 4 && a.ip_type != 6 {
            return Err(subtensor("InvalidIpType", format!("ip_type {} (expected 4 or 6)", a.ip_type)));
        }
        let ip_ok = match a.ip_type {
            4 => a.ip < u128::from(u32::MAX) && (allow_loopback || a.ip != 0x7f00_0001),
            _ => a.ip != u128::MAX && (allow_loopback || a.ip != 1),
        };
        if !ip_ok {
            return Err(subtensor("InvalidIpAddress", format!("ip {} is not a valid IPv{} address", a.ip, a.ip_type)));
        }
        let prev = s.neurons[usize::from(uid)].axon;
        let limit = s.params.serving_rate_limit;
        if !(limit == 0 || prev.block == 0 || now.saturating_sub(prev.block) >= limit) {
            return Err(subtensor(
                "ServingRateLimitExceeded",
                format!("last served at block {}, rate limit {limit} blocks", prev.block),
            ));
        }
        if a.port == 0 {
            return Err(subtensor("InvalidPort", "port 0"));
        }
        let s = self.subnet_mut(a.netuid)?;
        s.neurons[usize::from(uid)].axon = AxonInfo {
            block: now,
            version: a.version,
            ip: a.ip,
            port: a.port,
            ip_type: a.ip_type,
            protocol: a.protocol,
        };
        Ok(Changes::subnet(a.netuid))
    }

    /// `Commitments.set_commitment`: registered hotkey, ≤ 3 fields, `MaxSpace` per epoch.
    pub(super) fn set_commitment(
        &mut self,
        who: &str,
        netuid: NetUid,
        fields: &[CommitmentData],
    ) -> Result<Changes, ApiError> {
        let now = self.block;
        let s = self.subnet(netuid)?;
        if s.uid_of(who).is_none() {
            return Err(ApiError::dispatch(
                COMMITMENTS,
                "AccountNotAllowedCommit",
                format!("{who} is not registered on {netuid}"),
            ));
        }
        if fields.len() > MAX_COMMITMENT_FIELDS {
            return Err(ApiError::dispatch(
                COMMITMENTS,
                "TooManyFieldsInCommitmentInfo",
                format!("{} fields, at most {MAX_COMMITMENT_FIELDS}", fields.len()),
            ));
        }
        if let Some(f) = fields.iter().find(|f| !f.fits()) {
            // The chain could not even decode such a field.
            return Err(bad_request(format!("commitment field {} is over its size bound", f.metadata_variant_name())));
        }
        let size: u64 = fields.iter().map(field_len).sum::<u64>().max(MIN_COMMITMENT_CHARGE);
        let epoch = s.epoch_index(now);
        let mut usage = s.commitment_space.get(who).copied().unwrap_or_default();
        if usage.epoch != epoch {
            usage = SpaceUsage { epoch, used: 0 };
        }
        if usage.used.saturating_add(size) > MAX_SPACE {
            return Err(ApiError::dispatch(
                COMMITMENTS,
                "SpaceLimitExceeded",
                format!("{} of {MAX_SPACE} bytes used this epoch, this commitment needs {size}", usage.used),
            ));
        }
        usage.used += size;
        let s = self.subnet_mut(netuid)?;
        s.commitment_space.insert(who.to_string(), usage);
        s.commitments.insert(who.to_string(), Commitment { block: now, fields: fields.to_vec() });
        Ok(Changes::subnet(netuid))
    }

    /// `do_burned_registration`, signed by the coldkey.
    pub(super) fn burned_register(&mut self, coldkey: &str, netuid: NetUid, hotkey: &str) -> Result<Changes, ApiError> {
        let now = self.block;
        PublicKey::from_ss58(hotkey).map_err(|e| bad_request(format!("hotkey {hotkey:?}: {e}")))?;
        if netuid == 0 {
            return Err(subtensor("RegistrationNotPermittedOnRootSubnet", "netuid 0 is the root network"));
        }
        let s = self.subnet(netuid)?;
        if !s.params.registration_allowed {
            return Err(subtensor("SubNetRegistrationDisabled", format!("registration is closed on {netuid}")));
        }
        if s.uid_of(hotkey).is_some() {
            return Err(subtensor("HotKeyAlreadyRegisteredInSubNet", format!("{hotkey} is already on {netuid}")));
        }
        let cost = s.params.burn;
        if self.balance(coldkey) < cost {
            return Err(subtensor(
                "NotEnoughBalanceToStake",
                format!("balance {} rao, registration costs {cost}", self.balance(coldkey)),
            ));
        }
        if let Some(owner) = self.hotkey_owner.get(hotkey)
            && owner != coldkey
        {
            return Err(subtensor("NonAssociatedColdKey", format!("{hotkey} belongs to another coldkey")));
        }
        let (uid, replace) = s
            .uid_for_registration(now)
            .ok_or_else(|| subtensor("NoNeuronIdAvailable", "every uid is held by the owner"))?;
        // All checks passed: mutate.
        if let Some(b) = self.balances.get_mut(coldkey) {
            *b -= cost;
        }
        self.hotkey_owner.insert(hotkey.to_string(), coldkey.to_string());
        let s = self.subnet_mut(netuid)?;
        if replace {
            replace_neuron(s, uid, hotkey, now);
        } else {
            s.neurons.push(Neuron::new(hotkey.to_string(), now));
        }
        tracing::debug!(netuid, uid, hotkey, replace, "registered");
        Ok(Changes::both(netuid))
    }
}

/// `Data::len_for_rate_limit`.
pub(super) fn field_len(f: &CommitmentData) -> u64 {
    match f {
        CommitmentData::None | CommitmentData::ResetBondsFlag => 0,
        CommitmentData::Raw(b) | CommitmentData::BigRaw(b) => b.len() as u64,
        CommitmentData::BlakeTwo256(_)
        | CommitmentData::Sha256(_)
        | CommitmentData::Keccak256(_)
        | CommitmentData::ShaThree256(_) => 32,
        CommitmentData::TimelockEncrypted { encrypted, .. } => encrypted.len() as u64,
    }
}
