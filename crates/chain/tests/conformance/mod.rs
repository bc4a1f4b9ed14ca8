//! The chain conformance scenario, run through the `Chain` and `ChainAdmin` traits on any
//! backend: crates/chain/tests/conformance_subtensor.rs runs it on the real subtensor runtime
//! (spec 218 under chopsticks), crates/devnet/tests/conformance.rs on the in-process devnet.
//! Both print the same report, so the two outputs can be compared line by line.
//!
//! What it asserts holds on both backends; what differs (stake units, epoch outputs) is printed
//! and listed in the orchestra-chain crate docs.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use orchestra_chain::{
    AxonServe, Chain, ChainAdmin, ChainError, Hyperparam, Metagraph, NetUid, WeightsReveal, WeightsSubmission,
};

/// Tempo of the scenario's subnet.
pub const TEMPO: u16 = 10;
/// Stake put on the validator, in rao (100 TAO).
pub const VALIDATOR_STAKE: u64 = 100_000_000_000;

/// The dev keys of the scenario: owner //Alice (coldkey of everyone, uid 0), validator //Bob,
/// miners //Charlie and //Dave.
pub const OWNER: &str = "//Alice";
pub const VALIDATOR: &str = "//Bob";
pub const MINERS: [&str; 2] = ["//Charlie", "//Dave"];

/// The clients the scenario drives: `clients[uri]` signs with hotkey `uri` and coldkey //Alice.
pub struct Env {
    pub name: &'static str,
    pub admin: Arc<dyn ChainAdmin>,
    pub owner: Arc<dyn Chain>,
    pub validator: Arc<dyn Chain>,
    pub miners: Vec<Arc<dyn Chain>>,
}

/// What the scenario observed.
#[derive(Debug, Default)]
pub struct Report {
    pub netuid: NetUid,
    pub steps: Vec<(String, Duration)>,
    pub final_metagraph: Metagraph,
    pub reveal: Option<String>,
}

fn ss58(uri: &str) -> String {
    orchestra_keys::Keypair::from_uri(uri).expect("dev key").ss58().to_string()
}

fn epoch(block: u64, netuid: NetUid) -> u64 {
    (block + u64::from(netuid) + 1) / (u64::from(TEMPO) + 1)
}

struct Clock {
    t: Instant,
    steps: Vec<(String, Duration)>,
    name: &'static str,
}

impl Clock {
    fn step(&mut self, what: &str) {
        let d = self.t.elapsed();
        println!("[{}] {what}: {:.2} s", self.name, d.as_secs_f64());
        self.steps.push((what.to_string(), d));
        self.t = Instant::now();
    }
}

fn print_metagraph(name: &str, what: &str, m: &Metagraph) {
    println!("[{name}] metagraph {what} (block {}):", m.block);
    for n in &m.neurons {
        println!(
            "[{name}]   uid {} {} stake {} trust {} consensus {} incentive {} dividends {} emission {} permit {} \
             last_update {} active {} axon {}:{}",
            n.uid,
            &n.hotkey[..8],
            n.stake,
            n.trust,
            n.consensus,
            n.incentive,
            n.dividends,
            n.emission,
            n.validator_permit,
            n.last_update,
            n.active,
            orchestra_chain::int_to_ip(n.axon.ip, n.axon.ip_type).map(|i| i.to_string()).unwrap_or_default(),
            n.axon.port
        );
    }
}

/// Advances so that the next block is in epoch `target` of the subnet (plus `into` blocks).
async fn advance_to_epoch(env: &Env, netuid: NetUid, target: u64, into: u64) -> Result<(), ChainError> {
    let now = env.owner.block_number().await?;
    // First block B with epoch(B) == target: (B + netuid + 1) = target * (tempo + 1).
    let first = (target * (u64::from(TEMPO) + 1)).saturating_sub(u64::from(netuid) + 1) + into;
    if first > now + 1 {
        let n = u32::try_from(first - now - 1).map_err(|_| ChainError::InvalidInput("too many blocks".into()))?;
        env.admin.advance_blocks(n).await?;
    }
    Ok(())
}

