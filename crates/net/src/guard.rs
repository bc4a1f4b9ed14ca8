//! The one guarded outbound HTTP client every node uses for requests whose destination or answer
//! it does not control: the subnet adapters, the validator's probes and re-probes, the dendrite
//! and the Ledger API client.
//!
//! What it enforces, whatever the caller asks for:
//! - **Scheme**: `http` and `https` only.
//! - **No redirects** (`redirect::Policy::none()`): a 3xx comes back to the caller as an answer;
//!   nothing is followed silently (a redirect to `http://127.0.0.1/` is the classic SSRF bypass).
//! - **Destination policy**: unless [`GuardConfig::allow_private`] is set, a destination that is
//!   or resolves to a loopback, private, link-local, unique-local, shared (CGNAT), multicast,
//!   unspecified, reserved or documentation address, or to an IPv6 transition prefix that can
//!   reach one (IPv4-mapped/-translated/-compatible, 6to4 `2002::/16`, Teredo `2001::/32`, NAT64
//!   `64:ff9b::/96` with an internal IPv4 inside, local-use NAT64 `64:ff9b:1::/48`), is refused.
//!   IP literals are checked before sending; host names are checked inside the client's own DNS
//!   resolution, so every resolved address is checked before a connection is made and a name
//!   that changes its answer after a check (DNS rebinding) cannot slip through.
//! - **Size cap** on the response body, enforced while streaming (a `Content-Length` above the
//!   cap is refused before any body is read), so a hostile peer cannot make us buffer more than
//!   [`GuardConfig::max_response_bytes`].
//! - **Time caps**: a connect timeout and a total timeout that covers the body.
//! - **TLS** through rustls with the system's roots, plus an optional operator CA file (PEM) for
//!   private CAs ([`GuardConfig::ca_file`]).
//! - **No proxy** from the environment.
//! - **Calls in flight per destination** (`host:port`) capped
//!   ([`GuardConfig::max_in_flight_per_host`]): further calls wait for a slot, within their own
//!   timeout, instead of opening another connection. A miner with a thousand objectives in
//!   flight would otherwise hold thousands of sockets to the same few subnets (each ≈ 28 KB of
//!   client state), and subnets' servers cap connections per address anyway.
//!
//! Errors never carry remote text: a failure is a kind, a status code or a byte count, and local
//! detail only (see [`GuardError`]). Callers that show a non-2xx answer use
//! [`GuardedResponse::summary`] ("HTTP 500, 1234 bytes"), never the body.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, Url};

/// Default response cap: 4 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Settings of a [`GuardedClient`].
#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// Allow loopback, private and other internal destinations. Off for daemons on real
    /// networks; local networks and tests turn it on (`--net.allow_private`).
    pub allow_private: bool,
    /// Largest response body read, in bytes.
    pub max_response_bytes: usize,
    /// Total time for one request, body included (callers may shorten it per request).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// An extra PEM file of CA certificates trusted besides the system roots (private CAs).
    pub ca_file: Option<PathBuf>,
    pub pool_max_idle_per_host: usize,
    pub pool_idle_timeout: Duration,
    pub user_agent: String,
    /// Requests in flight at once to one `host:port`; more wait for a slot (0: no cap).
    pub max_in_flight_per_host: usize,
}

/// Default cap of requests in flight to one destination: the per-address connection cap of
/// our own serving loop, so a miner does not open connections an Orchestra peer would refuse.
pub const DEFAULT_MAX_IN_FLIGHT_PER_HOST: usize = 256;

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            allow_private: false,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            ca_file: None,
            pool_max_idle_per_host: 16,
            pool_idle_timeout: Duration::from_secs(90),
            user_agent: concat!("orchestra/", env!("CARGO_PKG_VERSION")).to_string(),
            max_in_flight_per_host: DEFAULT_MAX_IN_FLIGHT_PER_HOST,
        }
    }
}

impl GuardConfig {
    /// The default policy with internal destinations allowed: local networks and tests only.
    pub fn local() -> Self {
        GuardConfig { allow_private: true, ..GuardConfig::default() }
    }

