//! The echo synapse of the reference Python peer (`shared/refpeer`): the subnet template's
//! "Dummy" pattern, used by interop tests, `echo_axon` and the load benchmarks.
//!
//! ```python
//! class EchoSynapse(bt.Synapse):
//!     query: str                      # required (no default), or `= ""` with --optional-query
//!     result: Optional[str] = None
//!     required_hash_fields = ("query",)   # only with --hash-fields
//! ```
//!
//! The Python flags change class-level facts (hashed and required fields), which are constants
//! of the [`Synapse`] trait here, so each combination is its own type through const generics.

use orchestra_proto::wire::{PyType, Synapse};
use serde::{Deserialize, Serialize};

/// `EchoSynapse`; `HASHED` = `--hash-fields`, `OPTIONAL` = `--optional-query`.
///
/// `query` must be in the body in every variant: the optional variant only stops declaring it
/// required in the headers, and Python dendrites always send every field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Echo<const HASHED: bool = false, const OPTIONAL: bool = false> {
    pub query: String,
    #[serde(default)]
    pub result: Option<String>,
}

/// The plain variant.
pub type EchoSynapse = Echo<false, false>;
/// `required_hash_fields = ("query",)`.
pub type EchoHashed = Echo<true, false>;
/// `query: str = ""`.
pub type EchoOptional = Echo<false, true>;

impl<const HASHED: bool, const OPTIONAL: bool> Echo<HASHED, OPTIONAL> {
    /// A request.
    pub fn new(query: impl Into<String>) -> Self {
        Echo { query: query.into(), result: None }
    }

    /// The miner side: `result = query`.
    pub fn answer(mut self) -> Self {
        self.result = Some(self.query.clone());
        self
    }
}

impl<const HASHED: bool, const OPTIONAL: bool> Synapse for Echo<HASHED, OPTIONAL> {
    const NAME: &'static str = "EchoSynapse";
    const REQUIRED_FIELDS: &'static [(&'static str, PyType)] = if OPTIONAL { &[] } else { &[("query", PyType::Str)] };
    const HASH_FIELDS: &'static [&'static str] = if HASHED { &["query"] } else { &[] };
}
