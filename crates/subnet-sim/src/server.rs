//! The simulated subnets' HTTP servers (one per subnet, each on its own port) and the fault
//! control endpoint.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::watch;

use orchestra_proto::extract::ExtractionRequest;

use crate::SimError;
use crate::extractor::{ExtractOptions, extract};
use crate::faults::{Faults, Outcome, apply_drift};
use crate::world::{PostQuery, World};

/// Which real subnet a simulated one imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubnetKind {
    /// Web search like SN22 Desearch.
    Search,
    /// On-demand data and scraping like SN13 Data Universe.
    Data,
    /// OpenAI-compatible LLM chat like SN64 Chutes.
    Llm,
}

impl SubnetKind {
    /// The path of the subnet's main endpoint.
    pub fn path(self) -> &'static str {
        match self {
            SubnetKind::Search => "/desearch/ai/search/links/web",
            SubnetKind::Data => "/sn13.v1.Sn13Service/OnDemandData",
            SubnetKind::Llm => "/v1/chat/completions",
        }
    }
}

/// One simulated subnet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubnetSimConfig {
    pub kind: SubnetKind,
    pub netuid: u16,
    pub name: String,
    #[serde(default = "default_host")]
    pub host: String,
    /// 0 picks a free port.
    #[serde(default)]
    pub port: u16,
    #[serde(default)]
    pub faults: Faults,
    /// Serve the subnet only as a Bittensor v10 axon (search and data kinds), on `host:port`:
    /// no HTTP API, no control endpoint. Its Ledger entry routes through the metagraph, so the
    /// axon must be registered and served on a (devnet) chain to be found
    /// (`orchestra subnet-sim --axon-only KIND --chain.endpoint URL` does both).
    #[serde(default)]
    pub axon_only: bool,
    /// Dev URI of the axon's hotkey (default `//SimulatedSubnet<netuid>`). Several axons of one
    /// simulated subnet need distinct keys.
    #[serde(default)]
    pub axon_key: Option<String>,
}

fn default_host() -> String {
    "127.0.0.1".into()
}

/// The simulator's config file (`orchestra subnet-sim --config FILE`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimConfig {
    /// Seed of the deterministic fault rolls.
    #[serde(default)]
    pub seed: u64,
    #[serde(rename = "subnet")]
    pub subnets: Vec<SubnetSimConfig>,
    /// World file named in the config (`world = "my-world.json"`, relative to the config
    /// file); loaded by [`SimConfig::from_toml_file`] into `world`.
    #[serde(default, rename = "world", skip_serializing_if = "Option::is_none")]
    pub world_file: Option<String>,
    /// The world every subnet serves (default: the built-in world).
    #[serde(skip, default = "World::builtin")]
    pub world: Arc<World>,
}

impl SimConfig {
    /// The three simulated subnets of the worked example on free ports: search (netuid 22),
    /// data (13) and LLM (64).
    pub fn default_trio() -> Self {
        let s = |kind, netuid, name: &str| SubnetSimConfig {
            kind,
            netuid,
            name: name.into(),
            host: default_host(),
            port: 0,
            faults: Faults::default(),
            axon_only: false,
            axon_key: None,
        };
        SimConfig {
            seed: 42,
            subnets: vec![
                s(SubnetKind::Search, 22, "sim-desearch"),
                s(SubnetKind::Data, 13, "sim-data-universe"),
                s(SubnetKind::Llm, 64, "sim-chutes"),
            ],
            world_file: None,
            world: World::builtin(),
        }
    }

    /// Serve this world instead.
    pub fn with_world(mut self, world: Arc<World>) -> Self {
        self.world = world;
        self
    }

    /// Load, validate and serve the world file at `path`.
    pub fn with_world_file(mut self, path: &str) -> Result<Self, SimError> {
        self.world = Arc::new(World::from_file(path)?);
        self.world_file = Some(path.to_string());
        Ok(self)
    }

    pub fn from_toml_file(path: &str) -> Result<Self, SimError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| SimError::Config { path: path.into(), reason: e.to_string() })?;
        let mut c: SimConfig =
            toml::from_str(&text).map_err(|e| SimError::Config { path: path.into(), reason: e.to_string() })?;
        for s in &c.subnets {
            s.faults.validate().map_err(|reason| SimError::Config { path: path.into(), reason })?;
        }
        if let Some(w) = c.world_file.clone() {
            let p = std::path::Path::new(path).parent().map(|d| d.join(&w)).unwrap_or_else(|| w.clone().into());
            let p = if std::path::Path::new(&w).is_absolute() { w.clone() } else { p.display().to_string() };
            c = c.with_world_file(&p)?;
        }
        Ok(c)
    }
}

