//! The devnet's HTTP JSON API: routes, request and response types, request signing, and the error
//! body. [`crate::devnet::DevnetClient`] speaks it; the devnet server (crates/devnet) implements it.
//!
//! # Routes (all JSON; API version [`API_VERSION`])
//!
//! | method and path | body | response |
//! |---|---|---|
//! | `GET /v1/info` | | [`InfoResponse`] |
//! | `GET /v1/block` | | [`BlockResponse`] |
//! | `GET /v1/subnets/{netuid}/hyperparams` | | [`Hyperparams`](crate::Hyperparams) |
//! | `GET /v1/subnets/{netuid}/metagraph` | | [`Metagraph`](crate::Metagraph) |
//! | `GET /v1/subnets/{netuid}/uids/{hotkey}` | | [`UidResponse`] |
//! | `GET /v1/subnets/{netuid}/commitments/{hotkey}` | | [`CommitmentResponse`] |
//! | `GET /v1/accounts/{ss58}` | | [`AccountResponse`] |
//! | `GET /v1/blocks/{number}` | | [`BlockExtrinsics`] |
//! | `POST /v1/extrinsics` | [`ExtrinsicRequest`] | [`TxOutcome`](crate::TxOutcome) |
//!
//! `{hotkey}` is an SS58 address. Numbers are JSON numbers except u128 values (axon IPs), which are
//! decimal strings; byte strings are `0x` hex. The server may add routes of its own (admin,
//! faucet, subnet creation); this module holds only what [`crate::Chain`] uses.
//!
//! # Extrinsics
//!
//! A state change is a [`DevnetCall`] signed by the account subtensor would take as origin: the
//! hotkey for weights, axons and commitments, the coldkey for `burned_register` and transfers
//! ([`DevnetCall::signer_role`]). The signature is sr25519 (the wallet's key, sp-core/schnorrkel
//! context `substrate`) over [`signing_payload`]. The server checks, in order: the signature
//! ([`ExtrinsicRequest::verify`]), that `nonce` is greater than the last nonce it accepted from
//! that signer (replay protection; clients use the Unix time in nanoseconds, bumped to stay
//! increasing), then subtensor's rules for the call. It applies the call in the current block and
//! answers with the block it landed in.
//!
//! # Errors
//!
//! Any non-2xx answer carries an [`ErrorResponse`]. Rule violations are
//! [`ApiErrorKind::Dispatch`] with subtensor's pallet and error names, exactly as the chain would
//! report them in a block (`SubtensorModule` / `SettingWeightsTooFast`,
//! `HotKeyNotRegisteredInSubNet`, `IncorrectWeightVersionKey`, `CommitRevealEnabled`, …), so the
//! client turns them into the same [`ChainError::Dispatch`] the subtensor backend produces.
//! Suggested statuses: 422 dispatch, 409 invalid_transaction (stale nonce), 401 bad_signature,
//! 400 bad_request, 404 subnet_not_found / not_found, 500 internal; the client goes by `kind`.

use orchestra_keys::{Keypair, PublicKey};
use serde::{Deserialize, Serialize};

use crate::ChainError;
/// Which key signs a call: shared by both backends, re-exported here for the devnet's wire API.
pub use crate::types::SignerRole;
use crate::types::{CommitmentData, NetUid, ServeAxonArgs, hex_array};

/// Version of this API; `GET /v1/info` reports the server's.
pub const API_VERSION: u32 = 1;

/// First line of every signed payload, so a devnet signature is never valid for anything else.
pub const SIGNING_DOMAIN: &str = "orchestra-devnet/1";

/// Route paths. `*_ROUTE` are axum (0.8) patterns for the server; the functions build the
/// concrete paths for the client.
pub mod paths {
    use crate::types::NetUid;

    /// `GET`: [`super::InfoResponse`].
    pub const INFO: &str = "/v1/info";
    /// `GET`: [`super::BlockResponse`].
    pub const BLOCK: &str = "/v1/block";
    /// `POST`: [`super::ExtrinsicRequest`] → [`crate::TxOutcome`].
    pub const EXTRINSICS: &str = "/v1/extrinsics";
    /// `GET`: [`crate::Hyperparams`].
    pub const HYPERPARAMS_ROUTE: &str = "/v1/subnets/{netuid}/hyperparams";
    /// `GET`: [`crate::Metagraph`].
    pub const METAGRAPH_ROUTE: &str = "/v1/subnets/{netuid}/metagraph";
    /// `GET`: [`super::UidResponse`].
    pub const UID_ROUTE: &str = "/v1/subnets/{netuid}/uids/{hotkey}";
    /// `GET`: [`super::CommitmentResponse`].
    pub const COMMITMENT_ROUTE: &str = "/v1/subnets/{netuid}/commitments/{hotkey}";
    /// `GET`: [`super::AccountResponse`].
    pub const ACCOUNT_ROUTE: &str = "/v1/accounts/{account}";
    /// `GET`: [`super::BlockExtrinsics`].
    pub const BLOCK_EXTRINSICS_ROUTE: &str = "/v1/blocks/{number}";

