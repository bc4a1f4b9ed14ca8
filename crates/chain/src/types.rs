//! The data types of the [`Chain`](crate::Chain) trait: subnet hyperparameters, the metagraph and
//! its neurons, axon info with the SDK's IP encoding, weight submissions and reveals, commitments.
//! They are plain serde structs so the devnet's HTTP API (`devnet_api`) can carry them as they are.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::ChainError;

/// A subnet id (`NetUid(u16)` on chain).
pub type NetUid = u16;

/// Mechanism 0, the main mechanism of every subnet (`MechId::MAIN`).
pub const MAIN_MECHANISM: u8 = 0;

/// The subnet hyperparameters the neurons need. On subtensor they come from
/// `SubnetInfoRuntimeApi.get_subnet_hyperparams_v2` (same field names) plus `Burn` from storage.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hyperparams {
    /// Blocks between epochs.
    pub tempo: u16,
    /// Yuma `rho`.
    pub rho: u16,
    /// Yuma `kappa` (u16-normalized, 32767 ≈ 0.5).
    pub kappa: u16,
    /// Blocks a new registration is protected from pruning.
    pub immunity_period: u16,
    /// Minimum number of weights a validator must set (the chain uses `min(this, n)`).
    pub min_allowed_weights: u16,
    /// Largest normalized weight allowed (u16-normalized).
    pub max_weights_limit: u16,
    /// Minimum `version_key` accepted with weights (`WeightsVersionKey`).
    pub weights_version: u64,
    /// Blocks between two weight submissions of one hotkey.
    pub weights_rate_limit: u64,
    /// Blocks without weights after which a validator is inactive.
    pub activity_cutoff: u16,
    /// Whether registration is open.
    pub registration_allowed: bool,
    /// Maximum number of validator permits.
    pub max_validators: u16,
    /// Blocks between two `serve_axon` calls of one hotkey.
    pub serving_rate_limit: u64,
    /// Bonds EMA moving average (per million).
    pub bonds_moving_avg: u64,
    /// Whether weights must go through commit-reveal.
    pub commit_reveal_weights_enabled: bool,
    /// Reveal period in epochs (`RevealPeriodEpochs`).
    pub commit_reveal_period: u64,
    /// Whether liquid alpha is on.
    pub liquid_alpha_enabled: bool,
    /// Liquid alpha upper bound (u16-normalized).
    pub alpha_high: u16,
    /// Liquid alpha lower bound (u16-normalized).
    pub alpha_low: u16,
    /// Minimum burn for registration, in rao.
    pub min_burn: u64,
    /// Maximum burn for registration, in rao.
    pub max_burn: u64,
    /// The current registration burn, in rao (what `burned_register` pays now).
    pub burn: u64,
}

/// A subnet's neurons at one block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metagraph {
    /// The subnet.
    pub netuid: NetUid,
    /// The block the data was read at.
    pub block: u64,
    /// One entry per uid, in uid order.
    pub neurons: Vec<NeuronInfo>,
}

impl Metagraph {
    /// The neuron registered with `hotkey` (SS58), if any.
    pub fn neuron_by_hotkey(&self, hotkey: &str) -> Option<&NeuronInfo> {
        self.neurons.iter().find(|n| n.hotkey == hotkey)
    }

    /// The uid of `hotkey` (SS58), if registered.
    pub fn uid_of(&self, hotkey: &str) -> Option<u16> {
        self.neuron_by_hotkey(hotkey).map(|n| n.uid)
    }

    /// The neuron with `uid`, if any.
    pub fn neuron(&self, uid: u16) -> Option<&NeuronInfo> {
        self.neurons.iter().find(|n| n.uid == uid)
    }
}

/// One neuron of a subnet. The u16 scores (trust, consensus, incentive, dividends) are
/// u16-normalized as the chain stores them: 65535 = 1.0.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeuronInfo {
    /// The neuron's uid on the subnet.
    pub uid: u16,
    /// Hotkey, SS58 (format 42).
    pub hotkey: String,
    /// Coldkey that owns the hotkey, SS58.
    pub coldkey: String,
    /// Stake on this subnet in rao of the subnet's alpha: the sum of the stake entries of
    /// `get_neurons_lite` (not TAO-weighted).
    pub stake: u64,
    /// Trust (deprecated on chain: 0 on current subtensor).
    pub trust: u16,
    /// Consensus.
    pub consensus: u16,
    /// Incentive.
    pub incentive: u16,
    /// Dividends.
    pub dividends: u16,
    /// Emission of the last epoch, in rao.
    pub emission: u64,
    /// Whether the neuron holds a validator permit.
    pub validator_permit: bool,
    /// Block of the neuron's last weights (validators).
    pub last_update: u64,
    /// Whether the chain counts the neuron as active.
    pub active: bool,
    /// The axon the neuron serves (all zero if it never served).
    pub axon: AxonInfo,
}

