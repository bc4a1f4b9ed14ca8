//! The Ledger's admin endpoint: key management (and a read of the entries) on a running node,
//! so `orchestra ledger keys create|list|revoke` and `ledger export --data-dir` work while the
//! validator or `orchestra ledger serve` holds the Ledger's RocksDB (one process may open it).
//!
//! It is a separate listener, on loopback by default (`127.0.0.1`, an ephemeral port). At start
//! the node writes two files into the Ledger's directory and removes them when it stops:
//! - [`TOKEN_FILE`] (`admin.token`, mode 0600): a fresh random token (`oladm_…`), valid until
//!   the node stops; whoever can read the node's data directory can administer it;
//! - [`ENDPOINT_FILE`] (`admin.json`): [`EndpointFile`] — the URL, the pid, the accepted schemes.
//!
//! Every request is authenticated, either by `Authorization: Bearer <token>`, or by `btauth/1`
//! headers (`X-Bittensor-*`, the scheme of `orchestra_proto::btauth`, receiver `-`) signed by one
//! of the node's authorized keys (the validator's hotkey and coldkey, plus any the operator
//! lists): a signature over method, path, body hash and a nanosecond nonce, fresh within 10 s and
//! never accepted twice.
//!
//! | route | body | answer |
//! |---|---|---|
//! | `GET /v1/admin/whoami` | | [`WhoAmI`] |
//! | `GET /v1/admin/keys` | | `[`[`KeyInfo`]`]` |
//! | `POST /v1/admin/keys` | [`CreateKeyRequest`] | [`CreatedKey`] |
//! | `POST /v1/admin/keys/{id}/revoke` | | [`KeyInfo`] |
//! | `GET /v1/admin/entries` | | every Ledger entry (the array `--ledger.file` reads) |
//! | `GET /v1/admin/payments` | | `[PaymentRecord]`: keys bought with TAO |
//!
//! [`AdminClient`] speaks it; [`AdminClient::discover`] finds a running node's endpoint from the
//! Ledger's directory.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use orchestra_keys::Keypair;
use orchestra_ledger_store::{ApiKey, Tier};
use orchestra_net::{GuardConfig, GuardedClient};
use orchestra_proto::btauth;
use parking_lot::Mutex;
use rand::RngCore;
use reqwest::{Method, Url};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::LedgerApi;
use crate::error::{ApiError, ErrorBody};

/// The token file in the Ledger's directory (mode 0600).
pub const TOKEN_FILE: &str = "admin.token";
/// The endpoint file in the Ledger's directory.
pub const ENDPOINT_FILE: &str = "admin.json";
/// Prefix of admin tokens, so they are easy to recognise (and never mistaken for API keys).
pub const TOKEN_PREFIX: &str = "oladm_";
/// Largest admin request body.
const MAX_BODY: usize = 64 * 1024;

/// What [`ENDPOINT_FILE`] holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointFile {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The serving process.
    pub pid: u32,
    /// When it started (Unix ms).
    pub started_ms: u64,
    /// The token file's name, next to this file.
    pub token_file: String,
    /// SS58 keys whose btauth/1 signatures are accepted.
    pub authorized_keys: Vec<String>,
}

/// `GET /v1/admin/whoami`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoAmI {
    /// `token` or `signature`.
    pub auth: String,
    /// The signing key (signature auth).
    #[serde(default)]
    pub signer: Option<String>,
    /// The Ledger's directory on the node.
    pub ledger_dir: String,
}

/// A key as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub id: String,
    pub tier: Tier,
    pub name: String,
    pub created_ms: u64,
    pub revoked: bool,
    pub monthly_quota: Option<u64>,
    pub rate_per_sec: Option<u32>,
    #[serde(default)]
    pub expires_ms: Option<u64>,
}

impl From<&ApiKey> for KeyInfo {
    fn from(k: &ApiKey) -> Self {
        KeyInfo {
            id: k.id.clone(),
            tier: k.tier,
            name: k.name.clone(),
            created_ms: k.created_ms,
            revoked: k.revoked,
            monthly_quota: k.monthly_quota,
            rate_per_sec: k.rate_per_sec,
            expires_ms: k.expires_ms,
        }
    }
}

/// `POST /v1/admin/keys`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateKeyRequest {
    pub tier: Tier,
    #[serde(default)]
    pub name: String,
    /// Enterprise only: successful requests per month.
    #[serde(default)]
    pub monthly_quota: Option<u64>,
    /// Enterprise only: requests per second.
    #[serde(default)]
    pub rate_per_sec: Option<u32>,
}

