//! The one error type of this crate, for everything that fails before or outside a request:
//! building an axon or a dendrite, binding, serving. Failures of a single call are not errors:
//! the axon answers them with a status code, and the dendrite reports them in its
//! [`crate::Response`] the way the Python SDK does.

use orchestra_keys::KeyError;

/// Errors from building, binding and running the axon and the dendrite.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A configuration value that cannot work (zero limits, an empty synapse name, …).
    #[error("invalid configuration: {0}")]
    Config(String),

    /// Two handlers for one synapse name, or a handler for the reserved `Synapse` ping route.
    #[error("synapse `{0}` is already attached to this axon")]
    DuplicateSynapse(&'static str),

    /// A key or address could not be used.
    #[error(transparent)]
    Key(#[from] KeyError),

    /// Binding the listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },

    /// The server stopped with an I/O error.
    #[error("axon server failed: {0}")]
    Serve(#[source] std::io::Error),

    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),

    /// Registering metrics failed.
    #[error("metrics: {0}")]
    Metrics(String),
}
