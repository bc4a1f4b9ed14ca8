//! Balances on subtensor: the free balance (`System.Account`), transfers with a bound remark
//! (`Utility.batch_all([Balances.transfer_keep_alive, System.remark_with_event])`), and reading
//! an extrinsic back from its block with its events (what a payee checks). All three calls and
//! both events exist with the same names and fields on spec 218 and in the finney snapshot.

use subxt::Metadata;
use subxt::backend::BlockRef;
use subxt::dynamic::Value;
use subxt::ext::scale_encode::EncodeAsType;
use subxt::ext::scale_value::Composite;
use subxt::utils::{AccountId32, H256};

use super::{Conn, rpc_err};
use crate::ChainError;
use crate::subtensor::decode::ss58;
use crate::types::{ExtrinsicReceipt, RemarkEvent, TransferEvent, TxRef};

/// The calls a payment is made of: (pallet, call, arguments).
pub const PAYMENT_CALLS: &[(&str, &str, &[&str])] = &[
    ("Balances", "transfer_keep_alive", &["dest", "value"]),
    ("System", "remark_with_event", &["remark"]),
    ("Utility", "batch_all", &["calls"]),
];

/// `dest` as the runtime's `transfer_keep_alive` takes it: a `MultiAddress::Id` where the lookup
/// is `AccountIdLookup` (subtensor's), the bare account otherwise.
fn dest_value(md: &Metadata, account: [u8; 32]) -> Result<Value, ChainError> {
    let ty = md
        .pallet_by_name("Balances")
        .and_then(|p| p.call_variant_by_name("transfer_keep_alive"))
        .and_then(|v| v.fields.iter().find(|f| f.name.as_deref() == Some("dest")).map(|f| f.ty.id))
        .ok_or_else(|| ChainError::Metadata("call Balances.transfer_keep_alive(dest, ..) is missing".into()))?;
    let id = Value::unnamed_variant("Id", [Value::from_bytes(account)]);
    if id.encode_as_type(ty, md.types()).is_ok() {
        return Ok(id);
    }
    Ok(Value::from_bytes(account))
}

fn call(pallet: &str, name: &str, args: Vec<(&str, Value)>) -> Value {
    Value::unnamed_variant(pallet, [Value::named_variant(name, args.into_iter().map(|(k, v)| (k.to_string(), v)))])
}

/// The payment extrinsic: `transfer_keep_alive(dest, amount)`, batched atomically with
/// `remark_with_event(remark)` when there is a remark.
pub fn transfer_call(
    md: &Metadata,
    dest: [u8; 32],
    amount: u64,
    remark: Option<&[u8]>,
) -> Result<super::calls::Call, ChainError> {
    let transfer = vec![("dest", dest_value(md, dest)?), ("value", Value::u128(amount.into()))];
    let Some(remark) = remark else {
        return Ok(subxt::dynamic::tx("Balances", "transfer_keep_alive", Composite::named(transfer)));
    };
    let calls = Value::unnamed_composite([
        call("Balances", "transfer_keep_alive", transfer),
        call("System", "remark_with_event", vec![("remark", Value::from_bytes(remark))]),
    ]);
    Ok(subxt::dynamic::tx("Utility", "batch_all", Composite::named([("calls", calls)])))
}

/// The free balance of `account` (`System.Account.data.free`); 0 for an account that does not
/// exist.
pub(super) async fn free_balance(conn: &Conn, account: [u8; 32]) -> Result<u64, ChainError> {
    let at = conn.api.at_current_block().await.map_err(rpc_err)?;
    let addr = subxt::dynamic::storage::<(AccountId32,), Value>("System", "Account");
    let Some(v) = at.storage().try_fetch(addr, (AccountId32(account),)).await.map_err(rpc_err)? else {
        return Ok(0);
    };
    let v = v.decode().map_err(|e| ChainError::Decode { what: "System.Account", reason: e.to_string() })?;
    use subxt::ext::scale_value::At;
    let free = v
        .at("data")
        .and_then(|d| d.at("free"))
        .and_then(|f| f.as_u128())
        .ok_or_else(|| ChainError::Decode { what: "System.Account", reason: "no data.free".into() })?;
    u64::try_from(free).map_err(|_| ChainError::Decode { what: "System.Account", reason: format!("free {free}") })
}

