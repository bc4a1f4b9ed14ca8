//! The miner daemon: build everything fallible in [`MinerNode::new`], then [`MinerNode::run`]
//! serves the axon (`Capabilities`, `Orchestrate`, `LedgerProposals`), announces it on chain and
//! keeps the metagraph (and so the blacklist) fresh until shutdown.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use orchestra_chain::{AxonServe, Chain};
use orchestra_net::{Axon, AxonConfig, BlacklistPolicy, SynapseError};
use orchestra_node::NeuronArgs;
use orchestra_node::shutdown::{CancellationToken, TaskTracker};
use orchestra_proto::ledger::LedgerEntry;
use orchestra_proto::synapses::{Capabilities, LedgerProposals, Orchestrate};
use orchestra_proto::wire::SDK_VERSION_AS_INT;

use crate::MinerError;
use crate::pipeline::MinerCore;
use crate::state::MinerStore;

/// The miner's configuration: the shared neuron flags plus the miner's own.
#[derive(Parser, Debug, Clone)]
#[command(name = "miner", version, about = "Orchestra miner", args_override_self = true)]
pub struct MinerConfig {
    #[command(flatten)]
    pub neuron: NeuronArgs,
    /// Ledger entries to route with (JSON array), e.g. from a validator's Ledger API or the
    /// local network's simulated subnets.
    /// Accepts a bare array (what `orchestra ledger export` writes) or the API's
    /// `{"subnets": [...]}` answer. With `--ledger.url`, the starting point until the first sync.
    #[arg(long = "ledger.file", env = "ORCHESTRA_LEDGER_FILE")]
    pub ledger_file: Option<String>,
    /// Follow these Ledger APIs (validators' base URLs; repeat the flag or separate with commas):
    /// pull `/v1/subnets` every `--ledger.sync_secs`, check it against `/v1/root`, and route by
    /// it. The first URL that answers with a valid Ledger wins; on errors the last good Ledger stays.
    #[arg(long = "ledger.url", env = "ORCHESTRA_LEDGER_URLS", value_delimiter = ',')]
    pub ledger_urls: Vec<String>,
    /// Ledger API key (developer tier or better: the free tier sees summaries, not entries).
    #[arg(long = "ledger.key", env = "ORCHESTRA_LEDGER_KEY", hide_env_values = true)]
    pub ledger_key: Option<String>,
    /// With `--ledger.url`: use a Ledger only if its Merkle root was committed on chain by a
    /// validator with a permit on `--netuid` (validators publish it every round).
    #[arg(long = "ledger.onchain_root")]
    pub ledger_onchain_root: bool,
    /// Read the Ledger API key from this file at each sync instead (rotation without a restart;
    /// a missing file is a failed sync, not a fatal error).
    #[arg(long = "ledger.key_file", conflicts_with = "ledger_key")]
    pub ledger_key_file: Option<String>,
    /// Seconds between Ledger syncs with `--ledger.url`.
    #[arg(long = "ledger.sync_secs", default_value_t = 60)]
    pub ledger_sync_secs: u64,
    /// Accept requests from any signed hotkey, registered or not (local testing only).
    #[arg(long = "blacklist.allow_any")]
    pub allow_any: bool,
    /// Minimum stake (TAO) of a validator allowed to send tasks.
    #[arg(long = "blacklist.min_stake", default_value_t = 0.0)]
    pub min_stake: f64,
    /// Tasks served at once.
    #[arg(long = "axon.max_in_flight", default_value_t = 32)]
    pub max_in_flight: usize,
    /// Requests per second one caller's hotkey may make (token bucket; 0 = no limit)...
    #[arg(long = "axon.hotkey_rate", default_value_t = 50)]
    pub hotkey_rate: u32,
    /// ...with bursts of this many.
    #[arg(long = "axon.hotkey_burst", default_value_t = 100)]
    pub hotkey_burst: u32,
    /// Planner: `deterministic` (always works offline) or `llm` (asks an llm_chat subnet from the
    /// Ledger first, validates and repairs its plan, falls back to deterministic).
    #[arg(long, default_value = "deterministic", value_parser = ["deterministic", "llm"])]
    pub planner: String,
    /// Characters of evidence sent to the LLM subnet per extraction call (its context budget).
    #[arg(long = "llm.context_chars", default_value_t = 24_000)]
    pub llm_context_chars: usize,
    /// `max_tokens` of each extraction call.
    #[arg(long = "llm.max_tokens", default_value_t = 2048)]
    pub llm_max_tokens: u32,
    /// Extra extraction rounds with feedback when an answer fails its checks.
    #[arg(long = "llm.repair_rounds", default_value_t = 2)]
    pub llm_repair_rounds: u32,
    /// Price of LLM tokens (from each response's `usage`), micro-units per 1000 tokens.
    #[arg(long = "llm.micros_per_1k_tokens", default_value_t = 500.0)]
    pub llm_micros_per_1k_tokens: f64,
    /// Do not announce the axon on chain (it is already served).
    #[arg(long = "axon.no_serve")]
    pub no_serve: bool,
    /// Job checkpoints are removed this many hours after their last step (retention)...
    #[arg(long = "retention.job_hours", default_value_t = 24)]
    pub retention_job_hours: u64,
    /// ...and the oldest beyond this many jobs.
    #[arg(long = "retention.max_jobs", default_value_t = 10_000)]
    pub retention_max_jobs: usize,
    /// Seconds between retention passes.
    #[arg(long = "retention.interval_secs", default_value_t = 3600)]
    pub retention_interval_secs: u64,
    /// Serve the axon's `/metrics` (every caller's request counts) to any peer; by default only
    /// loopback peers see them.
    #[arg(long = "axon.public_metrics")]
    pub public_metrics: bool,
}