/// A served axon as the chain stores it (`AxonInfo`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AxonInfo {
    /// Block of the last `serve_axon`.
    pub block: u64,
    /// The neuron's software version (`version_as_int` in the SDK).
    pub version: u32,
    /// IP address as an integer: IPv4 is the big-endian u32 value, IPv6 the u128 value
    /// (the SDK's `ip_to_int`). A JSON string, because JSON numbers cannot hold a u128.
    #[serde(with = "u128_string")]
    pub ip: u128,
    /// TCP port.
    pub port: u16,
    /// 4 or 6 (0 when never served).
    pub ip_type: u8,
    /// Protocol; the SDK sends 4.
    pub protocol: u8,
}

impl AxonInfo {
    /// The IP address, if `ip_type` is 4 or 6 and `ip` fits it.
    pub fn ip_addr(&self) -> Option<IpAddr> {
        int_to_ip(self.ip, self.ip_type)
    }

    /// The IP as text like the SDK's `int_to_ip` (`"1.2.3.4"`, IPv6 in its usual form);
    /// `"0.0.0.0"` for an axon that was never served.
    pub fn ip_string(&self) -> String {
        self.ip_addr().map(|ip| ip.to_string()).unwrap_or_else(|| "0.0.0.0".to_string())
    }

    /// `ip:port` (`[ip]:port` for IPv6), the address to connect to.
    pub fn endpoint(&self) -> String {
        match self.ip_addr() {
            Some(IpAddr::V6(v6)) => format!("[{v6}]:{}", self.port),
            Some(v4) => format!("{v4}:{}", self.port),
            None => format!("0.0.0.0:{}", self.port),
        }
    }

    /// Whether the axon serves: the SDK's `is_serving` (`ip != 0.0.0.0`).
    pub fn is_serving(&self) -> bool {
        self.ip != 0
    }
}

/// The SDK's `ip_to_int` plus `ip_version`: the integer value of the address and 4 or 6.
pub fn ip_to_int(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 4),
        IpAddr::V6(v6) => (u128::from(v6), 6),
    }
}

/// The inverse of [`ip_to_int`]; `None` for an unknown `ip_type` or an IPv4 value above u32.
pub fn int_to_ip(ip: u128, ip_type: u8) -> Option<IpAddr> {
    match ip_type {
        4 => u32::try_from(ip).ok().map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        6 => Some(IpAddr::V6(Ipv6Addr::from(ip))),
        _ => None,
    }
}

/// What a neuron announces with `serve_axon`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AxonServe {
    /// Public IP address.
    pub ip: IpAddr,
    /// TCP port (not 0).
    pub port: u16,
    /// Software version (the SDK's `version_as_int`).
    pub version: u32,
    /// Protocol byte; the SDK sends 4.
    pub protocol: u8,
}

impl AxonServe {
    /// An axon at `ip:port` with the SDK's protocol byte (4).
    pub fn new(ip: IpAddr, port: u16, version: u32) -> Self {
        AxonServe { ip, port, version, protocol: 4 }
    }
}

/// The arguments of `SubtensorModule.serve_axon`, in call order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServeAxonArgs {
    /// Subnet.
    pub netuid: NetUid,
    /// Software version.
    pub version: u32,
    /// IP as an integer ([`ip_to_int`]).
    #[serde(with = "u128_string")]
    pub ip: u128,
    /// Port.
    pub port: u16,
    /// 4 or 6.
    pub ip_type: u8,
    /// Protocol.
    pub protocol: u8,
    /// Always 0 (reserved).
    pub placeholder1: u8,
    /// Always 0 (reserved).
    pub placeholder2: u8,
}

impl ServeAxonArgs {
    /// The arguments the SDK sends for `axon` on `netuid` (placeholders 0). A zero port is refused
    /// here because the chain refuses it too (`InvalidPort`).
    pub fn new(netuid: NetUid, axon: &AxonServe) -> Result<Self, ChainError> {
        if axon.port == 0 {
            return Err(ChainError::InvalidInput("axon port 0: the chain refuses it (InvalidPort)".into()));
        }
        let (ip, ip_type) = ip_to_int(axon.ip);
        Ok(ServeAxonArgs {
            netuid,
            version: axon.version,
            ip,
            port: axon.port,
            ip_type,
            protocol: axon.protocol,
            placeholder1: 0,
            placeholder2: 0,
        })
    }
}