    pub fn allow_private(mut self, on: bool) -> Self {
        self.allow_private = on;
        self
    }
}

/// Why a guarded request failed. The text is local: it never contains a remote body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("url refused: {0}")]
    BadUrl(String),
    #[error(
        "destination refused: {host} is a {reason} address ({ip}); only public destinations are allowed (operators can pass --net.allow_private on local networks)"
    )]
    Refused { host: String, ip: IpAddr, reason: &'static str },
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("response body exceeds the {limit}-byte limit")]
    TooLarge { limit: usize },
    #[error("reading the response failed: {0}")]
    Body(String),
    #[error("request: {0}")]
    Build(String),
}

impl GuardError {
    /// Worth retrying (transient), as opposed to a policy refusal or an oversized answer.
    pub fn retryable(&self) -> bool {
        matches!(self, GuardError::Timeout(_) | GuardError::Connect(_) | GuardError::Body(_))
    }
}

/// A response read under the guard's caps.
#[derive(Debug, Clone)]
pub struct GuardedResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl GuardedResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A bounded description that never includes the body: `HTTP 500, 1234 bytes`.
    pub fn summary(&self) -> String {
        format!("HTTP {}, {} bytes", self.status, self.body.len())
    }

    /// A response header as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The guarded client. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct GuardedClient {
    http: reqwest::Client,
    cfg: Arc<GuardConfig>,
    slots: Arc<HostSlots>,
}

/// One semaphore per destination (`host:port`), made on first use. Destinations come from
/// Ledger entries, the metagraph and operators' flags, so the map is small; it is still pruned
/// of idle destinations past [`HostSlots::PRUNE_AT`] so that no peer can grow it without bound.
#[derive(Debug, Default)]
struct HostSlots {
    per_host: usize,
    map: parking_lot::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

impl HostSlots {
    const PRUNE_AT: usize = 4096;

    fn semaphore(&self, key: &str) -> Arc<tokio::sync::Semaphore> {
        let mut map = self.map.lock();
        if let Some(s) = map.get(key) {
            return Arc::clone(s);
        }
        if map.len() >= Self::PRUNE_AT {
            // Idle: nobody holds or waits for a slot (the map's own reference is the only one).
            map.retain(|_, s| Arc::strong_count(s) > 1);
        }
        let s = Arc::new(tokio::sync::Semaphore::new(self.per_host));
        map.insert(key.to_string(), Arc::clone(&s));
        s
    }

    /// A slot for `url`'s destination, waiting at most `wait`. `None` when there is no cap.
    async fn acquire(
        &self,
        url: &Url,
        wait: Duration,
    ) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, GuardError> {
        if self.per_host == 0 {
            return Ok(None);
        }
        let key = format!("{}:{}", url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or(0));
        let sem = self.semaphore(&key);
        match tokio::time::timeout(wait, sem.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            // The semaphore is never closed; treat it as no cap rather than failing the call.
            Ok(Err(_)) => Ok(None),
            Err(_) => Err(GuardError::Timeout(wait)),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.lock().len()
    }
}

impl std::fmt::Debug for GuardedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedClient")
            .field("allow_private", &self.cfg.allow_private)
            .field("max_response_bytes", &self.cfg.max_response_bytes)
            .finish()
    }
}

/// A resolver that drops refused addresses, so the check happens on the addresses the client
/// actually connects to.
#[derive(Debug)]
struct GuardedResolver;

/// The error the resolver returns, found again in the error chain to report a refusal.
#[derive(Debug)]
struct RefusedAddr {
    host: String,
    ip: IpAddr,
    reason: &'static str,
}

impl std::fmt::Display for RefusedAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is a {} address ({})", self.host, self.reason, self.ip)
    }
}

impl std::error::Error for RefusedAddr {}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            // Every resolved address must be allowed: a name that answers with one public and
            // one internal address is refused whole rather than filtered.
            for a in &addrs {
                if let Some(reason) = forbidden_reason(a.ip()) {
                    let err: Box<dyn std::error::Error + Send + Sync> =
                        Box::new(RefusedAddr { host, ip: a.ip(), reason });
                    return Err(err);
                }
            }
            if addrs.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> = format!("`{host}` resolves to no address").into();
                return Err(err);
            }
            let it: Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