/// A built miner, ready to run.
pub struct MinerNode {
    cfg: MinerConfig,
    core: Arc<MinerCore>,
    chain: Arc<dyn Chain>,
    axon: Axon,
    listener: tokio::net::TcpListener,
    ledger_sources: crate::ledger_sync::Sources,
    ledger_metrics: Arc<crate::ledger_sync::SyncMetrics>,
}

impl std::fmt::Debug for MinerNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MinerNode").field("hotkey", &self.core.hotkey()).finish()
    }
}

fn load_ledger(path: &str) -> Result<Vec<LedgerEntry>, MinerError> {
    let text = std::fs::read_to_string(path).map_err(|e| MinerError::BadRequest(format!("ledger file {path}: {e}")))?;
    crate::ledger_sync::parse_ledger(&text).map_err(|e| MinerError::BadRequest(format!("ledger file {path}: {e}")))
}

impl MinerNode {
    /// Everything fallible: keys, store, ledger, chain connection, axon bind.
    pub async fn new(cfg: MinerConfig) -> anyhow::Result<Self> {
        let hotkey = cfg.neuron.hotkey()?;
        let dir = cfg.neuron.data_dir().join("miner").join(hotkey.ss58());
        std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("data dir {}: {e}", dir.display()))?;
        let store = Arc::new(MinerStore::open(&dir)?);
        let ledger = match &cfg.ledger_file {
            Some(p) => load_ledger(p)?,
            None => Vec::new(),
        };
        if ledger.is_empty() && cfg.ledger_urls.is_empty() {
            tracing::warn!(
                "no Ledger entries: every task will be refused until --ledger.file or --ledger.url names some"
            );
        }
        let ledger_sources = crate::ledger_sync::Sources {
            urls: cfg.ledger_urls.iter().map(|u| u.trim().to_string()).filter(|u| !u.is_empty()).collect(),
            key: cfg.ledger_key.clone(),
            key_file: cfg.ledger_key_file.as_ref().map(std::path::PathBuf::from),
            guard: cfg.neuron.guard(),
        };
        // Refuse a malformed or guarded-out URL now rather than at every sync.
        ledger_sources.clients(None).map_err(|e| anyhow::anyhow!(e))?;
        let extraction = crate::extraction::ExtractionConfig {
            context_chars: cfg.llm_context_chars.max(1_000),
            max_tokens: cfg.llm_max_tokens.max(64),
            repair_rounds: cfg.llm_repair_rounds.min(5),
            micros_per_1k_tokens: cfg.llm_micros_per_1k_tokens.max(0.0),
            ..Default::default()
        };
        let chain = orchestra_node::connect_chain(&cfg.neuron, hotkey.clone()).await?;
        // Metagraph-routed axon transports find the target subnet's axons through the chain.
        let axons = orchestra_node::ChainAxons::new(chain.clone(), Duration::from_secs(cfg.neuron.sync_secs.max(1)));
        let adapters =
            orchestra_subnets::Adapters::for_operator(cfg.neuron.guard(), cfg.neuron.subnet_credentials.as_deref())?
                .with_axons(Arc::new(axons));
        let core = Arc::new(
            MinerCore::new(hotkey.clone(), ledger, Some(store))?
                .with_adapters(adapters)
                .with_llm_planner(cfg.planner == "llm")
                .with_extraction(extraction)
                .with_max_concurrent_objectives(cfg.max_in_flight),
        );
        let policy =
            if cfg.allow_any { BlacklistPolicy::allow_all() } else { BlacklistPolicy::validators(cfg.min_stake) };
        let axon_cfg = AxonConfig {
            policy,
            serve_metrics: true,
            public_metrics: cfg.public_metrics,
            max_in_flight: cfg.max_in_flight,
            rate_limit: (cfg.hotkey_rate > 0).then(|| orchestra_net::axon::RateLimit {
                per_second: cfg.hotkey_rate,
                burst: cfg.hotkey_burst.max(1),
            }),
            server: cfg.neuron.server.limits(),
            ..AxonConfig::default()
        };
        let c1 = core.clone();
        let c2 = core.clone();
        let c3 = core.clone();
        let axon = Axon::new(axon_cfg, hotkey)?
            .attach(move |_ctx, _req: Capabilities| {
                let core = c1.clone();
                async move { Ok(capabilities(&core)) }
            })?
            .attach(move |ctx, req: Orchestrate| {
                let core = c2.clone();
                async move {
                    // Never work past the caller's own timeout.
                    let deadline_ms = ctx.remaining().as_millis() as u64;
                    if req.contract.deadline_ms > deadline_ms + 1_000 {
                        tracing::debug!(task = %req.task_id, deadline_ms, "contract deadline longer than the request timeout");
                    }
                    Ok::<_, SynapseError>(core.orchestrate(req).await)
                }
            })?
            .attach(move |_ctx, req: LedgerProposals| {
                let core = c3.clone();
                async move { Ok(core.pull_proposals(req)) }
            })?;
        let host: IpAddr = cfg.neuron.axon_host.parse().map_err(|e| anyhow::anyhow!("--axon.host: {e}"))?;
        let addr = SocketAddr::new(host, cfg.neuron.axon_port);
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("bind {addr}: {e}"))?;
        Ok(MinerNode { cfg, core, chain, axon, listener, ledger_sources, ledger_metrics: Default::default() })
    }

    /// The bound axon address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    pub fn hotkey(&self) -> String {
        self.core.hotkey().to_string()
    }

    /// The pipeline the axon serves (its Ledger is the one the `ledger-sync` task keeps current).
    pub fn core(&self) -> Arc<MinerCore> {
        self.core.clone()
    }

    /// Counters of the `ledger-sync` task.
    pub fn ledger_sync_metrics(&self) -> Arc<crate::ledger_sync::SyncMetrics> {
        self.ledger_metrics.clone()
    }

    /// Serve until `shutdown` is cancelled; the metagraph and Ledger syncs run as tracked tasks
    /// and have finished when this returns.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let port = self.local_addr().map(|a| a.port()).unwrap_or(self.cfg.neuron.axon_port);
        let netuid = self.cfg.neuron.netuid;
        if !self.cfg.no_serve {
            let ip = self.cfg.neuron.axon_external_ip.unwrap_or(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
            match self.chain.serve_axon(netuid, &AxonServe::new(ip, port, SDK_VERSION_AS_INT as u32)).await {
                Ok(tx) => tracing::info!(netuid, %ip, port, block = tx.block_number, "axon served on chain"),
                Err(e) if e.is("ServingRateLimitExceeded") => tracing::warn!("axon already served recently: {e}"),
                Err(e) => return Err(anyhow::anyhow!("serve_axon: {e}")),
            }
        }
        let handle = self.axon.metagraph();
        let latest = Arc::new(tokio::sync::RwLock::new(None));
        let tasks = TaskTracker::new();
        tasks.spawn(orchestra_node::sync_metagraph(
            self.chain.clone(),
            netuid,
            handle,
            latest,
            Duration::from_secs(self.cfg.neuron.sync_secs.max(1)),
            shutdown.clone(),
        ));
        if !self.ledger_sources.urls.is_empty() {
            let every = Duration::from_secs(self.cfg.ledger_sync_secs.max(1));
            tracing::info!(urls = self.ledger_sources.urls.len(), every_secs = every.as_secs(), "following the Ledger");
            let onchain = self
                .cfg
                .ledger_onchain_root
                .then(|| crate::ledger_sync::OnchainRoots { chain: self.chain.clone(), netuid });
            let task = crate::ledger_sync::run(
                self.core.clone(),
                self.ledger_sources.clone(),
                onchain,
                every,
                self.ledger_metrics.clone(),
                shutdown.clone(),
            );
            tasks.spawn(tracing::Instrument::instrument(task, tracing::info_span!("ledger-sync")));
        }
        if let Some(store) = self.core.store() {
            let task = crate::retention::run(
                store,
                Duration::from_secs(self.cfg.retention_job_hours.saturating_mul(3600)),
                self.cfg.retention_max_jobs,
                Duration::from_secs(self.cfg.retention_interval_secs.max(1)),
                shutdown.clone(),
            );
            tasks.spawn(tracing::Instrument::instrument(task, tracing::info_span!("retention")));
        }
        tasks.close();
        tracing::info!(hotkey = %self.core.hotkey(), port, "miner running");
        let served = self.axon.serve(self.listener, shutdown.clone().cancelled_owned()).await;
        // However the axon ended, the tracked tasks stop with it.
        shutdown.cancel();
        tasks.wait().await;
        served?;
        tracing::info!("miner stopped");
        Ok(())
    }
}