/// Weights ready for the chain: u16 values, uids and values of equal length.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightsSubmission {
    /// Mechanism ([`MAIN_MECHANISM`] unless the subnet has several).
    pub mechanism: u8,
    /// Destination uids.
    pub uids: Vec<u16>,
    /// u16 weights, one per uid (the chain max-upscales them again).
    pub weights: Vec<u16>,
    /// Must be ≥ the subnet's `weights_version`.
    pub version_key: u64,
}

impl WeightsSubmission {
    /// Float weights normalized exactly as the Python SDK's `convert_weights_and_uids_for_emit`:
    /// divide by the maximum, scale to 65535, round half to even, drop zeros with their uids.
    /// Negative, NaN or infinite weights and length mismatches are errors.
    pub fn from_float(uids: &[u16], weights: &[f64], version_key: u64) -> Result<Self, ChainError> {
        let (uids, weights) = orchestra_proto::weights::convert_weights_and_uids_for_emit(uids, weights)
            .map_err(|e| ChainError::InvalidInput(e.to_string()))?;
        Ok(WeightsSubmission { mechanism: MAIN_MECHANISM, uids, weights, version_key })
    }

    /// Already-normalized u16 weights; the lengths must match.
    pub fn from_u16(uids: Vec<u16>, weights: Vec<u16>, version_key: u64) -> Result<Self, ChainError> {
        if uids.len() != weights.len() {
            return Err(ChainError::InvalidInput(format!(
                "{} uids but {} weights: the lengths must match",
                uids.len(),
                weights.len()
            )));
        }
        Ok(WeightsSubmission { mechanism: MAIN_MECHANISM, uids, weights, version_key })
    }

    /// The same weights for another mechanism.
    pub fn with_mechanism(mut self, mechanism: u8) -> Self {
        self.mechanism = mechanism;
        self
    }
}

/// A commit-reveal v2 reveal: the weights, the salt and the version key that were hashed at commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightsReveal {
    /// Mechanism.
    pub mechanism: u8,
    /// Destination uids.
    pub uids: Vec<u16>,
    /// u16 weights.
    pub values: Vec<u16>,
    /// The salt chosen at commit time.
    pub salt: Vec<u16>,
    /// The version key.
    pub version_key: u64,
}

impl WeightsReveal {
    /// The reveal of `weights` with `salt`.
    pub fn new(weights: &WeightsSubmission, salt: Vec<u16>) -> Self {
        WeightsReveal {
            mechanism: weights.mechanism,
            uids: weights.uids.clone(),
            values: weights.weights.clone(),
            salt,
            version_key: weights.version_key,
        }
    }
}

/// A published commitment (`Commitments.CommitmentOf`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    /// Block the commitment was set at.
    pub block: u64,
    /// Its fields (at most 3 on chain).
    pub fields: Vec<CommitmentData>,
}

impl Commitment {
    /// The bytes of the first `Raw`/`BigRaw` field: what [`crate::Chain::set_commitment`] wrote.
    pub fn data(&self) -> Option<&[u8]> {
        self.fields.iter().find_map(|f| match f {
            CommitmentData::Raw(b) | CommitmentData::BigRaw(b) => Some(b.as_slice()),
            _ => None,
        })
    }
}