/// The certificates of an operator's CA file (`--tls.ca-file`, PEM, one or more). A file that
/// holds none is an error, not a silent no-op. Every client that calls out with it trusts them
/// besides the system roots (the guarded client, the Ledger API's webhook deliveries).
pub fn load_ca_file(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, GuardError> {
    let pem = std::fs::read(path).map_err(|e| GuardError::Build(format!("CA file {}: {e}", path.display())))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| GuardError::Build(format!("CA file {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(GuardError::Build(format!("CA file {} holds no certificate", path.display())));
    }
    Ok(certs)
}

impl GuardedClient {
    pub fn new(cfg: GuardConfig) -> Result<Self, GuardError> {
        if cfg.max_response_bytes == 0 {
            return Err(GuardError::Build("max_response_bytes must be positive".into()));
        }
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .tcp_nodelay(true)
            .timeout(cfg.timeout)
            .connect_timeout(cfg.connect_timeout)
            .pool_max_idle_per_host(cfg.pool_max_idle_per_host)
            .pool_idle_timeout(cfg.pool_idle_timeout)
            .user_agent(cfg.user_agent.clone());
        if !cfg.allow_private {
            b = b.dns_resolver(GuardedResolver);
        }
        if let Some(path) = &cfg.ca_file {
            b = b.tls_certs_merge(load_ca_file(path)?);
        }
        let http = b.build().map_err(|e| GuardError::Build(error_chain(&e)))?;
        let slots = Arc::new(HostSlots { per_host: cfg.max_in_flight_per_host, ..HostSlots::default() });
        Ok(GuardedClient { http, cfg: Arc::new(cfg), slots })
    }

    pub fn config(&self) -> &GuardConfig {
        &self.cfg
    }

    /// Parse `url` and check its scheme and (for IP literals) its destination. Host names are
    /// checked again at resolution time.
    pub fn check_url(&self, url: &str) -> Result<Url, GuardError> {
        check_url(url, self.cfg.allow_private)
    }

    /// A request to `url` after [`GuardedClient::check_url`].
    pub fn request(&self, method: Method, url: &str) -> Result<RequestBuilder, GuardError> {
        let u = self.check_url(url)?;
        Ok(self.http.request(method, u))
    }

    /// Send a request built by [`GuardedClient::request`] and read its body under the size cap.
    pub async fn send(&self, req: RequestBuilder) -> Result<GuardedResponse, GuardError> {
        self.send_capped(req, self.cfg.max_response_bytes).await
    }

    /// Like [`GuardedClient::send`] with a smaller (never larger) size cap.
    pub async fn send_capped(&self, req: RequestBuilder, limit: usize) -> Result<GuardedResponse, GuardError> {
        let limit = limit.min(self.cfg.max_response_bytes);
        let timeout = self.cfg.timeout;
        let mut req = req.build().map_err(|e| GuardError::Build(error_chain(&e)))?;
        // The slot is held until the body is read: that is when the connection is free again.
        // Waiting for it counts against the request's total time.
        let total = req.timeout().copied().unwrap_or(timeout).min(timeout);
        let t0 = std::time::Instant::now();
        let _slot = self.slots.acquire(req.url(), total).await?;
        let left = total.saturating_sub(t0.elapsed());
        if left.is_zero() {
            return Err(GuardError::Timeout(total));
        }
        *req.timeout_mut() = Some(left);
        let resp = self.http.execute(req).await.map_err(|e| map_error(&e, timeout))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = read_capped(resp, limit, timeout).await?;
        Ok(GuardedResponse { status, headers, body })
    }

    /// Send and return the response unread, for streams (SSE). The caller must bound what it
    /// buffers; scheme, destination and redirect policies still apply.
    pub async fn send_streaming(&self, req: RequestBuilder) -> Result<reqwest::Response, GuardError> {
        req.send().await.map_err(|e| map_error(&e, self.cfg.timeout))
    }
}

/// Read a response body, refusing it as soon as it passes `limit` bytes.
pub async fn read_capped(mut resp: reqwest::Response, limit: usize, timeout: Duration) -> Result<Vec<u8>, GuardError> {
    if let Some(len) = resp.content_length()
        && len > limit as u64
    {
        return Err(GuardError::TooLarge { limit });
    }
    let mut body = Vec::with_capacity(resp.content_length().map(|l| l as usize).unwrap_or(0).min(limit).min(64 * 1024));
    while let Some(chunk) = resp.chunk().await.map_err(|e| map_error(&e, timeout))? {
        if body.len() + chunk.len() > limit {
            return Err(GuardError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parse and check a URL: http(s) only, a host, and (unless `allow_private`) an IP literal
/// host must be public.
pub fn check_url(url: &str, allow_private: bool) -> Result<Url, GuardError> {
    if url.len() > 2048 {
        return Err(GuardError::BadUrl("url is longer than 2048 bytes".into()));
    }
    let u = Url::parse(url).map_err(|e| GuardError::BadUrl(format!("cannot parse the url: {e}")))?;
    match u.scheme() {
        "http" | "https" => {}
        other => return Err(GuardError::BadUrl(format!("scheme `{other}` is not http or https"))),
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(GuardError::BadUrl("credentials in the url are not allowed".into()));
    }
    let host =
        u.host_str().filter(|h| !h.is_empty()).ok_or_else(|| GuardError::BadUrl("the url has no host".into()))?;
    if !allow_private && let Some(ip) = literal_ip(host) {
        check_ip(ip, host)?;
    }
    Ok(u)
}

/// Check one address against the destination policy.
pub fn check_ip(ip: IpAddr, host: &str) -> Result<(), GuardError> {
    match forbidden_reason(ip) {
        Some(reason) => Err(GuardError::Refused { host: host.to_string(), ip, reason }),
        None => Ok(()),
    }
}

/// The address of a URL host that is an IP literal (`[..]` for IPv6).
pub fn literal_ip(host: &str) -> Option<IpAddr> {
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host).parse().ok()
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_unspecified() || o[0] == 0 {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.is_broadcast() || o[0] >= 240 {
        Some("reserved")
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("shared address space (CGNAT)")
    } else if (o[0] == 192 && o[1] == 0 && (o[2] == 0 || o[2] == 2))
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
        || (o[0] == 198 && o[1] == 51 && o[2] == 100)
        || (o[0] == 203 && o[1] == 0 && o[2] == 113)
        || (o[0] == 192 && o[1] == 88 && o[2] == 99)
    {
        Some("reserved")
    } else {
        None
    }
}

fn embedded_v4(s: &[u16; 8]) -> Ipv4Addr {
    Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8)
}

fn v6_reason(v6: Ipv6Addr) -> Option<&'static str> {
    let s = v6.segments();
    if v6.is_loopback() {
        return Some("loopback");
    }
    if v6.is_unspecified() {
        return Some("unspecified");
    }
    // IPv4-mapped ::ffff:a.b.c.d (::ffff:0:0/96): the IPv4 address decides.
    if let Some(v4) = v6.to_ipv4_mapped() {
        return v4_reason(v4);
    }
    // IPv4-translated ::ffff:0:a.b.c.d (::ffff:0:0:0/96), IPv4-compatible ::a.b.c.d (::/96) and
    // the NAT64 well-known prefix 64:ff9b::/96 embed an IPv4 address in the last 32 bits.
    let translated = s[..4] == [0, 0, 0, 0] && s[4] == 0xffff && s[5] == 0;
    let compatible = s[..6] == [0, 0, 0, 0, 0, 0];
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0];
    if translated || compatible || nat64 {
        return v4_reason(embedded_v4(&s)).or(if compatible { Some("IPv4-compatible (deprecated)") } else { None });
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        return Some("local-use NAT64 (64:ff9b:1::/48)");
    }
    if s[0] == 0x2002 {
        // 6to4 tunnels to an arbitrary IPv4 address; nothing legitimate needs it any more.
        return Some("6to4 transition (2002::/16)");
    }
    if s[0] == 0x2001 && s[1] == 0 {
        return Some("Teredo transition (2001::/32)");
    }
    if v6.is_multicast() {
        Some("multicast")
    } else if (s[0] & 0xfe00) == 0xfc00 {
        Some("unique-local")
    } else if (s[0] & 0xffc0) == 0xfec0 {
        Some("site-local")
    } else if (s[0] & 0xffc0) == 0xfe80 {
        Some("link-local")
    } else if (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] == 0x3fff && s[1] < 0x1000) {
        Some("documentation")
    } else if s[0] == 0x0100 && s[1..4] == [0, 0, 0] {
        Some("discard-only")
    } else if s[0] == 0x2001 && matches!(s[1] & 0xfff0, 0x0010 | 0x0020) {
        Some("ORCHID")
    } else {
        None
    }
}

/// Why the destination policy refuses an address, or `None` when it may be called.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn map_error(e: &reqwest::Error, timeout: Duration) -> GuardError {
    if let Some(r) = find_refusal(e) {
        return GuardError::Refused { host: r.host.clone(), ip: r.ip, reason: r.reason };
    }
    if e.is_timeout() {
        GuardError::Timeout(timeout)
    } else if e.is_connect() {
        GuardError::Connect(error_chain(e))
    } else if e.is_builder() {
        GuardError::Build(error_chain(e))
    } else {
        // The peer answered something that is not (valid) HTTP, or broke off mid-answer.
        GuardError::Body(error_chain(e))
    }
}

fn find_refusal<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a RefusedAddr> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<RefusedAddr>() {
            return Some(r);
        }
        cur = err.source();
    }
    None
}

