//! SIMULATED subnets for local runs and tests. Nothing here talks to a real subnet.
//!
//! Three kinds of simulated subnet, each on its own port, shaped like the real access paths
//! (`shared/reference/subnets-and-rust-sdks.md`):
//! - **search**, like SN22 Desearch: `POST /desearch/ai/search/links/web`;
//! - **data**, like SN13 Data Universe's OnDemandData: `POST /sn13.v1.Sn13Service/OnDemandData`
//!   (keyword search over posts, or a scrape of one URL);
//! - **llm**, like SN64 Chutes: OpenAI-compatible `POST /v1/chat/completions`. It says it is a
//!   simulator in every answer and answers deterministically from the text it is given.
//!
//! The search and data kinds are also served as Bittensor v10 axons ([`axon`]: `WebSearchSynapse`,
//! `OnDemandRequest`) with the same fields, so one Ledger entry describes both transports.
//!
//! Answers come from a fixed corpus ([`corpus`]). Faults are injected by config and at run time
//! through `POST /control/faults`: latency, error rate, timeouts, malformed bodies, schema drift
//! at a given time (a field appears, disappears or changes type), an endpoint move, or the
//! whole subnet down. Fault decisions are deterministic per request number, so a test run is
//! reproducible.

pub mod axon;
pub mod corpus;
pub mod faults;
pub mod ledger;
pub mod server;

pub use faults::{Drift, DriftKind, Faults};
pub use server::{SimConfig, SimHandle, SubnetKind, SubnetSimConfig, start};

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot bind {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("config {path}: {reason}")]
    Config { path: String, reason: String },
}
