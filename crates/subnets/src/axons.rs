//! Metagraph-routed axon transports: which axons of a subnet to call, in which order.
//!
//! An `axon_v10` transport without a fixed endpoint names only a synapse; the axons come from
//! the target subnet's metagraph. This crate does not talk to a chain (only `crates/chain`
//! does): the caller passes an [`AxonDirectory`] (the daemons pass one backed by their chain
//! connection, `orchestra_node::ChainAxons`; tests pass [`StaticAxons`]).
//!
//! Ranking ([`rank`]): serving axons only (a served address and port, not refused by the
//! network policy), scored by the validators' view of them: incentive (what the subnet's
//! validators' weights pay them), then trust (or consensus where the chain no longer reports
//! trust), then stake, each normalised to the best candidate, `0.6·incentive + 0.25·trust +
//! 0.15·stake`. Axons in the same tenth of that score are ordered by the latency this node
//! measured calling them (an axon never measured counts as the median of the measured ones),
//! and axons that failed within [`AxonRouting::cooldown`] go last. At most
//! [`AxonRouting::max_axons`] are tried per call.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One axon serving on a subnet, as its metagraph shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServingAxon {
    pub uid: u16,
    /// Hotkey (SS58): the receiver the calls are signed for.
    pub hotkey: String,
    /// `ip:port` or `[ipv6]:port`.
    pub endpoint: String,
    /// Stake in TAO-like units (only compared).
    pub stake: f64,
    /// Trust in `[0, 1]` (0 on current subtensor, which no longer computes it).
    pub trust: f64,
    /// Consensus in `[0, 1]`.
    pub consensus: f64,
    /// Incentive in `[0, 1]`: the share of the subnet's miner emission its validators give it.
    pub incentive: f64,
    pub validator_permit: bool,
}

/// A future returned by an [`AxonDirectory`].
pub type DirectoryFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<ServingAxon>, String>> + Send + 'a>>;

/// Who serves on a subnet: a view of the metagraphs, passed in by whoever owns the chain
/// connection.
pub trait AxonDirectory: Send + Sync {
    /// The axons of `netuid` that announce an address (in any order). An error when the
    /// metagraph cannot be read.
    fn serving_axons(&self, netuid: u16) -> DirectoryFuture<'_>;
}

/// A fixed directory (tests, tools); it can be changed while in use.
#[derive(Debug, Default)]
pub struct StaticAxons {
    by_netuid: Mutex<HashMap<u16, Vec<ServingAxon>>>,
}

impl StaticAxons {
    pub fn new() -> Self {
        StaticAxons::default()
    }

    /// Replace the axons of `netuid`.
    pub fn set(&self, netuid: u16, axons: Vec<ServingAxon>) {
        if let Ok(mut m) = self.by_netuid.lock() {
            m.insert(netuid, axons);
        }
    }
}

impl AxonDirectory for StaticAxons {
    fn serving_axons(&self, netuid: u16) -> DirectoryFuture<'_> {
        let found = self.by_netuid.lock().ok().and_then(|m| m.get(&netuid).cloned());
        Box::pin(async move { found.ok_or_else(|| format!("no metagraph for netuid {netuid}")) })
    }
}

/// Knobs of metagraph routing.
#[derive(Debug, Clone, PartialEq)]
pub struct AxonRouting {
    /// Most axons tried for one call (the best ones first).
    pub max_axons: usize,
    /// An axon that failed is tried after the others for this long.
    pub cooldown: Duration,
}

impl Default for AxonRouting {
    fn default() -> Self {
        AxonRouting { max_axons: 3, cooldown: Duration::from_secs(60) }
    }
}

/// What this node measured calling one axon.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AxonStat {
    /// Exponential moving average of successful calls' latency, in ms.
    pub latency_ms: Option<f64>,
    /// Failures since the last success.
    pub failures: u32,
    pub last_failure: Option<Instant>,
}

/// Measured latency and failures per (netuid, hotkey), shared by clones of the adapters.
#[derive(Debug, Clone, Default)]
pub(crate) struct AxonStats(Arc<Mutex<HashMap<(u16, String), AxonStat>>>);

/// Weight of a new latency sample in the moving average.
const LATENCY_ALPHA: f64 = 0.3;
/// Most (netuid, hotkey) pairs remembered (a metagraph has at most 256 uids per subnet).
const MAX_STATS: usize = 8_192;

impl AxonStats {
    pub(crate) fn snapshot(&self, netuid: u16) -> HashMap<String, AxonStat> {
        match self.0.lock() {
            Ok(m) => m.iter().filter(|((n, _), _)| *n == netuid).map(|((_, h), s)| (h.clone(), *s)).collect(),
            Err(_) => HashMap::new(),
        }
    }

    pub(crate) fn record(&self, netuid: u16, hotkey: &str, ok: bool, latency: Duration) {
        let Ok(mut m) = self.0.lock() else { return };
        if m.len() >= MAX_STATS && !m.contains_key(&(netuid, hotkey.to_string())) {
            // Forget the oldest failures first; simply clearing keeps this bounded and cheap.
            m.clear();
        }
        let s = m.entry((netuid, hotkey.to_string())).or_default();
        if ok {
            let ms = latency.as_secs_f64() * 1000.0;
            s.latency_ms = Some(match s.latency_ms {
                Some(prev) => prev + LATENCY_ALPHA * (ms - prev),
                None => ms,
            });
            s.failures = 0;
            s.last_failure = None;
        } else {
            s.failures = s.failures.saturating_add(1);
            s.last_failure = Some(Instant::now());
        }
    }
}