/// Runs the scenario; panics on a broken expectation (the message names the step).
pub async fn run(env: &Env) -> Report {
    let name = env.name;
    let mut clock = Clock { t: Instant::now(), steps: Vec::new(), name };
    let owner_hot = ss58(OWNER);
    let validator_hot = ss58(VALIDATOR);
    let miner_hots: Vec<String> = MINERS.iter().map(|m| ss58(m)).collect();

    // 1. A subnet, tuned for a quick run.
    let netuid = env.admin.create_subnet(&owner_hot).await.expect("create_subnet");
    println!("[{name}] netuid {netuid}");
    for p in [
        Hyperparam::Tempo(TEMPO),
        Hyperparam::WeightsRateLimit(0),
        Hyperparam::CommitRevealEnabled(false),
        Hyperparam::MinAllowedWeights(1),
        Hyperparam::TargetRegistrationsPerInterval(16),
        Hyperparam::MaxRegistrationsPerBlock(16),
        Hyperparam::WeightsMinStake(0),
        Hyperparam::ServingRateLimit(0),
    ] {
        env.admin.set_hyperparam(netuid, p).await.unwrap_or_else(|e| panic!("[{name}] set {p:?}: {e}"));
    }
    clock.step("create subnet + 8 hyperparameters");
    let h = env.owner.hyperparams(netuid).await.expect("hyperparams");
    println!("[{name}] hyperparams {h:?}");
    assert_eq!(h.tempo, TEMPO, "[{name}] tempo");
    assert_eq!(h.weights_rate_limit, 0, "[{name}] weights_rate_limit");
    assert!(!h.commit_reveal_weights_enabled, "[{name}] commit-reveal off");
    assert_eq!(h.min_allowed_weights, 1, "[{name}] min_allowed_weights");
    assert!(h.registration_allowed, "[{name}] registration allowed");
    clock.step("read hyperparameters");

    // 2. Registration (burned, signed by the coldkey //Alice for each hotkey).
    for hot in std::iter::once(&validator_hot).chain(&miner_hots) {
        env.owner.burned_register(netuid, hot).await.unwrap_or_else(|e| panic!("[{name}] burned_register {hot}: {e}"));
    }
    let mut uids = Vec::new();
    for hot in std::iter::once(&validator_hot).chain(&miner_hots) {
        uids.push(env.owner.uid_of(netuid, hot).await.expect("uid_of").unwrap_or_else(|| panic!("{hot} has no uid")));
    }
    println!("[{name}] uids validator {} miners {:?}", uids[0], &uids[1..]);
    clock.step("burned_register ×3 + uid_of");

    // 3. Stake on the validator, axons for everyone (a public IP: subtensor refuses loopback).
    env.admin.add_stake(netuid, &validator_hot, VALIDATOR_STAKE).await.expect("add_stake");
    let ip = "8.8.8.8".parse().expect("ip");
    for (i, c) in std::iter::once(&env.validator).chain(&env.miners).enumerate() {
        let port = 8091 + u16::try_from(i).expect("port");
        c.serve_axon(netuid, &AxonServe::new(ip, port, 0)).await.unwrap_or_else(|e| panic!("[{name}] serve_axon: {e}"));
    }
    clock.step("add_stake + serve_axon ×3");
    let m = env.owner.metagraph(netuid).await.expect("metagraph");
    print_metagraph(name, "after registration", &m);
    assert_eq!(m.neurons.len(), 4, "[{name}] owner + 3 registered");
    for (hot, uid) in std::iter::once(&validator_hot).chain(&miner_hots).zip(&uids) {
        let n = m.neurons.iter().find(|n| n.uid == *uid).expect("neuron");
        assert_eq!(&n.hotkey, hot, "[{name}] hotkey of uid {uid}");
        assert_eq!(n.coldkey, owner_hot, "[{name}] coldkey of uid {uid}");
        assert_eq!(
            orchestra_chain::int_to_ip(n.axon.ip, n.axon.ip_type).map(|i| i.to_string()).as_deref(),
            Some("8.8.8.8")
        );
    }
    let v = m.neurons.iter().find(|n| n.uid == uids[0]).expect("validator");
    assert!(v.stake > 0, "[{name}] validator stake after add_stake");
    clock.step("metagraph");

    // 4. Validator permits are handed out at an epoch: run one, then set weights.
    let b = env.owner.block_number().await.expect("block");
    advance_to_epoch(env, netuid, epoch(b, netuid) + 1, 1).await.expect("advance");
    let w = WeightsSubmission::from_float(&uids[1..], &[0.6, 0.4], h.weights_version).expect("weights");
    env.validator.set_weights(netuid, &w).await.unwrap_or_else(|e| panic!("[{name}] set_weights: {e}"));
    clock.step("epoch + set_weights");

    // 5. A commitment, read back.
    env.miners[0].set_commitment(netuid, b"orchestra conformance").await.expect("set_commitment");
    let c = env.owner.commitment(netuid, &miner_hots[0]).await.expect("commitment").expect("a commitment");
    assert_eq!(c.fields.len(), 1, "[{name}] one field");
    assert_eq!(
        c.fields[0],
        orchestra_chain::CommitmentData::Raw(b"orchestra conformance".to_vec()),
        "[{name}] commitment"
    );
    clock.step("set_commitment + read");

    // 6. Commit-reveal v2: commit now, reveal in the next epoch.
    env.admin.set_hyperparam(netuid, Hyperparam::CommitRevealEnabled(true)).await.expect("cr on");
    env.admin.set_hyperparam(netuid, Hyperparam::CommitRevealPeriod(1)).await.expect("cr period");
    let reveal = WeightsReveal::new(
        &WeightsSubmission::from_float(&uids[1..], &[0.3, 0.7], h.weights_version).expect("weights"),
        vec![7, 8, 9],
    );
    let committed = env.validator.commit_weights_for(netuid, &reveal).await.expect("commit_weights");
    let commit_block = match committed.block_number {
        Some(b) => b,
        None => env.owner.block_number().await.expect("block"),
    };
    advance_to_epoch(env, netuid, epoch(commit_block, netuid) + 1, 1).await.expect("advance");
    let revealed = env.validator.reveal_weights(netuid, &reveal).await;
    println!("[{name}] commit at block {commit_block}, reveal: {revealed:?}");
    let reveal_result = revealed.as_ref().map(|_| "ok".to_string()).map_err(|e| e.to_string());
    revealed.unwrap_or_else(|e| panic!("[{name}] reveal_weights: {e}"));
    env.admin.set_hyperparam(netuid, Hyperparam::CommitRevealEnabled(false)).await.expect("cr off");
    clock.step("commit-reveal");

    // 7. Weights again, then past a tempo: the epoch's outputs per uid.
    env.validator.set_weights(netuid, &w).await.unwrap_or_else(|e| panic!("[{name}] set_weights 2: {e}"));
    let b = env.owner.block_number().await.expect("block");
    advance_to_epoch(env, netuid, epoch(b, netuid) + 2, 0).await.expect("advance");
    env.admin.advance_blocks(1).await.expect("advance");
    let m = env.owner.metagraph(netuid).await.expect("metagraph");
    print_metagraph(name, "after two epochs", &m);
    let v = m.neurons.iter().find(|n| n.uid == uids[0]).expect("validator");
    assert!(v.last_update > 0, "[{name}] validator last_update");
    clock.step("epochs + metagraph");

    // 8. A payment: a transfer with a bound remark, read back from its block as a payee would.
    payment(env, &mut clock).await;

    Report { netuid, steps: clock.steps, final_metagraph: m, reveal: reveal_result.ok() }
}

