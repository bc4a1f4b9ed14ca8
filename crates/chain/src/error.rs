//! [`ChainError`], the one error type of this crate. Errors the chain itself reports keep the
//! chain's own name (`SettingWeightsTooFast`, `RateLimitExceeded`, …) so callers can match on it
//! the same way whichever backend they use.

use std::time::Duration;

/// Everything that can go wrong talking to a chain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The extrinsic was included in a block and failed there with a pallet error (the chain's
    /// `DispatchError::Module`): `pallet` and `error` are the names from the runtime metadata, for
    /// example `SubtensorModule` / `SettingWeightsTooFast`.
    #[error("{pallet}::{error}{}", detail_suffix(.detail))]
    Dispatch {
        /// Pallet name, e.g. `SubtensorModule` or `Commitments`.
        pallet: String,
        /// Error variant name, e.g. `SettingWeightsTooFast`.
        error: String,
        /// The error's documentation from the metadata, or the devnet's message; may be empty.
        detail: String,
    },
    /// The extrinsic failed in its block with a non-pallet dispatch error (`BadOrigin`, a token or
    /// arithmetic error, …).
    #[error("dispatch failed: {0}")]
    DispatchOther(String),
    /// The transaction pool refused the transaction before inclusion (`InvalidTransaction`).
    /// Subtensor's transaction extensions report most checks this way, with a custom code that
    /// [`ChainError::InvalidTransaction::error`] names (`RateLimitExceeded` for weights set too fast).
    #[error("invalid transaction: {}{reason}", error_prefix(.error))]
    InvalidTransaction {
        /// The name of subtensor's `CustomTransactionError` when the code is known.
        error: Option<String>,
        /// The raw `InvalidTransaction::Custom` code, when the rejection carried one.
        custom_code: Option<u8>,
        /// What the node or devnet said.
        reason: String,
    },
    /// The transaction left the pool without being included (dropped, usurped, or the pool errored).
    #[error("transaction not included: {0}")]
    NotIncluded(String),
    /// No connection to the node or devnet (after the reconnect attempts, if any).
    #[error("cannot reach {endpoint}: {reason}")]
    Connection {
        /// The URL that was tried.
        endpoint: String,
        /// The last failure.
        reason: String,
    },
    /// The request reached the node but the RPC call failed.
    #[error("RPC error: {0}")]
    Rpc(String),
    /// An operation did not finish in time.
    #[error("{what} timed out after {after:?}")]
    Timeout {
        /// What was being waited for.
        what: &'static str,
        /// The limit.
        after: Duration,
    },
    /// The node's runtime metadata lacks a call, storage entry or runtime API this crate uses, or
    /// has it with a different shape.
    #[error("runtime metadata mismatch: {0}")]
    Metadata(String),
    /// A value from the chain could not be decoded into the expected type.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// The subnet does not exist.
    #[error("subnet {0} does not exist")]
    SubnetNotFound(u16),
    /// The caller's input cannot be sent (bad lengths, bad SS58, data too long, …).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The call must be signed by a key this client was not given.
    #[error("this call must be signed by the {0}, and no {0} was given to the chain client")]
    MissingSigner(&'static str),
    /// The devnet answered with an HTTP error that is not a chain error.
    #[error("devnet HTTP {status}: {message}")]
    Http {
        /// HTTP status code.
        status: u16,
        /// The server's message.
        message: String,
    },
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() { String::new() } else { format!(": {detail}") }
}

fn error_prefix(error: &Option<String>) -> String {
    error.as_ref().map(|e| format!("{e}: ")).unwrap_or_default()
}

impl ChainError {
    /// The chain's own name for this error, when it has one: the pallet error variant of a
    /// dispatch failure (`SettingWeightsTooFast`) or the name of a pool rejection's custom code
    /// (`RateLimitExceeded`).
    pub fn chain_error_name(&self) -> Option<&str> {
        match self {
            ChainError::Dispatch { error, .. } => Some(error),
            ChainError::InvalidTransaction { error: Some(e), .. } => Some(e),
            _ => None,
        }
    }