pub(crate) struct SubnetState {
    pub(crate) cfg: SubnetSimConfig,
    pub(crate) seed: u64,
    pub(crate) world: Arc<World>,
    pub(crate) faults: Mutex<(Faults, Instant)>,
    pub(crate) requests: AtomicU64,
}

/// A running simulated subnet.
#[derive(Debug, Clone, Serialize)]
pub struct RunningSubnet {
    pub kind: SubnetKind,
    pub netuid: u16,
    pub name: String,
    pub addr: SocketAddr,
    /// The same subnet served as a Bittensor v10 axon (search and data kinds): address and
    /// the axon's hotkey.
    pub axon: Option<(SocketAddr, String)>,
    /// Served only as that axon (`addr` is the axon's address; there is no HTTP API).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub axon_only: bool,
}

impl RunningSubnet {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.kind.path())
    }
}

/// Handle to the running simulator; dropping it does not stop the servers, `shutdown` does.
pub struct SimHandle {
    pub subnets: Vec<RunningSubnet>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle").field("subnets", &self.subnets).finish()
    }
}

impl SimHandle {
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }

    pub fn by_kind(&self, kind: SubnetKind) -> Option<&RunningSubnet> {
        self.subnets.iter().find(|s| s.kind == kind)
    }
}

/// Bind every configured subnet and serve them until `shutdown`.
pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
    let (stop, rx) = watch::channel(false);
    let mut subnets = Vec::new();
    let mut tasks = Vec::new();
    for cfg in config.subnets {
        cfg.faults.validate().map_err(|reason| SimError::Config { path: "<config>".into(), reason })?;
        if cfg.axon_only {
            let running = start_axon_only(cfg, config.seed, config.world.clone(), &rx, &mut tasks).await?;
            subnets.push(running);
            continue;
        }
        let addr = format!("{}:{}", cfg.host, cfg.port);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|source| SimError::Bind { addr: addr.clone(), source })?;
        let local = listener.local_addr().map_err(|source| SimError::Bind { addr, source })?;
        let mut running = RunningSubnet {
            kind: cfg.kind,
            netuid: cfg.netuid,
            name: cfg.name.clone(),
            addr: local,
            axon: None,
            axon_only: false,
        };
        let state = Arc::new(SubnetState {
            faults: Mutex::new((cfg.faults.clone(), Instant::now())),
            cfg,
            seed: config.seed,
            world: config.world.clone(),
            requests: AtomicU64::new(0),
        });
        if let Some((axon, axon_listener)) = crate::axon::build(state.clone()).await? {
            let axon_addr =
                axon_listener.local_addr().map_err(|source| SimError::Bind { addr: "axon".into(), source })?;
            running.axon = Some((axon_addr, axon.hotkey().to_string()));
            let mut rx = rx.clone();
            tasks.push(tokio::spawn(async move {
                let stop = async move {
                    let _ = rx.wait_for(|s| *s).await;
                };
                if let Err(e) = axon.serve(axon_listener, stop).await {
                    tracing::error!(error = %e, "simulated subnet axon stopped");
                }
            }));
        }
        let app = router(state.clone());
        let mut rx = rx.clone();
        tracing::info!(subnet = %running.name, kind = ?running.kind, addr = %local, "simulated subnet listening");
        tasks.push(tokio::spawn(async move {
            let _ = orchestra_net::serve::serve(listener, app, async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await;
        }));
        subnets.push(running);
    }
    Ok(SimHandle { subnets, stop, tasks })
}

