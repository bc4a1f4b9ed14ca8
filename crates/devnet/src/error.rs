//! [`DevnetError`], the one error type of this crate: what can stop the devnet from starting or
//! running. Rule violations of single calls are not errors of the devnet; they are
//! `orchestra_chain::devnet_api::ApiError`s returned to the caller.

/// Why the devnet cannot start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// The RocksDB store failed.
    #[error("devnet store: {0}")]
    Store(#[from] orchestra_store::StoreError),
    /// The stored state cannot be read back.
    #[error("devnet state in {path} is unusable: {reason}")]
    Corrupt {
        /// The data directory.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Binding or serving failed.
    #[error("devnet I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A configuration value is out of range.
    #[error("devnet configuration: {0}")]
    Config(String),
}
