//! SIMULATED subnets for local runs and tests. Nothing here talks to a real subnet.
//!
//! Three kinds of simulated subnet, each on its own port, shaped like the real access paths
//! (`shared/reference/subnets-and-rust-sdks.md`):
//! - **search**, like SN22 Desearch: `POST /desearch/ai/search/links/web`;
//! - **data**, like SN13 Data Universe's OnDemandData: `POST /sn13.v1.Sn13Service/OnDemandData`
//!   (keyword search over posts, or a scrape of one URL);
//! - **llm**, like SN64 Chutes: OpenAI-compatible `POST /v1/chat/completions`. It says it is a
//!   simulator in every answer (`model: "<model> (SIMULATED)"`, `system_fingerprint`) and answers
//!   deterministically from the text it is given: an extraction task
//!   (`orchestra_proto::extract`) gets a cited [`extractor`] answer built only from the world's
//!   facts and posts whose quote or text is in the task's documents; any other chat gets the
//!   figures of its input back.
//!
//! The search and data kinds are also served as Bittensor v10 axons ([`axon`]: `WebSearchSynapse`,
//! `OnDemandRequest`) with the same fields, so one Ledger entry describes both transports.
//!
//! Answers come from a [`World`] (the built-in one, `world/builtin.json`, or a file given with
//! `orchestra subnet-sim --world FILE`, `orchestra localnet --world FILE` or `world = "FILE"` in
//! the config). Faults are injected by config and at run time
//! through `POST /control/faults`: latency, error rate, timeouts, malformed bodies, schema drift
//! at a given time (a field appears, disappears or changes type), an endpoint move, or the
//! whole subnet down. Fault decisions are deterministic per request number, so a test run is
//! reproducible. The simulated LLM's answers can be made wrong on purpose too:
//! `llm_error_rate` (default 0.02: a cited number perturbed or an entity swapped) and
//! `llm_hallucination_rate` (default 0: an unsupported field filled with an invented, uncited
//! value), rolled deterministically from the seed and the request.
//!
//! # World files
//!
//! A world is one JSON object (`World::from_file` loads and validates it):
//!
//! ```json
//! {
//!   "name": "my world",
//!   "today": "2026-11-27",
//!   "pages": [{"url": "https://sim.lambda.example/pricing", "title": "Lambda Cloud GPU pricing (simulated)",
//!              "text": "... NVIDIA H100 SXM: $2.49 per GPU-hour. ...", "tags": ["gpu", "h100"],
//!              "date": "2026-10-02", "author": "Lambda pricing team", "domain": "gpu_cloud_pricing"}],
//!   "posts": [{"uri": "https://sim.x.example/a/status/1", "username": "a", "platform": "x",
//!              "datetime": "2026-11-02T10:15:00Z", "text": "...", "sentiment": "positive",
//!              "topics": ["decentralized ai training"]}],
//!   "facts": [{"domain": "gpu_cloud_pricing", "entity": "Lambda", "entity_type": "cloud provider",
//!              "attribute": "h100_usd_per_gpu_hour", "value": 2.49, "unit": "USD per GPU-hour",
//!              "source": "https://sim.lambda.example/pricing", "quote": "NVIDIA H100 SXM: $2.49 per GPU-hour"}]
//! }
//! ```
//!
//! - `today` anchors relative dates in objectives ("this month"); default: the newest date.
//! - pages: `url`, `title`, `text` (what a scrape returns), `tags` (extra search words), `date`
//!   (`YYYY-MM-DD`), optional `author`, `domain`. Titles are served with "(simulated)" added
//!   when they do not say so.
//! - posts: `uri`, `username`, `platform` (`x`, `reddit`, ...; served as SN13's `source` `X`,
//!   `REDDIT`), `datetime` (RFC 3339), `text`, `sentiment` (`positive`/`neutral`/`negative`,
//!   known only to the simulator), `topics` (lowercase phrases the simulated LLM matches
//!   against an objective's topic).
//! - facts: `domain`, `entity`, `entity_type` (what kind of thing the entity is: `cloud
//!   provider`, `model`; used to tell providers from reports), `attribute` (snake case; its
//!   words and the `unit`'s are matched against schema property names), `value` (number or
//!   string), `unit`, `source` (a page URL or post URI) and `quote`, the exact substring of the
//!   source's text that states the value.
//!
//! Validation (on load) refuses a file whose pages or posts lack their fields or repeat a
//! URL/URI, or with a fact whose source is not a page or post of the world or whose quote is not
//! verbatim in the source's text; the error names each offending page, post or fact (`fact 3
//! (Lambda / h100_usd_per_gpu_hour): quote "..." is not verbatim in the text of ...`).
//! [`World::warnings`] (logged on load) lists softer problems: a quote that does not state its
//! value or a source text that does not name the entity (citations of those fail
//! `check_citation`), non-ISO dates. Common alternative field names are accepted (`content` for
//! `text`, `url` for a post's `uri`, `author` for `username`, `source_url` for a fact's
//! `source`, `type` for `entity_type`), as are numbers written as strings.
//! [`World::facts_for`], [`World::values_of`], [`World::extreme`], [`World::posts_about`] and
//! [`world::majority_sentiment`] give the true answers for tests and evals.

pub mod axon;
pub mod corpus;
pub mod extractor;
pub mod faults;
pub mod ledger;
pub mod server;
pub mod world;

pub use extractor::{ExtractOptions, extract};
pub use faults::{DEFAULT_LLM_ERROR_RATE, Drift, DriftKind, Faults};
pub use server::{RunningSubnet, SimConfig, SimHandle, SubnetKind, SubnetSimConfig, start};
pub use world::World;

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot bind {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("config {path}: {reason}")]
    Config { path: String, reason: String },
    #[error("world {path}: {reason}")]
    World { path: String, reason: String },
}
