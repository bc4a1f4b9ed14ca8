//! The validator daemon: each epoch it syncs the metagraph, sends every miner its own synthetic
//! task, verifies and scores the answers, pulls and governs Ledger proposals, and submits
//! weights through one guarded path. It also serves the gateway and the Ledger API.
//!
//! Build, then start: [`ValidatorNode::new`] does everything fallible (keys, store, chain,
//! bind); [`ValidatorNode::run`] spawns the named tasks until shutdown.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use orchestra_chain::{Chain, Metagraph, WeightsReveal, WeightsSubmission};
use orchestra_incentive::ema::Ema;
use orchestra_incentive::policy::OwnerPolicy;
use orchestra_incentive::score::{LedgerActivity, ledger_score, task_score};
use orchestra_incentive::weights::{MinerScores, combine};
use orchestra_keys::Keypair;
use orchestra_ledger_store::governance::{self, Governed, Received};
use orchestra_ledger_store::{CreditKind, LedgerStore, StoreConfig};
use orchestra_net::{AxonTarget, Dendrite};
use orchestra_node::NeuronArgs;
use orchestra_node::shutdown::{CancellationToken, TaskTracker};
use orchestra_proto::ledger::LedgerEntry;
use orchestra_proto::retry::Backoff;
use orchestra_proto::synapses::{LedgerProposals, Orchestrate};
use orchestra_store::Batch;
use orchestra_subnets::Adapters;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::prober::LiveProber;
use crate::records;
use crate::verify::{Verification, VerifyConfig, verify};
use crate::{gateway, reference, tasks};

/// The validator's configuration.
#[derive(Parser, Debug, Clone)]
#[command(name = "validator", version, about = "Orchestra validator", args_override_self = true)]
pub struct ValidatorConfig {
    #[command(flatten)]
    pub neuron: NeuronArgs,
    /// Seconds between validation rounds (one round = tasks to every miner, scoring, weights).
    #[arg(long = "epoch.secs", default_value_t = 60)]
    pub epoch_secs: u64,
    /// Deadline given to miners for synthetic tasks, in ms.
    #[arg(long = "tasks.deadline_ms", default_value_t = 20_000)]
    pub task_deadline_ms: u64,
    /// Port of the gateway + Ledger API server.
    #[arg(long = "api.port", default_value_t = 8090)]
    pub api_port: u16,
    #[arg(long = "api.host", default_value = "0.0.0.0")]
    pub api_host: String,
    /// Seed the Ledger with these entries (JSON array) when they are not there yet.
    #[arg(long = "ledger.seed")]
    pub ledger_seed: Option<String>,
    /// Also seed the Ledger with the real SN22, SN13 and SN64 access paths (unverified until
    /// probed; their API keys come from the env vars the entries name).
    #[arg(long = "ledger.seed_real")]
    pub seed_real: bool,
    /// Hotkey (ss58) whose chain commitment holds the owner policy.
    #[arg(long = "policy.owner")]
    pub policy_owner: Option<String>,
    /// A local policy file (JSON) that overrides the published policy; testing only.
    #[arg(long = "policy.file", requires = "policy_override")]
    pub policy_file: Option<String>,
    /// Acknowledge that --policy.file overrides the owner's published policy.
    #[arg(long = "policy.override")]
    pub policy_override: bool,
    /// Serve `/metrics` and `/v1/status` (every miner's scores, the last error) to any peer;
    /// by default only loopback peers see them.
    #[arg(long = "api.public_status")]
    pub public_status: bool,
    /// Allow webhook targets on private or loopback addresses (local runs).
    #[arg(long = "api.allow_private_webhooks")]
    pub allow_private_webhooks: bool,
    /// Create a production-tier API key at start (if this file does not exist yet) and write its
    /// secret here with mode 0600; for local networks and first setup.
    #[arg(long = "api.bootstrap_key_file")]
    pub bootstrap_key_file: Option<String>,
    /// Publish the Ledger root as this validator's chain commitment each round.
    #[arg(long = "ledger.publish_root", default_value_t = true, action = clap::ArgAction::Set)]
    pub publish_root: bool,
    /// A candidate entry (a new subnet) becomes Verified after this many successful probes in a
    /// row by this validator...
    #[arg(long = "ledger.verify_probes", default_value_t = 3)]
    pub verify_probes: u32,
    /// ...the first and the latest at least this many seconds apart...
    #[arg(long = "ledger.verify_secs", default_value_t = 3600)]
    pub verify_secs: u64,
    /// ...with at least this many seconds between counted probes.
    #[arg(long = "ledger.probe_gap_secs", default_value_t = 600)]
    pub probe_gap_secs: u64,
    /// What one objective submission or revision costs against the caller's rate window and
    /// monthly quota, in Ledger lookups (it makes the validator call miners and subnets).
    #[arg(long = "api.objective_cost", default_value_t = 10)]
    pub objective_cost: u32,
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// Address of the Ledger admin endpoint (key management while the validator runs; see
    /// `orchestra ledger keys`). Loopback by default; every request needs the token in
    /// `<ledger dir>/admin.token` or a signature of an authorized key.
    #[arg(long = "admin.host", default_value = "127.0.0.1")]
    pub admin_host: String,
    /// Port of the admin endpoint (0: any free port; the URL is in `<ledger dir>/admin.json`).
    #[arg(long = "admin.port", default_value_t = 0)]
    pub admin_port: u16,
    /// SS58 keys, besides this validator's hotkey and coldkey, whose btauth/1 signatures the
    /// admin endpoint accepts (comma separated).
    #[arg(long = "admin.authorized_keys", value_delimiter = ',')]
    pub admin_authorized_keys: Vec<String>,
    /// Do not sell API keys for TAO (`/v1/keys/quote`, `/v1/keys/redeem`).
    #[arg(long = "payments.disable")]
    pub payments_disable: bool,
    /// The coldkey (SS58) key payments must reach (default: this validator's coldkey, from
    /// `coldkeypub.txt` or --uri).
    #[arg(long = "payments.coldkey")]
    pub payments_coldkey: Option<String>,
    /// Price of a developer key, rao per month (the seed's 0.1 TAO).
    #[arg(long = "payments.developer_rao", default_value_t = orchestra_ledger_api::payments::SEED_DEVELOPER.rao_per_month)]
    pub payments_developer_rao: u64,
    /// Lookups per month of a developer key bought with TAO (the seed's 1,000).
    #[arg(long = "payments.developer_quota", default_value_t = 1000)]
    pub payments_developer_quota: u64,
    /// Price of a production key, rao per month (the seed's 1 TAO).
    #[arg(long = "payments.production_rao", default_value_t = orchestra_ledger_api::payments::SEED_PRODUCTION.rao_per_month)]
    pub payments_production_rao: u64,
    /// A proposal whose probe failed transiently (timeout, no connection, HTTP 5xx/429) is
    /// probed again after at least this many seconds (it is neither approved nor rejected, and
    /// nobody is penalized)...
    #[arg(long = "ledger.defer_retry_secs", default_value_t = 300)]
    pub defer_retry_secs: u64,
    /// ...and closed without credit or penalty if still undecidable this long after the first
    /// failure.
    #[arg(long = "ledger.defer_max_secs", default_value_t = 7 * 24 * 3600)]
    pub defer_max_secs: u64,
    /// Re-probe every Ledger entry on a schedule and move its status by rule (the
    /// `ledger-upkeep` task; `--upkeep.enabled=false` turns it off).
    #[arg(long = "upkeep.enabled", default_value_t = true, action = clap::ArgAction::Set)]
    pub upkeep_enabled: bool,
    /// Mean seconds between two re-probes of one entry (each jittered by ±25%).
    #[arg(long = "upkeep.interval_secs", default_value_t = 300.0)]
    pub upkeep_interval_secs: f64,
    /// Seconds between two looks for entries that are due.
    #[arg(long = "upkeep.cycle_secs", default_value_t = 10.0)]
    pub upkeep_cycle_secs: f64,
    /// Re-probes (and deferred proposals) per cycle at most; the rest stays due.
    #[arg(long = "upkeep.max_probes", default_value_t = 16)]
    pub upkeep_max_probes: usize,
    /// Seconds a cycle may take at most; the rest stays due.
    #[arg(long = "upkeep.max_secs", default_value_t = 30.0)]
    pub upkeep_max_secs: f64,
    /// Re-probes started per second at most.
    #[arg(long = "upkeep.rate", default_value_t = 4.0)]
    pub upkeep_rate: f64,
    /// Re-probes in flight at once at most.
    #[arg(long = "upkeep.concurrency", default_value_t = 4)]
    pub upkeep_concurrency: usize,
    /// Timeout of one re-probe, in ms.
    #[arg(long = "upkeep.probe_timeout_ms", default_value_t = 5_000)]
    pub upkeep_probe_timeout_ms: u64,
    /// The window (seconds) reliability and latency percentiles are measured over, and the least
    /// time a run of failures must span before an entry counts as down.
    #[arg(long = "upkeep.window_secs", default_value_t = 1800.0)]
    pub upkeep_window_secs: f64,
    /// A verified entry whose reliability over the window falls below this is degraded.
    #[arg(long = "upkeep.min_reliability", default_value_t = 0.8)]
    pub upkeep_min_reliability: f64,
    /// Re-probes (since the entry's last status change, inside the window) needed before
    /// reliability can degrade it.
    #[arg(long = "upkeep.min_samples", default_value_t = 5)]
    pub upkeep_min_samples: u32,
    /// Failures in a row, spanning at least the window, that make a verified entry degraded.
    #[arg(long = "upkeep.fail_streak", default_value_t = 3)]
    pub upkeep_fail_streak: u32,
    /// Successes in a row that bring a degraded entry back to verified.
    #[arg(long = "upkeep.recover_probes", default_value_t = 3)]
    pub upkeep_recover_probes: u32,
    /// A degraded entry failing without a success for this many seconds is deprecated.
    #[arg(long = "upkeep.deprecate_secs", default_value_t = 3.0 * 24.0 * 3600.0)]
    pub upkeep_deprecate_secs: f64,
    /// Between status changes, an entry's metrics are written (a new version) at most this
    /// often, and only when they moved materially.
    #[arg(long = "upkeep.publish_secs", default_value_t = 1800.0)]
    pub upkeep_publish_secs: f64,
    /// Price (µ per 1,000 tokens) the re-probes measure an LLM subnet's cost with, from the
    /// `usage` its answers report.
    #[arg(long = "upkeep.micros_per_1k_tokens", default_value_t = 500.0)]
    pub upkeep_micros_per_1k_tokens: f64,
}