    /// Path of [`ACCOUNT_ROUTE`].
    pub fn account(ss58: &str) -> String {
        format!("/v1/accounts/{ss58}")
    }

    /// Path of [`BLOCK_EXTRINSICS_ROUTE`].
    pub fn block_extrinsics(number: u64) -> String {
        format!("/v1/blocks/{number}")
    }

    /// Path of [`HYPERPARAMS_ROUTE`].
    pub fn hyperparams(netuid: NetUid) -> String {
        format!("/v1/subnets/{netuid}/hyperparams")
    }

    /// Path of [`METAGRAPH_ROUTE`].
    pub fn metagraph(netuid: NetUid) -> String {
        format!("/v1/subnets/{netuid}/metagraph")
    }

    /// Path of [`UID_ROUTE`].
    pub fn uid(netuid: NetUid, hotkey: &str) -> String {
        format!("/v1/subnets/{netuid}/uids/{hotkey}")
    }

    /// Path of [`COMMITMENT_ROUTE`].
    pub fn commitment(netuid: NetUid, hotkey: &str) -> String {
        format!("/v1/subnets/{netuid}/commitments/{hotkey}")
    }
}

/// `GET /v1/info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoResponse {
    /// [`API_VERSION`] of the server.
    pub api_version: u32,
    /// Current block.
    pub block: u64,
    /// Milliseconds between blocks.
    pub block_time_ms: u64,
    /// Existing subnets.
    pub subnets: Vec<NetUid>,
}

/// `GET /v1/block`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockResponse {
    /// Current block.
    pub block: u64,
}

/// `GET /v1/subnets/{netuid}/uids/{hotkey}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UidResponse {
    /// The hotkey's uid, `null` if not registered.
    pub uid: Option<u16>,
}

/// `GET /v1/subnets/{netuid}/commitments/{hotkey}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentResponse {
    /// The commitment, `null` if none.
    pub commitment: Option<crate::Commitment>,
}

/// `GET /v1/accounts/{ss58}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountResponse {
    /// The account.
    pub account: String,
    /// Free balance, rao.
    pub balance: u64,
}

/// `GET /v1/blocks/{number}`: the recorded extrinsics of a block. The devnet records the calls a
/// payee reads back (transfers, with their remarks), not every call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockExtrinsics {
    /// The block.
    pub block: u64,
    /// Whether it is finalized: every block before the one being built is.
    pub finalized: bool,
    /// Its recorded extrinsics, in order.
    pub extrinsics: Vec<crate::ExtrinsicReceipt>,
}

/// A state change, named and shaped like the subtensor extrinsic it stands for. JSON:
/// `{"call": "set_weights", "netuid": 1, ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum DevnetCall {
    /// `set_weights` / `set_mechanism_weights`.
    SetWeights {
        /// Subnet.
        netuid: NetUid,
        /// Mechanism (0 = main).
        mechanism: u8,
        /// Destination uids.
        uids: Vec<u16>,
        /// u16 weights, one per uid.
        weights: Vec<u16>,
        /// Weights version key.
        version_key: u64,
    },
    /// `commit_weights` / `commit_mechanism_weights` (commit-reveal v2).
    CommitWeights {
        /// Subnet.
        netuid: NetUid,
        /// Mechanism.
        mechanism: u8,
        /// [`crate::commit_hash`] of the later reveal, `0x` hex.
        #[serde(with = "hex_array")]
        commit_hash: [u8; 32],
    },
    /// `reveal_weights` / `reveal_mechanism_weights`.
    RevealWeights {
        /// Subnet.
        netuid: NetUid,
        /// Mechanism.
        mechanism: u8,
        /// Destination uids.
        uids: Vec<u16>,
        /// u16 weights.
        values: Vec<u16>,
        /// Salt used in the commit.
        salt: Vec<u16>,
        /// Weights version key.
        version_key: u64,
    },
    /// `serve_axon`, with exactly the chain's arguments.
    ServeAxon(ServeAxonArgs),
    /// `Commitments.set_commitment`.
    SetCommitment {
        /// Subnet.
        netuid: NetUid,
        /// At most 3 fields, each within its bound ([`CommitmentData::fits`]).
        fields: Vec<CommitmentData>,
    },
    /// `burned_register`: signed by the coldkey, registers `hotkey`.
    BurnedRegister {
        /// Subnet.
        netuid: NetUid,
        /// SS58 of the hotkey to register.
        hotkey: String,
    },
    /// `Balances.transfer_keep_alive(dest, amount)`, signed by the coldkey; with a remark it
    /// stands for `Utility.batch_all([transfer_keep_alive, System.remark_with_event(remark)])`.
    /// Recorded in its block ([`BlockExtrinsics`]) with its events.
    Transfer {
        /// SS58 of the recipient.
        dest: String,
        /// rao.
        amount: u64,
        /// The remark bound to the transfer, `0x` hex.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        remark: Option<String>,
    },
}

