//! sr25519 keys as Bittensor uses them: key pairs built the way sp-core builds them (URIs,
//! mnemonics, seeds), SS58 addresses (format 42), and signatures made and checked exactly like
//! `bittensor_wallet.Keypair` (schnorrkel, signing context `b"substrate"`).

use std::fmt;

use sp_core::crypto::{Ss58AddressFormat, Ss58Codec};
use sp_core::{Pair as _, sr25519};
use zeroize::Zeroizing;

use crate::error::KeyError;

/// The SS58 address format of Bittensor (generic Substrate, addresses start with "5").
pub const SS58_FORMAT: u16 = 42;

/// schnorrkel signing context of sp-core's sr25519, used by every Substrate signer.
const SIGNING_CTX: &[u8] = b"substrate";

/// polkadot.js `signRaw` wraps the message in these; `Keypair.verify` in Python retries with them.
const BYTES_OPEN: &[u8] = b"<Bytes>";
const BYTES_CLOSE: &[u8] = b"</Bytes>";

/// An sr25519 key pair (a hotkey or a coldkey).
///
/// `Debug` prints only the address: the secret never reaches a log.
#[derive(Clone)]
pub struct Keypair {
    pair: sr25519::Pair,
    public: PublicKey,
    ss58: String,
    /// The 32-byte mini-secret when the pair was built from one (phrase, seed, hard-only URI); it is
    /// what btwallet stores as `secretSeed`. Unknown for keys loaded from `privateKey` or soft paths.
    seed: Option<Zeroizing<[u8; 32]>>,
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair").field("ss58", &self.ss58).finish_non_exhaustive()
    }
}

impl Keypair {
    fn from_pair(pair: sr25519::Pair, seed: Option<[u8; 32]>) -> Keypair {
        let mut raw = [0u8; 32];
        raw.copy_from_slice(pair.public().as_ref());
        let public = PublicKey(raw);
        let ss58 = public.to_ss58();
        Keypair { pair, public, ss58, seed: seed.map(Zeroizing::new) }
    }

    /// A key from a Substrate secret URI, with sp-core's `Pair::from_string` semantics:
    /// `//Alice` (dev phrase + hard junction), `<mnemonic>//hard/soft///password`, `0x<32-byte seed>`.
    pub fn from_uri(uri: &str) -> Result<Keypair, KeyError> {
        let (pair, seed) = sr25519::Pair::from_string_with_seed(uri, None)
            .map_err(|e| KeyError::BadUri { reason: describe_secret_error(&e) })?;
        Ok(Keypair::from_pair(pair, seed))
    }

    /// A key from a BIP39 English mnemonic, as `Keypair.create_from_mnemonic` (no BIP39 password).
    pub fn from_phrase(phrase: &str) -> Result<Keypair, KeyError> {
        let (pair, seed) = sr25519::Pair::from_phrase(phrase, None)
            .map_err(|e| KeyError::BadPhrase { reason: describe_secret_error(&e) })?;
        Ok(Keypair::from_pair(pair, Some(seed)))
    }

    /// A key from a 32-byte mini-secret (btwallet's `secretSeed`).
    pub fn from_seed(seed: &[u8; 32]) -> Keypair {
        Keypair::from_pair(sr25519::Pair::from_seed(seed), Some(*seed))
    }

    /// A key from btwallet's `privateKey`: 64 bytes (schnorrkel key ‖ nonce) or a 32-byte
    /// mini-secret, like sp-core's `from_seed_slice`.
    pub fn from_private_key(bytes: &[u8]) -> Result<Keypair, KeyError> {
        let pair = sr25519::Pair::from_seed_slice(bytes).map_err(|e| KeyError::BadHex {
            what: "private key",
            reason: format!("{} ({} bytes; expected 32 or 64)", describe_secret_error(&e), bytes.len()),
        })?;
        let seed = <[u8; 32]>::try_from(bytes).ok();
        Ok(Keypair::from_pair(pair, seed))
    }

    /// A fresh random key and its 12-word mnemonic.
    pub fn generate() -> (Keypair, String) {
        let (pair, phrase, seed) = sr25519::Pair::generate_with_phrase(None);
        (Keypair::from_pair(pair, Some(seed)), phrase)
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// The SS58 address (format 42), computed once.
    pub fn ss58(&self) -> &str {
        &self.ss58
    }

    /// Signs `msg` as `bittensor_wallet.Keypair.sign(bytes)` does. Signatures are randomized
    /// (schnorrkel), so two signatures of one message differ; both verify.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        let sig = self.pair.sign(msg);
        let mut out = [0u8; 64];
        out.copy_from_slice(sig.as_ref());
        out
    }