fn parse_hash(what: &str, s: &str) -> Result<H256, ChainError> {
    let bytes = hex::decode(s.trim_start_matches("0x"))
        .map_err(|e| ChainError::InvalidInput(format!("{what} {s:?} is not hex: {e}")))?;
    let arr: [u8; 32] =
        bytes.try_into().map_err(|_| ChainError::InvalidInput(format!("{what} {s:?} is not 32 bytes")))?;
    Ok(H256::from(arr))
}

fn hash_hex(h: &H256) -> String {
    format!("0x{}", hex::encode(h.as_bytes()))
}

/// Reads the extrinsic `at` names back from its block (see [`crate::Chain::extrinsic_receipt`]).
/// Subtensor needs the block hash; a block number, if given too, must match it.
pub(super) async fn receipt(conn: &Conn, at: &TxRef) -> Result<Option<ExtrinsicReceipt>, ChainError> {
    let block_hash = at
        .block_hash
        .as_deref()
        .ok_or_else(|| ChainError::InvalidInput("a subtensor payment is found by its block hash".into()))?;
    let hash = parse_hash("block hash", block_hash)?;
    let want_xt = parse_hash("extrinsic hash", &at.extrinsic_hash)?;
    let legacy = conn.legacy();
    let Some(header) = legacy.chain_get_header(Some(hash)).await.map_err(rpc_err)? else {
        return Ok(None);
    };
    let number = header.number;
    if at.block_number.is_some_and(|n| n != number) {
        return Ok(None);
    }
    let block = conn.api.at_block(BlockRef::from_hash(hash)).await.map_err(rpc_err)?;
    let extrinsics = block.extrinsics().fetch().await.map_err(rpc_err)?;
    let mut found = None;
    for x in extrinsics.iter() {
        let x = x.map_err(|e| ChainError::Decode { what: "extrinsic", reason: e.to_string() })?;
        if x.hash() == want_xt {
            found = Some(x);
            break;
        }
    }
    let Some(x) = found else { return Ok(None) };
    // A signed extrinsic's address is a `MultiAddress::Id`: tag 0 then the 32-byte account.
    let signer = x.address_bytes().and_then(|a| match a {
        [0, rest @ ..] if rest.len() == 32 => Some(orchestra_keys::PublicKey(rest.try_into().ok()?).to_ss58()),
        _ => None,
    });
    let events = x.events().await.map_err(rpc_err)?;
    let (mut success, mut transfers, mut remarks) = (false, Vec::new(), Vec::new());
    for ev in events.iter() {
        let ev = ev.map_err(rpc_err)?;
        let decode_err = |e: subxt::error::EventsError| ChainError::Decode { what: "event", reason: e.to_string() };
        match (ev.pallet_name(), ev.event_name()) {
            ("System", "ExtrinsicSuccess") => success = true,
            ("Balances", "Transfer") => {
                let (from, to, amount) =
                    ev.decode_fields_unchecked_as::<(AccountId32, AccountId32, u128)>().map_err(decode_err)?;
                let amount = u64::try_from(amount).map_err(|_| ChainError::Decode {
                    what: "Balances.Transfer",
                    reason: format!("amount {amount}"),
                })?;
                transfers.push(TransferEvent { from: ss58(&from), to: ss58(&to), amount });
            }
            ("System", "Remarked") => {
                let (sender, hash) = ev.decode_fields_unchecked_as::<(AccountId32, [u8; 32])>().map_err(decode_err)?;
                remarks.push(RemarkEvent { sender: ss58(&sender), hash });
            }
            _ => {}
        }
    }
    let finalized_head = legacy.chain_get_finalized_head().await.map_err(rpc_err)?;
    let finalized_number = legacy
        .chain_get_header(Some(finalized_head))
        .await
        .map_err(rpc_err)?
        .map(|h| h.number)
        .ok_or_else(|| ChainError::Rpc("the node has no header for its finalized head".into()))?;
    let canonical = legacy.chain_get_block_hash(Some(number.into())).await.map_err(rpc_err)?;
    let finalized = number <= finalized_number && canonical == Some(hash);
    Ok(Some(ExtrinsicReceipt {
        block_number: number,
        block_hash: Some(hash_hex(&hash)),
        extrinsic_index: x.index() as u32,
        extrinsic_hash: hash_hex(&x.hash()),
        signer,
        finalized,
        success,
        transfers,
        remarks,
    }))
}
