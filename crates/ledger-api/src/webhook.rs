//! Webhooks: signing, the SSRF guard, and the delivery worker that drains the store's outbox.
//!
//! The store enqueues one outbox row per (event, matching webhook) in the same atomic batch as
//! the event, so nothing committed can miss its deliveries. The worker posts each due row,
//! records the outcome, and retries failures with exponential backoff (with jitter) until
//! `max_attempts`, after which the row is dead-lettered (`DeliveryState::Dead`). Delivery is
//! at-least-once: a receiver that answered but whose answer was lost sees the event again, so
//! receivers dedupe on `X-Orchestra-Event-Id` (stable across retries).
//!
//! Every `POST` carries:
//! - `X-Orchestra-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "{t}.{event_id}.{body}")>`
//! - `X-Orchestra-Event-Id`, `X-Orchestra-Event-Kind`, `X-Orchestra-Webhook-Id`,
//!   `X-Orchestra-Delivery-Attempt`.
//!
//! Receivers check the signature with [`verify_signature`] and refuse stale timestamps, which
//! stops replays.
//!
//! SSRF guard: unless `allow_private_webhooks` is set, targets that are (or resolve to)
//! loopback, private, link-local, shared (CGNAT), multicast, unspecified or reserved addresses
//! are refused at registration and again at every delivery. The delivery check runs inside the
//! HTTP client's own DNS resolution, so a name that changes its answer after the check (DNS
//! rebinding) cannot slip through; redirects are not followed and proxies are not used.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use hmac::{Hmac, Mac};
use orchestra_ledger_store::{Delivery, DeliveryState, LedgerStore, Webhook, now_ms};
use orchestra_proto::retry::Backoff;
use rand::Rng;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sha2::Sha256;

use crate::error::ApiError;
use crate::metrics::{Metrics, OutcomeLabels};
use crate::views::WebhookPayload;

pub const SIGNATURE_HEADER: &str = "x-orchestra-signature";
pub const EVENT_ID_HEADER: &str = "x-orchestra-event-id";
pub const EVENT_KIND_HEADER: &str = "x-orchestra-event-kind";
pub const WEBHOOK_ID_HEADER: &str = "x-orchestra-webhook-id";
pub const ATTEMPT_HEADER: &str = "x-orchestra-delivery-attempt";

/// Webhook delivery settings.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Attempts before a delivery is dead-lettered.
    pub max_attempts: u32,
    /// Wait after the first failure; doubles with each further failure.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Per-attempt timeout (connect and response).
    pub timeout: Duration,
    /// How often the outbox is checked when nothing new was committed.
    pub poll_interval: Duration,
    /// Deliveries in flight at once (to different webhooks).
    pub concurrency: usize,
    /// Webhooks one key may register.
    pub max_per_key: usize,
    /// Delivered outbox rows are deleted this long after their event...
    pub delivered_retention: Duration,
    /// ...and dead (dead-lettered) rows this long after theirs.
    pub dead_retention: Duration,
    /// How often the webhook worker prunes the outbox.
    pub prune_interval: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            max_attempts: 12,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            concurrency: 16,
            max_per_key: 25,
            delivered_retention: Duration::from_secs(7 * 24 * 3600),
            dead_retention: Duration::from_secs(30 * 24 * 3600),
            prune_interval: Duration::from_secs(3600),
        }
    }
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp: u64, event_id: &str, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail; the fallback only avoids a panic path.
    let mut m = match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => <HmacSha256 as Mac>::new(&Default::default()),
    };
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(event_id.as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// Hex HMAC-SHA256 of `"{timestamp}.{event_id}.{body}"`.
pub fn sign(secret: &str, timestamp: u64, event_id: &str, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, event_id, body).finalize().into_bytes())
}

/// The `X-Orchestra-Signature` value.
pub fn signature_header(secret: &str, timestamp: u64, event_id: &str, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", sign(secret, timestamp, event_id, body))
}

/// Check a delivery's signature (constant-time) and that its timestamp is within
/// `tolerance_secs` of `now_secs`.
pub fn verify_signature(
    secret: &str,
    header: &str,
    event_id: &str,
    body: &[u8],
    now_secs: u64,
    tolerance_secs: u64,
) -> Result<(), ApiError> {
    let mut ts = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => ts = v.parse::<u64>().ok(),
            Some(("v1", v)) => sigs.push(v),
            _ => {}
        }
    }
    let ts = ts.ok_or_else(|| ApiError::bad("bad_signature", "signature header has no valid t=<timestamp>"))?;
    if ts.abs_diff(now_secs) > tolerance_secs {
        return Err(ApiError::bad("stale_signature", format!("signature timestamp {ts} is outside the tolerance")));
    }
    for s in sigs {
        if let Ok(raw) = hex::decode(s)
            && mac(secret, ts, event_id, body).verify_slice(&raw).is_ok()
        {
            return Ok(());
        }
    }
    Err(ApiError::bad("bad_signature", "no v1 signature matches"))
}

/// Why the SSRF guard refuses an address, or `None` when it may be called (the one policy of
/// `orchestra_net::guard`, IPv6 transition ranges included).
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    orchestra_net::guard::forbidden_reason(ip)
}

