//! The extrinsics this crate submits, as subxt dynamic payloads. Arguments are named composites,
//! so subxt encodes them by field name against the node's metadata: a renamed, reordered or
//! retyped argument fails to encode instead of producing a wrong call.

use subxt::dynamic::Value;
use subxt::ext::scale_value::Composite;
use subxt::tx::DynamicPayload;

use crate::types::{CommitmentData, NetUid, ServeAxonArgs, WeightsReveal, WeightsSubmission};

/// A call ready for subxt: pallet name, call name and named arguments.
pub type Call = DynamicPayload<Composite<()>>;

/// Pallet of every neuron call.
pub const SUBTENSOR_PALLET: &str = "SubtensorModule";
/// Pallet of `set_commitment`.
pub const COMMITMENTS_PALLET: &str = "Commitments";

fn call(pallet: &str, name: &str, args: Vec<(&str, Value)>) -> Call {
    subxt::dynamic::tx(pallet, name, Composite::named(args))
}

fn u(v: impl Into<u128>) -> Value {
    Value::u128(v.into())
}

fn u16s(v: &[u16]) -> Value {
    Value::unnamed_composite(v.iter().map(|x| u(*x)))
}

/// `set_weights(netuid, dests, weights, version_key)` for the main mechanism, else
/// `set_mechanism_weights(netuid, mecid, dests, weights, version_key)`.
pub fn set_weights(netuid: NetUid, w: &WeightsSubmission) -> Call {
    let mut args = vec![("netuid", u(netuid))];
    if w.mechanism != 0 {
        args.push(("mecid", u(w.mechanism)));
    }
    args.extend([("dests", u16s(&w.uids)), ("weights", u16s(&w.weights)), ("version_key", u(w.version_key))]);
    let name = if w.mechanism == 0 { "set_weights" } else { "set_mechanism_weights" };
    call(SUBTENSOR_PALLET, name, args)
}

/// `commit_weights(netuid, commit_hash)` or `commit_mechanism_weights(netuid, mecid, commit_hash)`.
pub fn commit_weights(netuid: NetUid, mechanism: u8, commit_hash: [u8; 32]) -> Call {
    let mut args = vec![("netuid", u(netuid))];
    if mechanism != 0 {
        args.push(("mecid", u(mechanism)));
    }
    args.push(("commit_hash", Value::from_bytes(commit_hash)));
    let name = if mechanism == 0 { "commit_weights" } else { "commit_mechanism_weights" };
    call(SUBTENSOR_PALLET, name, args)
}

/// `reveal_weights(netuid, uids, values, salt, version_key)` or
/// `reveal_mechanism_weights(netuid, mecid, uids, values, salt, version_key)`.
pub fn reveal_weights(netuid: NetUid, r: &WeightsReveal) -> Call {
    let mut args = vec![("netuid", u(netuid))];
    if r.mechanism != 0 {
        args.push(("mecid", u(r.mechanism)));
    }
    args.extend([
        ("uids", u16s(&r.uids)),
        ("values", u16s(&r.values)),
        ("salt", u16s(&r.salt)),
        ("version_key", u(r.version_key)),
    ]);
    let name = if r.mechanism == 0 { "reveal_weights" } else { "reveal_mechanism_weights" };
    call(SUBTENSOR_PALLET, name, args)
}

/// `serve_axon(netuid, version, ip, port, ip_type, protocol, placeholder1, placeholder2)`.
pub fn serve_axon(a: &ServeAxonArgs) -> Call {
    call(
        SUBTENSOR_PALLET,
        "serve_axon",
        vec![
            ("netuid", u(a.netuid)),
            ("version", u(a.version)),
            ("ip", u(a.ip)),
            ("port", u(a.port)),
            ("ip_type", u(a.ip_type)),
            ("protocol", u(a.protocol)),
            ("placeholder1", u(a.placeholder1)),
            ("placeholder2", u(a.placeholder2)),
        ],
    )
}

/// `burned_register(netuid, hotkey)`, signed by the coldkey that will own `hotkey`.
pub fn burned_register(netuid: NetUid, hotkey: [u8; 32]) -> Call {
    call(SUBTENSOR_PALLET, "burned_register", vec![("netuid", u(netuid)), ("hotkey", Value::from_bytes(hotkey))])
}

/// `Commitments.set_commitment(netuid, info: CommitmentInfo { fields })`.
pub fn set_commitment(netuid: NetUid, fields: &[CommitmentData]) -> Call {
    let fields = Value::unnamed_composite(fields.iter().map(data_value));
    call(
        COMMITMENTS_PALLET,
        "set_commitment",
        vec![("netuid", u(netuid)), ("info", Value::named_composite([("fields", fields)]))],
    )
}

/// A `Data` variant as a dynamic value, named as in the metadata (`Raw5`, `BigRaw`, …).
fn data_value(d: &CommitmentData) -> Value {
    let name = d.metadata_variant_name();
    match d {
        CommitmentData::None | CommitmentData::ResetBondsFlag => Value::unnamed_variant(name, []),
        CommitmentData::Raw(b) | CommitmentData::BigRaw(b) => Value::unnamed_variant(name, [Value::from_bytes(b)]),
        CommitmentData::BlakeTwo256(h)
        | CommitmentData::Sha256(h)
        | CommitmentData::Keccak256(h)
        | CommitmentData::ShaThree256(h) => Value::unnamed_variant(name, [Value::from_bytes(h)]),
        CommitmentData::TimelockEncrypted { encrypted, reveal_round } => Value::named_variant(
            name,
            [("encrypted", Value::from_bytes(encrypted)), ("reveal_round", u(*reveal_round))],
        ),
    }
}
