//! Offline checks against the finney runtime metadata snapshot `shared/chain/finney-2026-04.scale`
//! (spec 393): the call data of every extrinsic this crate submits, a complete signed extrinsic
//! built with `SubtensorConfig` and decoded back, the metadata check run at connect, and the
//! decoding of runtime API results and storage values. Expected bytes are built independently
//! with parity-scale-codec from the argument layouts in subtensor's source.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use orchestra_chain::subtensor::config::{SubtensorConfig, TxParams};
use orchestra_chain::subtensor::{KeypairSigner, calls, check_metadata, decode};
use orchestra_chain::{CommitmentData, ServeAxonArgs, WeightsReveal, WeightsSubmission, commit_hash, netuid_index};
use orchestra_keys::Keypair;
use parity_scale_codec::{Compact, Decode, Encode};
use subxt::client::{OfflineClient, OfflineClientAtBlock};
use subxt::config::substrate::H256;
use subxt::config::transaction_extensions::CheckMortalityParams;
use subxt::ext::frame_decode::extrinsics::decode_extrinsic;
use subxt::ext::frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed};
use subxt::metadata::{ArcMetadata, Metadata};

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/chain/finney-2026-04.scale");
const GENESIS: [u8; 32] = [0x11; 32];

fn snapshot_bytes() -> Vec<u8> {
    std::fs::read(SNAPSHOT).expect("finney metadata snapshot")
}

fn metadata_from(bytes: &[u8]) -> ArcMetadata {
    ArcMetadata::new(Metadata::decode_from(bytes).expect("metadata decodes"))
}

fn metadata() -> ArcMetadata {
    metadata_from(&snapshot_bytes())
}

/// spec_version and transaction_version from the `System.Version` constant (`RuntimeVersion`).
fn versions(md: &Metadata) -> (u32, u32) {
    let c = md.pallet_by_name("System").unwrap().constant_by_name("Version").unwrap();
    #[allow(clippy::type_complexity)]
    let v: (String, String, u32, u32, u32, Vec<([u8; 8], u32)>, u32) = Decode::decode(&mut c.value()).unwrap();
    assert_eq!(v.0, "node-subtensor");
    (v.3, v.6)
}

fn client(md: ArcMetadata) -> OfflineClientAtBlock<SubtensorConfig> {
    let (spec, tx) = versions(&md);
    OfflineClient::new_with_config(SubtensorConfig::offline(md, GENESIS, spec, tx)).at_block(0u64).unwrap()
}

fn call_data(c: &calls::Call) -> Vec<u8> {
    client(metadata()).tx().call_data(c).unwrap()
}

fn with_prefix(pallet: u8, call: u8, args: impl Encode) -> Vec<u8> {
    let mut v = vec![pallet, call];
    args.encode_to(&mut v);
    v
}

#[test]
fn snapshot_pallets_versions_and_extensions() {
    let md = metadata();
    assert_eq!(versions(&md).0, 393);
    assert_eq!(md.pallet_by_name("SubtensorModule").unwrap().call_index(), 7);
    assert_eq!(md.pallet_by_name("Commitments").unwrap().call_index(), 18);
    assert_eq!(md.extrinsic().supported_versions(), &[4, 5]);
    let ids: Vec<&str> = md.extrinsic().transaction_extensions_to_use_for_encoding().map(|e| e.identifier()).collect();
    assert_eq!(
        ids,
        [
            "CheckNonZeroSender",
            "CheckSpecVersion",
            "CheckTxVersion",
            "CheckGenesis",
            "CheckMortality",
            "CheckNonce",
            "CheckWeight",
            // subtensor's ChargeTransactionPaymentWrapper publishes the inner extension's metadata.
            "ChargeTransactionPayment",
            "SudoTransactionExtension",
            "CheckShieldedTxValidity",
            "SubtensorTransactionExtension",
            "DrandPriority",
            "CheckMetadataHash",
        ]
    );
}