fn refuse_ip(ip: IpAddr, host: &str) -> ApiError {
    let reason = forbidden_reason(ip).unwrap_or("refused");
    ApiError::TargetRefused(format!(
        "{host} is a {reason} address ({ip}); only public targets are allowed (operators can pass --allow-private-webhooks for local runs)"
    ))
}

/// Parse and check a webhook URL at registration: scheme, host, and (unless private targets
/// are allowed) every address the host resolves to.
pub(crate) async fn check_target(url: &str, allow_private: bool) -> Result<Url, ApiError> {
    if url.len() > 2048 {
        return Err(ApiError::bad("bad_webhook_url", "url is longer than 2048 bytes"));
    }
    let parsed = Url::parse(url).map_err(|e| ApiError::bad("bad_webhook_url", format!("url `{url}`: {e}")))?;
    match parsed.scheme() {
        "http" => {}
        "https" => {}
        other => return Err(ApiError::bad("bad_webhook_url", format!("scheme `{other}` is not http or https"))),
    }
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ApiError::bad("bad_webhook_url", "url has no host"))?;
    if allow_private {
        return Ok(parsed);
    }
    match literal_ip(host) {
        Some(ip) => check_ip(ip, host)?,
        None => {
            let port = parsed.port_or_known_default().unwrap_or(80);
            let addrs: Vec<SocketAddr> =
                tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((host, port)))
                    .await
                    .map_err(|_| ApiError::bad("bad_webhook_url", format!("resolving `{host}` timed out")))?
                    .map_err(|e| ApiError::bad("bad_webhook_url", format!("cannot resolve `{host}`: {e}")))?
                    .collect();
            if addrs.is_empty() {
                return Err(ApiError::bad("bad_webhook_url", format!("`{host}` resolves to no address")));
            }
            for a in addrs {
                check_ip(a.ip(), host)?;
            }
        }
    }
    Ok(parsed)
}

/// The address of a URL host that is an IP literal (`[..]` for IPv6).
fn literal_ip(host: &str) -> Option<IpAddr> {
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host).parse().ok()
}

fn check_ip(ip: IpAddr, host: &str) -> Result<(), ApiError> {
    match forbidden_reason(ip) {
        Some(_) => Err(refuse_ip(ip, host)),
        None => Ok(()),
    }
}

/// DNS resolution for delivery that drops refused addresses (the delivery-time SSRF check).
#[derive(Debug)]
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                addrs.iter().copied().filter(|a| forbidden_reason(a.ip()).is_none()).collect();
            if allowed.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> = match addrs.first() {
                    Some(a) => Box::new(refuse_ip(a.ip(), &host)),
                    None => format!("`{host}` resolves to no address").into(),
                };
                return Err(err);
            }
            let it: Addrs = Box::new(allowed.into_iter());
            Ok(it)
        })
    }
}

/// The HTTP client for deliveries.
pub(crate) fn http_client(config: &WebhookConfig, allow_private: bool) -> Result<reqwest::Client, ApiError> {
    let mut b = reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("orchestra-ledger-webhooks/", env!("CARGO_PKG_VERSION")));
    if !allow_private {
        b = b.dns_resolver(GuardedResolver);
    }
    b.build().map_err(|e| ApiError::Config(format!("webhook HTTP client: {e}")))
}

/// Error text with its causes, so "connection refused" or the SSRF reason reaches the log and
/// the delivery record.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// One attempt to deliver `d` to `hook`.
async fn attempt(client: &reqwest::Client, hook: &Webhook, d: &Delivery, allow_private: bool) -> Result<(), String> {
    let url = Url::parse(&hook.url).map_err(|e| format!("bad url: {e}"))?;
    if !allow_private {
        // IP literals never reach the resolver: check them here.
        let host = url.host_str().unwrap_or_default().to_string();
        if let Some(ip) = literal_ip(&host)
            && forbidden_reason(ip).is_some()
        {
            return Err(refuse_ip(ip, &host).to_string());
        }
    }
    let event_id = d.event_id();
    let payload = WebhookPayload { id: event_id.clone(), webhook_id: hook.id.clone(), event: d.event.clone() };
    let body = serde_json::to_vec(&payload).map_err(|e| format!("serialize: {e}"))?;
    let ts = now_ms() / 1000;
    let resp = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature_header(&hook.secret, ts, &event_id, &body))
        .header(EVENT_ID_HEADER, &event_id)
        .header(EVENT_KIND_HEADER, d.event.kind.as_str())
        .header(WEBHOOK_ID_HEADER, &hook.id)
        .header(ATTEMPT_HEADER, (d.attempts + 1).to_string())
        .body(body)
        .send()
        .await
        .map_err(|e| chain(&e))?;
    let status = resp.status();
    if status.is_success() { Ok(()) } else { Err(format!("HTTP {}", status.as_u16())) }
}