/// A simulated subnet served only as a v10 axon on its configured `host:port`.
async fn start_axon_only(
    cfg: SubnetSimConfig,
    seed: u64,
    world: Arc<World>,
    rx: &watch::Receiver<bool>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Result<RunningSubnet, SimError> {
    if cfg.kind == SubnetKind::Llm {
        return Err(SimError::Config {
            path: "<config>".into(),
            reason: format!("{}: the LLM kind has no axon (axon_only needs search or data)", cfg.name),
        });
    }
    let (kind, netuid, name) = (cfg.kind, cfg.netuid, cfg.name.clone());
    let state = Arc::new(SubnetState {
        faults: Mutex::new((cfg.faults.clone(), Instant::now())),
        cfg,
        seed,
        world,
        requests: AtomicU64::new(0),
    });
    let Some((axon, listener)) = crate::axon::build(state).await? else {
        return Err(SimError::Config { path: "<config>".into(), reason: format!("{name}: no axon for this kind") });
    };
    let addr = listener.local_addr().map_err(|source| SimError::Bind { addr: "axon".into(), source })?;
    let hotkey = axon.hotkey().to_string();
    let mut rx = rx.clone();
    tracing::info!(subnet = %name, %addr, %hotkey, "SIMULATED subnet axon listening (axon only)");
    tasks.push(tokio::spawn(async move {
        let stop = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        if let Err(e) = axon.serve(listener, stop).await {
            tracing::error!(error = %e, "simulated subnet axon stopped");
        }
    }));
    Ok(RunningSubnet { kind, netuid, name, addr, axon: Some((addr, hotkey)), axon_only: true })
}

fn router(state: Arc<SubnetState>) -> Router {
    Router::new()
        .route("/control", get(control_get))
        .route("/control/faults", post(control_set))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(dispatch)
        .with_state(state)
}

async fn control_get(State(s): State<Arc<SubnetState>>) -> Json<Value> {
    let f = s.faults.lock().0.clone();
    Json(json!({
        "simulated": true,
        "kind": s.cfg.kind,
        "netuid": s.cfg.netuid,
        "name": s.cfg.name,
        "requests": s.requests.load(Ordering::Relaxed),
        "faults": f,
    }))
}

async fn control_set(State(s): State<Arc<SubnetState>>, body: axum::body::Bytes) -> Response {
    let f: Faults = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return err(StatusCode::BAD_REQUEST, &format!("faults: {e}")),
    };
    if let Err(e) = f.validate() {
        return err(StatusCode::BAD_REQUEST, &e);
    }
    tracing::info!(subnet = %s.cfg.name, faults = ?f, "faults changed");
    *s.faults.lock() = (f.clone(), Instant::now());
    Json(json!({"ok": true, "faults": f})).into_response()
}

fn err(code: StatusCode, msg: &str) -> Response {
    (code, Json(json!({"error": msg, "simulated": true}))).into_response()
}

fn now_iso() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    orchestra_proto::date::format_timestamp(secs)
}

async fn dispatch(State(s): State<Arc<SubnetState>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let (faults, since) = {
        let g = s.faults.lock();
        (g.0.clone(), g.1)
    };
    let main = s.cfg.kind.path();
    let serving_path = faults.moved_to.as_deref().unwrap_or(main);
    if path == main && faults.moved_to.is_some() {
        let mut r = err(StatusCode::MOVED_PERMANENTLY, &format!("endpoint moved to {serving_path}"));
        if let Ok(v) = HeaderValue::from_str(serving_path) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return r;
    }
    if path != serving_path {
        return err(StatusCode::NOT_FOUND, &format!("no route {path} (this simulated subnet serves {serving_path})"));
    }
    let body = match axum::body::to_bytes(req.into_body(), 1 << 20).await {
        Ok(b) => b,
        Err(e) => return err(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string()),
    };
    let n = s.requests.fetch_add(1, Ordering::Relaxed);
    let outcome = faults.outcome(s.seed, n);
    let delay = faults.latency_ms(s.seed, n);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    match outcome {
        Outcome::Down => return err(StatusCode::SERVICE_UNAVAILABLE, "simulated subnet is down"),
        Outcome::Error => return err(StatusCode::INTERNAL_SERVER_ERROR, "simulated upstream error"),
        Outcome::Timeout => {
            let hold = if faults.timeout_hold_ms > 0 { faults.timeout_hold_ms } else { 30_000 };
            tokio::time::sleep(Duration::from_millis(hold)).await;
            return err(StatusCode::GATEWAY_TIMEOUT, "simulated timeout");
        }
        Outcome::Malformed => {
            return ([(header::CONTENT_TYPE, "application/json")], "{\"search_results\": [ {\"title\": ")
                .into_response();
        }
        Outcome::Normal => {}
    }
    let input: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return err(StatusCode::BAD_REQUEST, &format!("request body is not JSON: {e}")),
    };
    let result = match s.cfg.kind {
        SubnetKind::Search => search(&s.world, &input),
        SubnetKind::Data => data(&s.world, &input),
        SubnetKind::Llm => llm(&s.world, &llm_options(s.seed, &faults), &input),
    };
    let mut out = match result {
        Ok(v) => v,
        Err(msg) => return err(StatusCode::BAD_REQUEST, &msg),
    };
    if let Some(d) = &faults.drift
        && since.elapsed() >= Duration::from_millis(d.after_ms)
    {
        let list_key = match s.cfg.kind {
            SubnetKind::Search => "search_results",
            SubnetKind::Data => "data",
            SubnetKind::Llm => "choices",
        };
        if let Some(items) = out.get_mut(list_key).and_then(Value::as_array_mut) {
            for it in items {
                apply_drift(it, &d.kind);
            }
        }
    }
    Json(out).into_response()
}

