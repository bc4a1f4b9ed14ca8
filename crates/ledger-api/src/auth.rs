//! API keys, tiers, rate limits and monthly quotas.
//!
//! Keys arrive as `Authorization: Bearer <key>` or `X-Api-Key: <key>`; only their sha256 is
//! stored (ledger-store `ApiKey`). Looked-up keys are cached for `key_cache_ttl`, so a revocation
//! takes effect within that time, and a request costs a hash and a map lookup, not a RocksDB
//! read.
//!
//! Limits, per tier:
//! - free (no key, or a free key): `free_per_minute` requests per minute **per client IP**;
//! - developer: `developer_per_second` per key, and the key record's `monthly_quota` (keys
//!   bought with TAO carry the seed's 1,000), else `developer_monthly_quota`, successful requests
//!   per calendar month (UTC);
//! - production: no quota unless the key record has one; `production_per_second` per key, only
//!   as a guard against runaway clients;
//! - enterprise: the key record's `rate_per_sec` and `monthly_quota`, falling back to the
//!   production rate and no quota.
//!
//! A key with `expires_ms` in the past is refused (401 `expired_key`): keys bought with TAO
//! ([`crate::payments`]) run for the months paid for.
//!
//! `X-RateLimit-Limit/Remaining/Reset` describe the rate window (burst size, what is left of it,
//! seconds until it is full again); tiers with a quota also get `X-Quota-Limit/Remaining/Reset`
//! (reset = seconds until the month ends). Usage is counted in memory and added to the store
//! every `usage_flush_interval`: one fsync'd write per request would cap throughput at the disk's
//! sync rate, and losing a few seconds of counts in a crash only favours the customer.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, Request};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};
use orchestra_ledger_store::{ApiKey, LedgerStore, Tier, now_ms};
use parking_lot::{Mutex, RwLock};
use rand::RngCore;
use sha2::{Digest as _, Sha256};

use crate::ApiConfig;
use crate::error::{ApiError, tier_name};

type KeyLimiter = governor::DefaultDirectRateLimiter<StateInformationMiddleware>;
type IpLimiter = RateLimiter<IpAddr, HashMapStateStore<IpAddr>, DefaultClock, StateInformationMiddleware>;

/// Prefix of API key secrets, so leaked keys are easy to recognise in logs and scanners.
pub const KEY_PREFIX: &str = "olk_";

/// Lowercase hex sha256 of a key secret: what the store keeps.
pub fn hash_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Create an API key of `tier` and store its hash. Returns the secret (shown once; it cannot be
/// recovered) and the stored record.
pub fn create_key(store: &LedgerStore, tier: Tier, name: &str) -> Result<(String, ApiKey), ApiError> {
    create_key_with_limits(store, tier, name, None, None)
}

/// [`create_key`] with custom limits (meant for enterprise keys; other tiers ignore them).
pub fn create_key_with_limits(
    store: &LedgerStore,
    tier: Tier,
    name: &str,
    monthly_quota: Option<u64>,
    rate_per_sec: Option<u32>,
) -> Result<(String, ApiKey), ApiError> {
    if name.len() > 128 {
        return Err(ApiError::bad("bad_request", "key name is longer than 128 bytes"));
    }
    if rate_per_sec == Some(0) {
        return Err(ApiError::bad("bad_request", "rate_per_sec must be at least 1"));
    }
    let secret = format!("{KEY_PREFIX}{}", random_hex(32));
    let key = ApiKey {
        id: format!("key_{}", random_hex(8)),
        key_hash: hash_key(&secret),
        tier,
        name: name.to_string(),
        created_ms: now_ms(),
        revoked: false,
        monthly_quota,
        rate_per_sec,
        expires_ms: None,
    };
    store.put_api_key(&key)?;
    Ok((secret, key))
}

/// Revoke a key by id. Returns whether it existed. Servers notice within their key cache TTL.
pub fn revoke_key(store: &LedgerStore, id: &str) -> Result<bool, ApiError> {
    let Some(mut key) = store.api_keys()?.into_iter().find(|k| k.id == id) else {
        return Ok(false);
    };
    key.revoked = true;
    store.put_api_key(&key)?;
    Ok(true)
}

/// `YYYY-MM` (UTC) of a Unix-millisecond time: the usage period.
pub fn month_of(ms: u64) -> String {
    let (y, m, _) = orchestra_proto::date::civil_from_days((ms / 86_400_000) as i64);
    format!("{y:04}-{m:02}")
}

/// Milliseconds from `ms` until the next month starts (UTC).
fn ms_until_next_month(ms: u64) -> u64 {
    let (y, m, _) = orchestra_proto::date::civil_from_days((ms / 86_400_000) as i64);
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let start = orchestra_proto::date::days_from_civil(ny, nm, 1) as u64 * 86_400_000;
    start.saturating_sub(ms)
}

/// Monthly usage of one key: what the store had plus what this process counted since.
#[derive(Debug)]
struct Usage {
    period: Mutex<String>,
    stored: AtomicU64,
    pending: AtomicU64,
}

/// A known, valid key with its limiter.
pub(crate) struct KeyState {
    pub key: ApiKey,
    limiter: KeyLimiter,
    per_sec: u32,
    quota: Option<u64>,
    usage: Option<Arc<Usage>>,
}

impl std::fmt::Debug for KeyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyState").field("id", &self.key.id).field("tier", &self.key.tier).finish()
    }
}