#[test]
fn set_weights_and_mechanism_weights() {
    let w = WeightsSubmission::from_float(&[0, 1, 2], &[0.2, 0.3, 0.5], 7).unwrap();
    assert_eq!(w.weights, [26214, 39321, 65535]);
    let expected = with_prefix(7, 0, (1u16, vec![0u16, 1, 2], vec![26214u16, 39321, 65535], 7u64));
    assert_eq!(call_data(&calls::set_weights(1, &w)), expected);
    // Spelled out once, to pin the layout itself: netuid LE, compact len 3, u16s, u64 LE.
    assert_eq!(
        hex::encode(&expected),
        "0700".to_owned() + "0100" + "0c000001000200" + "0c66669999ffff" + "0700000000000000"
    );

    let m = w.clone().with_mechanism(2);
    let expected = with_prefix(7, 119, (1u16, 2u8, vec![0u16, 1, 2], vec![26214u16, 39321, 65535], 7u64));
    assert_eq!(call_data(&calls::set_weights(1, &m)), expected);

    // Empty weights (all-zero input) are a valid call.
    let empty = WeightsSubmission::from_float(&[0, 1], &[0.0, 0.0], 0).unwrap();
    assert_eq!(
        call_data(&calls::set_weights(3, &empty)),
        with_prefix(7, 0, (3u16, Vec::<u16>::new(), Vec::<u16>::new(), 0u64))
    );
}

#[test]
fn commit_and_reveal_weights() {
    let alice = Keypair::from_uri("//Alice").unwrap().public().0;
    let w = WeightsSubmission::from_u16(vec![0, 1, 2], vec![26214, 39321, 65535], 0).unwrap();
    let reveal = WeightsReveal::new(&w, vec![1, 2, 3, 4, 5, 6, 7, 8]);
    let hash = reveal.commit_hash(&alice, 1);
    // The vector checked against the Python SDK in encode.rs.
    assert_eq!(hex::encode(hash), "f5a99d8ffa90310bdecf963256db908119ca83a494f9094694c90e1301e41034");
    assert_eq!(hash, commit_hash(&alice, netuid_index(1, 0), &w.uids, &w.weights, &reveal.salt, 0));

    assert_eq!(call_data(&calls::commit_weights(1, 0, hash)), with_prefix(7, 96, (1u16, hash)));
    assert_eq!(call_data(&calls::commit_weights(1, 3, hash)), with_prefix(7, 115, (1u16, 3u8, hash)));
    let expected = with_prefix(
        7,
        97,
        (1u16, vec![0u16, 1, 2], vec![26214u16, 39321, 65535], vec![1u16, 2, 3, 4, 5, 6, 7, 8], 0u64),
    );
    assert_eq!(call_data(&calls::reveal_weights(1, &reveal)), expected);
    let mut r3 = reveal.clone();
    r3.mechanism = 3;
    let expected = with_prefix(
        7,
        116,
        (1u16, 3u8, vec![0u16, 1, 2], vec![26214u16, 39321, 65535], vec![1u16, 2, 3, 4, 5, 6, 7, 8], 0u64),
    );
    assert_eq!(call_data(&calls::reveal_weights(1, &r3)), expected);
}

#[test]
fn serve_axon_call() {
    let args =
        ServeAxonArgs::new(5, &orchestra_chain::AxonServe::new("203.0.113.7".parse().unwrap(), 8091, 10_005)).unwrap();
    let ip: u128 = (203 << 24) | (113 << 8) | 7;
    assert_eq!(args.ip, ip);
    let expected = with_prefix(7, 4, (5u16, 10_005u32, ip, 8091u16, 4u8, 4u8, 0u8, 0u8));
    assert_eq!(call_data(&calls::serve_axon(&args)), expected);
    let v6 = ServeAxonArgs::new(5, &orchestra_chain::AxonServe::new("2001:db8::7".parse().unwrap(), 443, 1)).unwrap();
    let expected =
        with_prefix(7, 4, (5u16, 1u32, 0x2001_0db8_0000_0000_0000_0000_0000_0007u128, 443u16, 6u8, 4u8, 0u8, 0u8));
    assert_eq!(call_data(&calls::serve_axon(&v6)), expected);
}