/// An error with its causes (reqwest's own Display omits them). These are local messages
/// (resolver, socket, TLS), never a remote body.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    sanitize(&out, 300)
}

/// Visible ASCII only, at most `max` characters: for any text that came from a peer and must
/// be logged or shown (a status message from an axon's header, say).
pub fn sanitize(s: &str, max: usize) -> String {
    let mut out: String = s.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).take(max).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_destinations_are_pruned() {
        let slots = HostSlots { per_host: 1, ..HostSlots::default() };
        let held = slots.semaphore("held:1");
        for i in 0..HostSlots::PRUNE_AT {
            slots.semaphore(&format!("h{i}:1"));
        }
        // The map reached the bound: idle destinations went, the one in use stayed.
        assert!(slots.len() <= 2, "{}", slots.len());
        assert!(Arc::ptr_eq(&held, &slots.semaphore("held:1")));
    }

    fn refused(s: &str) -> bool {
        forbidden_reason(s.parse().expect("ip")).is_some()
    }

    #[test]
    fn destination_policy() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:0:7f00:1",
            "::ffff:0:a00:1",
            "::7f00:1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2002:0808:0808::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:db8::1",
        ] {
            assert!(refused(ip), "{ip} must be refused");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
            assert!(!refused(ip), "{ip} must be allowed");
        }
    }

    #[test]
    fn urls() {
        assert!(check_url("http://8.8.8.8/x", false).is_ok());
        assert!(check_url("https://example.com/x", false).is_ok());
        assert!(matches!(check_url("ftp://example.com/x", false), Err(GuardError::BadUrl(_))));
        assert!(matches!(check_url("file:///etc/passwd", false), Err(GuardError::BadUrl(_))));
        assert!(matches!(check_url("http://127.0.0.1:9/x", false), Err(GuardError::Refused { .. })));
        assert!(matches!(check_url("http://[::ffff:127.0.0.1]:9/x", false), Err(GuardError::Refused { .. })));
        assert!(matches!(check_url("http://[2002:7f00:1::1]/", false), Err(GuardError::Refused { .. })));
        assert!(check_url("http://127.0.0.1:9/x", true).is_ok());
        assert!(matches!(check_url("http://u:p@example.com/", false), Err(GuardError::BadUrl(_))));
    }

    #[test]
    fn sanitize_bounds_and_strips() {
        assert_eq!(sanitize("ok\nnext\u{1b}[31m", 100), "ok?next?[31m");
        assert_eq!(sanitize(&"a".repeat(10), 4), "aaaa…");
    }
}
