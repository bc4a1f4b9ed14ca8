//! The subxt [`Config`] for subtensor: 32-byte accounts, `MultiAddress<AccountId32, ()>`,
//! `MultiSignature` (sr25519), BLAKE2-256, and the transaction extensions subtensor declares.
//!
//! Subtensor's extensions (runtime/src/lib.rs `TxExtension`) are, in order: `CheckNonZeroSender`,
//! `CheckSpecVersion`, `CheckTxVersion`, `CheckGenesis`, `CheckMortality` (a subtensor wrapper,
//! explicit `Era`), `CheckNonce` (a subtensor wrapper, explicit `Compact<u32>`), `CheckWeight`,
//! the fee extension, `SudoTransactionExtension`, `CheckShieldedTxValidity`,
//! `SubtensorTransactionExtension`, `DrandPriority` and `CheckMetadataHash`. Those with empty
//! explicit and implicit types encode to nothing and frame-decode skips them, so only the others
//! need an implementation here.
//!
//! The fee extension is `ChargeTransactionPaymentWrapper` in the runtime source, but its
//! `metadata()` delegates to the inner `ChargeTransactionPayment`, so the finney metadata of
//! 2026-04 lists the identifier `ChargeTransactionPayment` (checked by this crate's tests). A
//! runtime that publishes the wrapper's own identifier is handled by
//! [`ChargeTransactionPaymentWrapper`]; both encode the tip as `Compact<u64>`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use subxt::config::substrate::{BlakeTwo256, H256, SubstrateHeader};
use subxt::config::transaction_extensions::{
    ChargeTransactionPayment, ChargeTransactionPaymentParams, CheckGenesis, CheckMetadataHash, CheckMortality,
    CheckMortalityParams, CheckNonce, CheckNonceParams, CheckSpecVersion, CheckTxVersion, Params,
};
use subxt::config::{ClientState, Config, HashFor, ParamsFor, TransactionExtension};
use subxt::error::TransactionExtensionError;
use subxt::ext::codec::{Compact, Encode};
use subxt::ext::frame_decode;
use subxt::ext::scale_decode::DecodeAsType;
use subxt::ext::scale_type_resolver::TypeResolver;
use subxt::metadata::ArcMetadata;
use subxt::utils::{AccountId32, MultiAddress, MultiSignature};

/// Subtensor's chain configuration for subxt.
///
/// Online, it caches runtime metadata per spec version (subxt would otherwise download the
/// ~300 KB metadata for every block it works at). [`SubtensorConfig::offline`] pins a genesis
/// hash, versions and metadata so calls and extrinsics can be built without a node.
#[derive(Clone, Debug, Default)]
pub struct SubtensorConfig {
    inner: Arc<ConfigInner>,
}

#[derive(Debug, Default)]
struct ConfigInner {
    metadata: RwLock<HashMap<u32, ArcMetadata>>,
    offline: Option<OfflineParts>,
}

#[derive(Debug)]
struct OfflineParts {
    genesis_hash: H256,
    spec_version: u32,
    transaction_version: u32,
}

impl SubtensorConfig {
    /// A configuration for an online client.
    pub fn new() -> Self {
        Self::default()
    }

    /// A configuration for [`subxt::OfflineClient`]: every block uses this metadata, these
    /// versions and this genesis hash.
    pub fn offline(
        metadata: impl Into<ArcMetadata>,
        genesis_hash: [u8; 32],
        spec_version: u32,
        transaction_version: u32,
    ) -> Self {
        let mut map = HashMap::new();
        map.insert(spec_version, metadata.into());
        SubtensorConfig {
            inner: Arc::new(ConfigInner {
                metadata: RwLock::new(map),
                offline: Some(OfflineParts { genesis_hash: H256(genesis_hash), spec_version, transaction_version }),
            }),
        }
    }
}

impl Config for SubtensorConfig {
    type AccountId = AccountId32;
    type Address = MultiAddress<AccountId32, ()>;
    type Signature = MultiSignature;
    type Hasher = BlakeTwo256;
    type Header = SubstrateHeader<H256>;
    type TransactionExtensions = SubtensorExtensions;
    type AssetId = u32;

    fn genesis_hash(&self) -> Option<HashFor<Self>> {
        self.inner.offline.as_ref().map(|o| o.genesis_hash)
    }

    fn spec_and_transaction_version_for_block_number(&self, _block_number: u64) -> Option<(u32, u32)> {
        self.inner.offline.as_ref().map(|o| (o.spec_version, o.transaction_version))
    }

    fn metadata_for_spec_version(&self, spec_version: u32) -> Option<ArcMetadata> {
        // A poisoned lock only means another thread panicked mid-insert of a whole Arc: the map is
        // still consistent, so keep using it.
        let map = self.inner.metadata.read().unwrap_or_else(|e| e.into_inner());
        map.get(&spec_version).cloned()
    }