#[test]
fn burned_register_call() {
    let bob = Keypair::from_uri("//Bob").unwrap().public().0;
    assert_eq!(call_data(&calls::burned_register(9, bob)), with_prefix(7, 7, (9u16, bob)));
}

#[test]
fn set_commitment_calls() {
    let cases = vec![
        vec![CommitmentData::Raw(b"orchestra:v1".to_vec())],
        vec![CommitmentData::Raw(vec![])],
        vec![CommitmentData::Raw(vec![0xee; 128])],
        vec![CommitmentData::BigRaw(vec![0x42; 300])],
        vec![CommitmentData::Sha256([3; 32]), CommitmentData::ResetBondsFlag, CommitmentData::None],
        vec![CommitmentData::TimelockEncrypted { encrypted: vec![1, 2, 3], reveal_round: 99 }],
        vec![
            CommitmentData::BlakeTwo256([1; 32]),
            CommitmentData::Keccak256([2; 32]),
            CommitmentData::ShaThree256([4; 32]),
        ],
    ];
    for fields in cases {
        // CommitmentInfo { fields: BoundedVec<Data> } is a compact count and each Data as the
        // pallet encodes it (tag, then payload), implemented independently in encode.rs.
        let expected = with_prefix(18, 0, (4u16, fields.clone()));
        assert_eq!(call_data(&calls::set_commitment(4, &fields)), expected, "{fields:?}");
    }
    let raw = call_data(&calls::set_commitment(4, &[CommitmentData::Raw(b"ab".to_vec())]));
    assert_eq!(raw, [18, 0, 4, 0, 4, 3, b'a', b'b']);
}

#[test]
fn renamed_or_retyped_arguments_fail_to_encode() {
    // Encoding is by argument name, so a call whose fields do not match the metadata is refused.
    let bad = subxt::dynamic::tx(
        "SubtensorModule",
        "set_weights",
        subxt::ext::scale_value::Composite::named([("netuid", subxt::dynamic::Value::u128(1))]),
    );
    assert!(client(metadata()).tx().call_data(&bad).is_err());
    let wrong_type = subxt::dynamic::tx(
        "SubtensorModule",
        "burned_register",
        subxt::ext::scale_value::Composite::named([
            ("netuid", subxt::dynamic::Value::u128(70_000)),
            ("hotkey", subxt::dynamic::Value::from_bytes([0u8; 32])),
        ]),
    );
    assert!(client(metadata()).tx().call_data(&wrong_type).is_err(), "70000 does not fit the u16 netuid");
}

/// Era::mortal(128, 5_000_000) by hand: period 128 → low 4 bits = trailing_zeros(128) - 1 = 6;
/// phase = 5_000_000 % 128 = 64, quantize factor 1 → bits 4.. = 64; 6 | 64 << 4 = 0x0406, LE.
const ERA_128_AT_5M: [u8; 2] = [0x06, 0x04];