/// The simulated search (SN22-like): pages of the world ranked by query words.
pub fn search(world: &World, input: &Value) -> Result<Value, String> {
    let prompt = input
        .get("prompt")
        .and_then(Value::as_str)
        .filter(|p| !p.trim().is_empty())
        .ok_or("`prompt` (non-empty string) is required")?;
    let count = input.get("count").and_then(Value::as_u64).unwrap_or(10).clamp(1, 200) as usize;
    let results: Vec<Value> = world
        .search(prompt, count)
        .into_iter()
        .map(|p| {
            let snippet: String = p.text.chars().take(220).collect();
            json!({"title": simulated_title(&p.title), "link": p.url, "snippet": snippet})
        })
        .collect();
    Ok(json!({"search_results": results}))
}

fn str_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// A page title that says it is simulated.
fn simulated_title(t: &str) -> String {
    if t.to_lowercase().contains("simulated") { t.to_string() } else { format!("{t} (simulated)") }
}

/// SN13's name of a platform (`DataSource`): `X`, `REDDIT`, ...
pub fn platform_label(platform: &str) -> String {
    match platform.to_lowercase().as_str() {
        "x" | "twitter" => "X".into(),
        other => other.to_uppercase(),
    }
}

/// A platform filter from SN13's `source` (a name such as `X`/`REDDIT`, or the `DataSource`
/// number: 1 = Reddit, 2 = X).
fn platform_filter(world: &World, v: Option<&Value>) -> Result<Option<String>, String> {
    let name = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(1) => "reddit".to_string(),
            Some(2) => "x".to_string(),
            _ => return Err(format!("source {n} is not a simulated data source (1 = REDDIT, 2 = X)")),
        },
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => match s.to_lowercase().as_str() {
            "twitter" | "x" => "x".to_string(),
            other => other.to_string(),
        },
        Some(other) => return Err(format!("source {other} must be a string or a number")),
    };
    if world.posts.iter().any(|p| crate::world::same_platform(&p.platform, &name)) {
        Ok(Some(name))
    } else {
        let mut known: Vec<String> = world.posts.iter().map(|p| platform_label(&p.platform)).collect();
        known.sort();
        known.dedup();
        Err(format!("source {name} has no simulated posts (known: {})", known.join(", ")))
    }
}

fn date_bound(input: &Value, key: &str) -> Result<Option<String>, String> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            let b = s.as_bytes();
            let ok = b.len() >= 10
                && b[..10]
                    .iter()
                    .enumerate()
                    .all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() });
            if ok {
                Ok(Some(s.clone()))
            } else {
                Err(format!("{key} `{s}` must be an ISO date (YYYY-MM-DD) or datetime"))
            }
        }
        Some(other) => Err(format!("{key} {other} must be an ISO date string")),
    }
}

/// The simulated on-demand data (SN13-like): a scrape of one URL of the world, or posts
/// filtered by keywords (`keyword_mode` any/all), usernames, `start_date`/`end_date` and
/// `source` (platform).
pub fn data(world: &World, input: &Value) -> Result<Value, String> {
    let limit = input.get("limit").and_then(Value::as_u64).unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(format!("limit {limit} must be in 1..=1000"));
    }
    let scraped_at = now_iso();
    if let Some(url) = input.get("url").and_then(Value::as_str).filter(|u| !u.is_empty()) {
        let page = world.page(url).ok_or_else(|| format!("url {url} is not in the simulated web"))?;
        return Ok(json!({
            "status": "success",
            "data": [{"uri": page.url, "datetime": format!("{}T00:00:00Z", page.date), "source": "WEB",
                      "label": simulated_title(&page.title), "content": page.text, "content_size_bytes": page.text.len()}],
            "meta": {"count": 1, "simulated": true, "scraped_at": scraped_at},
        }));
    }
    let keywords = str_list(input.get("keywords"));
    let usernames = str_list(input.get("usernames"));
    if keywords.len() > 5 || usernames.len() > 10 {
        return Err("at most 5 keywords and 10 usernames".into());
    }
    let all = match input.get("keyword_mode").and_then(Value::as_str).unwrap_or("all").to_lowercase().as_str() {
        "all" => true,
        "any" => false,
        other => return Err(format!("keyword_mode `{other}` must be \"any\" or \"all\"")),
    };
    let q = PostQuery {
        keywords,
        usernames,
        all,
        platform: platform_filter(world, input.get("source"))?,
        start: date_bound(input, "start_date")?,
        end: date_bound(input, "end_date")?,
        limit: limit as usize,
    };
    let items: Vec<Value> = world
        .query_posts(&q)
        .into_iter()
        .map(|p| {
            json!({"uri": p.uri, "datetime": p.datetime, "source": platform_label(&p.platform), "label": p.username,
                   "username": p.username, "content": p.text, "content_size_bytes": p.text.len()})
        })
        .collect();
    let n = items.len();
    Ok(json!({"status": "success", "data": items, "meta": {"count": n, "simulated": true}}))
}

