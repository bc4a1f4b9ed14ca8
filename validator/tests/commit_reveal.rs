//! Commit-reveal journaling (threat model S6): the reveal is journaled (a synced write) before
//! its commit is sent, survives a crash between commit and reveal, is kept on transient
//! errors, and leaves the journal only once revealed or gone.

mod support;

use std::sync::Arc;
use std::time::Duration;

use orchestra_chain::{Chain, Metagraph};
use orchestra_validator::node::ValidatorNode;
use parking_lot::Mutex;
use support::{MockChain, MockState, hyperparams, neuron, validator_config};

const URI: &str = "//CrValidator";

fn hotkey() -> String {
    orchestra_keys::Keypair::from_uri(URI).expect("key").ss58().to_string()
}

fn state() -> Arc<Mutex<MockState>> {
    Arc::new(Mutex::new(MockState {
        block: 100,
        neurons: vec![neuron(0, &hotkey(), None), neuron(1, "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty", None)],
        hyperparams: hyperparams(true),
        reveal_from_block: 111,
        ..MockState::default()
    }))
}

async fn node(dir: &std::path::Path, st: &Arc<Mutex<MockState>>) -> Arc<ValidatorNode> {
    let chain: Arc<dyn Chain> = Arc::new(MockChain::new(&hotkey(), st.clone()));
    Arc::new(ValidatorNode::with_chain(validator_config(URI, dir, &[]), chain).await.expect("validator"))
}

async fn metagraph(st: &Arc<Mutex<MockState>>) -> Metagraph {
    MockChain::new(&hotkey(), st.clone()).metagraph(1).await.expect("metagraph")
}

/// The validator is dropped while its commit is on the wire (after the chain recorded it, before
/// any answer): the reopened validator finds the reveal in its journal and reveals it in the
/// reveal epoch.
#[tokio::test]
async fn a_crash_between_commit_and_reveal_still_reveals() {
    let dir = tempfile::tempdir().expect("tmp");
    let st = state();
    st.lock().hang_after_commit = true;
    let v = node(dir.path(), &st).await;
    let mg = metagraph(&st).await;
    let task = tokio::spawn({
        let v = v.clone();
        async move { v.submit_weights(&mg, &[(1, 1.0)]).await }
    });
    for _ in 0..1000 {
        if !st.lock().commits.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(st.lock().commits.len(), 1, "the commit reached the chain");
    // Crash: the submission never finishes and the node goes away with its store.
    task.abort();
    let _ = task.await;
    drop(v);

    let v = node(dir.path(), &st).await;
    let j = v.weight_journal().expect("journal");
    assert_eq!(j.pending_reveals.len(), 1, "the reveal was journaled before the commit: {j:?}");
    let committed = j.pending_reveals[0].reveal.clone();
    {
        let mut s = st.lock();
        s.hang_after_commit = false;
        s.block = 112;
    }
    let mg = metagraph(&st).await;
    v.submit_weights(&mg, &[(1, 1.0)]).await;
    assert_eq!(st.lock().reveals, vec![committed.clone()], "the crashed commit was revealed");
    let j = v.weight_journal().expect("journal");
    assert!(j.pending_reveals.iter().all(|p| p.reveal != committed), "revealed reveals leave the journal");
}

/// A transient error keeps the reveal; so does `RevealTooEarly`; a later round reveals it. A
/// second commit while the first waits does not overwrite it.
#[tokio::test]
async fn transient_reveal_errors_keep_the_journal_entry() {
    let dir = tempfile::tempdir().expect("tmp");
    let st = state();
    let v = node(dir.path(), &st).await;
    v.submit_weights(&metagraph(&st).await, &[(1, 1.0)]).await;
    let first = v.weight_journal().expect("journal").pending_reveals;
    assert_eq!(first.len(), 1);

    // Too early, and a new commit meanwhile: both stay.
    st.lock().block = 105;
    v.submit_weights(&metagraph(&st).await, &[(1, 0.5), (0, 0.5)]).await;
    let j = v.weight_journal().expect("journal");
    assert_eq!(j.pending_reveals.len(), 2, "a second commit must not overwrite the first: {j:?}");
    assert_eq!(j.pending_reveals[0], first[0]);

    // In the reveal epoch, the connection fails: nothing is dropped.
    {
        let mut s = st.lock();
        s.block = 112;
        s.transient_reveal_failures = 2;
        s.hyperparams.weights_rate_limit = 1_000;
    }
    v.submit_weights(&metagraph(&st).await, &[(1, 1.0)]).await;
    let j = v.weight_journal().expect("journal");
    assert_eq!(j.pending_reveals.len(), 2, "kept on transient errors: {j:?}");
    assert!(j.pending_reveals.iter().all(|p| p.failures == 1));
    assert!(st.lock().reveals.is_empty());

    // The chain is back: both are revealed and leave the journal.
    st.lock().block = 113;
    v.submit_weights(&metagraph(&st).await, &[(1, 1.0)]).await;
    assert_eq!(st.lock().reveals.len(), 2);
    assert!(v.weight_journal().expect("journal").pending_reveals.is_empty());
}

/// A reveal the chain says it has no commit for (the commit never landed) leaves the journal.
#[tokio::test]
async fn a_reveal_without_a_commit_is_dropped() {
    let dir = tempfile::tempdir().expect("tmp");
    let st = state();
    let v = node(dir.path(), &st).await;
    v.submit_weights(&metagraph(&st).await, &[(1, 1.0)]).await;
    {
        let mut s = st.lock();
        s.commits.clear();
        s.block = 112;
        s.hyperparams.weights_rate_limit = 1_000;
    }
    v.submit_weights(&metagraph(&st).await, &[(1, 1.0)]).await;
    assert!(v.weight_journal().expect("journal").pending_reveals.is_empty());
}

#[test]
fn reveal_outcomes() {
    use orchestra_chain::ChainError;
    use orchestra_validator::node::{RevealOutcome, reveal_expiry_blocks, reveal_outcome};
    let d = |e: &str| {
        Err(ChainError::Dispatch { pallet: "SubtensorModule".into(), error: e.into(), detail: String::new() })
    };
    let exp = reveal_expiry_blocks(10, 1);
    assert_eq!(exp, 33);
    assert_eq!(reveal_outcome(&Ok(Default::default()), 100, 112, exp), RevealOutcome::Revealed);
    assert_eq!(reveal_outcome(&d("RevealTooEarly"), 100, 105, exp), RevealOutcome::Keep);
    assert_eq!(reveal_outcome(&Err(ChainError::Rpc("x".into())), 100, 112, exp), RevealOutcome::Keep);
    assert_eq!(reveal_outcome(&d("HotKeyNotRegisteredInSubNet"), 100, 112, exp), RevealOutcome::Keep);
    assert_eq!(reveal_outcome(&d("ExpiredWeightCommit"), 100, 112, exp), RevealOutcome::Gone);
    assert_eq!(reveal_outcome(&d("NoWeightsCommitFound"), 100, 112, exp), RevealOutcome::Gone);
    assert_eq!(
        reveal_outcome(&Err(ChainError::Rpc("x".into())), 100, 134, exp),
        RevealOutcome::Gone,
        "past its window"
    );
}