#[test]
fn signed_extrinsic_offline_round_trip() {
    let md = metadata();
    let (spec, txv) = versions(&md);
    let at = client(md.clone());
    let alice = Keypair::from_uri("//Alice").unwrap();
    let signer = KeypairSigner::new(alice.clone());
    let block_hash = H256([0x22; 32]);
    let w = WeightsSubmission::from_u16(vec![0, 1], vec![65535, 32768], 0).unwrap();
    let payload = calls::set_weights(1, &w);
    let params = TxParams {
        tip: 1000,
        mortality: CheckMortalityParams::mortal_from_unchecked(128, 5_000_000, block_hash),
        nonce: Some(42),
    };
    let mut signable = at.tx().create_v4_signable_offline(&payload, params.into_params()).unwrap();
    let signer_payload = signable.signer_payload().unwrap();

    // The signer payload, built by hand: call ‖ explicit extensions ‖ implicit extensions.
    let call = at.tx().call_data(&payload).unwrap();
    let mut expected = call.clone();
    expected.extend(ERA_128_AT_5M); // CheckMortality
    Compact(42u32).encode_to(&mut expected); // CheckNonce: Compact<u32>
    Compact(1000u64).encode_to(&mut expected); // ChargeTransactionPayment: Compact<u64> tip
    expected.push(0); // CheckMetadataHash: mode Disabled
    spec.encode_to(&mut expected); // CheckSpecVersion
    txv.encode_to(&mut expected); // CheckTxVersion
    expected.extend(GENESIS); // CheckGenesis
    expected.extend(block_hash.0); // CheckMortality: the birth block's hash
    expected.push(0); // CheckMetadataHash: None
    assert!(expected.len() <= 256, "short payloads are signed as they are");
    assert_eq!(signer_payload, expected);

    let tx = signable.sign(&signer).unwrap();
    let bytes = tx.encoded().to_vec();
    let ext = decode_extrinsic(&mut &bytes[..], &*md, md.types()).unwrap();
    assert_eq!(ext.version(), 4);
    assert!(ext.is_signed());
    assert_eq!((ext.pallet_index(), ext.call_index()), (7, 0));
    assert_eq!((ext.pallet_name(), ext.call_name()), ("SubtensorModule", "set_weights"));
    assert_eq!(&bytes[ext.call_data_range()], &call[..]);

    let sig = ext.signature_payload().unwrap();
    let address = &bytes[sig.address_range()];
    assert_eq!(address[0], 0, "MultiAddress::Id");
    assert_eq!(&address[1..], &alice.public().0);
    let signature = &bytes[sig.signature_range()];
    assert_eq!(signature[0], 1, "MultiSignature::Sr25519");
    let sig64: [u8; 64] = signature[1..].try_into().unwrap();
    assert!(alice.public().verify(&signer_payload, &sig64));

    let exts = ext.transaction_extension_payload().unwrap();
    let by_name: Vec<(String, Vec<u8>)> =
        exts.iter().map(|a| (a.name().to_string(), bytes[a.range()].to_vec())).filter(|(_, b)| !b.is_empty()).collect();
    assert_eq!(
        by_name,
        vec![
            ("CheckMortality".to_string(), ERA_128_AT_5M.to_vec()),
            ("CheckNonce".to_string(), vec![42 << 2]),
            ("ChargeTransactionPayment".to_string(), Compact(1000u64).encode()),
            ("CheckMetadataHash".to_string(), vec![0]),
        ]
    );
}

/// Rewrites the snapshot with one extension identifier renamed.
fn renamed_extension(from: &str, to: &str) -> ArcMetadata {
    let mut prefixed = RuntimeMetadataPrefixed::decode(&mut &snapshot_bytes()[..]).unwrap();
    let RuntimeMetadata::V16(v16) = &mut prefixed.1 else { panic!("expected metadata v16") };
    let ext = v16.extrinsic.transaction_extensions.iter_mut().find(|e| e.identifier == from).unwrap();
    ext.identifier = to.to_string();
    metadata_from(&prefixed.encode())
}

#[test]
fn fee_extension_under_the_wrapper_identifier() {
    // A runtime that publishes `ChargeTransactionPaymentWrapper` (the runtime type's own
    // IDENTIFIER) instead of the inner extension's metadata.
    let md = renamed_extension("ChargeTransactionPayment", "ChargeTransactionPaymentWrapper");
    let (spec, txv) = versions(&md);
    check_metadata(md.clone(), spec, txv).unwrap();
    let at = client(md.clone());
    let payload = calls::burned_register(1, [7; 32]);
    let params = TxParams { tip: 5, mortality: CheckMortalityParams::immortal(), nonce: Some(0) };
    let tx = at
        .tx()
        .create_v4_signable_offline(&payload, params.into_params())
        .unwrap()
        .sign(&KeypairSigner::new(Keypair::from_uri("//Bob").unwrap()))
        .unwrap();
    let bytes = tx.encoded().to_vec();
    let ext = decode_extrinsic(&mut &bytes[..], &*md, md.types()).unwrap();
    let fee =
        ext.transaction_extension_payload().unwrap().iter().find(|a| a.name() == "ChargeTransactionPaymentWrapper");
    assert_eq!(bytes[fee.unwrap().range()].to_vec(), vec![5 << 2]);

    // subxt's stock configuration has no extension of that name and refuses to build the
    // transaction; on the snapshot as published it works.
    let err = stock_signer_payload(md, &payload).unwrap_err();
    assert!(err.contains("ChargeTransactionPaymentWrapper"), "{err}");
    stock_signer_payload(metadata(), &payload).unwrap();
}