/// How long the validator keeps what grows (pruned by the `retention` task, never on a
/// request path).
#[derive(clap::Args, Debug, Clone)]
pub struct RetentionArgs {
    /// Seconds between retention passes.
    #[arg(long = "retention.interval_secs", default_value_t = 3600)]
    pub interval_secs: u64,
    /// Gateway objectives are removed this many days after they last changed...
    #[arg(long = "retention.objective_days", default_value_t = 30)]
    pub objective_days: u64,
    /// ...and beyond this many, oldest first.
    #[arg(long = "retention.max_objectives", default_value_t = 100_000)]
    pub max_objectives: usize,
    /// Decided Ledger proposals (and their decisions) are removed this many days after the
    /// decision; proposals still pending after it are dropped too. A removed proposal that is
    /// sent again is judged again (a change already applied is refused as a no-op).
    #[arg(long = "retention.proposal_days", default_value_t = 30)]
    pub proposal_days: u64,
    /// Most proposals kept, oldest removed first.
    #[arg(long = "retention.max_proposals", default_value_t = 100_000)]
    pub max_proposals: usize,
    /// Months of API usage counters kept before the current one.
    #[arg(long = "retention.usage_months", default_value_t = 12)]
    pub usage_months: u32,
    /// Dead webhook deliveries are removed this many days after their event.
    #[arg(long = "retention.dead_webhook_days", default_value_t = 30)]
    pub dead_webhook_days: u64,
    /// Task records, EMA state and known receipt leaves of a miner that left the metagraph are
    /// removed when its last task is this many days old.
    #[arg(long = "retention.task_days", default_value_t = 7)]
    pub task_days: u64,
}

impl ValidatorConfig {
    /// The promotion rule of `--ledger.verify_probes`, `--ledger.verify_secs` and
    /// `--ledger.probe_gap_secs`.
    pub fn promotion_rule(&self) -> governance::PromotionRule {
        governance::PromotionRule {
            min_probes: self.verify_probes.max(1),
            min_span: Duration::from_secs(self.verify_secs),
            min_gap: Duration::from_secs(self.probe_gap_secs),
        }
    }

    /// The upkeep task's schedule, budgets and status rules (`--upkeep.*`), checked.
    pub fn upkeep(&self) -> anyhow::Result<crate::upkeep::UpkeepConfig> {
        let secs = |what: &str, v: f64| -> anyhow::Result<Duration> {
            Duration::try_from_secs_f64(v)
                .map_err(|_| anyhow::anyhow!("--upkeep.{what} {v} is not a duration in seconds"))
        };
        let rule = orchestra_ledger_store::upkeep::UpkeepRule {
            window: secs("window_secs", self.upkeep_window_secs)?,
            min_reliability: self.upkeep_min_reliability,
            min_samples: self.upkeep_min_samples,
            fail_streak: self.upkeep_fail_streak,
            recover_probes: self.upkeep_recover_probes,
            deprecate_after: secs("deprecate_secs", self.upkeep_deprecate_secs)?,
            publish_every: secs("publish_secs", self.upkeep_publish_secs)?,
            ..Default::default()
        };
        rule.validate().map_err(|e| anyhow::anyhow!("--upkeep.*: {e}"))?;
        if self.upkeep_rate.is_nan() || self.upkeep_rate <= 0.0 {
            anyhow::bail!("--upkeep.rate must be positive");
        }
        Ok(crate::upkeep::UpkeepConfig {
            interval: secs("interval_secs", self.upkeep_interval_secs)?,
            cycle: secs("cycle_secs", self.upkeep_cycle_secs)?,
            max_probes: self.upkeep_max_probes.max(1),
            max_time: secs("max_secs", self.upkeep_max_secs)?,
            rate: self.upkeep_rate,
            concurrency: self.upkeep_concurrency.max(1),
            micros_per_1k_tokens: self.upkeep_micros_per_1k_tokens.max(0.0),
            rule,
            promotion: self.promotion_rule(),
            defer: self.defer_rule(),
        })
    }