impl DevnetCall {
    /// The key that must sign this call (the origin subtensor would see).
    pub fn signer_role(&self) -> SignerRole {
        match self {
            DevnetCall::BurnedRegister { .. } | DevnetCall::Transfer { .. } => SignerRole::Coldkey,
            _ => SignerRole::Hotkey,
        }
    }
}

/// The bytes signed for an extrinsic: `"orchestra-devnet/1\n{signer}\n{nonce}\n"` followed by
/// the compact JSON of `call` as serde_json writes this crate's [`DevnetCall`] (fields in
/// declaration order). The server recomputes it from the call it parsed.
pub fn signing_payload(signer: &str, nonce: u64, call: &DevnetCall) -> Result<Vec<u8>, ChainError> {
    let mut out = format!("{SIGNING_DOMAIN}\n{signer}\n{nonce}\n").into_bytes();
    serde_json::to_writer(&mut out, call).map_err(|e| ChainError::InvalidInput(format!("cannot encode call: {e}")))?;
    Ok(out)
}

/// `POST /v1/extrinsics`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtrinsicRequest {
    /// SS58 of the signing key (see [`DevnetCall::signer_role`]).
    pub signer: String,
    /// Strictly increasing per signer.
    pub nonce: u64,
    /// What to do.
    pub call: DevnetCall,
    /// sr25519 signature over [`signing_payload`], `0x` + 128 hex digits.
    pub signature: String,
}

impl ExtrinsicRequest {
    /// Signs `call` with `key`.
    pub fn sign(key: &Keypair, nonce: u64, call: DevnetCall) -> Result<Self, ChainError> {
        let payload = signing_payload(key.ss58(), nonce, &call)?;
        Ok(ExtrinsicRequest { signer: key.ss58().to_string(), nonce, call, signature: key.sign_hex(&payload) })
    }

    /// Checks the signature; returns the signer's public key. For the server.
    pub fn verify(&self) -> Result<PublicKey, ChainError> {
        let bad = |why: String| ChainError::InvalidInput(format!("bad extrinsic signature: {why}"));
        let key = PublicKey::from_ss58(&self.signer).map_err(|e| bad(e.to_string()))?;
        let sig = orchestra_keys::parse_signature_hex(&self.signature).map_err(|e| bad(e.to_string()))?;
        let payload = signing_payload(&self.signer, self.nonce, &self.call)?;
        if key.verify(&payload, &sig) { Ok(key) } else { Err(bad("does not verify".into())) }
    }
}

/// Body of every non-2xx answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// What went wrong.
    pub error: ApiError,
}

/// Kinds of [`ApiError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiErrorKind {
    /// A chain rule rejected the call; `pallet` and `name` are subtensor's.
    Dispatch,
    /// Refused before execution (stale or replayed nonce, …); `name` like the pool's (`Stale`).
    InvalidTransaction,
    /// The signature does not verify or the signer is malformed.
    BadSignature,
    /// The request cannot be parsed or is out of bounds.
    BadRequest,
    /// The subnet does not exist.
    SubnetNotFound,
    /// No such route or object.
    NotFound,
    /// The server failed.
    Internal,
}

/// An error as the devnet reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// The kind.
    pub kind: ApiErrorKind,
    /// Pallet name for `dispatch` (`SubtensorModule`, `Commitments`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pallet: Option<String>,
    /// The chain's error name (`SettingWeightsTooFast`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For people.
    pub message: String,
}

impl ApiError {
    /// A subtensor rule violation, e.g. `ApiError::dispatch("SubtensorModule", "SettingWeightsTooFast", "…")`.
    pub fn dispatch(pallet: &str, name: &str, message: impl Into<String>) -> Self {
        ApiError {
            kind: ApiErrorKind::Dispatch,
            pallet: Some(pallet.to_string()),
            name: Some(name.to_string()),
            message: message.into(),
        }
    }

    /// An error without a chain name.
    pub fn new(kind: ApiErrorKind, message: impl Into<String>) -> Self {
        ApiError { kind, pallet: None, name: None, message: message.into() }
    }