    /// True when [`ChainError::chain_error_name`] is `name`.
    pub fn is(&self, name: &str) -> bool {
        self.chain_error_name() == Some(name)
    }

    /// True for the chain's rate-limit errors, whichever way they were reported: in block
    /// (`SettingWeightsTooFast`, `CommittingWeightsTooFast`, `ServingRateLimitExceeded`,
    /// `NetworkTxRateLimitExceeded`) or by the pool (`RateLimitExceeded`, `ServingRateLimitExceeded`).
    pub fn is_rate_limited(&self) -> bool {
        matches!(
            self.chain_error_name(),
            Some(
                "SettingWeightsTooFast"
                    | "CommittingWeightsTooFast"
                    | "ServingRateLimitExceeded"
                    | "NetworkTxRateLimitExceeded"
                    | "TxRateLimitExceeded"
                    | "RateLimitExceeded"
            )
        )
    }

    /// True when retrying later may succeed without changing the request: connection loss, RPC
    /// failures and time-outs.
    pub fn is_transient(&self) -> bool {
        matches!(self, ChainError::Connection { .. } | ChainError::Rpc(_) | ChainError::Timeout { .. })
    }
}

/// Names of subtensor's `CustomTransactionError` codes (`InvalidTransaction::Custom(u8)`), from
/// `From<CustomTransactionError> for u8` in subtensor's runtime-common crate, whose docs say the
/// codes are client-facing and are not renumbered. Codes past 24 have differed between releases,
/// so they are left unnamed.
pub fn custom_transaction_error_name(code: u8) -> Option<&'static str> {
    Some(match code {
        0 => "ColdkeyInSwapSchedule",
        1 => "StakeAmountTooLow",
        2 => "BalanceTooLow",
        3 => "SubnetNotExists",
        4 => "HotkeyAccountDoesntExist",
        5 => "NotEnoughStakeToWithdraw",
        6 => "RateLimitExceeded",
        7 => "InsufficientLiquidity",
        8 => "SlippageTooHigh",
        9 => "TransferDisallowed",
        10 => "HotKeyNotRegisteredInNetwork",
        11 => "InvalidIpAddress",
        12 => "ServingRateLimitExceeded",
        13 => "InvalidPort",
        14 => "ZeroMaxAmount",
        15 => "InvalidRevealRound",
        16 => "CommitNotFound",
        17 => "CommitBlockNotInRevealRange",
        18 => "InputLengthsUnequal",
        19 => "UidNotFound",
        20 => "EvmKeyAssociateRateLimitExceeded",
        21 => "ColdkeySwapDisputed",
        22 => "InvalidRealAccount",
        23 => "FailedShieldedTxParsing",
        24 => "InvalidShieldedTxPubKeyHash",
        255 => "BadRequest",
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_and_matching() {
        let e = ChainError::Dispatch {
            pallet: "SubtensorModule".into(),
            error: "SettingWeightsTooFast".into(),
            detail: String::new(),
        };
        assert!(e.is("SettingWeightsTooFast"));
        assert!(e.is_rate_limited());
        assert_eq!(e.to_string(), "SubtensorModule::SettingWeightsTooFast");

        let e = ChainError::InvalidTransaction {
            error: custom_transaction_error_name(6).map(String::from),
            custom_code: Some(6),
            reason: "Custom error: 6".into(),
        };
        assert!(e.is("RateLimitExceeded"));
        assert!(e.is_rate_limited());
        assert_eq!(e.to_string(), "invalid transaction: RateLimitExceeded: Custom error: 6");
        assert!(!e.is_transient());
        assert_eq!(custom_transaction_error_name(99), None);
        assert_eq!(custom_transaction_error_name(255), Some("BadRequest"));
    }
}