    /// When proposals whose probe failed transiently are probed again and given up.
    pub fn defer_rule(&self) -> governance::DeferRule {
        governance::DeferRule {
            retry_after: Duration::from_secs(self.defer_retry_secs),
            give_up_after: Duration::from_secs(self.defer_max_secs),
        }
    }
}

/// Receipt leaves this validator has seen a miner sign (its own tasks), so a Ledger proposal's
/// cited evidence can be checked; the most recent ones are kept.
const KNOWN_LEAVES: usize = 2048;

/// What the status endpoint shows; also kept in the store.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Status {
    pub epoch: u64,
    pub block: u64,
    pub miners: usize,
    pub last_round_ms: u64,
    pub last_weights_block: Option<u64>,
    pub weight_submissions: u64,
    pub weight_failures: u64,
    pub last_error: Option<String>,
    pub scores: BTreeMap<String, (f64, f64)>,
    pub policy: Option<OwnerPolicy>,
}

/// Durable record of weight submissions: the intent is written before a submission and the
/// outcome after, so a restart never submits twice in one rate-limit window. With
/// commit-reveal, each reveal is written (synced) before its commit is sent and stays until it
/// is revealed or can no longer be (see [`RevealOutcome`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WeightJournal {
    pub last_submitted_block: Option<u64>,
    pub intent_block: Option<u64>,
    /// The single reveal slot of older journals; moved into `pending_reveals` when read.
    #[serde(default, skip_serializing)]
    pub pending_reveal: Option<(WeightsReveal, u64)>,
    /// Commits not revealed yet, oldest first: a new commit while an earlier one waits for its
    /// reveal epoch must not overwrite it.
    #[serde(default)]
    pub pending_reveals: Vec<PendingReveal>,
}

/// One commit waiting for its reveal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingReveal {
    pub reveal: WeightsReveal,
    /// The block the commit was sent at.
    pub commit_block: u64,
    /// Reveal attempts that failed and kept it.
    #[serde(default)]
    pub failures: u32,
}

impl WeightJournal {
    /// Move a legacy single reveal into the list.
    fn upgrade(&mut self) {
        if let Some((reveal, commit_block)) = self.pending_reveal.take()
            && !self.pending_reveals.iter().any(|p| p.reveal == reveal)
        {
            self.pending_reveals.insert(0, PendingReveal { reveal, commit_block, failures: 0 });
        }
    }
}

/// What a reveal attempt means for its journal entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevealOutcome {
    /// Revealed: remove it.
    Revealed,
    /// Not due yet, or a failure that may pass (connection, RPC, time-out, or an error the
    /// chain may not repeat): keep it and try again next round.
    Keep,
    /// The chain says it can never be revealed (expired, no such commit, hash mismatch), or
    /// its reveal window has passed by our own count: remove it.
    Gone,
}

/// Blocks after its commit at which a reveal is certainly past its window: the reveal epoch is
/// `period` epochs after the commit's, so `period + 2` epochs of `tempo + 1` blocks is past it.
pub fn reveal_expiry_blocks(tempo: u16, period: u64) -> u64 {
    (u64::from(tempo) + 1).saturating_mul(period.max(1).saturating_add(2))
}

/// Classify a reveal attempt. Pure, so the rule is tested on its own.
pub fn reveal_outcome(
    result: &Result<orchestra_chain::TxOutcome, orchestra_chain::ChainError>,
    commit_block: u64,
    now_block: u64,
    expiry_blocks: u64,
) -> RevealOutcome {
    match result {
        Ok(_) => RevealOutcome::Revealed,
        Err(e)
            if e.is("ExpiredWeightCommit")
                || e.is("NoWeightsCommitFound")
                || e.is("InvalidRevealCommitHashNotMatch") =>
        {
            RevealOutcome::Gone
        }
        Err(_) if now_block.saturating_sub(commit_block) > expiry_blocks => RevealOutcome::Gone,
        Err(_) => RevealOutcome::Keep,
    }
}

/// Per-miner EMA state, persisted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MinerState {
    pub orchestration: Ema,
    pub ledger: Ema,
    pub proposals_cursor: u64,
}

/// A built validator.
pub struct ValidatorNode {
    pub(crate) cfg: ValidatorConfig,
    pub(crate) key: Keypair,
    pub(crate) store: Arc<LedgerStore>,
    pub(crate) chain: Arc<dyn Chain>,
    pub(crate) dendrite: Dendrite,
    pub(crate) adapters: Adapters,
    pub(crate) status: Arc<Mutex<Status>>,
    pub(crate) metagraph: Arc<tokio::sync::RwLock<Option<Metagraph>>>,
    /// Bound in `new` (so a busy port fails early), handed to the server in `run`.
    api_listener: Mutex<Option<tokio::net::TcpListener>>,
    api_addr: Option<SocketAddr>,
    /// The Ledger admin endpoint, bound (and its files written) in `new`, served in `run`.
    admin: Mutex<Option<orchestra_ledger_api::admin::AdminEndpoint>>,
    admin_url: String,
    /// The coldkey (SS58) that is paid for keys, when keys are sold.
    pay_to: Option<String>,
    pub(crate) metrics: Arc<gateway::Metrics>,
    /// The Ledger API, once `run` built it (the gateway meters objectives through it and
    /// `/metrics` shows its counters).
    pub(crate) api: std::sync::OnceLock<orchestra_ledger_api::LedgerApi>,
    /// Proposals probed at once in the background.
    governance_slots: Arc<tokio::sync::Semaphore>,
    /// The API server's connection limits at work (shown on `/metrics`).
    pub(crate) server_stats: orchestra_net::ServeStats,
    /// Serializes read-modify-write of the pending Ledger credits.
    activity_lock: Arc<Mutex<()>>,
    /// The `ledger-upkeep` task's settings, checked at build time.
    upkeep: crate::upkeep::UpkeepConfig,
    pub(crate) upkeep_metrics: Arc<crate::upkeep::UpkeepMetrics>,
}

/// Probes of Ledger proposals running at once.
const GOVERN_CONCURRENCY: usize = 4;
/// Retries of a transiently failed weights submission: 1 s, then 2 s.
const WEIGHTS_RETRY: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(4));

impl std::fmt::Debug for ValidatorNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidatorNode").field("hotkey", &self.key.ss58()).finish()
    }
}

impl ValidatorNode {
    pub async fn new(cfg: ValidatorConfig) -> anyhow::Result<Self> {
        let key = cfg.neuron.hotkey()?;
        let chain = orchestra_node::connect_chain(&cfg.neuron, key.clone()).await?;
        Self::with_chain(cfg, chain).await
    }