/// Transfers 1.5 TAO //Alice → //Ferdie with a reference remark, then reads the extrinsic back:
/// signer, success, the `Balances.Transfer` and `System.Remarked` events, finality; a plain
/// transfer has no remark; an unknown extrinsic is not found; an overdraft fails.
async fn payment(env: &Env, clock: &mut Clock) {
    let name = env.name;
    let (alice, ferdie) = (ss58(OWNER), ss58("//Ferdie"));
    let amount = 1_500_000_000;
    let before = env.owner.free_balance(&ferdie).await.expect("free_balance");
    let reference = b"orchestra:key:conformance";
    let paid =
        env.owner.transfer(&ferdie, amount, Some(reference)).await.unwrap_or_else(|e| panic!("[{name}] transfer: {e}"));
    println!("[{name}] payment {paid:?}");
    let at = paid.tx_ref().expect("the outcome names the extrinsic");
    let early = env.owner.extrinsic_receipt(&at).await.expect("receipt").expect("the extrinsic is in its block");
    println!("[{name}] receipt before the next block: finalized {}", early.finalized);
    env.admin.advance_blocks(1).await.expect("advance");
    let r = env.owner.extrinsic_receipt(&at).await.expect("receipt").expect("the extrinsic is in its block");
    println!("[{name}] receipt {r:?}");
    assert!(r.finalized, "[{name}] finalized after the next block");
    assert!(r.success, "[{name}] success");
    assert_eq!(r.signer.as_deref(), Some(alice.as_str()), "[{name}] signer");
    assert_eq!(r.paid(&alice, &ferdie), amount, "[{name}] Balances.Transfer to //Ferdie");
    assert!(r.has_remark(&alice, reference), "[{name}] System.Remarked with the reference");
    assert!(!r.has_remark(&alice, b"something else"), "[{name}] only that remark");
    let after = env.owner.free_balance(&ferdie).await.expect("free_balance");
    assert_eq!(after - before, amount, "[{name}] //Ferdie's free balance grew by the amount");

    let plain = env.owner.transfer(&ferdie, 1_000_000, None).await.expect("plain transfer");
    env.admin.advance_blocks(1).await.expect("advance");
    let r = env.owner.extrinsic_receipt(&plain.tx_ref().expect("ref")).await.expect("receipt").expect("found");
    assert!(r.remarks.is_empty() && r.paid(&alice, &ferdie) == 1_000_000, "[{name}] a plain transfer: {r:?}");

    let mut unknown = at.clone();
    unknown.extrinsic_hash = format!("0x{}", "ab".repeat(32));
    assert!(env.owner.extrinsic_receipt(&unknown).await.expect("receipt").is_none(), "[{name}] unknown extrinsic");
    let over = env.owner.transfer(&ferdie, u64::MAX / 2, Some(reference)).await;
    println!("[{name}] overdraft: {over:?}");
    assert!(over.is_err(), "[{name}] an overdraft fails");
    clock.step("transfer with remark + receipt");
}
