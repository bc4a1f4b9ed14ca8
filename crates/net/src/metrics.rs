//! Prometheus metrics of an axon: requests by synapse and status, latency by synapse, handlers
//! in flight and requests waiting for a slot.
//!
//! The counters and histogram for a route's successful requests are resolved once when the
//! route is attached, so the common path only touches atomics; error statuses go through the
//! label family (a read lock). Unknown paths are counted under the synapse label `unknown`, so
//! a scanner cannot blow up the label cardinality.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of `requests`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    pub synapse: &'static str,
    pub status: u16,
}

/// Labels of `request_duration_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct SynapseLabels {
    pub synapse: &'static str,
}

fn latency_histogram() -> Histogram {
    // 50 µs … ~26 s: covers a rejected request and a long Orchestrate task.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
}

/// The axon's metrics and the registry that holds them (prefix `orchestra_axon`).
pub struct AxonMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<SynapseLabels, Histogram, fn() -> Histogram>,
    pub(crate) in_flight: Gauge,
    pub(crate) queued: Gauge,
    pub(crate) batch: BatchCounters,
    /// The axon server's connection limits at work (`orchestra_axon_server_*`).
    pub server: crate::serve::ServeStats,
}

/// Counters of the signature batcher: `signatures / batches` is the mean batch size.
#[derive(Clone, Default)]
pub(crate) struct BatchCounters {
    pub(crate) batches: Counter,
    pub(crate) signatures: Counter,
    pub(crate) failed_batches: Counter,
}

impl std::fmt::Debug for AxonMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AxonMetrics").finish_non_exhaustive()
    }
}

impl Default for AxonMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl AxonMetrics {
    /// Fresh metrics in their own registry.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("orchestra_axon");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<SynapseLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let in_flight = Gauge::default();
        let queued = Gauge::default();
        registry.register("requests", "Requests answered, by synapse and HTTP status", requests.clone());
        registry.register(
            "request_duration_seconds",
            "Time from receiving a request to answering it, by synapse",
            latency.clone(),
        );
        registry.register("in_flight", "Requests whose handler is running", in_flight.clone());
        registry.register("queued", "Requests waiting for a handler slot", queued.clone());
        let batch = BatchCounters::default();
        registry.register("signature_batches", "sr25519 batch verifications run", batch.batches.clone());
        registry.register(
            "signatures_verified",
            "Request signatures verified (in batches or alone)",
            batch.signatures.clone(),
        );
        registry.register(
            "signature_batches_failed",
            "Batches with a bad signature, re-checked one by one",
            batch.failed_batches.clone(),
        );
        let server = crate::serve::ServeStats::default();
        server.register(registry.sub_registry_with_prefix("server"));
        AxonMetrics { registry, requests, latency, in_flight, queued, batch, server }
    }

    /// The registry, to encode together with other registries.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The metrics in the Prometheus/OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Pre-resolved handles for one synapse's successful requests.
    pub(crate) fn route(&self, synapse: &'static str) -> RouteMetrics {
        RouteMetrics {
            synapse,
            ok: self.requests.get_or_create_owned(&RequestLabels { synapse, status: 200 }),
            latency: self.latency.get_or_create_owned(&SynapseLabels { synapse }),
        }
    }

    /// Counts one answered request.
    pub(crate) fn record(&self, route: Option<&RouteMetrics>, status: u16, seconds: f64) {
        match route {
            Some(r) => {
                if status == 200 {
                    r.ok.inc();
                } else {
                    self.requests.get_or_create(&RequestLabels { synapse: r.synapse, status }).inc();
                }
                r.latency.observe(seconds);
            }
            None => {
                self.requests.get_or_create(&RequestLabels { synapse: "unknown", status }).inc();
            }
        }
    }

    /// Signatures verified and the batches they were verified in (the mean batch size is the
    /// ratio).
    pub fn signature_batches(&self) -> (u64, u64) {
        (self.batch.signatures.get(), self.batch.batches.get())
    }

    /// Value of `requests{synapse,status}` (tests and dashboards).
    pub fn requests(&self, synapse: &'static str, status: u16) -> u64 {
        self.requests.get_or_create(&RequestLabels { synapse, status }).get()
    }
}

/// One route's hot-path metric handles.
#[derive(Clone)]
pub(crate) struct RouteMetrics {
    synapse: &'static str,
    ok: Counter,
    latency: Histogram,
}