    /// [`ValidatorNode::new`] on a chain the caller connected (tests use their own).
    pub async fn with_chain(cfg: ValidatorConfig, chain: Arc<dyn Chain>) -> anyhow::Result<Self> {
        let key = cfg.neuron.hotkey()?;
        let dir = cfg.neuron.data_dir().join("validator").join(key.ss58());
        std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("data dir {}: {e}", dir.display()))?;
        let store = Arc::new(LedgerStore::open(StoreConfig::new(&dir))?);
        if let Some(p) = &cfg.ledger_seed {
            let text = std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("--ledger.seed {p}: {e}"))?;
            let entries: Vec<LedgerEntry> =
                serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("--ledger.seed {p}: {e}"))?;
            let n = store.seed(entries)?;
            tracing::info!(added = n, "ledger seeded");
        }
        if cfg.seed_real {
            let n = store.seed(orchestra_ledger_store::real_subnet_seed()?)?;
            tracing::info!(added = n, "real subnet entries seeded (candidates until probed)");
        }
        if let Some(path) = &cfg.bootstrap_key_file
            && !std::path::Path::new(path).exists()
        {
            let (secret, rec) =
                orchestra_ledger_api::create_key(&store, orchestra_ledger_store::Tier::Production, "bootstrap")?;
            write_secret(path, &secret)?;
            tracing::info!(key_id = %rec.id, file = %path, "bootstrap API key created");
        }
        let upkeep = cfg.upkeep()?;
        if cfg.policy_file.is_some() && !cfg.policy_override {
            anyhow::bail!("--policy.file needs --policy.override: the owner's published policy is the default");
        }
        // Axon addresses come from the metagraph, which anyone who registers writes: internal
        // addresses only with --net.allow_private (local networks).
        let dendrite = Dendrite::new(key.clone(), cfg.neuron.dendrite())?;
        // Metagraph-routed axon transports (miners' calls being re-probed, proposals being
        // probed) find the target subnet's axons through the chain.
        let axons = orchestra_node::ChainAxons::new(chain.clone(), Duration::from_secs(cfg.neuron.sync_secs.max(1)));
        let adapters = Adapters::for_operator(cfg.neuron.guard(), cfg.neuron.subnet_credentials.as_deref())?
            .with_axons(Arc::new(axons));
        let host: IpAddr = cfg.api_host.parse().map_err(|e| anyhow::anyhow!("--api.host: {e}"))?;
        let addr = SocketAddr::new(host, cfg.api_port);
        let api_listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("bind {addr}: {e}"))?;
        let status: Status = records::STATUS.get(store.db())?.unwrap_or_default();
        let coldkey = match &cfg.neuron.uri {
            Some(u) => Some(Keypair::from_uri(u)?.ss58().to_string()),
            None => cfg.neuron.wallet.wallet().coldkeypub().ok().map(|k| k.to_ss58()),
        };
        let mut authorized = vec![key.ss58().to_string()];
        authorized.extend(coldkey.iter().cloned());
        authorized.extend(cfg.admin_authorized_keys.iter().cloned());
        authorized.dedup();
        let admin_host: IpAddr = cfg.admin_host.parse().map_err(|e| anyhow::anyhow!("--admin.host: {e}"))?;
        let admin = orchestra_ledger_api::admin::AdminEndpoint::bind(
            SocketAddr::new(admin_host, cfg.admin_port),
            store.path(),
            authorized,
        )
        .await
        .map_err(|e| anyhow::anyhow!("Ledger admin endpoint: {e}"))?;
        let pay_to = match (&cfg.payments_coldkey, cfg.payments_disable) {
            (_, true) => None,
            (Some(k), false) => {
                orchestra_keys::PublicKey::from_ss58(k).map_err(|e| anyhow::anyhow!("--payments.coldkey {k}: {e}"))?;
                Some(k.clone())
            }
            (None, false) => {
                if coldkey.is_none() {
                    tracing::warn!(
                        "no coldkeypub.txt in the wallet: API keys are not sold for TAO (--payments.coldkey)"
                    );
                }
                coldkey.clone()
            }
        };
        Ok(ValidatorNode {
            cfg,
            key: key.clone(),
            store,
            chain,
            dendrite,
            adapters: adapters.with_keypair(key),
            status: Arc::new(Mutex::new(status)),
            metagraph: Arc::new(tokio::sync::RwLock::new(None)),
            api_addr: api_listener.local_addr().ok(),
            api_listener: Mutex::new(Some(api_listener)),
            admin_url: admin.url().to_string(),
            admin: Mutex::new(Some(admin)),
            pay_to,
            metrics: Arc::new(gateway::Metrics::default()),
            api: std::sync::OnceLock::new(),
            governance_slots: Arc::new(tokio::sync::Semaphore::new(GOVERN_CONCURRENCY)),
            server_stats: orchestra_net::ServeStats::default(),
            activity_lock: Arc::new(Mutex::new(())),
            upkeep,
            upkeep_metrics: Arc::new(crate::upkeep::UpkeepMetrics::default()),
        })
    }

    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api_addr
    }

    /// The validator's store (the Ledger, API keys, its own state); for tools and tests.
    pub fn store(&self) -> Arc<LedgerStore> {
        self.store.clone()
    }

    /// The Ledger admin endpoint's URL (also in `<ledger dir>/admin.json`).
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    pub fn hotkey(&self) -> &str {
        self.key.ss58()
    }

    /// A copy of what the status endpoint shows (benchmarks and tools driving [`Self::round`]).
    pub fn status(&self) -> Status {
        self.status.lock().clone()
    }

    /// The policy in force: the local override, the owner's commitment, or the default.
    pub async fn policy(&self) -> OwnerPolicy {
        if let (Some(p), true) = (&self.cfg.policy_file, self.cfg.policy_override) {
            match std::fs::read(p)
                .map_err(|e| e.to_string())
                .and_then(|b| OwnerPolicy::from_commitment(&b).map_err(|e| e.to_string()))
            {
                Ok(pol) => return pol,
                Err(e) => {
                    tracing::error!(file = %p, error = %e, "policy override unreadable; using the published policy")
                }
            }
        }
        if let Some(owner) = &self.cfg.policy_owner {
            match self.chain.commitment(self.cfg.neuron.netuid, owner).await {
                Ok(Some(c)) => match c.fields.iter().find_map(|f| match f {
                    orchestra_chain::CommitmentData::Raw(b) | orchestra_chain::CommitmentData::BigRaw(b) => {
                        Some(b.as_slice())
                    }
                    _ => None,
                }) {
                    Some(bytes) => match OwnerPolicy::from_commitment(bytes) {
                        Ok(p) => return p,
                        Err(e) => {
                            tracing::error!(error = %e, "owner policy commitment is invalid; using the default policy")
                        }
                    },
                    None => tracing::warn!("owner commitment holds no raw data; using the default policy"),
                },
                Ok(None) => tracing::info!("no owner policy published yet; using the default policy"),
                Err(e) => tracing::error!(error = %e, "reading the owner policy failed; using the default policy"),
            }
        }
        OwnerPolicy::default()
    }

    /// Run until `shutdown` is cancelled: the validation loop, and the gateway with the Ledger API
    /// and the webhook worker as tracked tasks that have finished when this returns.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let node = Arc::new(self);
        let payments = node.pay_to.as_ref().map(|pay_to| {
            let mut p = orchestra_ledger_api::payments::PaymentsConfig::new(node.chain.clone(), pay_to);
            p.developer.rao_per_month = node.cfg.payments_developer_rao;
            p.developer.monthly_quota = Some(node.cfg.payments_developer_quota);
            p.production.rao_per_month = node.cfg.payments_production_rao;
            tracing::info!(pay_to = %pay_to, developer = ?p.developer, production = ?p.production, "selling API keys for TAO");
            p
        });
        let defaults = orchestra_ledger_api::ApiConfig::default();
        let api = orchestra_ledger_api::LedgerApi::new(
            orchestra_ledger_api::ApiConfig {
                allow_private_webhooks: node.cfg.allow_private_webhooks,
                usage_months_kept: node.cfg.retention.usage_months,
                payments,
                webhook: orchestra_ledger_api::WebhookConfig {
                    dead_retention: Duration::from_secs(node.cfg.retention.dead_webhook_days.saturating_mul(86_400)),
                    ca_file: node.cfg.neuron.tls_ca_file.clone(),
                    ..defaults.webhook.clone()
                },
                ..defaults
            },
            node.store.clone(),
        )?;
        let _ = node.api.set(api.clone());
        let admin = node.admin.lock().take().ok_or_else(|| anyhow::anyhow!("the validator is already running"))?;
        let app = gateway::router(node.clone(), &api);
        let listener =
            node.api_listener.lock().take().ok_or_else(|| anyhow::anyhow!("the validator is already running"))?;
        tracing::info!(addr = ?listener.local_addr().ok(), "gateway and Ledger API listening");
        let server = orchestra_net::Server::new(node.cfg.neuron.server.limits())
            .map_err(|e| anyhow::anyhow!("--server.*: {e}"))?
            .with_stats(node.server_stats.clone());
        let tasks = TaskTracker::new();
        let (admin_api, stop) = (api.clone(), shutdown.clone());
        tasks.spawn(async move {
            if let Err(e) = admin_api.serve_admin(admin, stop).await {
                tracing::error!(error = %e, "Ledger admin endpoint failed");
            }
        });
        let (stop, closing) = (shutdown.clone(), api.clone());
        tasks.spawn(async move {
            let _ = server
                .serve(listener, app, async move {
                    stop.cancelled().await;
                    // The mounted Ledger API's SSE streams end, so graceful shutdown can finish.
                    closing.close();
                })
                .await;
        });
        let (api2, stop) = (api.clone(), shutdown.clone());
        tasks.spawn(async move {
            let _ = api2.run_webhook_worker(stop).await;
        });
        tasks.spawn(tracing::Instrument::instrument(
            crate::retention::run(node.clone(), shutdown.clone()),
            tracing::info_span!("retention"),
        ));
        // Keeping the Ledger true runs beside the rounds, never inside them.
        if node.cfg.upkeep_enabled {
            let task = node.upkeep_task().run(shutdown.clone());
            tasks.spawn(tracing::Instrument::instrument(task, tracing::info_span!("ledger-upkeep")));
        }
        tasks.close();
        let mut tick = tokio::time::interval(Duration::from_secs(node.cfg.epoch_secs.max(1)));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.cancelled() => break,
            }
            if shutdown.is_cancelled() {
                break;
            }
            let t0 = Instant::now();
            if let Err(e) = node.round().await {
                tracing::error!(error = %e, "validation round failed");
                node.status.lock().last_error = Some(e.to_string());
            }
            node.status.lock().last_round_ms = t0.elapsed().as_millis() as u64;
            let st = node.status.lock().clone();
            if let Err(e) = records::put(&node.store, |b| records::STATUS.put(b, &st)) {
                tracing::error!(error = %e, "saving status failed");
            }
        }
        tasks.wait().await;
        let _ = api.flush_usage();
        tracing::info!("validator stopped");
        Ok(())
    }

    /// One round: tasks, verification, scores, proposals, weights, root.
    pub async fn round(&self) -> anyhow::Result<()> {
        let netuid = self.cfg.neuron.netuid;
        let policy = self.policy().await;
        let mg = self.chain.metagraph(netuid).await?;
        let block = mg.block;
        *self.metagraph.write().await = Some(mg.clone());
        let epoch = self.status.lock().epoch + 1;
        let miners: Vec<_> =
            mg.neurons.iter().filter(|n| n.hotkey != self.key.ss58() && n.axon.is_serving()).cloned().collect();
        tracing::info!(epoch, block, miners = miners.len(), "validation round");
        // Only entries that may verify anyone (Verified, or seeded by the operator) are used to
        // check miners' work: a candidate that came from a proposal verifies no one.
        let ledger: Vec<LedgerEntry> = self.store.entries()?.into_iter().filter(LedgerEntry::verifies).collect();
        let salt = self.key.sign(b"orchestra task salt");
        let mut calls = Vec::new();
        for n in &miners {
            let req = tasks::synthetic(&salt[..32], epoch, &n.hotkey, self.cfg.task_deadline_ms);
            let Some(ip) = orchestra_chain::int_to_ip(n.axon.ip, n.axon.ip_type) else { continue };
            let target = AxonTarget::new(ip.to_string(), n.axon.port, n.hotkey.clone());
            calls.push((n.clone(), req, target));
        }
        let timeout = Duration::from_millis(self.cfg.task_deadline_ms + 2_000);
        let futs = calls.iter().map(|(_, req, target)| async move {
            let syn = Orchestrate::from_request(req.clone());
            let t0 = Instant::now();
            match syn {
                Ok(s) => {
                    let r = self.dendrite.call(target, s, timeout).await;
                    (Some(r), t0.elapsed())
                }
                Err(_) => (None, t0.elapsed()),
            }
        });
        // The validator's own answers, one per distinct task, computed while the miners work.
        let mut distinct: Vec<(String, serde_json::Value)> = Vec::new();
        for (_, req, _) in &calls {
            let key = (req.objective.clone(), req.target_schema.clone());
            if !distinct.contains(&key) {
                distinct.push(key);
            }
        }
        let ref_timeout = Duration::from_millis(self.cfg.task_deadline_ms.max(1_000));
        let refs = distinct.iter().map(|(objective, schema)| {
            let ledger = &ledger;
            async move {
                let js = orchestra_proto::shorthand::to_json_schema(schema).unwrap_or_else(|_| schema.clone());
                match reference::compute(objective, &js, ledger, &self.adapters, ref_timeout).await {
                    Ok(r) => Some(r.answer),
                    Err(e) => {
                        tracing::warn!(objective = %objective, error = %e, "no reference answer for this task");
                        None
                    }
                }
            }
        });
        let (answers, references) = tokio::join!(futures_join(futs), futures_join(refs));
        let reference_for = |req: &orchestra_proto::synapses::OrchestrateRequest| {
            distinct
                .iter()
                .position(|(o, s)| *o == req.objective && *s == req.target_schema)
                .and_then(|i| references.get(i).cloned().flatten())
        };
        let vcfg = VerifyConfig {
            reprobe_rate: policy.reprobe_rate,
            seed: epoch ^ u64::from_le_bytes(salt[..8].try_into().unwrap_or([0; 8])),
            reprobe_timeout: Duration::from_secs(5),
        };
        let mut states: BTreeMap<String, MinerState> = BTreeMap::new();
        // Proposals carried in answers whose signature and root checked out: their evidence is
        // this validator's own task, so every validator can decide the drift it saw itself.
        let mut embedded: BTreeMap<String, Vec<orchestra_proto::synapses::LedgerProposal>> = BTreeMap::new();
        // Every miner's records of this round, committed at once (one fsync, not five per miner).
        let mut writes = Batch::new();
        for ((n, req, _), (resp, elapsed)) in calls.iter().zip(answers) {
            let mut st: MinerState = records::MINERS.get(self.store.db(), &n.hotkey)?.unwrap_or_default();
            let v = match resp {
                Some(r) if r.is_success() => {
                    let reference = reference_for(req);
                    let v =
                        verify(req, &r.synapse, &n.hotkey, elapsed, &ledger, &self.adapters, &vcfg, reference.as_ref())
                            .await;
                    if v.sub.signature && v.sub.receipt_root {
                        self.remember_leaves(&mut writes, &n.hotkey, &r.synapse.receipts)?;
                        embedded.insert(n.hotkey.clone(), r.synapse.ledger_proposals.clone());
                    }
                    v
                }
                // The axon's message is its text, not ours: only the status is recorded (and
                // shown through /v1/feedback).
                Some(r) => Verification {
                    sub: zero_subscores(),
                    notes: vec![format!("call failed: status {}", r.status_code)],
                    reprobed: vec![],
                },
                None => Verification {
                    sub: zero_subscores(),
                    notes: vec!["could not build the task".into()],
                    reprobed: vec![],
                },
            };
            let score = task_score(&v.sub, &policy);
            self.metrics.tasks.inc();
            st.orchestration.observe(score.total, epoch, policy.half_life_orchestration);
            records::TASKS.put(
                &mut writes,
                &records::TaskKey::new(&n.hotkey, &req.task_id),
                &serde_json::json!({"task_id": req.task_id, "epoch": epoch, "uid": n.uid, "sub": v.sub, "notes": v.notes,
                                    "score": score, "reprobed": v.reprobed, "at_ms": orchestra_ledger_store::now_ms()}),
            )?;
            // Retention: one task record per miner (the last, which feedback shows).
            if let Some(prev) = records::LAST_TASK.get(self.store.db(), &n.hotkey)?
                && prev != req.task_id
            {
                records::TASKS.delete(&mut writes, &records::TaskKey::new(&n.hotkey, &prev));
            }
            records::LAST_TASK.put(&mut writes, &n.hotkey, &req.task_id)?;
            states.insert(n.hotkey.clone(), st);
        }
        // Before the proposals below read the leaves back.
        self.store.db().commit(std::mem::take(&mut writes))?;

        // Ledger proposals: pull and receive now (cheap, bounded per miner); probing and
        // deciding runs in the background under a semaphore, so it never delays weights. Credits
        // of decisions reach the Ledger score when they are decided (this round or a later one).
        let mut pending = Vec::new();
        // The pulls go out together (each miner answers on its own); what they bring is
        // processed in miner order below.
        let pulls = calls.iter().map(|(n, _, target)| {
            let since = states.get(&n.hotkey).map(|st| st.proposals_cursor);
            async move {
                let since = since?;
                let pull = LedgerProposals { since, max: 50, ..Default::default() };
                Some(self.dendrite.call(target, pull, Duration::from_secs(5)).await)
            }
        });
        let pulled = futures_join(pulls).await;
        for ((n, _, _), r) in calls.iter().zip(pulled) {
            let (Some(st), Some(r)) = (states.get_mut(&n.hotkey), r) else { continue };
            let mut proposals = embedded.remove(&n.hotkey).unwrap_or_default();
            if r.is_success() {
                st.proposals_cursor = r.synapse.next.max(st.proposals_cursor);
                proposals.extend(r.synapse.proposals);
            }
            let known: std::collections::BTreeSet<_> = self.known_leaves(&n.hotkey)?.into_iter().collect();
            for p in proposals.into_iter().take(policy.ledger.per_epoch_cap as usize * 3) {
                // Cited evidence must be receipt leaves this validator saw the miner sign. A
                // proposal from another validator's task cannot be checked here: it is skipped
                // (no credit, no penalty) and left to that validator.
                if p.evidence.is_empty() || !p.evidence.iter().all(|d| known.contains(d)) {
                    tracing::info!(miner = %n.hotkey, task = %p.task_id, "proposal cites evidence this validator has not seen; skipped");
                    continue;
                }
                match governance::receive(&self.store, p, &n.hotkey) {
                    Ok(Received::New(id)) => pending.push(id),
                    // A confirmation of a pending proposal is credited with its decision (the
                    // decision lists every confirmer); one of a decided proposal earns nothing.
                    Ok(Received::Confirmation(_)) | Ok(Received::AlreadyDecided(_)) | Ok(Received::Duplicate(_)) => {}
                    Err(e) => {
                        tracing::info!(miner = %n.hotkey, error = %e, "malformed proposal refused");
                        self.credit(&n.hotkey, CreditKind::FalseProposal)?;
                    }
                }
            }
        }
        // Candidates are promoted (and every entry kept true) by the `ledger-upkeep` task.
        self.spawn_governance(pending);
        let activity = self.take_activity()?;
        let mut scores = Vec::new();
        let mut shown = BTreeMap::new();
        for n in &miners {
            let Some(st) = states.get_mut(&n.hotkey) else { continue };
            let a = activity.get(&n.hotkey).cloned().unwrap_or_default();
            st.ledger.observe(ledger_score(&a, &policy), epoch, policy.half_life_ledger);
            records::MINERS.put(&mut writes, &n.hotkey, st)?;
            scores.push(MinerScores { uid: n.uid, orchestration: st.orchestration.value, ledger: st.ledger.value });
            shown.insert(n.hotkey.clone(), (st.orchestration.value, st.ledger.value));
        }
        self.store.db().commit(writes)?;
        {
            let mut s = self.status.lock();
            s.epoch = epoch;
            s.block = block;
            s.miners = miners.len();
            s.scores = shown;
            s.policy = Some(policy.clone());
        }
        let weights = combine(&scores, &policy)?;
        self.submit_weights(&mg, &weights).await;
        if self.cfg.publish_root {
            match self.store.root() {
                Ok(root) => {
                    if let Err(e) = self.chain.set_commitment(netuid, &root.0).await {
                        tracing::warn!(error = %e, "publishing the Ledger root failed");
                    }
                }
                Err(e) => tracing::error!(error = %e, "computing the Ledger root failed"),
            }
        }
        Ok(())
    }

    /// Record one Ledger credit for `hotkey`, to be scored at the next round.
    fn credit(&self, hotkey: &str, kind: CreditKind) -> anyhow::Result<()> {
        let _g = self.activity_lock.lock();
        let mut all = records::ACTIVITY.get(self.store.db())?.unwrap_or_default();
        let a = all.entry(hotkey.to_string()).or_default();
        match kind {
            CreditKind::Discovery => a.discoveries += 1,
            CreditKind::Confirmation => a.confirmations += 1,
            CreditKind::FalseProposal => a.false_proposals += 1,
        }
        records::put(&self.store, |b| records::ACTIVITY.put(b, &all))?;
        Ok(())
    }

    /// The Ledger credits decided since the last round (and clear them).
    fn take_activity(&self) -> anyhow::Result<BTreeMap<String, LedgerActivity>> {
        let _g = self.activity_lock.lock();
        let all: BTreeMap<String, LedgerActivity> = records::ACTIVITY.get(self.store.db())?.unwrap_or_default();
        records::put(&self.store, |b| records::ACTIVITY.put(b, &BTreeMap::new()))?;
        Ok(all)
    }

    /// Probe and decide `ids` in the background: at most `GOVERN_CONCURRENCY` probes at once,
    /// each bounded by the prober's timeout.
    fn spawn_governance(&self, ids: Vec<orchestra_proto::canonical::Digest>) {
        if ids.is_empty() {
            return;
        }
        let store = self.store.clone();
        let prober = LiveProber { adapters: self.adapters.clone(), timeout: Duration::from_secs(5) };
        let me = self.key.ss58().to_string();
        let sem = self.governance_slots.clone();
        let activity_lock = self.activity_lock.clone();
        let rule = self.cfg.defer_rule();
        tokio::spawn(async move {
            let jobs = ids.into_iter().map(|id| {
                let (store, prober, me, sem, activity_lock) =
                    (store.clone(), prober.clone(), me.clone(), sem.clone(), activity_lock.clone());
                async move {
                    let Ok(_permit) = sem.acquire().await else { return };
                    match governance::govern_with(&store, &prober, &id, &me, &rule).await {
                        Ok(Governed::Decided(d)) => {
                            tracing::info!(proposal = %id, approved = d.approved, reason = %d.reason, "proposal decided");
                            record_credits(&store, &activity_lock, d.credits);
                        }
                        // The subnet did not answer: probed again by the upkeep task, no penalty.
                        Ok(Governed::Deferred { reason, next_ms, .. }) => {
                            tracing::info!(proposal = %id, reason = %reason, next_ms, "proposal deferred: the subnet did not answer");
                        }
                        Err(e) => tracing::warn!(proposal = %id, error = %e, "governing a proposal failed"),
                    }
                }
            });
            futures::future::join_all(jobs).await;
        });
    }

    /// The one guarded path to the chain for weights: version key and rate limit first, the
    /// SDK's normalization, commit-reveal when enabled, a journal written before and after, and
    /// retries with backoff. Every failure is logged as an error, counted and shown in status.
    pub async fn submit_weights(&self, mg: &Metagraph, weights: &[(u16, f64)]) {
        let netuid = self.cfg.neuron.netuid;
        let fail = |this: &Self, msg: String| {
            tracing::error!(netuid, "weights not set: {msg}");
            this.metrics.weight_failures.inc();
            let mut s = this.status.lock();
            s.weight_failures += 1;
            s.last_error = Some(msg);
        };
        let hp = match self.chain.hyperparams(netuid).await {
            Ok(h) => h,
            Err(e) => return fail(self, format!("hyperparams: {e}")),
        };
        let mut journal: WeightJournal = match records::WEIGHTS_JOURNAL.get(self.store.db()) {
            Ok(j) => j.unwrap_or_default(),
            Err(e) => return fail(self, format!("journal: {e}")),
        };
        let block = mg.block;
        // A submission whose outcome we never saw (crash in between): the chain's last_update
        // for our uid tells whether it landed.
        let me = mg.neurons.iter().find(|n| n.hotkey == self.key.ss58()).map(|n| n.last_update);
        reconcile_intent(&mut journal, me);
        journal.upgrade();
        self.reveal_pending(&mut journal, block, &hp).await;
        if rate_limited(&journal, block, hp.weights_rate_limit) {
            let last = journal.last_submitted_block.unwrap_or_default();
            tracing::info!(block, last, limit = hp.weights_rate_limit, "weights rate limit: not submitting this round");
            let _ = self.save_journal(&journal);
            return;
        }
        let uids: Vec<u16> = weights.iter().map(|w| w.0).collect();
        let vals: Vec<f64> = weights.iter().map(|w| w.1).collect();
        let sub = match WeightsSubmission::from_float(&uids, &vals, hp.weights_version) {
            Ok(s) if !s.uids.is_empty() => s,
            Ok(_) => {
                tracing::warn!("no miner earned weight this round; nothing to submit");
                return;
            }
            Err(e) => return fail(self, format!("normalization: {e}")),
        };
        journal.intent_block = Some(block);
        if let Err(e) = self.save_journal(&journal) {
            return fail(self, format!("journal: {e}"));
        }
        let mut attempt = 0;
        let result = loop {
            attempt += 1;
            let r = if hp.commit_reveal_weights_enabled {
                let salt: Vec<u16> = self.key.sign(&block.to_le_bytes())[..8].iter().map(|b| u16::from(*b)).collect();
                let reveal = WeightsReveal {
                    mechanism: sub.mechanism,
                    uids: sub.uids.clone(),
                    values: sub.weights.clone(),
                    salt,
                    version_key: sub.version_key,
                };
                // Journal the reveal (a synced write) before the commit: a crash after the
                // commit landed must not lose what to reveal. Retries send the same commit.
                let added = !journal.pending_reveals.iter().any(|p| p.reveal == reveal);
                if added {
                    journal.pending_reveals.push(PendingReveal {
                        reveal: reveal.clone(),
                        commit_block: block,
                        failures: 0,
                    });
                }
                if let Err(e) = self.save_journal(&journal) {
                    if added {
                        journal.pending_reveals.pop();
                    }
                    break Err(orchestra_chain::ChainError::Rpc(format!("local journal write failed: {e}")));
                }
                let out = self.chain.commit_weights_for(netuid, &reveal).await;
                // A refusal the chain will repeat means no commit landed: nothing to reveal. A
                // transient failure may have landed: the reveal stays (the chain says later).
                if out.as_ref().is_err_and(|e| !e.is_transient()) {
                    journal.pending_reveals.retain(|p| p.reveal != reveal);
                }
                out
            } else {
                self.chain.set_weights(netuid, &sub).await
            };
            match r {
                Ok(tx) => break Ok(tx),
                Err(e) if e.is_transient() && attempt < 3 => {
                    tracing::warn!(attempt, error = %e, "weights submission failed; retrying");
                    tokio::time::sleep(WEIGHTS_RETRY.nominal(attempt)).await;
                }
                Err(e) => break Err(e),
            }
        };
        journal.intent_block = None;
        match result {
            Ok(tx) => {
                journal.last_submitted_block = Some(tx.block_number.unwrap_or(block));
                self.metrics.weight_submissions.inc();
                let mut s = self.status.lock();
                s.weight_submissions += 1;
                s.last_weights_block = journal.last_submitted_block;
                tracing::info!(netuid, uids = ?sub.uids, weights = ?sub.weights, "weights submitted");
            }
            Err(e) => fail(self, format!("{e}")),
        }
        if let Err(e) = self.save_journal(&journal) {
            fail(self, format!("journal: {e}"));
        }
    }
}

