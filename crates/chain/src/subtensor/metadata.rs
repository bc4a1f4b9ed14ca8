//! The metadata check at connect: the calls, storage entries and transaction extensions this
//! crate uses, and which read paths (typed runtime APIs or storage) the runtime allows.

use subxt::client::OfflineClient;
use subxt::config::transaction_extensions::CheckMortalityParams;
use subxt::metadata::{ArcMetadata, Metadata};
use subxt::utils::{AccountId32, MultiSignature};

use super::{SubtensorConfig, TxParams, calls, decode, storage};
use crate::{ChainError, WeightsSubmission};

/// The calls and their arguments, in order, that this crate submits: checked at connect.
pub const REQUIRED_CALLS: &[(&str, &str, &[&str])] = &[
    ("SubtensorModule", "set_weights", &["netuid", "dests", "weights", "version_key"]),
    ("SubtensorModule", "commit_weights", &["netuid", "commit_hash"]),
    ("SubtensorModule", "reveal_weights", &["netuid", "uids", "values", "salt", "version_key"]),
    (
        "SubtensorModule",
        "serve_axon",
        &["netuid", "version", "ip", "port", "ip_type", "protocol", "placeholder1", "placeholder2"],
    ),
    ("SubtensorModule", "burned_register", &["netuid", "hotkey"]),
    ("Commitments", "set_commitment", &["netuid", "info"]),
];

/// Calls only needed for mechanisms other than 0; older runtimes lack them.
pub const MECHANISM_CALLS: &[(&str, &str, &[&str])] = &[
    ("SubtensorModule", "set_mechanism_weights", &["netuid", "mecid", "dests", "weights", "version_key"]),
    ("SubtensorModule", "commit_mechanism_weights", &["netuid", "mecid", "commit_hash"]),
    ("SubtensorModule", "reveal_mechanism_weights", &["netuid", "mecid", "uids", "values", "salt", "version_key"]),
];

/// Storage entries read: checked at connect.
pub const REQUIRED_STORAGE: &[(&str, &str)] =
    &[("SubtensorModule", "Uids"), ("SubtensorModule", "Burn"), ("Commitments", "CommitmentOf")];

/// What [`check_metadata`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataReport {
    /// Spec version the metadata was checked for.
    pub spec_version: u32,
    /// Whether the `*_mechanism_weights` calls exist.
    pub mechanism_calls: bool,
    /// Whether `get_neurons_lite` has a typed output; otherwise the metagraph is read from
    /// storage ([`storage::neurons`]).
    pub typed_neurons_api: bool,
    /// Whether `get_subnet_hyperparams_v2` exists with a typed output; otherwise the
    /// hyperparameters are read from storage ([`storage::hyperparams`]).
    pub typed_hyperparams_api: bool,
    /// The transaction extension identifiers of the runtime, in order.
    pub extensions: Vec<String>,
}

pub(super) fn call_args_match(md: &Metadata, pallet: &str, call: &str, args: &[&str]) -> Result<(), String> {
    let p = md.pallet_by_name(pallet).ok_or_else(|| format!("pallet {pallet} is missing"))?;
    let v = p.call_variant_by_name(call).ok_or_else(|| format!("call {pallet}.{call} is missing"))?;
    let names: Vec<&str> = v.fields.iter().map(|f| f.name.as_deref().unwrap_or("")).collect();
    if names != args {
        return Err(format!("call {pallet}.{call} takes ({}), expected ({})", names.join(", "), args.join(", ")));
    }
    Ok(())
}

/// Checks runtime metadata against what this crate needs: the calls and their argument names
/// ([`REQUIRED_CALLS`]), the runtime APIs, the storage entries, extrinsic format v4, and that a
/// transaction can be built and signed with [`SubtensorConfig`]'s extensions (done by encoding a
/// `set_weights` with a dummy signature, the same code path as a real submission).
pub fn check_metadata(
    md: ArcMetadata,
    spec_version: u32,
    transaction_version: u32,
) -> Result<MetadataReport, ChainError> {
    for (pallet, call, args) in REQUIRED_CALLS {
        call_args_match(&md, pallet, call, args).map_err(ChainError::Metadata)?;
    }
    let mechanism_calls =
        MECHANISM_CALLS.iter().all(|(pallet, call, args)| call_args_match(&md, pallet, call, args).is_ok());
    // Typed runtime APIs where the runtime has them (one call per read), storage otherwise.
    let typed_neurons_api = decode::typed_api(&md, decode::NEURONS_API);
    if !typed_neurons_api {
        storage::check(&md, storage::METAGRAPH_STORAGE)?;
    }
    let typed_hyperparams_api = decode::typed_api(&md, decode::HYPERPARAMS_API);
    if !typed_hyperparams_api {
        storage::check(&md, storage::HYPERPARAMS_STORAGE)?;
    }
    for (pallet, entry) in REQUIRED_STORAGE {
        decode::storage_value_ty(&md, pallet, entry)?;
    }
    if !md.extrinsic().supported_versions().contains(&4) {
        return Err(ChainError::Metadata(format!(
            "the runtime accepts extrinsic versions {:?}; this client signs v4",
            md.extrinsic().supported_versions()
        )));
    }
    let extensions: Vec<String> =
        md.extrinsic().transaction_extensions_to_use_for_encoding().map(|e| e.identifier().to_string()).collect();
    let client = OfflineClient::new_with_config(SubtensorConfig::offline(
        md.clone(),
        [0; 32],
        spec_version,
        transaction_version,
    ));
    let probe =
        calls::set_weights(0, &WeightsSubmission { mechanism: 0, uids: vec![], weights: vec![], version_key: 0 });
    let params = TxParams { tip: 0, mortality: CheckMortalityParams::immortal(), nonce: Some(0) };
    client
        .at_block(0u64)
        .map_err(|e| ChainError::Metadata(e.to_string()))?
        .tx()
        .create_v4_signable_offline(&probe, params.into_params())
        .and_then(|mut s| {
            s.signer_payload()?;
            s.sign_with_account_and_signature(&AccountId32([0; 32]), &MultiSignature::Sr25519([0; 64]))
        })
        .map_err(|e| {
            ChainError::Metadata(format!(
                "cannot build a signed transaction for this runtime (extensions {}): {e}",
                extensions.join(", ")
            ))
        })?;
    Ok(MetadataReport { spec_version, mechanism_calls, typed_neurons_api, typed_hyperparams_api, extensions })
}