    /// The status the server should answer with (see the module docs).
    pub fn http_status(&self) -> u16 {
        match self.kind {
            ApiErrorKind::Dispatch => 422,
            ApiErrorKind::InvalidTransaction => 409,
            ApiErrorKind::BadSignature => 401,
            ApiErrorKind::BadRequest => 400,
            ApiErrorKind::SubnetNotFound | ApiErrorKind::NotFound => 404,
            ApiErrorKind::Internal => 500,
        }
    }

    /// The [`ChainError`] a client reports; `status` is the HTTP status it came with and
    /// `netuid` the subnet of the request, if any.
    pub fn into_chain_error(self, status: u16, netuid: Option<NetUid>) -> ChainError {
        match self.kind {
            ApiErrorKind::Dispatch => ChainError::Dispatch {
                pallet: self.pallet.unwrap_or_else(|| "SubtensorModule".into()),
                error: self.name.unwrap_or_default(),
                detail: self.message,
            },
            ApiErrorKind::InvalidTransaction => {
                ChainError::InvalidTransaction { error: self.name, custom_code: None, reason: self.message }
            }
            ApiErrorKind::SubnetNotFound => match netuid {
                Some(n) => ChainError::SubnetNotFound(n),
                None => ChainError::Http { status, message: self.message },
            },
            ApiErrorKind::BadSignature | ApiErrorKind::BadRequest => ChainError::InvalidInput(self.message),
            ApiErrorKind::NotFound | ApiErrorKind::Internal => ChainError::Http { status, message: self.message },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn call_json_shape() {
        let c = DevnetCall::SetWeights {
            netuid: 1,
            mechanism: 0,
            uids: vec![0, 2],
            weights: vec![65535, 1],
            version_key: 7,
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"call":"set_weights","netuid":1,"mechanism":0,"uids":[0,2],"weights":[65535,1],"version_key":7}"#
        );
        let axon = DevnetCall::ServeAxon(ServeAxonArgs {
            netuid: 3,
            version: 1,
            ip: 16_909_060,
            port: 8091,
            ip_type: 4,
            protocol: 4,
            placeholder1: 0,
            placeholder2: 0,
        });
        let j = serde_json::to_value(&axon).unwrap();
        assert_eq!(j["call"], "serve_axon");
        assert_eq!(j["ip"], "16909060");
        assert_eq!(serde_json::from_value::<DevnetCall>(j).unwrap(), axon);
        let commit = DevnetCall::CommitWeights { netuid: 1, mechanism: 0, commit_hash: [0xab; 32] };
        let j = serde_json::to_value(&commit).unwrap();
        assert_eq!(j["commit_hash"], format!("0x{}", "ab".repeat(32)));
        assert_eq!(DevnetCall::BurnedRegister { netuid: 1, hotkey: "x".into() }.signer_role(), SignerRole::Coldkey);
        assert_eq!(commit.signer_role(), SignerRole::Hotkey);
    }

    #[test]
    fn sign_and_verify() {
        let alice = Keypair::from_uri("//Alice").unwrap();
        let call = DevnetCall::SetCommitment { netuid: 2, fields: vec![CommitmentData::Raw(b"hi".to_vec())] };
        let req = ExtrinsicRequest::sign(&alice, 42, call).unwrap();
        assert_eq!(req.signer, "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
        // Survives a JSON round trip, as the server sees it.
        let req: ExtrinsicRequest = serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
        assert_eq!(req.verify().unwrap(), alice.public());
        let payload = signing_payload(&req.signer, 42, &req.call).unwrap();
        assert!(payload.starts_with(b"orchestra-devnet/1\n5Grwva"));
        let mut tampered = req.clone();
        tampered.nonce = 43;
        assert!(tampered.verify().is_err());
        let mut other = req;
        other.signer = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty".into();
        assert!(other.verify().is_err());
    }

    #[test]
    fn errors_map_to_chain_errors() {
        let e = ApiError::dispatch("SubtensorModule", "SettingWeightsTooFast", "wait");
        assert_eq!(e.http_status(), 422);
        let j = serde_json::to_value(ErrorResponse { error: e.clone() }).unwrap();
        assert_eq!(j["error"]["kind"], "dispatch");
        let c = e.into_chain_error(422, Some(1));
        assert!(c.is("SettingWeightsTooFast") && c.is_rate_limited());
        let c = ApiError::new(ApiErrorKind::SubnetNotFound, "no").into_chain_error(404, Some(9));
        assert!(matches!(c, ChainError::SubnetNotFound(9)));
        let j: ErrorResponse = serde_json::from_str(r#"{"error":{"kind":"internal","message":"boom"}}"#).unwrap();
        assert!(matches!(j.error.into_chain_error(500, None), ChainError::Http { status: 500, .. }));
    }
}