impl ValidatorNode {
    /// The weight journal as stored (tests, tools).
    pub fn weight_journal(&self) -> anyhow::Result<WeightJournal> {
        let mut j: WeightJournal = records::WEIGHTS_JOURNAL.get(self.store.db())?.unwrap_or_default();
        j.upgrade();
        Ok(j)
    }

    /// Try every pending reveal, oldest first; each stays in the journal until it is revealed
    /// or can no longer be (see [`reveal_outcome`]). The journal is written after each change.
    async fn reveal_pending(&self, journal: &mut WeightJournal, block: u64, hp: &orchestra_chain::Hyperparams) {
        let netuid = self.cfg.neuron.netuid;
        let expiry = reveal_expiry_blocks(hp.tempo, hp.commit_reveal_period);
        let mut i = 0;
        while i < journal.pending_reveals.len() {
            let p = journal.pending_reveals[i].clone();
            let r = self.chain.reveal_weights(netuid, &p.reveal).await;
            match reveal_outcome(&r, p.commit_block, block, expiry) {
                RevealOutcome::Revealed => {
                    tracing::info!(netuid, commit_block = p.commit_block, "weights revealed");
                    journal.pending_reveals.remove(i);
                }
                RevealOutcome::Gone => {
                    journal.pending_reveals.remove(i);
                    let msg = r.err().map(|e| e.to_string()).unwrap_or_default();
                    self.weight_failure(format!("reveal of the commit at block {} dropped: {msg}", p.commit_block));
                }
                RevealOutcome::Keep => {
                    let early = r.as_ref().is_err_and(|e| e.is("RevealTooEarly"));
                    let e = r.err().map(|e| e.to_string()).unwrap_or_default();
                    if early {
                        tracing::info!(commit_block = p.commit_block, "reveal not due yet");
                    } else {
                        journal.pending_reveals[i].failures += 1;
                        tracing::warn!(error = %e, commit_block = p.commit_block, "reveal failed; kept for the next round");
                        self.weight_failure(format!("reveal (kept): {e}"));
                    }
                    i += 1;
                }
            }
            if let Err(e) = self.save_journal(journal) {
                self.weight_failure(format!("journal: {e}"));
            }
        }
    }