/// One field of a commitment: the Commitments pallet's `Data` enum. Its SCALE encoding is in
/// [`crate::encode`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum CommitmentData {
    /// No data.
    None,
    /// Up to 128 raw bytes (tags 1..=129: `Raw0`..`Raw128`).
    Raw(#[serde(with = "hex_bytes")] Vec<u8>),
    /// A BLAKE2-256 hash.
    BlakeTwo256(#[serde(with = "hex_array")] [u8; 32]),
    /// A SHA-256 hash.
    Sha256(#[serde(with = "hex_array")] [u8; 32]),
    /// A Keccak-256 hash.
    Keccak256(#[serde(with = "hex_array")] [u8; 32]),
    /// A SHA3-256 hash.
    ShaThree256(#[serde(with = "hex_array")] [u8; 32]),
    /// Drand-timelocked data (at most 1024 bytes) revealed at `reveal_round`.
    TimelockEncrypted {
        /// Ciphertext.
        #[serde(with = "hex_bytes")]
        encrypted: Vec<u8>,
        /// Drand round.
        reveal_round: u64,
    },
    /// The flag that resets the committer's bonds.
    ResetBondsFlag,
    /// Up to 512 raw bytes.
    BigRaw(#[serde(with = "hex_bytes")] Vec<u8>),
}

/// Which key must sign a call: the hotkey for weights, axons and commitments, the coldkey for
/// registration and transfers (the origin subtensor checks). Both backends sign by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignerRole {
    /// The neuron's hotkey.
    Hotkey,
    /// The coldkey that owns (or will own) the hotkey.
    Coldkey,
}

impl SignerRole {
    /// `"hotkey"` or `"coldkey"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignerRole::Hotkey => "hotkey",
            SignerRole::Coldkey => "coldkey",
        }
    }
}

/// Where an extrinsic ended up.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxOutcome {
    /// Hash of the block that included it (`0x` hex), when known.
    pub block_hash: Option<String>,
    /// Number of that block, when known.
    pub block_number: Option<u64>,
    /// Hash of the extrinsic (`0x` hex), when known.
    pub extrinsic_hash: Option<String>,
}

impl TxOutcome {
    /// Where the transaction is, to read it back with [`crate::Chain::extrinsic_receipt`]; `None`
    /// without an extrinsic hash (the devnet gives one for transfers only).
    pub fn tx_ref(&self) -> Option<TxRef> {
        Some(TxRef {
            block_hash: self.block_hash.clone(),
            block_number: self.block_number,
            extrinsic_hash: self.extrinsic_hash.clone()?,
        })
    }
}

/// An extrinsic's place on chain, as a payer presents it: the block (by hash on subtensor, by
/// number on the devnet, which has no block hashes) and the extrinsic's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRef {
    /// Block hash (`0x` hex); required on subtensor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_hash: Option<String>,
    /// Block number; required on the devnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_number: Option<u64>,
    /// Extrinsic hash (`0x` hex).
    pub extrinsic_hash: String,
}

/// One balance transfer as executed (a `Balances.Transfer` event).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferEvent {
    /// SS58 of the sender.
    pub from: String,
    /// SS58 of the recipient.
    pub to: String,
    /// rao.
    pub amount: u64,
}

/// A remark as executed (a `System.Remarked` event of `System.remark_with_event`): the chain
/// keeps only the remark's BLAKE2-256 ([`crate::remark_hash`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemarkEvent {
    /// SS58 of the account that made the remark.
    pub sender: String,
    /// BLAKE2-256 of the remark bytes.
    #[serde(with = "hex_array")]
    pub hash: [u8; 32],
}

/// What one extrinsic did, read back from its block (what a payee checks before it trusts a
/// payment): whether its block is finalized, whether it succeeded, and its transfer and remark
/// events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtrinsicReceipt {
    /// Block number.
    pub block_number: u64,
    /// Block hash (`0x` hex); `None` on the devnet.
    #[serde(default)]
    pub block_hash: Option<String>,
    /// Position in the block.
    pub extrinsic_index: u32,
    /// Extrinsic hash (`0x` hex).
    pub extrinsic_hash: String,
    /// SS58 of the signer (`None` for an unsigned extrinsic).
    #[serde(default)]
    pub signer: Option<String>,
    /// The block is finalized: the extrinsic cannot be reverted.
    pub finalized: bool,
    /// The extrinsic succeeded (`System.ExtrinsicSuccess`); a failed `batch_all` moved nothing.
    pub success: bool,
    /// Its `Balances.Transfer` events.
    pub transfers: Vec<TransferEvent>,
    /// Its `System.Remarked` events.
    pub remarks: Vec<RemarkEvent>,
}

impl ExtrinsicReceipt {
    /// rao transferred from `from` to `to` by this extrinsic.
    pub fn paid(&self, from: &str, to: &str) -> u64 {
        self.transfers.iter().filter(|t| t.from == from && t.to == to).map(|t| t.amount).fold(0u64, u64::saturating_add)
    }

    /// Whether `sender` remarked exactly `remark` in this extrinsic.
    pub fn has_remark(&self, sender: &str, remark: &[u8]) -> bool {
        let h = crate::remark_hash(remark);
        self.remarks.iter().any(|r| r.sender == sender && r.hash == h)
    }
}

/// u128 as a decimal JSON string.
pub(crate) mod u128_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Bytes as a `0x` hex JSON string.
pub(crate) mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", hex::encode(v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s.strip_prefix("0x").unwrap_or(&s)).map_err(serde::de::Error::custom)
    }
}