/// Who is calling, as handlers see it (a request extension).
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub tier: Tier,
    pub key: Option<Arc<KeyState>>,
}

impl Caller {
    pub fn key_id(&self) -> Option<&str> {
        self.key.as_ref().map(|k| k.key.id.as_str())
    }

    /// 401 for anonymous callers, 403 for keys of a lower tier.
    pub fn require(&self, required: Tier, what: &str) -> Result<(), ApiError> {
        if self.tier >= required {
            return Ok(());
        }
        if self.key.is_none() {
            return Err(ApiError::Unauthorized {
                code: "key_required",
                message: format!(
                    "{what} needs an API key of the {} tier or higher; send `Authorization: Bearer <key>` or `X-Api-Key: <key>`",
                    tier_name(required)
                ),
                required: Some(required),
            });
        }
        Err(ApiError::Forbidden { what: what.to_string(), required, have: self.tier })
    }
}

/// Values for the rate-limit headers of one response.
#[derive(Debug, Clone, Default)]
pub(crate) struct LimitHeaders {
    pub limit: u64,
    pub remaining: u64,
    pub reset_secs: u64,
    pub quota: Option<(u64, u64, u64)>,
}

impl LimitHeaders {
    pub fn apply(&self, h: &mut HeaderMap) {
        h.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(self.reset_secs));
        if let Some((limit, remaining, reset)) = self.quota {
            h.insert("x-quota-limit", HeaderValue::from(limit));
            h.insert("x-quota-remaining", HeaderValue::from(remaining));
            h.insert("x-quota-reset", HeaderValue::from(reset));
        }
    }
}

/// The outcome of admitting a request.
pub(crate) struct Admission {
    pub caller: Caller,
    pub headers: LimitHeaders,
    /// Requests this one counts as against the quota when it succeeds.
    pub cost: u32,
}

/// A refused request, with the headers it still carries.
pub(crate) struct Refusal {
    pub error: ApiError,
    pub headers: Option<LimitHeaders>,
}

struct Cached {
    at: Instant,
    /// `None`: no such key (negative entries keep guessed keys off the store).
    state: Option<Arc<KeyState>>,
}

/// Bound on negative cache entries, so random keys cannot grow memory without limit.
const MAX_NEGATIVE: usize = 10_000;

/// Key lookup, limiters and usage counters.
pub(crate) struct Auth {
    free: IpLimiter,
    free_per_minute: u32,
    keys: RwLock<HashMap<String, Cached>>,
    negatives: AtomicU64,
    usage: Mutex<HashMap<String, Arc<Usage>>>,
    config: ApiConfig,
    store: Arc<LedgerStore>,
}

fn nonzero(n: u32, what: &str) -> Result<NonZeroU32, ApiError> {
    NonZeroU32::new(n).ok_or_else(|| ApiError::Config(format!("{what} must be at least 1")))
}

/// Header values for a successful check against a limiter.
fn window_headers(snap: &governor::middleware::StateSnapshot) -> LimitHeaders {
    let q = snap.quota();
    let burst = q.burst_size().get() as u64;
    let remaining = snap.remaining_burst_capacity() as u64;
    let refill = q.replenish_interval().as_secs_f64() * (burst.saturating_sub(remaining)) as f64;
    LimitHeaders { limit: burst, remaining, reset_secs: refill.ceil() as u64, quota: None }
}

