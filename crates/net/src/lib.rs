//! Bittensor networking for Orchestra: an axon (HTTP server) and a dendrite (HTTP client) that
//! speak the Python SDK's v10 dialect and the `btauth/1` signed-header scheme of bittensor 11.
//!
//! - [`Axon`]: routes `POST /{SynapseName}` to typed handlers after the SDK's checks (in its
//!   order and with its status codes) plus stricter ones: signature always required, a replay
//!   cache, a body size limit, a per-hotkey rate limit, body-hash recomputation, a metagraph-fed
//!   blacklist and a stake-priority gate under load. See [`axon`] for the exact order.
//! - [`Dendrite`]: signs and sends synapses to one axon or many, mapping transport failures to
//!   the SDK's status codes (503, 408, 422).
//! - [`guard`]: the one guarded outbound HTTP client (no redirects, private destinations refused
//!   unless allowed, size and time caps, TLS with system roots or an operator CA).
//! - [`serve`]: the one HTTP/1.1 serving loop every node server uses (header, idle, body and
//!   write timeouts, connection, in-flight and body-byte caps).
//! - [`echo`]: the echo synapse the reference Python peer serves, for interop tests and benchmarks.
//! - `testing` (feature `test-tls`, tests only): a private CA and an https proxy in front of any
//!   local server, for tests of `--tls.ca-file`.
//!
//! Wire facts live in `orchestra_proto::wire` and `orchestra_proto::btauth`; this crate adds the
//! I/O, the policies and the bookkeeping.

pub mod axon;
pub mod dendrite;
pub mod echo;
mod error;
mod gate;
pub mod guard;
mod keycache;
pub use keycache::KeyCache;
pub mod metagraph;
pub mod metrics;
mod replay;
pub mod serve;
#[cfg(feature = "test-tls")]
pub mod testing;

pub use axon::{AuthScheme, Axon, AxonConfig, RateLimit, RequestContext, SynapseError};
pub use dendrite::{AxonTarget, Dendrite, DendriteAuth, DendriteConfig, DynSynapse, Response};
pub use error::NetError;
pub use guard::{GuardConfig, GuardError, GuardedClient, GuardedResponse};
pub use metagraph::{BlacklistPolicy, MetagraphHandle, MetagraphSnapshot, Peer};
pub use metrics::AxonMetrics;
pub use serve::{ServeLimits, ServeStats, Server};

/// Wall-clock time in nanoseconds since the Unix epoch, the unit of every nonce on the wire.
/// A clock before 1970 reads as 0, which every freshness check then refuses.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