    /// Write the weight journal (one synced batch).
    fn save_journal(&self, journal: &WeightJournal) -> Result<(), orchestra_store::StoreError> {
        records::put(&self.store, |b| records::WEIGHTS_JOURNAL.put(b, journal))
    }

    /// Count and show a weights failure (logged as an error).
    fn weight_failure(&self, msg: String) {
        tracing::error!(netuid = self.cfg.neuron.netuid, "weights: {msg}");
        self.metrics.weight_failures.inc();
        let mut s = self.status.lock();
        s.weight_failures += 1;
        s.last_error = Some(msg);
    }

    /// Remember the receipt leaves of a response whose signature and root checked out.
    fn remember_leaves(
        &self,
        writes: &mut Batch,
        hotkey: &str,
        receipts: &[orchestra_proto::receipt::Receipt],
    ) -> anyhow::Result<()> {
        let mut known = self.known_leaves(hotkey)?;
        for r in receipts {
            if let Ok(leaf) = r.leaf()
                && !known.contains(&leaf)
            {
                known.push(leaf);
            }
        }
        if known.len() > KNOWN_LEAVES {
            known.drain(..known.len() - KNOWN_LEAVES);
        }
        records::LEAVES.put(writes, &hotkey.to_string(), &known)?;
        Ok(())
    }