/// A created key: the secret is shown here once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub info: KeyInfo,
    /// The secret (`olk_…`); only its hash is stored.
    pub key: String,
}

/// Creates a key in `store` (the one rule for local and remote creation): quota and rate are
/// for enterprise keys only.
pub fn create_key_checked(
    store: &orchestra_ledger_store::LedgerStore,
    req: &CreateKeyRequest,
) -> Result<CreatedKey, ApiError> {
    if req.tier != Tier::Enterprise && (req.monthly_quota.is_some() || req.rate_per_sec.is_some()) {
        return Err(ApiError::bad("bad_request", "monthly_quota and rate_per_sec are for enterprise keys only"));
    }
    let (secret, key) =
        crate::auth::create_key_with_limits(store, req.tier, &req.name, req.monthly_quota, req.rate_per_sec)?;
    Ok(CreatedKey { info: KeyInfo::from(&key), key: secret })
}

// ------------------------------------------------------------------ authentication

/// Who may use the admin endpoint: the token holder and the authorized keys.
pub struct AdminAuth {
    token_hash: [u8; 32],
    authorized: Vec<String>,
    /// (signer, nonce) pairs seen within the freshness window: a signed request is accepted once.
    seen: Mutex<HashMap<(String, u64), u64>>,
    ledger_dir: PathBuf,
}

impl std::fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminAuth").field("authorized", &self.authorized).finish_non_exhaustive()
    }
}

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

/// Equal without an early exit (the token compare must not leak how much of a guess matched).
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// How a request was authenticated.
#[derive(Debug, Clone)]
struct Admitted {
    auth: &'static str,
    signer: Option<String>,
}

fn refuse(code: &'static str, message: impl Into<String>) -> Box<Response> {
    Box::new(ApiError::Unauthorized { code, message: message.into(), required: None }.into_response())
}

impl AdminAuth {
    /// Authentication by `token` or by a signature of one of `authorized` (SS58).
    pub fn new(token: &str, authorized: Vec<String>, ledger_dir: &Path) -> Self {
        AdminAuth {
            token_hash: sha256(token.as_bytes()),
            authorized,
            seen: Mutex::new(HashMap::new()),
            ledger_dir: ledger_dir.to_path_buf(),
        }
    }

    fn check(&self, method: &str, path: &str, headers: &HeaderMap, body: &[u8]) -> Result<Admitted, Box<Response>> {
        if let Some(v) = headers.get(header::AUTHORIZATION) {
            let presented = v.to_str().ok().and_then(|s| s.strip_prefix("Bearer ")).map(str::trim).unwrap_or("");
            if presented.is_empty() {
                return Err(refuse("bad_authorization", "the Authorization header must be `Bearer <admin token>`"));
            }
            if !same(&sha256(presented.as_bytes()), &self.token_hash) {
                return Err(refuse(
                    "bad_admin_token",
                    format!("wrong admin token (the node's is in {})", self.ledger_dir.join(TOKEN_FILE).display()),
                ));
            }
            return Ok(Admitted { auth: "token", signer: None });
        }
        let pairs: Vec<(&str, &str)> =
            headers.iter().filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v))).collect();
        let auth = match btauth::AuthHeaders::parse(pairs) {
            Ok(Some(a)) => a,
            Ok(None) => {
                return Err(refuse(
                    "admin_auth_required",
                    format!(
                        "send `Authorization: Bearer <token>` (the token is in {}) or sign the request (btauth/1) with an authorized key",
                        self.ledger_dir.join(TOKEN_FILE).display()
                    ),
                ));
            }
            Err(e) => return Err(refuse("bad_signature", e.to_string())),
        };
        if !self.authorized.contains(&auth.hotkey) {
            return Err(refuse(
                "not_authorized",
                format!("{} is not an authorized admin key of this node", auth.hotkey),
            ));
        }
        let now = orchestra_net::now_ns();
        btauth::fresh(auth.nonce_ns, now, btauth::DEFAULT_MAX_AGE_NS, btauth::DEFAULT_ALLOWED_SKEW_NS)
            .map_err(|e| refuse("stale", e))?;
        let payload = btauth::payload(method, path, body, auth.nonce_ns, &auth.hotkey, auth.receiver.as_deref());
        let ok = orchestra_keys::PublicKey::from_ss58(&auth.hotkey)
            .ok()
            .zip(orchestra_keys::parse_signature_hex(&auth.signature).ok())
            .is_some_and(|(pk, sig)| pk.verify(payload.as_bytes(), &sig));
        if !ok {
            return Err(refuse("bad_signature", "the signature does not verify"));
        }
        let mut seen = self.seen.lock();
        let horizon = now.saturating_sub(btauth::DEFAULT_MAX_AGE_NS + btauth::DEFAULT_ALLOWED_SKEW_NS);
        seen.retain(|_, at| *at >= horizon);
        if seen.insert((auth.hotkey.clone(), auth.nonce_ns), auth.nonce_ns).is_some() {
            return Err(refuse("replayed", "this signed request was accepted already"));
        }
        Ok(Admitted { auth: "signature", signer: Some(auth.hotkey) })
    }
}

