//! Keys, addresses and signatures against `shared/vectors/bittensor.json` (made with the Python
//! SDK), plus the parsing rules and properties of the sr25519 layer.

use orchestra_keys::{KeyError, Keypair, PublicKey, VerifyingKey, parse_signature_hex, python_message_bytes};
use proptest::prelude::*;
use serde_json::Value;

/// Substrate's public development phrase; `//Alice` is this phrase with a hard junction.
const DEV_PHRASE: &str = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";

fn vectors() -> Value {
    let shared = std::env::var("ORCHESTRA_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_string());
    let path = format!("{shared}/vectors/bittensor.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e} (set ORCHESTRA_SHARED)"));
    serde_json::from_str(&text).expect("vectors are JSON")
}

#[test]
fn key_vectors_sr25519() {
    let v = vectors();
    let keys = v["keys"].as_array().expect("keys array");
    let mut checked = 0;
    for k in keys.iter().filter(|k| k["scheme"] == "sr25519") {
        let uri = k["uri"].as_str().expect("uri");
        let ss58 = k["ss58"].as_str().expect("ss58");
        let public = k["public_key"].as_str().expect("public_key");
        let kp = Keypair::from_uri(uri).expect("uri parses");
        assert_eq!(kp.ss58(), ss58, "{uri}");
        assert_eq!(hex::encode(kp.public().0), public, "{uri}");
        let pk = PublicKey::from_ss58(ss58).expect("ss58 parses");
        assert_eq!(pk, kp.public());
        assert_eq!(pk.to_ss58(), ss58);
        assert_eq!(PublicKey::from_hex(&format!("0x{public}")).expect("hex"), pk);
        checked += 1;
    }
    assert!(checked >= 2, "expected the //Alice and //Bob vectors");
}

#[test]
fn signature_vectors() {
    let v = vectors();
    let sigs = v["signatures"].as_array().expect("signatures array");
    assert!(sigs.len() >= 4);
    for s in sigs {
        let signer = PublicKey::from_ss58(s["signer_ss58"].as_str().expect("signer")).expect("signer ss58");
        let msg = s["message_utf8"].as_str().expect("message").as_bytes();
        let sig = parse_signature_hex(s["signature"].as_str().expect("signature")).expect("signature hex");
        let valid = s["valid"].as_bool().expect("valid");
        assert_eq!(signer.verify(msg, &sig), valid, "{s}");
        assert_eq!(VerifyingKey::new(&signer).expect("point").verify(msg, &sig), valid, "{s}");
    }
}

#[test]
fn sign_and_verify() {
    let alice = Keypair::from_uri("//Alice").expect("alice");
    let bob = Keypair::from_uri("//Bob").expect("bob");
    let msg = b"1.a.b.uuid.hash";
    let sig = alice.sign(msg);
    assert!(alice.public().verify(msg, &sig));
    assert!(!bob.public().verify(msg, &sig), "wrong signer");
    assert!(!alice.public().verify(b"1.a.b.uuid.hasH", &sig), "changed message");
    let mut bad = sig;
    bad[10] ^= 1;
    assert!(!alice.public().verify(msg, &bad), "changed signature");

    let h = alice.sign_hex(msg);
    assert_eq!(h.len(), 130);
    assert!(h.starts_with("0x"));
    assert!(h[2..].chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)), "lowercase hex: {h}");
    assert!(alice.public().verify(msg, &parse_signature_hex(&h).expect("parses")));
}

#[test]
fn polkadot_js_bytes_wrapping_verifies() {
    let alice = Keypair::from_uri("//Alice").expect("alice");
    let sig = alice.sign(b"<Bytes>hello</Bytes>");
    assert!(alice.public().verify(b"hello", &sig));
    assert!(!alice.public().verify(b"hell", &sig));
}

#[test]
fn parse_signature_hex_errors() {
    let good = format!("0x{}", "ab".repeat(64));
    assert!(parse_signature_hex(&good).is_ok());
    assert!(parse_signature_hex(&good.to_uppercase().replacen("0X", "0x", 1)).is_ok(), "upper-case hex accepted");

    let no_prefix = parse_signature_hex(&"ab".repeat(64)).expect_err("needs 0x");
    assert!(no_prefix.to_string().contains("0x"), "{no_prefix}");
    let short = parse_signature_hex(&format!("0x{}", "ab".repeat(63))).expect_err("63 bytes");
    assert!(short.to_string().contains("63 bytes"), "{short}");
    let not_hex = parse_signature_hex(&format!("0x{}", "zz".repeat(64))).expect_err("not hex");
    assert!(matches!(not_hex, KeyError::BadHex { what: "signature", .. }), "{not_hex}");
    assert!(parse_signature_hex(&format!("0x{}", "ab".repeat(65))).is_err());
}