    fn known_leaves(&self, hotkey: &str) -> anyhow::Result<Vec<orchestra_proto::canonical::Digest>> {
        Ok(records::LEAVES.get(self.store.db(), &hotkey.to_string())?.unwrap_or_default())
    }

    /// The `ledger-upkeep` task over this validator's store, prober and settings.
    pub fn upkeep_task(&self) -> crate::upkeep::Upkeep {
        crate::upkeep::Upkeep {
            store: self.store.clone(),
            prober: LiveProber {
                adapters: self.adapters.clone(),
                timeout: Duration::from_millis(self.cfg.upkeep_probe_timeout_ms.max(1)),
            },
            validator: self.key.ss58().to_string(),
            cfg: Arc::new(self.upkeep.clone()),
            metrics: self.upkeep_metrics.clone(),
            activity_lock: self.activity_lock.clone(),
        }
    }
}

/// Add decided Ledger credits to the pending activity scored at the next round.
pub(crate) fn record_credits(
    store: &LedgerStore,
    activity_lock: &Mutex<()>,
    credits: Vec<orchestra_ledger_store::Credit>,
) {
    if credits.is_empty() {
        return;
    }
    let _g = activity_lock.lock();
    let mut all = records::ACTIVITY.get(store.db()).ok().flatten().unwrap_or_default();
    for c in credits {
        let a = all.entry(c.hotkey).or_default();
        match c.kind {
            CreditKind::Discovery => a.discoveries += 1,
            CreditKind::Confirmation => a.confirmations += 1,
            CreditKind::FalseProposal => a.false_proposals += 1,
        }
    }
    if let Err(e) = records::put(store, |b| records::ACTIVITY.put(b, &all)) {
        tracing::error!(error = %e, "recording Ledger credits failed");
    }
}