async fn authenticate(State(auth): State<Arc<AdminAuth>>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::bad("too_large", format!("admin requests are at most {MAX_BODY} bytes")).into_response();
        }
    };
    let path = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| parts.uri.path().into());
    match auth.check(parts.method.as_str(), &path, &parts.headers, &bytes) {
        Ok(admitted) => {
            parts.extensions.insert(admitted);
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await
        }
        Err(resp) => *resp,
    }
}

// ------------------------------------------------------------------ routes

fn json<T: Serialize>(status: StatusCode, v: &T) -> Response {
    match serde_json::to_vec(v) {
        Ok(b) => (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], b).into_response(),
        Err(e) => ApiError::Internal(format!("serialize: {e}")).into_response(),
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::Internal(format!("admin task: {e}")))?
}

async fn whoami(State(api): State<LedgerApi>, req: Request) -> Response {
    let a = req.extensions().get::<Admitted>().cloned();
    json(
        StatusCode::OK,
        &WhoAmI {
            auth: a.as_ref().map(|a| a.auth).unwrap_or("token").to_string(),
            signer: a.and_then(|a| a.signer),
            ledger_dir: api.store().path().display().to_string(),
        },
    )
}

async fn list_keys(State(api): State<LedgerApi>) -> Response {
    let store = api.store().clone();
    match blocking(move || Ok(store.api_keys()?)).await {
        Ok(keys) => json(StatusCode::OK, &keys.iter().map(KeyInfo::from).collect::<Vec<_>>()),
        Err(e) => e.into_response(),
    }
}

async fn create_key(State(api): State<LedgerApi>, req: Request) -> Response {
    let admitted = req.extensions().get::<Admitted>().cloned();
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return ApiError::bad("bad_request", e.to_string()).into_response(),
    };
    let parsed: CreateKeyRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return ApiError::bad("bad_request", format!("body: {e}")).into_response(),
    };
    let store = api.store().clone();
    match blocking(move || create_key_checked(&store, &parsed)).await {
        Ok(created) => {
            tracing::info!(key_id = %created.info.id, tier = ?created.info.tier, by = ?admitted.and_then(|a| a.signer), "API key created through the admin endpoint");
            json(StatusCode::CREATED, &created)
        }
        Err(e) => e.into_response(),
    }
}

async fn revoke(State(api): State<LedgerApi>, UrlPath(id): UrlPath<String>) -> Response {
    let store = api.store().clone();
    let id2 = id.clone();
    let result = blocking(move || {
        if !crate::auth::revoke_key(&store, &id2)? {
            return Err(ApiError::NotFound(format!("no key with id `{id2}`")));
        }
        store.api_key_by_id(&id2)?.ok_or_else(|| ApiError::NotFound(format!("no key with id `{id2}`")))
    })
    .await;
    match result {
        Ok(k) => {
            tracing::info!(key_id = %id, "API key revoked through the admin endpoint");
            json(StatusCode::OK, &KeyInfo::from(&k))
        }
        Err(e) => e.into_response(),
    }
}

async fn entries(State(api): State<LedgerApi>) -> Response {
    let store = api.store().clone();
    match blocking(move || Ok(store.entries()?)).await {
        Ok(mut e) => {
            e.sort_by_key(|x| x.netuid);
            json(StatusCode::OK, &e)
        }
        Err(e) => e.into_response(),
    }
}

async fn payments(State(api): State<LedgerApi>) -> Response {
    let store = api.store().clone();
    match blocking(move || Ok(store.payments()?)).await {
        Ok(p) => json(StatusCode::OK, &p),
        Err(e) => e.into_response(),
    }
}