fn quality(a: &ServingAxon, best: (f64, f64, f64)) -> f64 {
    let norm = |x: f64, max: f64| if max > 0.0 && x.is_finite() { (x / max).clamp(0.0, 1.0) } else { 0.0 };
    // Current subtensor reports no trust: consensus stands in for it.
    let trust = if best.1 > 0.0 { a.trust.max(a.consensus) } else { 0.0 };
    0.6 * norm(a.incentive, best.0) + 0.25 * norm(trust, best.1) + 0.15 * norm(a.stake, best.2)
}

/// Order `axons` for a call: see the module docs. Duplicated hotkeys keep their first entry.
pub fn rank(
    mut axons: Vec<ServingAxon>,
    stats: &HashMap<String, AxonStat>,
    cooldown: Duration,
    now: Instant,
) -> Vec<ServingAxon> {
    let mut seen = std::collections::HashSet::new();
    axons.retain(|a| seen.insert(a.hotkey.clone()));
    let max = |f: fn(&ServingAxon) -> f64| axons.iter().map(f).filter(|x| x.is_finite()).fold(0.0_f64, f64::max);
    let best = (max(|a| a.incentive), max(|a| a.trust.max(a.consensus)), max(|a| a.stake));
    let mut measured: Vec<f64> = axons.iter().filter_map(|a| stats.get(&a.hotkey)?.latency_ms).collect();
    measured.sort_by(f64::total_cmp);
    let median = measured.get(measured.len() / 2).copied().unwrap_or(0.0);
    let key = |a: &ServingAxon| {
        let st = stats.get(&a.hotkey);
        let failing = st
            .and_then(|s| s.last_failure)
            .is_some_and(|t| now.saturating_duration_since(t) < cooldown && st.is_some_and(|s| s.failures > 0));
        let tier = (quality(a, best) * 10.0).floor() as i64;
        let latency = st.and_then(|s| s.latency_ms).unwrap_or(median);
        (failing, -tier, latency, a.uid)
    };
    axons.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0).then(ka.1.cmp(&kb.1)).then(ka.2.total_cmp(&kb.2)).then(ka.3.cmp(&kb.3))
    });
    axons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ax(uid: u16, incentive: f64, trust: f64, stake: f64) -> ServingAxon {
        ServingAxon {
            uid,
            hotkey: format!("5H{uid}"),
            endpoint: format!("10.0.0.{uid}:8091"),
            stake,
            trust,
            consensus: 0.0,
            incentive,
            validator_permit: false,
        }
    }

    fn uids(v: &[ServingAxon]) -> Vec<u16> {
        v.iter().map(|a| a.uid).collect()
    }

    #[test]
    fn incentive_trust_and_stake_then_latency_then_failures() {
        let now = Instant::now();
        let none = HashMap::new();
        let cd = Duration::from_secs(60);
        // Incentive dominates; trust and stake break what incentive leaves level.
        let v = vec![ax(1, 0.1, 0.0, 10.0), ax(2, 0.9, 0.0, 0.0), ax(3, 0.1, 0.9, 0.0), ax(4, 0.0, 0.0, 0.0)];
        assert_eq!(uids(&rank(v, &none, cd, now)), [2, 3, 1, 4]);

        // Same tier: measured latency decides; an unmeasured axon counts as the median.
        let v = vec![ax(1, 0.5, 0.0, 0.0), ax(2, 0.5, 0.0, 0.0), ax(3, 0.5, 0.0, 0.0)];
        let mut stats = HashMap::new();
        stats.insert("5H1".to_string(), AxonStat { latency_ms: Some(300.0), ..Default::default() });
        stats.insert("5H2".to_string(), AxonStat { latency_ms: Some(20.0), ..Default::default() });
        assert_eq!(uids(&rank(v.clone(), &stats, cd, now)), [2, 1, 3]);

        // A recent failure sends an axon last, whatever its score; after the cooldown it is back.
        stats.insert("5H2".to_string(), AxonStat { latency_ms: Some(20.0), failures: 1, last_failure: Some(now) });
        assert_eq!(uids(&rank(v.clone(), &stats, cd, now)), [1, 3, 2]);
        assert_eq!(uids(&rank(v, &stats, cd, now + Duration::from_secs(61))), [2, 1, 3]);

        // Consensus stands in for trust; duplicated hotkeys are dropped.
        let mut a = ax(5, 0.0, 0.0, 0.0);
        a.consensus = 0.8;
        let v = vec![ax(6, 0.0, 0.0, 0.0), a, ax(6, 1.0, 1.0, 1.0)];
        assert_eq!(uids(&rank(v, &none, cd, now)), [5, 6]);
    }

    #[test]
    fn stats_average_and_reset_on_success() {
        let s = AxonStats::default();
        s.record(22, "5A", true, Duration::from_millis(100));
        s.record(22, "5A", true, Duration::from_millis(200));
        s.record(22, "5B", false, Duration::ZERO);
        s.record(13, "5C", true, Duration::from_millis(1));
        let snap = s.snapshot(22);
        assert_eq!(snap.len(), 2);
        assert!((snap["5A"].latency_ms.expect("ms") - 130.0).abs() < 1e-9);
        assert_eq!(snap["5B"].failures, 1);
        s.record(22, "5B", true, Duration::from_millis(5));
        assert_eq!(s.snapshot(22)["5B"].failures, 0);
    }
}
