//! A scriptable in-memory chain for validator tests: a fixed metagraph, commit-reveal that
//! checks reveals against the committed hashes, and failures on demand.

#![allow(dead_code)]

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use orchestra_chain::{
    AxonInfo, AxonServe, Chain, ChainError, Commitment, ExtrinsicReceipt, Hyperparams, Metagraph, NetUid, NeuronInfo,
    TxOutcome, TxRef, WeightsReveal, WeightsSubmission,
};
use parking_lot::Mutex;

/// What the mock chain holds and does.
#[derive(Debug, Default)]
pub struct MockState {
    pub block: u64,
    pub neurons: Vec<NeuronInfo>,
    pub hyperparams: Hyperparams,
    /// Commit hashes with the block they landed at.
    pub commits: Vec<([u8; 32], u64)>,
    /// Reveals that matched a commit.
    pub reveals: Vec<WeightsReveal>,
    pub set_weights: Vec<WeightsSubmission>,
    /// Reveals are refused as `RevealTooEarly` before this block.
    pub reveal_from_block: u64,
    /// The next N reveal calls fail with a transient RPC error.
    pub transient_reveal_failures: u32,
    /// After recording a commit, never answer (the validator "crashes" while it waits).
    pub hang_after_commit: bool,
}

/// The mock; clones share state.
#[derive(Debug, Clone)]
pub struct MockChain {
    pub hotkey: String,
    pub state: Arc<Mutex<MockState>>,
}

pub fn hyperparams(commit_reveal: bool) -> Hyperparams {
    Hyperparams {
        tempo: 10,
        min_allowed_weights: 1,
        max_weights_limit: u16::MAX,
        weights_rate_limit: 0,
        commit_reveal_weights_enabled: commit_reveal,
        commit_reveal_period: 1,
        ..Hyperparams::default()
    }
}

pub fn neuron(uid: u16, hotkey: &str, axon: Option<(IpAddr, u16)>) -> NeuronInfo {
    let axon = match axon {
        Some((ip, port)) => {
            let (ip, ip_type) = orchestra_chain::ip_to_int(ip);
            AxonInfo { block: 1, version: 1, ip, port, ip_type, protocol: 4 }
        }
        None => AxonInfo::default(),
    };
    NeuronInfo {
        uid,
        hotkey: hotkey.to_string(),
        validator_permit: uid == 0,
        stake: 1_000,
        axon,
        ..NeuronInfo::default()
    }
}

impl MockChain {
    pub fn new(hotkey: &str, state: Arc<Mutex<MockState>>) -> Self {
        MockChain { hotkey: hotkey.to_string(), state }
    }

    fn account(&self) -> [u8; 32] {
        orchestra_keys::PublicKey::from_ss58(&self.hotkey).expect("hotkey").0
    }
}

fn dispatch(error: &str) -> ChainError {
    ChainError::Dispatch { pallet: "SubtensorModule".into(), error: error.into(), detail: String::new() }
}

fn landed(block: u64) -> TxOutcome {
    TxOutcome { block_number: Some(block), ..TxOutcome::default() }
}

#[async_trait]
impl Chain for MockChain {
    fn describe(&self) -> String {
        "mock chain".into()
    }

    // Key payments are not part of these tests: the mock holds no balances.
    async fn free_balance(&self, _account: &str) -> Result<u64, ChainError> {
        Ok(0)
    }

    async fn transfer(&self, _dest: &str, _amount: u64, _remark: Option<&[u8]>) -> Result<TxOutcome, ChainError> {
        Err(ChainError::DispatchOther("the mock chain has no balances".into()))
    }

    async fn extrinsic_receipt(&self, _at: &TxRef) -> Result<Option<ExtrinsicReceipt>, ChainError> {
        Ok(None)
    }

    fn hotkey(&self) -> Option<&str> {
        Some(&self.hotkey)
    }

    async fn block_number(&self) -> Result<u64, ChainError> {
        Ok(self.state.lock().block)
    }

    async fn hyperparams(&self, _netuid: NetUid) -> Result<Hyperparams, ChainError> {
        Ok(self.state.lock().hyperparams.clone())
    }

    async fn metagraph(&self, netuid: NetUid) -> Result<Metagraph, ChainError> {
        let s = self.state.lock();
        Ok(Metagraph { netuid, block: s.block, neurons: s.neurons.clone() })
    }

    async fn serve_axon(&self, _netuid: NetUid, _axon: &AxonServe) -> Result<TxOutcome, ChainError> {
        Ok(landed(self.state.lock().block))
    }

    async fn set_weights(&self, _netuid: NetUid, weights: &WeightsSubmission) -> Result<TxOutcome, ChainError> {
        let mut s = self.state.lock();
        s.set_weights.push(weights.clone());
        Ok(landed(s.block))
    }

    async fn commit_weights(&self, _netuid: NetUid, _mechanism: u8, hash: [u8; 32]) -> Result<TxOutcome, ChainError> {
        let hang = {
            let mut s = self.state.lock();
            let b = s.block;
            s.commits.push((hash, b));
            s.hang_after_commit
        };
        if hang {
            std::future::pending::<()>().await;
        }
        Ok(landed(self.state.lock().block))
    }

    async fn reveal_weights(&self, netuid: NetUid, reveal: &WeightsReveal) -> Result<TxOutcome, ChainError> {
        let hash = reveal.commit_hash(&self.account(), netuid);
        let mut s = self.state.lock();
        if s.transient_reveal_failures > 0 {
            s.transient_reveal_failures -= 1;
            return Err(ChainError::Rpc("connection reset while revealing".into()));
        }
        let Some(i) = s.commits.iter().position(|(h, _)| *h == hash) else {
            return Err(dispatch("NoWeightsCommitFound"));
        };
        if s.block < s.reveal_from_block {
            return Err(dispatch("RevealTooEarly"));
        }
        s.commits.remove(i);
        s.reveals.push(reveal.clone());
        Ok(landed(s.block))
    }

    async fn set_commitment(&self, _netuid: NetUid, _data: &[u8]) -> Result<TxOutcome, ChainError> {
        Ok(landed(self.state.lock().block))
    }

    async fn commitment(&self, _netuid: NetUid, _hotkey: &str) -> Result<Option<Commitment>, ChainError> {
        Ok(None)
    }

    async fn burned_register(&self, _netuid: NetUid, _hotkey: &str) -> Result<TxOutcome, ChainError> {
        Ok(landed(self.state.lock().block))
    }
}

/// A validator configuration for tests: a dev key, a data dir, loopback API on a free port,
/// internal addresses allowed (the stub miners are on loopback).
pub fn validator_config(
    uri: &str,
    data: &std::path::Path,
    extra: &[&str],
) -> orchestra_validator::node::ValidatorConfig {
    use clap::Parser;
    let data = data.display().to_string();
    let mut args = vec![
        "validator",
        "--uri",
        uri,
        "--data-dir",
        &data,
        "--api.host",
        "127.0.0.1",
        "--api.port",
        "0",
        "--net.allow_private",
        "--ledger.publish_root",
        "false",
    ];
    args.extend_from_slice(extra);
    orchestra_validator::node::ValidatorConfig::try_parse_from(args).expect("validator config")
}