/// The admin routes behind `auth`.
pub fn router(api: LedgerApi, auth: Arc<AdminAuth>) -> Router {
    Router::new()
        .route("/v1/admin/whoami", get(whoami))
        .route("/v1/admin/keys", get(list_keys).post(create_key))
        .route("/v1/admin/keys/{id}/revoke", post(revoke))
        .route("/v1/admin/entries", get(entries))
        .route("/v1/admin/payments", get(payments))
        .fallback(|| async { ApiError::NotFound("no such admin route".into()).into_response() })
        .layer(middleware::from_fn_with_state(auth, authenticate))
        .with_state(api)
}

// ------------------------------------------------------------------ the endpoint

/// Writes `contents` to `path` with mode 0600 (replacing it atomically).
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("{TOKEN_PREFIX}{}", hex::encode(b))
}

/// A bound admin endpoint whose files are written; serve it with [`AdminEndpoint::serve`].
pub struct AdminEndpoint {
    listener: tokio::net::TcpListener,
    auth: Arc<AdminAuth>,
    url: String,
    dir: PathBuf,
}

impl std::fmt::Debug for AdminEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminEndpoint").field("url", &self.url).field("dir", &self.dir).finish()
    }
}

impl AdminEndpoint {
    /// Binds `addr` (loopback unless the operator says otherwise), makes a fresh token and
    /// writes [`TOKEN_FILE`] (0600) and [`ENDPOINT_FILE`] into `ledger_dir`. `authorized` are
    /// the SS58 keys whose signatures are accepted.
    pub async fn bind(addr: SocketAddr, ledger_dir: &Path, authorized: Vec<String>) -> Result<Self, ApiError> {
        for k in &authorized {
            orchestra_keys::PublicKey::from_ss58(k)
                .map_err(|e| ApiError::Config(format!("admin key {k:?} is not an SS58 address: {e}")))?;
        }
        if !addr.ip().is_loopback() {
            tracing::warn!(%addr, "the Ledger admin endpoint listens beyond loopback; every request still needs the token or an authorized signature");
        }
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let url = format!("http://{bound}");
        let token = random_token();
        write_private(&ledger_dir.join(TOKEN_FILE), token.as_bytes())?;
        let file = EndpointFile {
            url: url.clone(),
            pid: std::process::id(),
            started_ms: orchestra_ledger_store::now_ms(),
            token_file: TOKEN_FILE.to_string(),
            authorized_keys: authorized.clone(),
        };
        let text = serde_json::to_vec_pretty(&file).map_err(|e| ApiError::Internal(e.to_string()))?;
        let tmp = ledger_dir.join("admin.json.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, ledger_dir.join(ENDPOINT_FILE))?;
        Ok(AdminEndpoint {
            listener,
            auth: Arc::new(AdminAuth::new(&token, authorized, ledger_dir)),
            url,
            dir: ledger_dir.to_path_buf(),
        })
    }

    /// `http://ip:port`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves the admin routes of `api` until `shutdown`, then removes the endpoint's files.
    pub async fn serve(
        self,
        api: LedgerApi,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ApiError> {
        tracing::info!(url = %self.url, token_file = %self.dir.join(TOKEN_FILE).display(), "Ledger admin endpoint listening");
        let app = router(api, self.auth.clone());
        let served = axum::serve(self.listener, app).with_graceful_shutdown(shutdown).await;
        remove_files(&self.dir);
        served?;
        Ok(())
    }
}

/// Removes the endpoint's files from `dir` (done when the endpoint stops).
fn remove_files(dir: &Path) {
    for f in [TOKEN_FILE, ENDPOINT_FILE] {
        let _ = std::fs::remove_file(dir.join(f));
    }
}

// ------------------------------------------------------------------ the client

/// How [`AdminClient`] authenticates.
#[derive(Clone)]
pub enum AdminCredentials {
    /// The node's admin token.
    Token(String),
    /// A btauth/1 signature by an authorized key.
    Signer(Box<Keypair>),
}

impl std::fmt::Debug for AdminCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminCredentials::Token(_) => f.write_str("Token(..)"),
            AdminCredentials::Signer(k) => write!(f, "Signer({})", k.ss58()),
        }
    }
}

/// A client of the admin endpoint.
#[derive(Debug, Clone)]
pub struct AdminClient {
    base: Url,
    creds: AdminCredentials,
    http: GuardedClient,
}

/// What [`AdminClient::discover`] found in a Ledger's directory.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub endpoint: EndpointFile,
    /// The token, when the file is readable by this user.
    pub token: Result<String, String>,
}