/// Sentences of `text` that carry a price or a number, in order.
fn priced_sentences(text: &str) -> Vec<String> {
    // Split on a period followed by whitespace, so "$2.49" stays whole.
    text.split('\n')
        .flat_map(|line| line.split(". "))
        .map(|s| s.trim().trim_end_matches('.'))
        .filter(|s| s.contains('$') || s.chars().any(|c| c.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}

/// The extractor's rates for one subnet's current faults.
pub(crate) fn llm_options(seed: u64, f: &Faults) -> ExtractOptions {
    ExtractOptions { seed, error_rate: f.llm_error_rate, hallucination_rate: f.llm_hallucination_rate }
}

/// The simulated LLM (SN64-like OpenAI chat). An extraction task ([`ExtractionRequest`]) is
/// answered by the faithful extractor ([`crate::extractor`]) from what the documents carry;
/// any other chat gets the figures of its input back. Deterministic: the same request gets the
/// same response bytes.
pub fn llm(world: &World, opts: &ExtractOptions, input: &Value) -> Result<Value, String> {
    let messages = input.get("messages").and_then(Value::as_array).ok_or("`messages` (array) is required")?;
    if messages.is_empty() {
        return Err("`messages` is empty".into());
    }
    let model = input.get("model").and_then(Value::as_str).unwrap_or("sim-llm");
    let user_text: String = messages
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .filter_map(|m| m.get("content").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n");
    let json_mode = input.pointer("/response_format/type").and_then(Value::as_str) == Some("json_object");
    let facts = priced_sentences(&user_text);
    let content = if let Some(task) = ExtractionRequest::from_chat_body(input) {
        serde_json::to_string(&extract(world, &task, opts)).map_err(|e| e.to_string())?
    } else if json_mode {
        json!({"simulated_llm": true, "facts": facts}).to_string()
    } else if facts.is_empty() {
        let head: String = user_text.chars().take(200).collect();
        format!("[simulated LLM] No figures found in the input. Input begins: {head}")
    } else {
        format!("[simulated LLM] Key figures from the input: {}.", facts.join("; "))
    };
    let digest = blake3::hash(user_text.as_bytes()).to_hex();
    // About four characters a token, as for English text with real tokenizers.
    let prompt_chars: usize =
        messages.iter().filter_map(|m| m.get("content").and_then(Value::as_str)).map(|c| c.chars().count()).sum();
    let prompt_tokens = prompt_chars.div_ceil(4);
    let completion_tokens = content.chars().count().div_ceil(4);
    Ok(json!({
        "id": format!("chatcmpl-sim-{}", &digest[..16]),
        "object": "chat.completion",
        "created": 0,
        "model": format!("{model} (SIMULATED)"),
        "system_fingerprint": "orchestra-subnet-sim: SIMULATED LLM",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn social_queries_filter_by_platform_dates_and_usernames() {
        let w = World::builtin();
        let q = |v: Value| data(&w, &v).expect("query")["data"].as_array().cloned().unwrap_or_default();
        let reddit =
            q(json!({"keywords": ["decentralized"], "keyword_mode": "ANY", "source": 1, "start_date": "2026-11-01"}));
        assert!(!reddit.is_empty());
        assert!(reddit.iter().all(|p| p["source"] == json!("REDDIT") && p["datetime"].as_str() >= Some("2026-11-01")));
        let x = q(
            json!({"keywords": ["decentralized"], "keyword_mode": "any", "source": "twitter", "end_date": "2026-10-31"}),
        );
        assert!(
            !x.is_empty() && x.iter().all(|p| p["source"] == json!("X") && p["datetime"].as_str() < Some("2026-11"))
        );
        let by_user = q(json!({"usernames": ["@ml_skeptic"]}));
        assert_eq!(by_user.len(), 2);
        assert!(data(&w, &json!({"source": "mastodon"})).expect_err("unknown").contains("no simulated posts"));
        assert!(data(&w, &json!({"start_date": "last week"})).expect_err("date").contains("start_date"));
        assert!(data(&w, &json!({"keyword_mode": "some"})).expect_err("mode").contains("keyword_mode"));
    }
}