fn stock_signer_payload(md: ArcMetadata, payload: &calls::Call) -> Result<Vec<u8>, String> {
    let (spec, txv) = versions(&md);
    let stock = subxt::config::SubstrateConfig::builder()
        .set_genesis_hash(H256(GENESIS))
        .set_spec_version_for_block_ranges([subxt::config::substrate::SpecVersionForRange {
            block_range: 0..u64::MAX,
            spec_version: spec,
            transaction_version: txv,
        }])
        .set_metadata_for_spec_versions([(spec, md)])
        .build();
    let at = OfflineClient::new_with_config(stock).at_block(0u64).unwrap();
    at.tx()
        .create_v4_signable_offline(payload, Default::default())
        .and_then(|s| s.signer_payload())
        .map_err(|e| e.to_string())
}

#[test]
fn metadata_check_on_the_snapshot() {
    let md = metadata();
    let (spec, txv) = versions(&md);
    let report = check_metadata(md, spec, txv).unwrap();
    assert_eq!(report.spec_version, 393);
    assert!(report.mechanism_calls);
    assert!(report.extensions.contains(&"ChargeTransactionPayment".to_string()));

    // An extension with data this client cannot fill in is caught at connect.
    let md = renamed_extension("CheckNonce", "CheckNonceV2");
    let err = check_metadata(md, spec, txv).unwrap_err();
    assert!(err.to_string().contains("CheckNonceV2"), "{err}");
}

// ---- decoding runtime API results and storage values against the snapshot's types ----

#[derive(Encode)]
struct AxonInfoM {
    block: u64,
    version: u32,
    ip: u128,
    port: u16,
    ip_type: u8,
    protocol: u8,
    placeholder1: u8,
    placeholder2: u8,
}

#[derive(Encode)]
struct PrometheusInfoM {
    block: u64,
    version: u32,
    ip: u128,
    port: u16,
    ip_type: u8,
}

/// `NeuronInfoLite` (pallets/subtensor/src/rpc_info/neuron_info.rs), field for field.
#[derive(Encode)]
struct NeuronInfoLiteM {
    hotkey: [u8; 32],
    coldkey: [u8; 32],
    #[codec(compact)]
    uid: u16,
    #[codec(compact)]
    netuid: u16,
    active: bool,
    axon_info: AxonInfoM,
    prometheus_info: PrometheusInfoM,
    stake: Vec<([u8; 32], Compact<u64>)>,
    #[codec(compact)]
    rank: u16,
    #[codec(compact)]
    emission: u64,
    #[codec(compact)]
    incentive: u16,
    #[codec(compact)]
    consensus: u16,
    #[codec(compact)]
    trust: u16,
    #[codec(compact)]
    validator_trust: u16,
    #[codec(compact)]
    dividends: u16,
    #[codec(compact)]
    last_update: u64,
    validator_permit: bool,
    #[codec(compact)]
    pruning_score: u16,
}

