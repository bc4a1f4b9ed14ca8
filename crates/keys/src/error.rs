//! The one error type of this crate.
//!
//! Every variant that concerns a file carries its path, so an operator reading a log line knows
//! which file to fix. No variant ever carries secret material (phrases, seeds, passwords).

use std::path::PathBuf;

/// Everything that can go wrong while parsing keys or reading and writing wallet files.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file does not exist.
    #[error("key file {path} does not exist (check --wallet.path, --wallet.name and --wallet.hotkey)")]
    NotFound { path: PathBuf },

    /// Reading, writing or creating the file (or its directory) failed.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file holds secrets but other users may access it.
    #[error(
        "key file {path} has mode {mode:03o}, so other users can access it; refusing to use it. Fix: chmod 600 {path}"
    )]
    Permissions { path: PathBuf, mode: u32 },

    /// The file is not a key file we can read: not UTF-8, not JSON, a field of the wrong shape.
    #[error("key file {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },

    /// The JSON has no field from which a secret key can be built.
    #[error(
        "key file {path} holds no secret key (none of secretPhrase, secretSeed, privateKey); it may be a public-key-only file"
    )]
    NoSecretKey { path: PathBuf },

    /// The JSON has no public key at all (for `*pub.txt` files).
    #[error("key file {path} holds no public key (none of publicKey, accountId, ss58Address)")]
    NoPublicKey { path: PathBuf },

    /// The file is NaCl-encrypted but no password was given.
    #[error("key file {path} is encrypted; a password is needed to decrypt it")]
    PasswordRequired { path: PathBuf },

    /// Decryption failed: wrong password (XSalsa20-Poly1305 cannot tell this from a damaged file).
    #[error("wrong password for key file {path} (or the encrypted file is damaged)")]
    WrongPassword { path: PathBuf },

    /// An encryption format btwallet used to write that we do not read.
    #[error(
        "key file {path} is encrypted with {format}, which is not supported; re-encrypt it with a current btcli (NaCl) first"
    )]
    UnsupportedEncryption { path: PathBuf, format: &'static str },

    /// The key file holds a key of a scheme other than sr25519 (btwallet `cryptoType` 0 is ed25519).
    #[error("key file {path} holds a {scheme} key (cryptoType {crypto_type}); only sr25519 keys are supported")]
    UnsupportedCryptoType { path: PathBuf, crypto_type: String, scheme: &'static str },

    /// Creating a key file would replace an existing one.
    #[error("key file {path} already exists; refusing to overwrite it (pass overwrite to replace it)")]
    AlreadyExists { path: PathBuf },

    /// The mnemonic given to store with a key does not derive that key.
    #[error("the mnemonic given for {path} does not derive the key being written")]
    MnemonicMismatch { path: PathBuf },

    /// Key derivation, encryption or serialization failed inside a library.
    #[error("key file {path}: {reason}")]
    Crypto { path: PathBuf, reason: String },

    /// A secret URI (`//Alice`, `<mnemonic>//hard/soft`, `0x<seed>`) could not be parsed.
    /// The URI itself is not echoed because it is a secret.
    #[error("invalid secret URI: {reason}")]
    BadUri { reason: String },

    /// A BIP39 mnemonic could not be parsed. Not echoed: it is a secret.
    #[error("invalid mnemonic phrase: {reason}")]
    BadPhrase { reason: String },

    /// An SS58 address could not be decoded.
    #[error("invalid SS58 address {input:?}: {reason}")]
    BadSs58 { input: String, reason: String },

    /// A hex string (signature, key) could not be decoded.
    #[error("invalid hex for {what}: {reason}")]
    BadHex { what: &'static str, reason: String },

    /// 32 bytes that are not a valid sr25519 (ristretto) public key.
    #[error("invalid sr25519 public key 0x{hex}: {reason}")]
    BadPublicKey { hex: String, reason: String },
}

impl KeyError {
    /// Wraps an I/O error, turning "not found" into [`KeyError::NotFound`].
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> KeyError {
        if source.kind() == std::io::ErrorKind::NotFound && action == "reading" {
            KeyError::NotFound { path: path.to_path_buf() }
        } else {
            KeyError::Io { action, path: path.to_path_buf(), source }
        }
    }

    pub(crate) fn corrupt(path: &std::path::Path, reason: impl Into<String>) -> KeyError {
        KeyError::Corrupt { path: path.to_path_buf(), reason: reason.into() }
    }
}
