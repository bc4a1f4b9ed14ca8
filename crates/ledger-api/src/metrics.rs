//! Prometheus metrics of the Ledger API (`/metrics`, or registered into the validator's own
//! registry with [`crate::LedgerApi::register_metrics`]).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub route: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabels {
    pub route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TierLabels {
    pub tier: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OutcomeLabels {
    pub outcome: &'static str,
}

fn latency_histogram() -> Histogram {
    // 50 µs .. ~3 s: lookups are sub-millisecond, webhook calls and SSE setup are not.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 17))
}

/// The metric handles (cheap to clone; clones share values).
#[derive(Clone)]
pub(crate) struct Metrics {
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub refused: Family<TierLabels, Counter>,
    /// Quota units charged by route (a lookup is 1, an objective its configured cost).
    pub units: Family<RouteLabels, Counter>,
    pub sse_subscribers: Gauge,
    pub snapshot_seq: Gauge,
    pub snapshot_rebuilds: Counter,
    pub webhook_deliveries: Family<OutcomeLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new() -> Self {
        Metrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            refused: Family::default(),
            units: Family::default(),
            sse_subscribers: Gauge::default(),
            snapshot_seq: Gauge::default(),
            snapshot_rebuilds: Counter::default(),
            webhook_deliveries: Family::default(),
        }
    }

    /// Register every metric (clones share values) under `ledger_api_*`.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("ledger_api");
        r.register("requests", "Ledger API responses by route and status", self.requests.clone());
        r.register("request_duration_seconds", "Ledger API handling time by route", self.latency.clone());
        r.register("refused", "Requests refused for rate limit, quota or key, by tier", self.refused.clone());
        r.register("units", "Quota units charged for successful requests, by route", self.units.clone());
        r.register("sse_subscribers", "Open change-feed SSE streams", self.sse_subscribers.clone());
        r.register("snapshot_seq", "Change sequence the served snapshot is current to", self.snapshot_seq.clone());
        r.register("snapshot_rebuilds", "Snapshot rebuilds after Ledger changes", self.snapshot_rebuilds.clone());
        r.register("webhook_deliveries", "Webhook delivery attempts by outcome", self.webhook_deliveries.clone());
    }
}