fn neuron(uid: u16, hot: [u8; 32], cold: [u8; 32], stake: Vec<u64>) -> NeuronInfoLiteM {
    NeuronInfoLiteM {
        hotkey: hot,
        coldkey: cold,
        uid,
        netuid: 1,
        active: true,
        axon_info: AxonInfoM {
            block: 77,
            version: 3,
            ip: 0x7f00_0002,
            port: 8091,
            ip_type: 4,
            protocol: 4,
            placeholder1: 0,
            placeholder2: 0,
        },
        prometheus_info: PrometheusInfoM { block: 0, version: 0, ip: 0, port: 0, ip_type: 0 },
        stake: stake.into_iter().map(|s| (cold, Compact(s))).collect(),
        rank: 0,
        emission: 1_000_000_000 + u64::from(uid),
        incentive: 100 + uid,
        consensus: 200 + uid,
        trust: 0,
        validator_trust: 5,
        dividends: 300 + uid,
        last_update: 123_456,
        validator_permit: uid == 0,
        pruning_score: u16::MAX,
    }
}

#[test]
fn decode_neurons_lite() {
    let md = metadata();
    let alice = Keypair::from_uri("//Alice").unwrap();
    let bob = Keypair::from_uri("//Bob").unwrap();
    let bytes = vec![
        neuron(1, bob.public().0, alice.public().0, vec![]),
        neuron(0, alice.public().0, bob.public().0, vec![5, u64::MAX]),
    ]
    .encode();
    let neurons = decode::decode_neurons(&md, &bytes).unwrap();
    assert_eq!(neurons.len(), 2);
    let n0 = &neurons[0];
    assert_eq!((n0.uid, n0.hotkey.as_str(), n0.coldkey.as_str()), (0, alice.ss58(), bob.ss58()));
    assert_eq!(n0.stake, u64::MAX, "stake entries are summed, saturating");
    assert_eq!((n0.incentive, n0.consensus, n0.dividends, n0.trust), (100, 200, 300, 0));
    assert_eq!((n0.emission, n0.last_update, n0.validator_permit, n0.active), (1_000_000_000, 123_456, true, true));
    assert_eq!(n0.axon.endpoint(), "127.0.0.2:8091");
    assert_eq!((n0.axon.block, n0.axon.version, n0.axon.protocol), (77, 3, 4));
    assert_eq!((neurons[1].uid, neurons[1].stake, neurons[1].validator_permit), (1, 0, false));
    assert!(decode::decode_neurons(&md, &bytes[..bytes.len() - 1]).is_err());
    assert!(decode::decode_neurons(&md, &Vec::<NeuronInfoLiteM>::new().encode()).unwrap().is_empty());
}

/// `SubnetHyperparamsV2` (pallets/subtensor/src/rpc_info/subnet_info.rs), field for field.
#[derive(Encode)]
struct HyperparamsV2M {
    #[codec(compact)]
    rho: u16,
    #[codec(compact)]
    kappa: u16,
    #[codec(compact)]
    immunity_period: u16,
    #[codec(compact)]
    min_allowed_weights: u16,
    #[codec(compact)]
    max_weights_limit: u16,
    #[codec(compact)]
    tempo: u16,
    #[codec(compact)]
    min_difficulty: u64,
    #[codec(compact)]
    max_difficulty: u64,
    #[codec(compact)]
    weights_version: u64,
    #[codec(compact)]
    weights_rate_limit: u64,
    #[codec(compact)]
    adjustment_interval: u16,
    #[codec(compact)]
    activity_cutoff: u16,
    registration_allowed: bool,
    #[codec(compact)]
    target_regs_per_interval: u16,
    #[codec(compact)]
    min_burn: u64,
    #[codec(compact)]
    max_burn: u64,
    #[codec(compact)]
    bonds_moving_avg: u64,
    #[codec(compact)]
    max_regs_per_block: u16,
    #[codec(compact)]
    serving_rate_limit: u64,
    #[codec(compact)]
    max_validators: u16,
    #[codec(compact)]
    adjustment_alpha: u64,
    #[codec(compact)]
    difficulty: u64,
    #[codec(compact)]
    commit_reveal_period: u64,
    commit_reveal_weights_enabled: bool,
    #[codec(compact)]
    alpha_high: u16,
    #[codec(compact)]
    alpha_low: u16,
    liquid_alpha_enabled: bool,
    alpha_sigmoid_steepness: i64,
    #[codec(compact)]
    yuma_version: u16,
    subnet_is_active: bool,
    transfers_enabled: bool,
    bonds_reset_enabled: bool,
    user_liquidity_enabled: bool,
}