/// Delay before the next attempt after `attempts` failures: base · 2^(attempts−1), capped,
/// ±20% jitter so many deliveries failing together do not retry in lockstep.
pub(crate) fn backoff(config: &WebhookConfig, attempts: u32) -> Duration {
    Backoff::new(config.backoff_base, config.backoff_max).with_jitter(0.2).delay(attempts, rand::thread_rng().r#gen())
}

/// Deliver one batch of due rows. Returns how many rows were attempted.
pub(crate) async fn deliver_due(
    store: &Arc<LedgerStore>,
    client: &reqwest::Client,
    config: &WebhookConfig,
    allow_private: bool,
    metrics: &Metrics,
    batch: usize,
) -> Result<usize, ApiError> {
    let s = store.clone();
    let (due, hooks) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let due = s.due_deliveries(now_ms(), batch)?;
        let hooks: HashMap<String, Webhook> = if due.is_empty() {
            HashMap::new()
        } else {
            s.webhooks()?.into_iter().map(|h| (h.id.clone(), h)).collect()
        };
        Ok((due, hooks))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("outbox read task: {e}")))??;
    let n = due.len();
    if n == 0 {
        return Ok(0);
    }
    // Per webhook in event order; webhooks in parallel.
    let mut groups: Vec<(String, Vec<Delivery>)> = Vec::new();
    for d in due {
        match groups.iter_mut().find(|(id, _)| *id == d.webhook_id) {
            Some((_, v)) => v.push(d),
            None => groups.push((d.webhook_id.clone(), vec![d])),
        }
    }
    let hooks = &hooks;
    futures::stream::iter(groups)
        .for_each_concurrent(config.concurrency.max(1), |(hook_id, ds)| async move {
            for mut d in ds {
                let outcome = match hooks.get(&hook_id).filter(|h| h.active) {
                    None => Err("webhook was deleted or deactivated".to_string()),
                    Some(h) => attempt(client, h, &d, allow_private).await,
                };
                d.attempts += 1;
                let failed = outcome.is_err();
                match outcome {
                    Ok(()) => {
                        d.state = DeliveryState::Delivered;
                        d.last_error = None;
                        metrics.webhook_deliveries.get_or_create(&OutcomeLabels { outcome: "delivered" }).inc();
                    }
                    Err(err) => {
                        let dead = d.attempts >= config.max_attempts || !hooks.contains_key(&hook_id);
                        if dead {
                            d.state = DeliveryState::Dead;
                            tracing::warn!(webhook = %hook_id, event = %d.event_id(), attempts = d.attempts, error = %err, "webhook delivery dead-lettered");
                            metrics.webhook_deliveries.get_or_create(&OutcomeLabels { outcome: "dead" }).inc();
                        } else {
                            let wait = backoff(config, d.attempts);
                            d.next_attempt_ms = now_ms() + wait.as_millis() as u64;
                            tracing::debug!(webhook = %hook_id, event = %d.event_id(), attempts = d.attempts, error = %err, retry_in_ms = wait.as_millis() as u64, "webhook delivery failed");
                            metrics.webhook_deliveries.get_or_create(&OutcomeLabels { outcome: "failed" }).inc();
                        }
                        d.last_error = Some(err);
                    }
                }
                let s = store.clone();
                let rec = d.clone();
                let saved = tokio::task::spawn_blocking(move || s.put_delivery(&rec)).await;
                if !matches!(saved, Ok(Ok(()))) {
                    // The row stays pending in the store and is retried: at-least-once.
                    tracing::error!(webhook = %hook_id, event = %d.event_id(), "could not record a webhook delivery outcome");
                    return;
                }
                if failed {
                    // The receiver is struggling: leave its later rows for the next round.
                    return;
                }
            }
        })
        .await;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_refuses_internal_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(forbidden_reason(ip).is_some(), "{ip} must be refused");
        }
        for ip in ["1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "::ffff:1.1.1.1"] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert_eq!(forbidden_reason(ip), None, "{ip} is public");
        }
    }

    #[test]
    fn signatures_roundtrip_and_refuse_tampering() {
        let h = signature_header("sec", 1000, "7-wh", b"{}");
        assert!(verify_signature("sec", &h, "7-wh", b"{}", 1010, 300).is_ok());
        assert!(verify_signature("sec", &h, "8-wh", b"{}", 1010, 300).is_err(), "event id is signed");
        assert!(verify_signature("sec", &h, "7-wh", b"{ }", 1010, 300).is_err(), "body is signed");
        assert!(verify_signature("other", &h, "7-wh", b"{}", 1010, 300).is_err(), "secret matters");
        assert!(verify_signature("sec", &h, "7-wh", b"{}", 2000, 300).is_err(), "stale");
    }

    #[test]
    fn backoff_grows_and_caps() {
        let c = WebhookConfig {
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(10),
            ..WebhookConfig::default()
        };
        let b1 = backoff(&c, 1);
        let b3 = backoff(&c, 3);
        assert!(b1 >= Duration::from_millis(800) && b1 <= Duration::from_millis(1200), "{b1:?}");
        assert!(b3 >= Duration::from_millis(3200) && b3 <= Duration::from_millis(4800), "{b3:?}");
        assert!(backoff(&c, 40) <= Duration::from_secs(10));
    }
}