#[test]
fn ss58_rules() {
    let alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
    let (pk, prefix) = PublicKey::from_ss58_with_prefix(alice).expect("alice");
    assert_eq!(prefix, 42);
    // Alice on Polkadot (prefix 0): accepted, and the prefix is reported.
    let (pk0, prefix0) =
        PublicKey::from_ss58_with_prefix("15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5").expect("polkadot alice");
    assert_eq!((pk0, prefix0), (pk, 0));
    assert_eq!(pk0.to_ss58(), alice, "always written in format 42");
    assert_eq!(pk.to_string(), alice);
    assert_eq!(alice.parse::<PublicKey>().expect("FromStr"), pk);

    // One changed character breaks the checksum.
    let bad = alice.replacen('G', "H", 1);
    let err = PublicKey::from_ss58(&bad).expect_err("checksum");
    assert!(err.to_string().contains(&bad), "names the input: {err}");
    assert!(err.to_string().to_lowercase().contains("checksum"), "{err}");
    for garbage in ["", "0OIl", "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQ", "hello world"] {
        assert!(matches!(PublicKey::from_ss58(garbage), Err(KeyError::BadSs58 { .. })), "{garbage:?}");
    }
    assert!(
        PublicKey::from_hex("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d").is_err(),
        "0x needed"
    );
    assert!(PublicKey::from_hex("0xd435").is_err(), "length");
}

#[test]
fn uri_phrase_and_seed_agree() {
    let from_phrase = Keypair::from_phrase(DEV_PHRASE).expect("dev phrase");
    assert_eq!(Keypair::from_uri(DEV_PHRASE).expect("uri").public(), from_phrase.public());
    assert_eq!(
        Keypair::from_uri(&format!("{DEV_PHRASE}//Alice")).expect("uri").public(),
        Keypair::from_uri("//Alice").expect("alice").public()
    );
    // The dev phrase's mini-secret, as subkey prints it.
    let seed_hex = "fac7959dbfe72f052e5a0c3c8d6530f202b02fd8f9f5ca3580ec8deb7797479e";
    let seed: [u8; 32] = hex::decode(seed_hex).expect("hex").try_into().expect("32");
    assert_eq!(Keypair::from_seed(&seed).public(), from_phrase.public());
    assert_eq!(Keypair::from_uri(&format!("0x{seed_hex}")).expect("seed uri").public(), from_phrase.public());
    // Soft and hard paths give different keys.
    let hard = Keypair::from_uri("//Alice//stash").expect("hard");
    let soft = Keypair::from_uri("//Alice/stash").expect("soft");
    assert_ne!(hard.public(), soft.public());
    assert_eq!(Keypair::from_private_key(&seed).expect("32-byte private key is a seed").public(), from_phrase.public());
}

#[test]
fn bad_secrets_are_not_echoed() {
    let secret = "bottom drive obey lake curtain smoke basket hold race lonely fit wal";
    let err = Keypair::from_phrase(secret).expect_err("bad word");
    assert!(!err.to_string().contains("lonely"), "{err}");
    let err = Keypair::from_uri(&format!("{secret}//x")).expect_err("bad uri");
    assert!(!err.to_string().contains("lonely"), "{err}");
    let err = Keypair::from_uri("0x1234").expect_err("short seed");
    assert!(matches!(err, KeyError::BadUri { .. }), "{err}");
    assert!(Keypair::from_private_key(&[1u8; 10]).is_err());
}

#[test]
fn generate_gives_a_recoverable_12_word_phrase() {
    let (kp, phrase) = Keypair::generate();
    assert_eq!(phrase.split_whitespace().count(), 12);
    assert_eq!(Keypair::from_phrase(&phrase).expect("phrase").public(), kp.public());
    assert_ne!(Keypair::generate().0.public(), kp.public());
}

#[test]
fn debug_hides_secrets() {
    let (kp, phrase) = Keypair::generate();
    let dbg = format!("{kp:?}");
    assert!(dbg.contains(kp.ss58()), "{dbg}");
    for word in phrase.split_whitespace() {
        assert!(!dbg.contains(&format!(" {word} ")), "{dbg}");
    }
    assert!(dbg.len() < 120, "only the address: {dbg}");
}

#[test]
fn python_message_bytes_rules() {
    assert_eq!(python_message_bytes("1.a.b").expect("plain"), b"1.a.b");
    assert_eq!(python_message_bytes("0x0102ff").expect("hex"), vec![1, 2, 255]);
    assert!(python_message_bytes("0xzz").is_err());
}

#[test]
fn verifying_key_rejects_invalid_points() {
    // Not a canonical ristretto encoding.
    assert!(VerifyingKey::new(&PublicKey([0xff; 32])).is_err());
    assert!(!PublicKey([0xff; 32]).verify(b"m", &[0u8; 64]));
    let alice = Keypair::from_uri("//Alice").expect("alice");
    let vk = VerifyingKey::new(&alice.public()).expect("valid");
    assert_eq!(vk.public(), alice.public());
    assert!(!vk.verify(b"m", &[0u8; 64]), "malformed signature is just invalid");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn sign_verify_roundtrip(seed in any::<[u8; 32]>(), msg in proptest::collection::vec(any::<u8>(), 0..256)) {
        let kp = Keypair::from_seed(&seed);
        let sig = kp.sign(&msg);
        prop_assert!(kp.public().verify(&msg, &sig));
        let vk = VerifyingKey::new(&kp.public()).expect("own key is valid");
        prop_assert!(vk.verify(&msg, &parse_signature_hex(&kp.sign_hex(&msg)).expect("hex")));
        let mut other = msg.clone();
        other.push(0);
        prop_assert!(!vk.verify(&other, &sig));
    }

    #[test]
    fn ss58_roundtrip(bytes in any::<[u8; 32]>()) {
        let pk = PublicKey(bytes);
        let s = pk.to_ss58();
        prop_assert!(s.starts_with('5'));
        prop_assert_eq!(PublicKey::from_ss58_with_prefix(&s).expect("own encoding"), (pk, 42));
    }
}
