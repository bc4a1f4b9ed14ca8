//! The SIMULATED search and data subnets served as Bittensor v10 axons too, with synapses shaped
//! like the real ones: `WebSearchSynapse` (Desearch-like) and `OnDemandRequest` (the name of
//! SN13's on-demand synapse). Their fields mirror the HTTP API's request and response, so one
//! Ledger entry (one input and output schema) describes both transports. Faults and drift apply
//! as on HTTP.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use orchestra_keys::Keypair;
use orchestra_net::{Axon, AxonConfig, BlacklistPolicy, SynapseError};
use orchestra_proto::wire::{PyType, Synapse};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::SimError;
use crate::faults::{Outcome, apply_drift};
use crate::server::{SubnetKind, SubnetState};

/// Web search over the simulated corpus.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WebSearchSynapse {
    pub prompt: String,
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub search_results: Vec<Value>,
}

impl Synapse for WebSearchSynapse {
    const NAME: &'static str = "WebSearchSynapse";
    const REQUIRED_FIELDS: &'static [(&'static str, PyType)] = &[("prompt", PyType::Str)];
}

/// On-demand posts or a scraped page.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OnDemandRequest {
    /// Platform: a name (`X`, `REDDIT`) or SN13's `DataSource` number (1 = Reddit, 2 = X).
    #[serde(default)]
    pub source: Option<Value>,
    #[serde(default)]
    pub usernames: Vec<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub keyword_mode: Option<String>,
    /// ISO date or datetime bounds (inclusive) of the posts.
    #[serde(default)]
    pub start_date: Option<String>,
    #[serde(default)]
    pub end_date: Option<String>,
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub data: Vec<Value>,
}

impl Synapse for OnDemandRequest {
    const NAME: &'static str = "OnDemandRequest";
}

/// The deterministic key of a simulated subnet's axon.
pub fn axon_key(netuid: u16) -> Result<Keypair, SimError> {
    Keypair::from_uri(&format!("//SimulatedSubnet{netuid}"))
        .map_err(|e| SimError::Config { path: "<axon key>".into(), reason: e.to_string() })
}

/// Apply the subnet's faults to one call; `Ok(drift)` to proceed.
async fn faults(s: &SubnetState) -> Result<Option<crate::faults::DriftKind>, SynapseError> {
    let (f, since) = {
        let g = s.faults.lock();
        (g.0.clone(), g.1)
    };
    let n = s.requests.fetch_add(1, Ordering::Relaxed);
    let delay = f.latency_ms(s.seed, n);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    match f.outcome(s.seed, n) {
        Outcome::Down => return Err(SynapseError::unavailable("simulated subnet is down")),
        Outcome::Error | Outcome::Malformed => return Err(SynapseError::internal("simulated upstream error")),
        Outcome::Timeout => {
            let hold = if f.timeout_hold_ms > 0 { f.timeout_hold_ms } else { 30_000 };
            tokio::time::sleep(Duration::from_millis(hold)).await;
            return Err(SynapseError::new(504, "simulated timeout"));
        }
        Outcome::Normal => {}
    }
    Ok(f.drift.filter(|d| since.elapsed() >= Duration::from_millis(d.after_ms)).map(|d| d.kind))
}

/// An axon for the subnet, bound on the subnet's host; `None` for kinds without one (LLM chat
/// like SN64 has no axon).
pub(crate) async fn build(state: Arc<SubnetState>) -> Result<Option<(Axon, tokio::net::TcpListener)>, SimError> {
    let kind = state.cfg.kind;
    if kind == SubnetKind::Llm {
        return Ok(None);
    }
    let key = match &state.cfg.axon_key {
        Some(uri) => {
            Keypair::from_uri(uri).map_err(|e| SimError::Config { path: "<axon key>".into(), reason: e.to_string() })?
        }
        None => axon_key(state.cfg.netuid)?,
    };
    let cfg = AxonConfig { policy: BlacklistPolicy::allow_all(), rate_limit: None, ..AxonConfig::default() };
    let axon = Axon::new(cfg, key).map_err(|e| SimError::Config { path: "<axon>".into(), reason: e.to_string() })?;
    let axon = match kind {
        SubnetKind::Search => {
            let s = state.clone();
            axon.attach(move |_ctx, mut syn: WebSearchSynapse| {
                let s = s.clone();
                async move {
                    let drift = faults(&s).await?;
                    let out = crate::server::search(&s.world, &json!({"prompt": syn.prompt, "count": syn.count}))
                        .map_err(SynapseError::bad_request)?;
                    syn.search_results = out["search_results"].as_array().cloned().unwrap_or_default();
                    if let Some(d) = drift {
                        syn.search_results.iter_mut().for_each(|it| apply_drift(it, &d));
                    }
                    Ok(syn)
                }
            })
        }
        _ => {
            let s = state.clone();
            axon.attach(move |_ctx, mut syn: OnDemandRequest| {
                let s = s.clone();
                async move {
                    let drift = faults(&s).await?;
                    let input = json!({"url": syn.url, "keywords": syn.keywords, "usernames": syn.usernames,
                                       "keyword_mode": syn.keyword_mode.clone().unwrap_or_else(|| "all".into()),
                                       "source": syn.source, "start_date": syn.start_date, "end_date": syn.end_date,
                                       "limit": syn.limit.unwrap_or(100)});
                    let out = crate::server::data(&s.world, &input).map_err(SynapseError::bad_request)?;
                    syn.data = out["data"].as_array().cloned().unwrap_or_default();
                    if let Some(d) = drift {
                        syn.data.iter_mut().for_each(|it| apply_drift(it, &d));
                    }
                    Ok(syn)
                }
            })
        }
    }
    .map_err(|e| SimError::Config { path: "<axon>".into(), reason: e.to_string() })?;
    // Beside an HTTP API the axon takes a free port; alone it takes the configured one.
    let port = if state.cfg.axon_only { state.cfg.port } else { 0 };
    let addr = format!("{}:{port}", state.cfg.host);
    let listener =
        tokio::net::TcpListener::bind(&addr).await.map_err(|source| SimError::Bind { addr: addr.clone(), source })?;
    Ok(Some((axon, listener)))
}
