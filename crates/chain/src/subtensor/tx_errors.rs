//! Transaction failures mapped to named [`ChainError`]s: pool rejections with subtensor's custom
//! codes, RPC submission errors, and in-block dispatch errors with names from the metadata.

use subxt::error::{DispatchError, TransactionEventsError};
use subxt::tx::{TransactionInvalid, TransactionUnknown};

use super::rpc_err;
use crate::ChainError;
use crate::error::custom_transaction_error_name;

/// `InvalidTransaction::Custom(n)` and the other pool rejections, with subtensor's names.
pub fn invalid_transaction(i: &TransactionInvalid) -> ChainError {
    match i {
        TransactionInvalid::Custom(code) => ChainError::InvalidTransaction {
            error: custom_transaction_error_name(*code).map(String::from),
            custom_code: Some(*code),
            reason: format!("Custom error: {code}"),
        },
        other => ChainError::InvalidTransaction {
            error: Some(format!("{other:?}")),
            custom_code: None,
            reason: String::new(),
        },
    }
}

pub(super) fn unknown_transaction(u: &TransactionUnknown) -> ChainError {
    ChainError::InvalidTransaction { error: None, custom_code: None, reason: format!("validity unknown: {u:?}") }
}

/// Finds `Custom error: N` in a node's rejection message (`author_submitAndWatchExtrinsic`
/// returns code 1010 with it in the error data).
pub fn parse_custom_code(message: &str) -> Option<u8> {
    let rest = &message[message.find("Custom error: ")? + "Custom error: ".len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

pub(super) fn invalid_from_message(message: &str) -> ChainError {
    let custom_code = parse_custom_code(message);
    ChainError::InvalidTransaction {
        error: custom_code.and_then(custom_transaction_error_name).map(String::from),
        custom_code,
        reason: message.to_string(),
    }
}

pub(super) fn submit_error(e: &subxt::error::ExtrinsicError) -> ChainError {
    // The RPC error's Display drops its data field, where the node puts "Custom error: N".
    let debug = format!("{e:?}");
    if debug.contains("1010") || debug.contains("Invalid Transaction") {
        invalid_from_message(&debug)
    } else {
        rpc_err(e)
    }
}

/// A failed extrinsic's dispatch error, with pallet and error names from the metadata.
pub fn dispatch_error(e: &DispatchError) -> ChainError {
    match e {
        DispatchError::Module(m) => match m.details() {
            Ok(d) => ChainError::Dispatch {
                pallet: d.pallet.name().to_string(),
                error: d.variant.name.clone(),
                detail: d.variant.docs.join(" ").trim().to_string(),
            },
            Err(_) => ChainError::DispatchOther(m.to_string()),
        },
        other => ChainError::DispatchOther(other.to_string()),
    }
}

pub(super) fn events_error(e: &TransactionEventsError) -> ChainError {
    match e {
        TransactionEventsError::ExtrinsicFailed(d) => dispatch_error(d),
        other => rpc_err(other),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use subxt::tx::TransactionInvalid;

    use super::*;

    #[test]
    fn custom_codes_from_node_messages() {
        assert_eq!(parse_custom_code("Invalid Transaction (1010): Custom error: 6"), Some(6));
        assert_eq!(parse_custom_code(r#"data: Some(RawValue("Custom error: 255"))"#), Some(255));
        assert_eq!(parse_custom_code("Transaction is outdated"), None);
        let e = invalid_from_message("Custom error: 12");
        assert!(e.is("ServingRateLimitExceeded") && e.is_rate_limited());
        let e = invalid_transaction(&TransactionInvalid::Custom(6));
        assert!(e.is("RateLimitExceeded"));
        let e = invalid_transaction(&TransactionInvalid::Payment);
        assert!(e.is("Payment"));
    }
}