    /// [`Keypair::sign`] as the SDK puts it on the wire: `"0x"` + 128 lowercase hex digits.
    pub fn sign_hex(&self, msg: &[u8]) -> String {
        format!("0x{}", hex::encode(self.sign(msg)))
    }

    /// The 32-byte mini-secret if known (see the field); btwallet writes it as `secretSeed`.
    pub(crate) fn seed(&self) -> Option<&[u8; 32]> {
        self.seed.as_deref()
    }

    /// The 64-byte schnorrkel secret (key ‖ nonce), sp-core's `to_raw_vec`; btwallet's `privateKey`.
    pub(crate) fn private_key_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.pair.to_raw_vec())
    }
}

/// Maps sp-core's secret-string errors to text that never quotes the secret (sp-core's own
/// `Display` for a bad character prints the whole input).
fn describe_secret_error(e: &sp_core::crypto::SecretStringError) -> String {
    use sp_core::crypto::SecretStringError as E;
    match e {
        E::InvalidFormat(_) => "malformed (bad character or empty path segment)".into(),
        E::InvalidPhrase => "not a valid BIP39 English mnemonic".into(),
        E::InvalidPassword => "invalid password".into(),
        E::InvalidSeed => "invalid seed (a 0x seed must be exactly 32 bytes of hex)".into(),
        E::InvalidSeedLength => "invalid seed length".into(),
        E::InvalidPath => "invalid derivation path".into(),
    }
}

/// A 32-byte sr25519 public key (the account id).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Decodes an SS58 address, checking its checksum. Any non-reserved prefix is accepted; use
    /// [`PublicKey::from_ss58_with_prefix`] to see which one it was.
    pub fn from_ss58(s: &str) -> Result<PublicKey, KeyError> {
        PublicKey::from_ss58_with_prefix(s).map(|(pk, _)| pk)
    }

    /// Decodes an SS58 address and returns its address-format prefix too (42 on Bittensor).
    pub fn from_ss58_with_prefix(s: &str) -> Result<(PublicKey, u16), KeyError> {
        let (public, format) = sr25519::Public::from_ss58check_with_version(s)
            .map_err(|e| KeyError::BadSs58 { input: s.to_string(), reason: e.to_string() })?;
        let mut raw = [0u8; 32];
        raw.copy_from_slice(public.as_ref());
        Ok((PublicKey(raw), u16::from(format)))
    }

    /// The SS58 address in format 42.
    pub fn to_ss58(&self) -> String {
        sr25519::Public::from_raw(self.0).to_ss58check_with_version(Ss58AddressFormat::custom(SS58_FORMAT))
    }

    /// Parses `"0x"` + 64 hex digits (the `publicKey` field of key files).
    pub fn from_hex(s: &str) -> Result<PublicKey, KeyError> {
        let bytes = decode_0x_hex(s, "public key")?;
        let raw = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| KeyError::BadHex {
            what: "public key",
            reason: format!("{} bytes, expected 32", bytes.len()),
        })?;
        Ok(PublicKey(raw))
    }

    /// `"0x"` + 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }

    /// Checks a signature like `bittensor_wallet.Keypair.verify`: the raw message first, then the
    /// polkadot.js `<Bytes>…</Bytes>` wrapping. Decompresses the key on each call; on a hot path
    /// keep a [`VerifyingKey`] instead.
    pub fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        VerifyingKey::new(self).is_ok_and(|vk| vk.verify(msg, sig))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_ss58())
    }
}

impl std::str::FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<PublicKey, KeyError> {
        PublicKey::from_ss58(s)
    }
}

/// A decompressed verifying key kept in caches for the hot path (an axon verifies every request):
/// decompressing the ristretto point costs on every call, so this holds the `schnorrkel::PublicKey`.
#[derive(Clone)]
pub struct VerifyingKey {
    key: schnorrkel::PublicKey,
    public: PublicKey,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VerifyingKey").field(&self.public.to_ss58()).finish()
    }
}