fn retry_secs(d: Duration) -> u64 {
    // Whole seconds rounded up, at least 1: Retry-After has no fractions and 0 invites a busy
    // loop.
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

impl Auth {
    pub fn new(config: &ApiConfig, store: Arc<LedgerStore>) -> Result<Self, ApiError> {
        let per_min = nonzero(config.free_per_minute, "free_per_minute")?;
        nonzero(config.developer_per_second, "developer_per_second")?;
        nonzero(config.production_per_second, "production_per_second")?;
        Ok(Auth {
            free: RateLimiter::hashmap(Quota::per_minute(per_min)).with_middleware::<StateInformationMiddleware>(),
            free_per_minute: config.free_per_minute,
            keys: RwLock::new(HashMap::new()),
            negatives: AtomicU64::new(0),
            usage: Mutex::new(HashMap::new()),
            config: config.clone(),
            store,
        })
    }

    /// The client's IP: the connection's peer, or the last `X-Forwarded-For` hop when the
    /// operator says a trusted proxy sets it.
    pub fn client_ip<B>(&self, req: &Request<B>) -> IpAddr {
        if self.config.trust_forwarded_for
            && let Some(ip) = req
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|s| s.trim().parse::<IpAddr>().ok())
        {
            return ip;
        }
        req.extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            // Mounted without connect info: every anonymous caller shares one bucket.
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    fn check_ip(&self, ip: IpAddr) -> Result<LimitHeaders, Refusal> {
        match self.free.check_key(&ip) {
            Ok(snap) => Ok(window_headers(&snap)),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.free.clock().now());
                let secs = retry_secs(wait);
                Err(Refusal {
                    error: ApiError::RateLimited {
                        limit: self.free_per_minute,
                        window: "minute per IP",
                        retry_after_secs: secs,
                    },
                    headers: Some(LimitHeaders {
                        limit: self.free_per_minute as u64,
                        remaining: 0,
                        reset_secs: secs,
                        quota: None,
                    }),
                })
            }
        }
    }

    fn key_state(&self, key: ApiKey) -> Result<KeyState, ApiError> {
        let (per_sec, quota) = match key.tier {
            Tier::Free => (self.config.free_per_minute, None),
            // A key's own quota (keys paid in TAO carry their tier's) wins over the tier default.
            Tier::Developer => (
                self.config.developer_per_second,
                Some(key.monthly_quota.unwrap_or(self.config.developer_monthly_quota)),
            ),
            Tier::Production => (self.config.production_per_second, key.monthly_quota),
            Tier::Enterprise => (key.rate_per_sec.unwrap_or(self.config.production_per_second), key.monthly_quota),
        };
        let limiter = RateLimiter::direct(Quota::per_second(nonzero(per_sec, "rate_per_sec")?))
            .with_middleware::<StateInformationMiddleware>();
        let usage = match quota {
            None => None,
            Some(_) => Some(self.usage_of(&key.id)?),
        };
        Ok(KeyState { key, limiter, per_sec, quota, usage })
    }

    fn usage_of(&self, key_id: &str) -> Result<Arc<Usage>, ApiError> {
        if let Some(u) = self.usage.lock().get(key_id) {
            return Ok(u.clone());
        }
        let period = month_of(now_ms());
        // Read outside the lock is fine: a race only loads the same stored value twice.
        let stored = self.store.usage(key_id, &period)?;
        let mut map = self.usage.lock();
        let u = map
            .entry(key_id.to_string())
            .or_insert_with(|| {
                Arc::new(Usage {
                    period: Mutex::new(period),
                    stored: AtomicU64::new(stored),
                    pending: AtomicU64::new(0),
                })
            })
            .clone();
        Ok(u)
    }

    /// Find a key by its secret, through the cache.
    fn lookup(&self, secret: &str) -> Result<Option<Arc<KeyState>>, ApiError> {
        let hash = hash_key(secret);
        let ttl = self.config.key_cache_ttl;
        if let Some(c) = self.keys.read().get(&hash)
            && c.at.elapsed() < ttl
        {
            return Ok(c.state.clone());
        }
        let found = self.store.api_key_by_hash(&hash)?;
        let state = match found {
            None => None,
            Some(k) if k.revoked => Some(Arc::new(self.key_state(k)?)),
            Some(k) => {
                // Keep the old limiter while the record is unchanged, so a cache refresh does
                // not hand the caller a fresh burst.
                let prev = self.keys.read().get(&hash).and_then(|c| c.state.clone());
                match prev {
                    Some(p) if p.key == k => Some(p),
                    _ => Some(Arc::new(self.key_state(k)?)),
                }
            }
        };
        let mut keys = self.keys.write();
        if state.is_none() {
            if self.negatives.load(Ordering::Relaxed) as usize >= MAX_NEGATIVE {
                return Ok(None);
            }
            self.negatives.fetch_add(1, Ordering::Relaxed);
        }
        keys.insert(hash, Cached { at: Instant::now(), state: state.clone() });
        Ok(state)
    }

    /// Decide whether a request may proceed, and with which headers. It counts as `cost`
    /// requests (an objective costs more than a lookup) against the key's rate window and
    /// monthly quota. Callers below `required` are charged one request (the tier check that
    /// follows refuses them), so a refused call never costs more than a lookup.
    pub fn admit_cost(
        &self,
        presented: Result<Option<&str>, ApiError>,
        ip: IpAddr,
        required: Tier,
        cost: u32,
    ) -> Result<Admission, Refusal> {
        let secret = match presented {
            Ok(s) => s,
            Err(error) => {
                // Malformed credentials count against the IP like anonymous calls.
                let headers = self.check_ip(ip)?;
                return Err(Refusal { error, headers: Some(headers) });
            }
        };
        let Some(secret) = secret else {
            let headers = self.check_ip(ip)?;
            return Ok(Admission { caller: Caller { tier: Tier::Free, key: None }, headers, cost: 1 });
        };
        let state = match self.lookup(secret) {
            Ok(s) => s,
            Err(error) => return Err(Refusal { error, headers: None }),
        };
        let Some(state) = state else {
            // Unknown keys are throttled per IP too, which slows down guessing.
            let headers = self.check_ip(ip)?;
            return Err(Refusal {
                error: ApiError::Unauthorized {
                    code: "unknown_key",
                    message: "unknown API key; create one with `orchestra ledger keys create --tier <tier>`".into(),
                    required: None,
                },
                headers: Some(headers),
            });
        };
        if state.key.revoked {
            let headers = self.check_ip(ip)?;
            return Err(Refusal {
                error: ApiError::Unauthorized {
                    code: "revoked_key",
                    message: format!("API key {} was revoked; ask for a new one", state.key.id),
                    required: None,
                },
                headers: Some(headers),
            });
        }
        if state.key.expired_at(now_ms()) {
            let headers = self.check_ip(ip)?;
            return Err(Refusal {
                error: ApiError::Unauthorized {
                    code: "expired_key",
                    message: format!(
                        "API key {} expired; extend it with `orchestra ledger keys buy --extend {}`",
                        state.key.id, state.key.id
                    ),
                    required: None,
                },
                headers: Some(headers),
            });
        }
        // What this request costs: more than a burst can never pass, so it is capped there.
        let cost = if state.key.tier >= required { cost.clamp(1, state.per_sec.max(1)) } else { 1 };
        let mut headers = if state.key.tier == Tier::Free {
            self.check_ip(ip)?
        } else {
            let n = NonZeroU32::new(cost).unwrap_or(NonZeroU32::MIN);
            match state.limiter.check_n(n) {
                Ok(Ok(snap)) => window_headers(&snap),
                Ok(Err(not_until)) => {
                    let secs = retry_secs(not_until.wait_time_from(state.limiter.clock().now()));
                    return Err(Refusal {
                        error: ApiError::RateLimited { limit: state.per_sec, window: "second", retry_after_secs: secs },
                        headers: Some(LimitHeaders {
                            limit: state.per_sec as u64,
                            remaining: 0,
                            reset_secs: secs,
                            quota: None,
                        }),
                    });
                }
                Err(_insufficient) => {
                    // Unreachable with the cap above; refused like an exhausted window.
                    return Err(Refusal {
                        error: ApiError::RateLimited { limit: state.per_sec, window: "second", retry_after_secs: 1 },
                        headers: None,
                    });
                }
            }
        };
        if let (Some(quota), Some(usage)) = (state.quota, &state.usage) {
            let now = now_ms();
            self.roll_period(usage, now);
            let used = usage.stored.load(Ordering::Relaxed) + usage.pending.load(Ordering::Relaxed);
            let reset = ms_until_next_month(now).div_ceil(1000);
            if used.saturating_add(u64::from(cost)) > quota {
                headers.quota = Some((quota, quota.saturating_sub(used), reset));
                return Err(Refusal {
                    error: ApiError::QuotaExceeded { quota, retry_after_secs: reset },
                    headers: Some(headers),
                });
            }
            // Remaining after this request, if it succeeds.
            headers.quota = Some((quota, quota - used - u64::from(cost), reset));
        }
        Ok(Admission { caller: Caller { tier: state.key.tier, key: Some(state) }, headers, cost })
    }

    /// Count a successful request of `cost` requests against the caller's quota.
    pub fn count(&self, caller: &Caller, cost: u32) {
        if let Some(u) = caller.key.as_ref().and_then(|k| k.usage.as_ref()) {
            u.pending.fetch_add(u64::from(cost), Ordering::Relaxed);
        }
    }

    /// A new month starts from zero (after flushing what the old one counted).
    fn roll_period(&self, usage: &Usage, now: u64) {
        let current = month_of(now);
        let mut period = usage.period.lock();
        if *period != current {
            *period = current;
            // Counts of the old month that were not flushed yet are dropped with it: the quota is
            // per month, and what matters from here is the new month's count.
            usage.pending.store(0, Ordering::Relaxed);
            usage.stored.store(0, Ordering::Relaxed);
        }
    }

    /// Add the counted usage to the store.
    pub fn flush_usage(&self) -> Result<(), ApiError> {
        let store = &self.store;
        let all: Vec<(String, Arc<Usage>)> = self.usage.lock().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for (id, u) in all {
            let n = u.pending.swap(0, Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            let period = u.period.lock().clone();
            match store.add_usage(&id, &period, n) {
                Ok(total) => u.stored.store(total, Ordering::Relaxed),
                Err(e) => {
                    // Put the counts back so the next flush tries again.
                    u.pending.fetch_add(n, Ordering::Relaxed);
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    /// Periodic housekeeping: drop stale cache entries and idle IP buckets.
    pub fn housekeeping(&self) {
        let ttl = self.config.key_cache_ttl;
        let mut keys = self.keys.write();
        keys.retain(|_, c| c.at.elapsed() < ttl * 4);
        let negatives = keys.values().filter(|c| c.state.is_none()).count();
        self.negatives.store(negatives as u64, Ordering::Relaxed);
        drop(keys);
        self.free.retain_recent();
        self.free.shrink_to_fit();
    }
}

/// Extract the presented key: `Ok(None)` when there is none, an error when the header is
/// malformed.
pub(crate) fn presented_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    if let Some(v) = headers.get(axum::http::header::AUTHORIZATION) {
        let s = v.to_str().map_err(|_| bad_auth("the Authorization header is not ASCII"))?;
        let key = s
            .strip_prefix("Bearer ")
            .or_else(|| s.strip_prefix("bearer "))
            .ok_or_else(|| bad_auth("the Authorization header must be `Bearer <key>`"))?
            .trim();
        if key.is_empty() {
            return Err(bad_auth("the Authorization header has an empty key"));
        }
        return Ok(Some(key));
    }
    if let Some(v) = headers.get("x-api-key") {
        let key = v.to_str().map_err(|_| bad_auth("the X-Api-Key header is not ASCII"))?.trim();
        if key.is_empty() {
            return Err(bad_auth("the X-Api-Key header is empty"));
        }
        return Ok(Some(key));
    }
    Ok(None)
}

fn bad_auth(m: &str) -> ApiError {
    ApiError::Unauthorized { code: "bad_authorization", message: m.to_string(), required: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months() {
        // 2026-01-31T23:59:59Z and 2026-02-01T00:00:00Z.
        assert_eq!(month_of(1_769_903_999_000), "2026-01");
        assert_eq!(month_of(1_769_904_000_000), "2026-02");
        assert_eq!(ms_until_next_month(1_769_903_999_000), 1000);
        assert_eq!(month_of(0), "1970-01");
        use orchestra_proto::date::{civil_from_days, days_from_civil};
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(month_of(1_798_761_600_000), "2027-01", "December rolls into January");
    }

    #[test]
    fn retry_after_is_whole_seconds() {
        assert_eq!(retry_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_secs(Duration::from_secs(3)), 3);
        assert_eq!(retry_secs(Duration::ZERO), 1);
    }

    #[test]
    fn key_headers() {
        let mut h = HeaderMap::new();
        assert!(presented_key(&h).expect("none").is_none());
        h.insert("x-api-key", HeaderValue::from_static("olk_abc"));
        assert_eq!(presented_key(&h).expect("key"), Some("olk_abc"));
        h.insert("authorization", HeaderValue::from_static("Basic xyz"));
        assert!(presented_key(&h).is_err(), "Authorization wins and must be Bearer");
        h.insert("authorization", HeaderValue::from_static("Bearer olk_def"));
        assert_eq!(presented_key(&h).expect("key"), Some("olk_def"));
    }
}