fn capabilities(core: &MinerCore) -> Capabilities {
    let ledger = core.ledger();
    let mut caps: Vec<String> = ledger.iter().flat_map(|e| e.capabilities.iter().cloned()).collect();
    caps.sort();
    caps.dedup();
    let mut transports: Vec<String> =
        ledger.iter().flat_map(|e| e.transports.iter().map(|t| t.kind().to_string())).collect();
    transports.sort();
    transports.dedup();
    Capabilities {
        protocol_version: Some(orchestra_proto::PROTOCOL_VERSION),
        software_version: Some(env!("CARGO_PKG_VERSION").into()),
        transports,
        subnets: ledger.iter().map(|e| e.netuid).collect(),
        capabilities: caps,
        max_concurrency: Some(32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every flag (the shared neuron and server flags included) has its own id and name, and
    /// the axon's `/metrics` is loopback-only unless `--axon.public_metrics`.
    #[test]
    fn flags_are_consistent() {
        use clap::CommandFactory;
        MinerConfig::command().debug_assert();
        let cfg = MinerConfig::parse_from(["miner", "--axon.max_in_flight", "7", "--server.max_in_flight", "99"]);
        assert_eq!(cfg.max_in_flight, 7);
        assert_eq!(cfg.neuron.server.limits().max_in_flight, 99);
        assert!(!cfg.public_metrics);
        assert!(MinerConfig::parse_from(["miner", "--axon.public_metrics"]).public_metrics);
    }
}
