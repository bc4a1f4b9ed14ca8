//! `redteam-miner`: a hostile or lazy miner as a real process on a local network (devnet only).
//! It runs the honest pipeline (`orchestra_miner::pipeline::MinerCore`) and then applies one
//! [`Strategy`] of `orchestra_testkit::redteam` before answering, announces its axon on the
//! devnet and prints `ready port=<port>` once it serves.
//!
//!   redteam-miner --strategy fabricator --uri //Fab --chain.endpoint http://127.0.0.1:9944 \
//!       --netuid 1 --ledger.file ledger.json [--peer 127.0.0.1:8091/<hotkey>]

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::Parser;
use orchestra_chain::devnet::DevnetClient;
use orchestra_chain::{AxonServe, Chain};
use orchestra_keys::Keypair;
use orchestra_miner::pipeline::MinerCore;
use orchestra_net::{Axon, AxonConfig, AxonTarget, BlacklistPolicy, Dendrite, DendriteConfig};
use orchestra_proto::ledger::LedgerEntry;
use orchestra_proto::synapses::{LedgerProposals, Orchestrate};
use orchestra_testkit::redteam::{Memory, Strategy, fabricate, ledger_spam, replay, resign, wrong_template};

/// Spam proposals kept for `LedgerProposals` pulls.
const SPAM_KEPT: usize = 1_000;
use parking_lot::Mutex;