    fn set_metadata_for_spec_version(&self, spec_version: u32, metadata: ArcMetadata) {
        let mut map = self.inner.metadata.write().unwrap_or_else(|e| e.into_inner());
        map.insert(spec_version, metadata);
    }
}

/// The transaction extensions this client can fill in. The tuple is matched against the
/// metadata's list by identifier; an extension with a non-empty type that is missing here makes
/// signing fail (checked at connect).
pub type SubtensorExtensions = (
    CheckSpecVersion,
    CheckTxVersion,
    CheckNonce,
    CheckGenesis<SubtensorConfig>,
    CheckMortality<SubtensorConfig>,
    ChargeTransactionPayment,
    ChargeTransactionPaymentWrapper,
    CheckMetadataHash,
);

/// Identifiers of the extensions in [`SubtensorExtensions`].
pub const SUPPORTED_EXTENSIONS: &[&str] = &[
    "CheckSpecVersion",
    "CheckTxVersion",
    "CheckNonce",
    "CheckGenesis",
    "CheckMortality",
    "ChargeTransactionPayment",
    "ChargeTransactionPaymentWrapper",
    "CheckMetadataHash",
];

/// Parameters of one transaction: its tip (rao), mortality and, optionally, a fixed nonce.
#[derive(Debug)]
pub struct TxParams {
    /// Tip to the block author, in rao.
    pub tip: u64,
    /// Mortality; [`CheckMortalityParams::mortal`] is filled in with the current block online.
    pub mortality: CheckMortalityParams<SubtensorConfig>,
    /// The nonce; `None` lets subxt read it from the chain.
    pub nonce: Option<u64>,
}

impl TxParams {
    /// No tip, mortal for `period` blocks from the block the transaction is built at.
    pub fn mortal(period: u64) -> Self {
        TxParams { tip: 0, mortality: CheckMortalityParams::mortal(period), nonce: None }
    }

    /// The tuple subxt takes.
    pub fn into_params(self) -> ParamsFor<SubtensorConfig> {
        let nonce = match self.nonce {
            Some(n) => CheckNonceParams::with_nonce(n),
            None => CheckNonceParams::from_chain(),
        };
        (
            (),
            (),
            nonce,
            (),
            self.mortality,
            ChargeTransactionPaymentParams::tip(u128::from(self.tip)),
            ChargeTransactionPaymentWrapperParams { tip: self.tip },
            (),
        )
    }
}

/// The fee extension under the identifier of subtensor's wrapper type,
/// `ChargeTransactionPaymentWrapper`. Its explicit data is the inner `ChargeTransactionPayment`:
/// the tip as `Compact<u64>` (TaoBalance is u64 rao). No implicit data.
#[derive(Clone, Debug, DecodeAsType)]
#[decode_as_type(crate_path = "subxt::ext::scale_decode")]
pub struct ChargeTransactionPaymentWrapper {
    /// The inner `ChargeTransactionPayment(tip)`.
    pub inner: ChargeTransactionPaymentInner,
}

/// The inner `ChargeTransactionPayment` of [`ChargeTransactionPaymentWrapper`].
#[derive(Clone, Debug, DecodeAsType)]
#[decode_as_type(crate_path = "subxt::ext::scale_decode")]
pub struct ChargeTransactionPaymentInner(pub Compact<u64>);

/// The tip for [`ChargeTransactionPaymentWrapper`], in rao.
#[derive(Clone, Copy, Debug, Default)]
pub struct ChargeTransactionPaymentWrapperParams {
    /// Tip in rao.
    pub tip: u64,
}

impl<T: Config> Params<T> for ChargeTransactionPaymentWrapperParams {}

impl<T: Config> TransactionExtension<T> for ChargeTransactionPaymentWrapper {
    type Decoded = Self;
    type Params = ChargeTransactionPaymentWrapperParams;

    fn new(_client: &ClientState<T>, params: Self::Params) -> Result<Self, TransactionExtensionError> {
        Ok(ChargeTransactionPaymentWrapper { inner: ChargeTransactionPaymentInner(Compact(params.tip)) })
    }
}

// Generic over the type resolver so no direct scale-info dependency is needed; subxt uses it with
// `PortableRegistry`.
impl<R: TypeResolver> frame_decode::extrinsics::TransactionExtension<R> for ChargeTransactionPaymentWrapper {
    const NAME: &str = "ChargeTransactionPaymentWrapper";

    fn encode_value_to(
        &self,
        _type_id: R::TypeId,
        _type_resolver: &R,
        v: &mut Vec<u8>,
    ) -> Result<(), frame_decode::extrinsics::TransactionExtensionError> {
        self.inner.0.encode_to(v);
        Ok(())
    }

    fn encode_implicit_to(
        &self,
        _type_id: R::TypeId,
        _type_resolver: &R,
        _v: &mut Vec<u8>,
    ) -> Result<(), frame_decode::extrinsics::TransactionExtensionError> {
        Ok(())
    }
}