#[test]
fn decode_hyperparams_v2() {
    let md = metadata();
    let h = HyperparamsV2M {
        rho: 10,
        kappa: 32_767,
        immunity_period: 4096,
        min_allowed_weights: 1,
        max_weights_limit: 65_535,
        tempo: 360,
        min_difficulty: 1,
        max_difficulty: u64::MAX,
        weights_version: 10_005,
        weights_rate_limit: 100,
        adjustment_interval: 112,
        activity_cutoff: 5000,
        registration_allowed: true,
        target_regs_per_interval: 2,
        min_burn: 500_000,
        max_burn: 100_000_000_000,
        bonds_moving_avg: 900_000,
        max_regs_per_block: 1,
        serving_rate_limit: 50,
        max_validators: 64,
        adjustment_alpha: 0,
        difficulty: 10_000_000,
        commit_reveal_period: 1,
        commit_reveal_weights_enabled: true,
        alpha_high: 58_982,
        alpha_low: 45_875,
        liquid_alpha_enabled: false,
        alpha_sigmoid_steepness: -3,
        yuma_version: 2,
        subnet_is_active: true,
        transfers_enabled: true,
        bonds_reset_enabled: false,
        user_liquidity_enabled: false,
    };
    let got = decode::decode_hyperparams(&md, &Some(h).encode()).unwrap().unwrap();
    assert_eq!((got.tempo, got.rho, got.kappa, got.immunity_period), (360, 10, 32_767, 4096));
    assert_eq!((got.min_allowed_weights, got.max_weights_limit, got.weights_version), (1, 65_535, 10_005));
    assert_eq!((got.weights_rate_limit, got.activity_cutoff, got.registration_allowed), (100, 5000, true));
    assert_eq!((got.max_validators, got.serving_rate_limit, got.bonds_moving_avg), (64, 50, 900_000));
    assert_eq!((got.commit_reveal_weights_enabled, got.commit_reveal_period), (true, 1));
    assert_eq!((got.alpha_high, got.alpha_low, got.liquid_alpha_enabled), (58_982, 45_875, false));
    assert_eq!((got.min_burn, got.max_burn, got.burn), (500_000, 100_000_000_000, 0));
    assert_eq!(decode::decode_hyperparams(&md, &None::<HyperparamsV2M>.encode()).unwrap(), None);
}

#[test]
fn decode_commitment_of() {
    let md = metadata();
    let fields = vec![
        CommitmentData::Raw(b"orchestra:v1".to_vec()),
        CommitmentData::Raw(vec![]),
        CommitmentData::BigRaw(vec![9; 200]),
        CommitmentData::Sha256([8; 32]),
        CommitmentData::TimelockEncrypted { encrypted: vec![1, 2, 3], reveal_round: 12_345 },
        CommitmentData::ResetBondsFlag,
        CommitmentData::None,
    ];
    // Registration { deposit: u64, block: u32, info: CommitmentInfo { fields } }
    let bytes = (0u64, 4_321_000u32, fields.clone()).encode();
    let c = decode::decode_commitment(&md, &bytes).unwrap();
    assert_eq!(c.block, 4_321_000);
    assert_eq!(c.fields, fields);
    assert_eq!(c.data(), Some(&b"orchestra:v1"[..]));
    assert!(decode::decode_commitment(&md, &bytes[..bytes.len() - 1]).is_err());
}

// ---- the runtime-adaptive read paths: finney (typed APIs) and spec 218 (storage) ----

/// V15 metadata of the spec-218 runtime (shared/chain/subtensor-raonet-spec218.json under
/// chopsticks, `state_call Metadata_metadata_at_version(15)`), what the backend sees at connect.
const SPEC218: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/subtensor-spec218-metadata.scale");