#[derive(Parser, Debug)]
#[command(name = "redteam-miner", about = "A hostile miner strategy as a real process (local networks only)")]
struct Args {
    /// fabricator | replayer | copier | wrong-template | lazy-cache | slow | ledger-spammer
    #[arg(long)]
    strategy: String,
    #[arg(long)]
    uri: String,
    /// The devnet's HTTP endpoint.
    #[arg(long = "chain.endpoint")]
    chain_endpoint: String,
    #[arg(long, default_value_t = 1)]
    netuid: u16,
    #[arg(long = "ledger.file")]
    ledger_file: String,
    #[arg(long = "axon.port", default_value_t = 0)]
    port: u16,
    /// The miner a copier forwards to: `ip:port/hotkey`.
    #[arg(long)]
    peer: Option<String>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let strategy = Strategy::parse(&a.strategy).ok_or_else(|| anyhow!("unknown strategy {}", a.strategy))?;
    let key = Keypair::from_uri(&a.uri).map_err(|e| anyhow!("--uri: {e}"))?;
    let text = std::fs::read_to_string(&a.ledger_file).with_context(|| a.ledger_file.clone())?;
    let entries: Vec<LedgerEntry> = serde_json::from_str(&text).with_context(|| a.ledger_file.clone())?;
    let core = Arc::new(MinerCore::new_local(key.clone(), entries.clone(), None).map_err(|e| anyhow!("miner: {e}"))?);
    let peer = match &a.peer {
        Some(p) => {
            let (addr, hotkey) = p.split_once('/').ok_or_else(|| anyhow!("--peer is ip:port/hotkey"))?;
            let (ip, port) = addr.rsplit_once(':').ok_or_else(|| anyhow!("--peer is ip:port/hotkey"))?;
            Some(AxonTarget::new(ip.to_string(), port.parse()?, hotkey.to_string()))
        }
        None => None,
    };
    let dendrite = Dendrite::new(key.clone(), DendriteConfig::default())?;
    let memory = Arc::new(Mutex::new(Memory::default()));
    if strategy == Strategy::Replayer {
        // A replayer never works on the validator's tasks: it answers every one with an old
        // answer (here one it made at start for the README's worked example).
        let old = core.orchestrate(orchestra_testkit::synapse(&orchestra_testkit::worked_example("old", 20_000))).await;
        memory.lock().first = Some(old);
    }
    let k2 = key.clone();
    let cfg = AxonConfig { policy: BlacklistPolicy::allow_all(), ..AxonConfig::default() };
    let pulls = memory.clone();
    let axon = Axon::new(cfg, key.clone())?.attach(move |_ctx, req: Orchestrate| {
        let (core, key, memory, peer, dendrite, entries) =
            (core.clone(), k2.clone(), memory.clone(), peer.clone(), dendrite.clone(), entries.clone());
        async move {
            let out = match strategy {
                Strategy::Fabricator => {
                    let mut out = core.orchestrate(req).await;
                    fabricate(&mut out, &key);
                    out
                }
                Strategy::WrongTemplate => {
                    let mut out = core.orchestrate(req).await;
                    wrong_template(&mut out, &key);
                    out
                }
                Strategy::Replayer => {
                    let old = memory.lock().first.clone();
                    match old {
                        Some(old) => replay(&old, &req, &key),
                        None => {
                            let out = core.orchestrate(req).await;
                            memory.lock().first = Some(out.clone());
                            out
                        }
                    }
                }
                Strategy::LazyCache => {
                    let hit = memory.lock().by_objective.get(&req.objective).cloned();
                    match hit {
                        Some(old) => replay(&old, &req, &key),
                        None => {
                            let objective = req.objective.clone();
                            let out = core.orchestrate(req).await;
                            memory.lock().by_objective.insert(objective, out.clone());
                            out
                        }
                    }
                }
                Strategy::Copier => match &peer {
                    Some(t) => {
                        let timeout = Duration::from_millis(req.contract.deadline_ms.max(1_000));
                        let r = dendrite.call(t, req.clone(), timeout).await;
                        if r.is_success() {
                            let mut out = r.synapse;
                            resign(&mut out, &key);
                            out
                        } else {
                            let mut out = req;
                            out.error = Some(format!("the copied miner refused: {}", r.status_code));
                            out
                        }
                    }
                    None => {
                        let mut out = req;
                        out.error = Some("no peer to copy".into());
                        out
                    }
                },
                Strategy::Slow => {
                    let wait = req.contract.deadline_ms * 80 / 100;
                    let out = core.orchestrate(req).await;
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    out
                }
                Strategy::LedgerSpammer => {
                    // Honest work, then the flood: carried in the answer and served to pulls,
                    // citing the leaves of its own genuine receipts.
                    let mut out = core.orchestrate(req).await;
                    let leaves: Vec<_> = out.receipts.iter().filter_map(|r| r.leaf().ok()).collect();
                    let spam = ledger_spam(&entries, &leaves, &out.task_id, key.ss58());
                    out.ledger_proposals.extend(spam.iter().cloned());
                    let mut m = memory.lock();
                    m.spam.extend(spam);
                    let extra = m.spam.len().saturating_sub(SPAM_KEPT);
                    m.spam.drain(..extra);
                    out
                }
            };
            Ok(out)
        }
    })?;
    // Every strategy answers pulls; only the spammer has anything to serve. Sequence numbers
    // restart with the process: validators re-pull what they saw, and a decided proposal sent
    // again must earn nothing.
    let axon = axon.attach(move |_ctx, mut req: LedgerProposals| {
        let memory = pulls.clone();
        async move {
            let m = memory.lock();
            let from = (req.since as usize).min(m.spam.len());
            let take = (req.max as usize).clamp(1, 100);
            req.proposals = m.spam[from..].iter().take(take).cloned().collect();
            req.next = (from + req.proposals.len()) as u64;
            Ok(req)
        }
    })?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", a.port)).await?;
    let port = listener.local_addr()?.port();
    let chain = DevnetClient::connect(&a.chain_endpoint).await?.with_hotkey(key.clone());
    chain
        .serve_axon(a.netuid, &AxonServe::new("127.0.0.1".parse()?, port, 1))
        .await
        .map_err(|e| anyhow!("serve_axon: {e}"))?;
    println!("ready port={port} strategy={}", strategy.name());
    axon.serve(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
