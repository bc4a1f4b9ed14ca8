//! Subtensor networks by name (the Python SDK's `finney`, `test`, `local`) or URL.

use std::fmt;
use std::str::FromStr;

use crate::ChainError;

/// The finney (mainnet) entrypoint, as in the Python SDK's settings.
pub const FINNEY_ENDPOINT: &str = "wss://entrypoint-finney.opentensor.ai:443";
/// The public testnet entrypoint.
pub const TEST_ENDPOINT: &str = "wss://test.finney.opentensor.ai:443";
/// A local subtensor node.
pub const LOCAL_ENDPOINT: &str = "ws://127.0.0.1:9944";

/// A subtensor network: a named one or a custom endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Network {
    /// Mainnet ([`FINNEY_ENDPOINT`]).
    Finney,
    /// Testnet ([`TEST_ENDPOINT`]).
    Test,
    /// A local node ([`LOCAL_ENDPOINT`]).
    Local,
    /// Any `ws://` or `wss://` URL.
    Custom(String),
}

impl Network {
    /// The WebSocket URL.
    pub fn endpoint(&self) -> &str {
        match self {
            Network::Finney => FINNEY_ENDPOINT,
            Network::Test => TEST_ENDPOINT,
            Network::Local => LOCAL_ENDPOINT,
            Network::Custom(url) => url,
        }
    }
}

impl FromStr for Network {
    type Err = ChainError;

    /// `finney`, `test`, `local` (the SDK's names), or a `ws://` / `wss://` URL.
    fn from_str(s: &str) -> Result<Self, ChainError> {
        match s {
            "finney" => Ok(Network::Finney),
            "test" => Ok(Network::Test),
            "local" => Ok(Network::Local),
            url if url.starts_with("ws://") || url.starts_with("wss://") => Ok(Network::Custom(url.to_string())),
            other => Err(ChainError::InvalidInput(format!(
                "unknown network {other:?}: expected finney, test, local or a ws:// or wss:// URL"
            ))),
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Network::Finney => f.write_str("finney"),
            Network::Test => f.write_str("test"),
            Network::Local => f.write_str("local"),
            Network::Custom(url) => f.write_str(url),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        assert_eq!("finney".parse::<Network>().unwrap().endpoint(), "wss://entrypoint-finney.opentensor.ai:443");
        assert_eq!("test".parse::<Network>().unwrap().endpoint(), "wss://test.finney.opentensor.ai:443");
        assert_eq!("local".parse::<Network>().unwrap().endpoint(), "ws://127.0.0.1:9944");
        let custom: Network = "ws://10.0.0.5:9945".parse().unwrap();
        assert_eq!(custom, Network::Custom("ws://10.0.0.5:9945".into()));
        assert_eq!(custom.to_string(), "ws://10.0.0.5:9945");
        assert!("mainnet".parse::<Network>().is_err());
        assert!("http://x".parse::<Network>().is_err());
    }
}