/// A submission whose outcome was never seen (a crash in between): the chain's `last_update`
/// of our uid tells whether it landed. Pure, so the rule is tested on its own.
pub fn reconcile_intent(journal: &mut WeightJournal, my_last_update: Option<u64>) {
    if let Some(intent) = journal.intent_block.take()
        && my_last_update.is_some_and(|u| u >= intent)
    {
        journal.last_submitted_block = Some(intent);
    }
}

/// Inside the chain's weights rate limit since our last landed submission.
pub fn rate_limited(journal: &WeightJournal, block: u64, rate_limit: u64) -> bool {
    journal.last_submitted_block.is_some_and(|last| block.saturating_sub(last) < rate_limit)
}

fn write_secret(path: &str, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    o.mode(0o600);
    let mut f = o.open(path).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    f.write_all(secret.as_bytes()).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    Ok(())
}

fn zero_subscores() -> orchestra_incentive::score::SubScores {
    orchestra_incentive::score::SubScores {
        signature: false,
        receipt_root: false,
        schema: false,
        grounding: 0.0,
        reprobe: None,
        latency_ratio: f64::INFINITY,
        cost_ratio: 0.0,
        quality_floor: false,
        citations: None,
        accuracy: None,
        contradicted: false,
    }
}

/// Run futures concurrently and collect their outputs in order.
async fn futures_join<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    futures::future::join_all(futs).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every flag (the shared neuron and server flags included) has its own id and name.
    #[test]
    fn flags_are_consistent() {
        use clap::CommandFactory;
        ValidatorConfig::command().debug_assert();
        let cfg = ValidatorConfig::parse_from(["validator", "--server.max_connections", "10", "--api.public_status"]);
        assert_eq!(cfg.neuron.server.limits().max_connections, 10);
        assert!(cfg.public_status);
    }

    #[test]
    fn an_unseen_submission_counts_only_if_the_chain_saw_it() {
        let mut j = WeightJournal { intent_block: Some(100), ..WeightJournal::default() };
        reconcile_intent(&mut j, Some(99));
        assert_eq!((j.intent_block, j.last_submitted_block), (None, None), "did not land");
        let mut j = WeightJournal { intent_block: Some(100), ..WeightJournal::default() };
        reconcile_intent(&mut j, Some(101));
        assert_eq!(j.last_submitted_block, Some(100), "landed: the rate limit counts from it");
        let mut j = WeightJournal { intent_block: Some(100), ..WeightJournal::default() };
        reconcile_intent(&mut j, None);
        assert_eq!(j.last_submitted_block, None, "deregistered: nothing landed");
    }

    #[test]
    fn the_rate_limit_counts_from_the_last_landed_submission() {
        let j = WeightJournal { last_submitted_block: Some(100), ..WeightJournal::default() };
        assert!(rate_limited(&j, 110, 15));
        assert!(!rate_limited(&j, 115, 15));
        assert!(!rate_limited(&WeightJournal::default(), 5, 15), "never submitted");
    }
}