impl VerifyingKey {
    /// Decompresses `pk`; fails if the 32 bytes are not a valid ristretto point.
    pub fn new(pk: &PublicKey) -> Result<Self, KeyError> {
        let key = schnorrkel::PublicKey::from_bytes(&pk.0)
            .map_err(|e| KeyError::BadPublicKey { hex: hex::encode(pk.0), reason: e.to_string() })?;
        Ok(VerifyingKey { key, public: *pk })
    }

    /// The public key this was built from.
    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// The raw message only (no `<Bytes>` retry): what [`verify_batch`] checks per item.
    pub fn verify_raw(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        schnorrkel::Signature::from_bytes(sig).is_ok_and(|sig| self.key.verify_simple(SIGNING_CTX, msg, &sig).is_ok())
    }

    /// Same rules as [`PublicKey::verify`].
    pub fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        let Ok(sig) = schnorrkel::Signature::from_bytes(sig) else {
            return false;
        };
        if self.key.verify_simple(SIGNING_CTX, msg, &sig).is_ok() {
            return true;
        }
        // Only failures pay for the copy: the wrapped form is rare.
        let wrapped = [BYTES_OPEN, msg, BYTES_CLOSE].concat();
        self.key.verify_simple(SIGNING_CTX, &wrapped, &sig).is_ok()
    }
}

/// One signature of a batch: who signed, what, and the 64 signature bytes.
#[derive(Debug, Clone, Copy)]
pub struct BatchItem<'a> {
    pub key: &'a VerifyingKey,
    pub msg: &'a [u8],
    pub sig: &'a [u8; 64],
}

/// Checks many signatures at once (schnorrkel's batch verification: one multiscalar
/// multiplication with random coefficients instead of one double-scalar multiplication per
/// signature), over the raw messages only. `true` means every signature holds; `false` means
/// at least one does not (or does not parse), without saying which: check each with
/// [`VerifyingKey::verify`] then, which also accepts the `<Bytes>` wrapping.
///
/// Keys are deduplicated (many requests from one validator cost one key term), and the
/// coefficients come from the thread's CSPRNG, as schnorrkel's own `verify_batch` draws them.
pub fn verify_batch(items: &[BatchItem<'_>]) -> bool {
    match items {
        [] => return true,
        [one] => return one.key.verify_raw(one.msg, one.sig),
        _ => {}
    }
    let mut sigs = Vec::with_capacity(items.len());
    for it in items {
        match schnorrkel::Signature::from_bytes(it.sig) {
            Ok(s) => sigs.push(s),
            Err(_) => return false,
        }
    }
    let keys: Vec<schnorrkel::PublicKey> = items.iter().map(|it| it.key.key).collect();
    let ctx = schnorrkel::signing_context(SIGNING_CTX);
    let transcripts = items.iter().map(|it| ctx.bytes(it.msg));
    schnorrkel::verify_batch_rng(transcripts, &sigs, &keys, true, rand::thread_rng()).is_ok()
}

/// Parses a signature as the SDK sends it: `"0x"` + 128 hex digits (either case).
pub fn parse_signature_hex(s: &str) -> Result<[u8; 64], KeyError> {
    let bytes = decode_0x_hex(s, "signature")?;
    <[u8; 64]>::try_from(bytes.as_slice()).map_err(|_| KeyError::BadHex {
        what: "signature",
        reason: format!("{} bytes, expected 64 (\"0x\" + 128 hex digits)", bytes.len()),
    })
}

/// The bytes the Python SDK signs for a `str` message: a string starting with `"0x"` is
/// hex-decoded first (btwallet `python_bindings.rs`), any other string is its UTF-8 bytes.
/// The v10 dendrite/axon messages start with a nonce, so they are always plain UTF-8.
pub fn python_message_bytes(msg: &str) -> Result<Vec<u8>, KeyError> {
    match msg.strip_prefix("0x") {
        Some(_) => decode_0x_hex(msg, "message"),
        None => Ok(msg.as_bytes().to_vec()),
    }
}

/// Decodes `"0x"`-prefixed hex; the prefix is required.
pub(crate) fn decode_0x_hex(s: &str, what: &'static str) -> Result<Vec<u8>, KeyError> {
    let digits =
        s.strip_prefix("0x").ok_or_else(|| KeyError::BadHex { what, reason: "missing \"0x\" prefix".into() })?;
    hex::decode(digits).map_err(|e| KeyError::BadHex { what, reason: e.to_string() })
}