#[test]
fn read_paths_follow_the_metadata() {
    use orchestra_chain::subtensor::storage::{HYPERPARAMS_STORAGE, METAGRAPH_STORAGE, check};

    // finney: typed runtime APIs; the storage fallback would work there too.
    let md = metadata();
    assert!(decode::typed_api(&md, decode::NEURONS_API));
    assert!(decode::typed_api(&md, decode::HYPERPARAMS_API));
    check(&md, METAGRAPH_STORAGE).unwrap();
    check(&md, HYPERPARAMS_STORAGE).unwrap();
    let (spec, txv) = versions(&md);
    let report = check_metadata(md, spec, txv).unwrap();
    assert!(report.typed_neurons_api && report.typed_hyperparams_api);

    // spec 218: get_neurons_lite returns an opaque Vec<u8>, get_subnet_hyperparams_v2 is
    // missing, no mechanism calls: storage reads, set_weights only.
    let md = metadata_from(&std::fs::read(SPEC218).expect("spec 218 metadata"));
    assert!(md.runtime_api_trait_by_name("NeuronInfoRuntimeApi").is_some());
    assert!(!decode::typed_api(&md, decode::NEURONS_API));
    assert!(!decode::typed_api(&md, decode::HYPERPARAMS_API));
    let (spec, txv) = versions(&md);
    assert_eq!(spec, 218);
    let report = check_metadata(md, spec, txv).unwrap();
    assert!(!report.typed_neurons_api && !report.typed_hyperparams_api);
    assert!(!report.mechanism_calls);
    for ext in ["SubtensorSignedExtension", "CommitmentsSignedExtension"] {
        assert!(report.extensions.iter().any(|e| e == ext), "{ext} in {:?}", report.extensions);
    }
}

/// The payment extrinsic (`Utility.batch_all([Balances.transfer_keep_alive(Id(dest), value),
/// System.remark_with_event(remark)])`) against both runtimes' metadata: the outer and inner
/// pallet and call indices come from each metadata, the arguments are encoded independently.
#[test]
fn payment_call_on_finney_and_spec_218() {
    use orchestra_chain::subtensor::balances::{PAYMENT_CALLS, transfer_call};
    let dest = [7u8; 32];
    let amount = 100_000_000u64;
    let remark = b"orchestra-key:0123";
    for md in [metadata(), metadata_from(&std::fs::read(SPEC218).expect("spec 218 metadata"))] {
        let (spec, _) = versions(&md);
        let idx = |pallet: &str, call: &str| {
            let p = md.pallet_by_name(pallet).unwrap_or_else(|| panic!("spec {spec}: no pallet {pallet}"));
            (p.call_index(), p.call_variant_by_name(call).unwrap_or_else(|| panic!("no {pallet}.{call}")).index)
        };
        for (pallet, call, args) in PAYMENT_CALLS {
            let v = md.pallet_by_name(pallet).and_then(|p| p.call_variant_by_name(call)).expect("payment call");
            let names: Vec<&str> = v.fields.iter().map(|f| f.name.as_deref().unwrap_or("")).collect();
            assert_eq!(&names, args, "spec {spec}: {pallet}.{call}");
        }
        let (u, batch) = idx("Utility", "batch_all");
        let (b, transfer) = idx("Balances", "transfer_keep_alive");
        let (s, remark_call) = idx("System", "remark_with_event");
        let mut want = vec![u, batch];
        Compact(2u32).encode_to(&mut want);
        want.extend([b, transfer, 0]); // MultiAddress::Id
        want.extend(dest);
        Compact(amount).encode_to(&mut want);
        want.extend([s, remark_call]);
        remark.to_vec().encode_to(&mut want);
        let call = transfer_call(&md, dest, amount, Some(remark)).expect("build");
        assert_eq!(client(md.clone()).tx().call_data(&call).unwrap(), want, "spec {spec}");
        // Without a remark: a plain transfer_keep_alive.
        let plain = transfer_call(&md, dest, amount, None).expect("build");
        let mut want = vec![b, transfer, 0];
        want.extend(dest);
        Compact(amount).encode_to(&mut want);
        assert_eq!(client(md).tx().call_data(&plain).unwrap(), want, "spec {spec}");
    }
}