/// A 32-byte array as a `0x` hex JSON string.
pub(crate) mod hex_array {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        super::hex_bytes::serialize(v, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let v = super::hex_bytes::deserialize(d)?;
        <[u8; 32]>::try_from(v.as_slice()).map_err(|_| serde::de::Error::custom("expected 32 bytes"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ip_int_round_trip_like_the_sdk() {
        // netaddr.IPAddress("1.2.3.4").value == 16909060
        let (v, t) = ip_to_int("1.2.3.4".parse().unwrap());
        assert_eq!((v, t), (16_909_060, 4));
        assert_eq!(int_to_ip(v, t).unwrap().to_string(), "1.2.3.4");
        let (v, t) = ip_to_int("2001:db8::1".parse().unwrap());
        assert_eq!(t, 6);
        assert_eq!(v, 0x2001_0db8_0000_0000_0000_0000_0000_0001);
        assert_eq!(int_to_ip(v, 6).unwrap().to_string(), "2001:db8::1");
        assert_eq!(int_to_ip(1 << 40, 4), None);
        assert_eq!(int_to_ip(5, 0), None);
        let axon = AxonInfo { ip: 16_909_060, ip_type: 4, port: 8091, ..Default::default() };
        assert!(axon.is_serving());
        assert_eq!(axon.endpoint(), "1.2.3.4:8091");
        assert_eq!(AxonInfo::default().ip_string(), "0.0.0.0");
        let v6 = AxonInfo { ip: 1, ip_type: 6, port: 1, ..Default::default() };
        assert_eq!(v6.endpoint(), "[::1]:1");
    }

    #[test]
    fn serve_axon_args_like_the_sdk() {
        let a = ServeAxonArgs::new(7, &AxonServe::new("10.0.0.2".parse().unwrap(), 8091, 10_005)).unwrap();
        assert_eq!(
            a,
            ServeAxonArgs {
                netuid: 7,
                version: 10_005,
                ip: 0x0a00_0002,
                port: 8091,
                ip_type: 4,
                protocol: 4,
                placeholder1: 0,
                placeholder2: 0
            }
        );
        assert!(ServeAxonArgs::new(7, &AxonServe::new("10.0.0.2".parse().unwrap(), 0, 1)).is_err());
    }

    #[test]
    fn serde_shapes() {
        let axon = AxonInfo { ip: u128::MAX, ip_type: 6, ..Default::default() };
        let j = serde_json::to_value(axon).unwrap();
        assert_eq!(j["ip"], serde_json::json!(u128::MAX.to_string()));
        assert_eq!(serde_json::from_value::<AxonInfo>(j).unwrap(), axon);
        let c = CommitmentData::Raw(vec![1, 2]);
        let j = serde_json::to_value(&c).unwrap();
        assert_eq!(j, serde_json::json!({"kind": "raw", "value": "0x0102"}));
        assert_eq!(serde_json::from_value::<CommitmentData>(j).unwrap(), c);
        let j = serde_json::to_value(CommitmentData::ResetBondsFlag).unwrap();
        assert_eq!(j, serde_json::json!({"kind": "reset_bonds_flag"}));
    }

    #[test]
    fn weights_from_float_matches_every_sdk_vector() {
        // Produced by the Python SDK (bittensor 10.5.0); see the file's "about".
        let raw =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/vectors/bittensor.json"))
                .unwrap();
        let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
        let cases = v["weights_for_emit"].as_array().unwrap();
        assert!(cases.len() >= 8);
        for case in cases {
            let uids: Vec<u16> = serde_json::from_value(case["uids"].clone()).unwrap();
            let w: Vec<f64> = serde_json::from_value(case["weights"].clone()).unwrap();
            let out_uids: Vec<u16> = serde_json::from_value(case["out_uids"].clone()).unwrap();
            let out_w: Vec<u16> = serde_json::from_value(case["out_u16"].clone()).unwrap();
            let s = WeightsSubmission::from_float(&uids, &w, 3).unwrap();
            assert_eq!((s.uids, s.weights), (out_uids, out_w), "case {case}");
            assert_eq!(s.version_key, 3);
        }
        assert!(WeightsSubmission::from_float(&[0, 1], &[1.0], 0).is_err());
        assert!(WeightsSubmission::from_float(&[0], &[-0.5], 0).is_err());
        assert!(WeightsSubmission::from_u16(vec![0], vec![], 0).is_err());
    }
}
