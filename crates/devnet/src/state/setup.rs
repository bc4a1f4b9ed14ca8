//! Devnet administration calls ([`AdminCall`]): creating subnets, owner hyperparameters, stake
//! and the faucet, for local setup.

use super::*;

impl DevnetState {
    // ------------------------------------------------------------------ admin

    /// Applies a devnet administration call signed by `who`.
    pub fn apply_admin(&mut self, who: &str, call: &AdminCall) -> Result<Changes, ApiError> {
        match call {
            AdminCall::CreateSubnet { netuid, owner_hotkey, hyperparams } => {
                self.create_subnet(who, *netuid, owner_hotkey.as_deref(), hyperparams)
            }
            AdminCall::SetHyperparams { netuid, hyperparams } => {
                let s = self.subnet(*netuid)?;
                if s.owner_coldkey != who {
                    return Err(bad_origin(format!("only the owner of subnet {netuid} may set its hyperparameters")));
                }
                let params = s.params.patched(hyperparams)?;
                if usize::from(params.max_allowed_uids) < s.neurons.len() {
                    return Err(ApiError::dispatch(
                        ADMIN_UTILS,
                        "MaxAllowedUIdsLessThanCurrentUIds",
                        format!("{} uids are registered", s.neurons.len()),
                    ));
                }
                self.subnet_mut(*netuid)?.params = params;
                Ok(Changes::subnet(*netuid))
            }
            AdminCall::Faucet { amount } => {
                if *amount > MAX_FAUCET {
                    return Err(bad_request(format!("the faucet hands out at most {MAX_FAUCET} rao a call")));
                }
                self.credit(who, *amount);
                Ok(Changes::meta())
            }
            AdminCall::Transfer { dest, amount } => {
                PublicKey::from_ss58(dest).map_err(|e| bad_request(format!("dest {dest:?}: {e}")))?;
                if self.balance(who) < *amount {
                    return Err(ApiError::dispatch(
                        BALANCES,
                        "InsufficientBalance",
                        format!("balance {} rao, transfer {amount}", self.balance(who)),
                    ));
                }
                if let Some(b) = self.balances.get_mut(who) {
                    *b -= amount;
                }
                self.credit(dest, *amount);
                Ok(Changes::meta())
            }
            AdminCall::AddStake { netuid, hotkey, amount } => self.add_stake(who, *netuid, hotkey, *amount),
            AdminCall::AdvanceBlocks { .. } => Err(bad_request("advance_blocks is handled by the block producer")),
        }
    }

    pub(super) fn create_subnet(
        &mut self,
        owner: &str,
        netuid: Option<NetUid>,
        owner_hotkey: Option<&str>,
        patch: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Changes, ApiError> {
        let netuid = match netuid {
            Some(0) => return Err(bad_request("netuid 0 is the root network")),
            Some(n) if n >= orchestra_chain::encode::GLOBAL_MAX_SUBNET_COUNT => {
                return Err(bad_request(format!("netuid {n} is out of range")));
            }
            Some(n) => n,
            None => (1..orchestra_chain::encode::GLOBAL_MAX_SUBNET_COUNT)
                .find(|n| !self.subnets.contains_key(n))
                .ok_or_else(|| subtensor("SubnetLimitReached", "no netuid left"))?,
        };
        if self.subnets.contains_key(&netuid) {
            return Err(subtensor("SubnetExists", format!("subnet {netuid} exists")));
        }
        let params = SubnetParams::devnet_defaults(self.settings.default_tempo).patched(patch)?;
        if let Some(hk) = owner_hotkey {
            PublicKey::from_ss58(hk).map_err(|e| bad_request(format!("owner_hotkey {hk:?}: {e}")))?;
            if self.hotkey_owner.get(hk).is_some_and(|c| c != owner) {
                return Err(subtensor("NonAssociatedColdKey", format!("{hk} belongs to another coldkey")));
            }
        }
        let now = self.block;
        let mut subnet = Subnet {
            netuid,
            owner_coldkey: owner.to_string(),
            owner_hotkey: owner_hotkey.map(str::to_string),
            created_at: now,
            params,
            neurons: Vec::new(),
            stake: BTreeMap::new(),
            pending_emission: 0,
            last_epoch_block: 0,
            weight_commits: BTreeMap::new(),
            commitments: BTreeMap::new(),
            commitment_space: BTreeMap::new(),
        };
        if let Some(hk) = owner_hotkey {
            // The owner's hotkey takes uid 0, as `register_network` does.
            subnet.neurons.push(Neuron::new(hk.to_string(), now));
            self.hotkey_owner.insert(hk.to_string(), owner.to_string());
        }
        self.subnets.insert(netuid, subnet);
        tracing::info!(netuid, owner, "subnet created");
        Ok(Changes::both(netuid))
    }

    /// `add_stake`: moves `amount` rao from the coldkey's balance to `hotkey`'s alpha on the
    /// subnet (1:1; the devnet has no AMM).
    pub(super) fn add_stake(
        &mut self,
        coldkey: &str,
        netuid: NetUid,
        hotkey: &str,
        amount: u64,
    ) -> Result<Changes, ApiError> {
        self.subnet(netuid)?;
        if amount == 0 {
            return Err(subtensor("AmountTooLow", "stake amount 0"));
        }
        if !self.hotkey_owner.contains_key(hotkey) {
            return Err(subtensor("HotKeyAccountNotExists", format!("{hotkey} has never been registered")));
        }
        if self.balance(coldkey) < amount {
            return Err(subtensor(
                "NotEnoughBalanceToStake",
                format!("balance {} rao, stake {amount}", self.balance(coldkey)),
            ));
        }
        if let Some(b) = self.balances.get_mut(coldkey) {
            *b -= amount;
        }
        let s = self.subnet_mut(netuid)?;
        let st = s.stake.entry(hotkey.to_string()).or_insert(0);
        *st = st.saturating_add(amount);
        Ok(Changes::both(netuid))
    }
}