impl AdminClient {
    /// A client of the endpoint at `url` (`http://127.0.0.1:PORT`).
    pub fn new(url: &str, creds: AdminCredentials) -> Result<Self, ApiError> {
        let guard = GuardConfig {
            allow_private: true,
            user_agent: concat!("orchestra-admin-client/", env!("CARGO_PKG_VERSION")).to_string(),
            ..GuardConfig::default()
        };
        let base = orchestra_net::guard::check_url(url, true)
            .map_err(|e| ApiError::bad("bad_url", format!("admin url `{url}`: {e}")))?;
        let http = GuardedClient::new(guard).map_err(|e| ApiError::Config(format!("HTTP client: {e}")))?;
        Ok(AdminClient { base, creds, http })
    }

    /// The endpoint a running node announced in `ledger_dir` ([`ENDPOINT_FILE`]) and its token
    /// ([`TOKEN_FILE`]), or `None` when the directory has no endpoint file.
    pub fn discover(ledger_dir: &Path) -> Result<Option<Discovered>, ApiError> {
        let path = ledger_dir.join(ENDPOINT_FILE);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ApiError::Io(e)),
        };
        let endpoint: EndpointFile =
            serde_json::from_slice(&text).map_err(|e| ApiError::Decode(format!("{}: {e}", path.display())))?;
        let token_path = ledger_dir.join(&endpoint.token_file);
        let token = std::fs::read_to_string(&token_path)
            .map(|t| t.trim().to_string())
            .map_err(|e| format!("cannot read {}: {e}", token_path.display()));
        Ok(Some(Discovered { endpoint, token }))
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T, ApiError> {
        let url = self.base.join(path).map_err(|e| ApiError::bad("bad_url", format!("{path}: {e}")))?;
        let mut rb = self.http.request(method.clone(), url.as_str())?;
        let bytes = body.unwrap_or_default();
        match &self.creds {
            AdminCredentials::Token(t) => rb = rb.bearer_auth(t),
            AdminCredentials::Signer(k) => {
                let nonce = orchestra_net::now_ns();
                let target = url.path().to_string() + url.query().map(|q| format!("?{q}")).as_deref().unwrap_or("");
                let payload = btauth::payload(method.as_str(), &target, &bytes, nonce, k.ss58(), None);
                let headers = btauth::AuthHeaders {
                    hotkey: k.ss58().to_string(),
                    nonce_ns: nonce,
                    signature: k.sign_hex(payload.as_bytes()),
                    receiver: None,
                };
                for (name, value) in headers.to_pairs() {
                    rb = rb.header(name, value);
                }
            }
        }
        if !bytes.is_empty() {
            rb = rb.header(header::CONTENT_TYPE, "application/json").body(bytes);
        }
        let resp = self.http.send(rb).await?;
        if !resp.is_success() {
            return Err(match serde_json::from_slice::<ErrorBody>(&resp.body) {
                Ok(b) => ApiError::Remote { status: resp.status, code: b.code, message: b.error },
                Err(_) => ApiError::Remote {
                    status: resp.status,
                    code: "http".into(),
                    message: format!("HTTP {}, {} bytes", resp.status, resp.body.len()),
                },
            });
        }
        serde_json::from_slice(&resp.body).map_err(|e| ApiError::Decode(format!("{path}: {e}")))
    }

    /// The endpoint's base URL.
    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    /// How the node sees this client.
    pub async fn whoami(&self) -> Result<WhoAmI, ApiError> {
        self.call(Method::GET, "v1/admin/whoami", None).await
    }

    pub async fn keys(&self) -> Result<Vec<KeyInfo>, ApiError> {
        self.call(Method::GET, "v1/admin/keys", None).await
    }

    pub async fn create_key(&self, req: &CreateKeyRequest) -> Result<CreatedKey, ApiError> {
        let body = serde_json::to_vec(req).map_err(|e| ApiError::Internal(e.to_string()))?;
        self.call(Method::POST, "v1/admin/keys", Some(body)).await
    }

    pub async fn revoke_key(&self, id: &str) -> Result<KeyInfo, ApiError> {
        self.call(Method::POST, &format!("v1/admin/keys/{id}/revoke"), None).await
    }

    /// Every Ledger entry, in netuid order.
    pub async fn entries(&self) -> Result<Vec<orchestra_proto::ledger::LedgerEntry>, ApiError> {
        self.call(Method::GET, "v1/admin/entries", None).await
    }

    /// Payments accepted for keys bought with TAO.
    pub async fn payments(&self) -> Result<Vec<orchestra_ledger_store::PaymentRecord>, ApiError> {
        self.call(Method::GET, "v1/admin/payments", None).await
    }
}
