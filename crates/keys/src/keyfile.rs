//! Key files in the format of btwallet (the Python SDK's wallet, opentensor/btwallet
//! `src/keyfile.rs`): the JSON document, its NaCl encryption, and reading and writing the files
//! with owner-only permissions.
//!
//! Plaintext JSON fields: `accountId`, `publicKey` (`0x` + 32-byte hex), `privateKey` (`0x` +
//! 64-byte schnorrkel secret), `secretPhrase` (BIP39 mnemonic), `secretSeed` (`0x` + 32-byte
//! mini-secret), `ss58Address`; newer btwallet adds `cryptoType` (1 = sr25519, 0 = ed25519).
//! Encrypted: `b"$NACL"` ‖ 24-byte nonce ‖ XSalsa20-Poly1305 secretbox (MAC ‖ ciphertext) under
//! a key from libsodium's `crypto_pwhash_argon2i13` with the SENSITIVE limits and a fixed salt.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use rand::RngCore;
use serde::Serialize;
use serde_json::{Map, Value};
use zeroize::{Zeroize, Zeroizing};

use crate::error::KeyError;
use crate::keypair::{Keypair, PublicKey, decode_0x_hex};

/// Marks a NaCl-encrypted key file.
const NACL_PREFIX: &[u8] = b"$NACL";
/// btwallet's global salt, `b"\x13q\x83\xdf\xf1Z\t\xbc\x9c\x90\xb5Q\x879\xe9\xb1"`.
const NACL_SALT: [u8; 16] =
    [0x13, 0x71, 0x83, 0xdf, 0xf1, 0x5a, 0x09, 0xbc, 0x9c, 0x90, 0xb5, 0x51, 0x87, 0x39, 0xe9, 0xb1];
/// libsodium `crypto_pwhash_argon2i_OPSLIMIT_SENSITIVE`.
const ARGON2_T_COST: u32 = 8;
/// libsodium `crypto_pwhash_argon2i_MEMLIMIT_SENSITIVE` (512 MiB) in KiB, as libsodium passes it.
const ARGON2_M_COST_KIB: u32 = 512 * 1024;
const NONCE_LEN: usize = 24;
const MAC_LEN: usize = 16;

/// How a key file's bytes are encoded, told by their prefix as btwallet does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encryption {
    /// Plain JSON.
    None,
    /// `$NACL`: current btwallet encryption, supported.
    Nacl,
    /// `$ANSIBLE_VAULT`: old bittensor, not supported.
    AnsibleVault,
    /// `gAAAAA`: legacy Fernet, not supported (btwallet's own decrypt path for it is broken).
    LegacyFernet,
}

impl Encryption {
    /// Detects the encoding from the first bytes of a key file.
    pub fn detect(data: &[u8]) -> Encryption {
        if data.starts_with(NACL_PREFIX) {
            Encryption::Nacl
        } else if data.starts_with(b"$ANSIBLE_VAULT") {
            Encryption::AnsibleVault
        } else if data.starts_with(b"gAAAAA") {
            Encryption::LegacyFernet
        } else {
            Encryption::None
        }
    }
}

/// The NaCl key for `password`: Argon2i v1.3, t=8, m=512 MiB, one lane, 32 bytes, fixed salt.
/// Takes about a second and half a gigabyte, on purpose.
fn derive_key(password: &str, path: &Path) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let crypto = |reason: String| KeyError::Crypto { path: path.to_path_buf(), reason: format!("argon2: {reason}") };
    let params =
        argon2::Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, 1, Some(32)).map_err(|e| crypto(e.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2i, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon.hash_password_into(password.as_bytes(), &NACL_SALT, key.as_mut()).map_err(|e| crypto(e.to_string()))?;
    Ok(key)
}

/// Encrypts a key file's JSON the way btwallet's `encrypt_keyfile_data` does.
pub fn encrypt_nacl(plaintext: &[u8], password: &str, path: &Path) -> Result<Vec<u8>, KeyError> {
    let key = derive_key(password, path)?;
    let cipher = XSalsa20Poly1305::new(key.as_ref().into());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), plaintext)
        .map_err(|e| KeyError::Crypto { path: path.to_path_buf(), reason: format!("secretbox encryption: {e}") })?;
    let mut out = Vec::with_capacity(NACL_PREFIX.len() + NONCE_LEN + sealed.len());
    out.extend_from_slice(NACL_PREFIX);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Decrypts `$NACL` data; a failed MAC means a wrong password.
pub fn decrypt_nacl(data: &[u8], password: &str, path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let body = data.strip_prefix(NACL_PREFIX).ok_or_else(|| KeyError::corrupt(path, "missing $NACL prefix"))?;
    if body.len() < NONCE_LEN + MAC_LEN {
        return Err(KeyError::corrupt(path, format!("encrypted data too short ({} bytes)", data.len())));
    }
    let (nonce, sealed) = body.split_at(NONCE_LEN);
    let key = derive_key(password, path)?;
    let cipher = XSalsa20Poly1305::new(key.as_ref().into());
    cipher
        .decrypt(Nonce::from_slice(nonce), sealed)
        .map(Zeroizing::new)
        .map_err(|_| KeyError::WrongPassword { path: path.to_path_buf() })
}

/// The JSON btwallet writes for a key pair. Field names are btwallet's; `cryptoType` is left out
/// on purpose: btwallet 4.0 parses every value as a string and rejects a number, while 4.1 reads
/// a missing `cryptoType` as sr25519.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyfileOut<'a> {
    account_id: &'a str,
    public_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_phrase: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_seed: Option<&'a str>,
    ss58_address: &'a str,
}

/// Serializes a key pair (and optionally its mnemonic) to btwallet's key file JSON.
/// `mnemonic` must derive `kp` (checked by the caller).
pub fn keypair_to_json(
    kp: &Keypair,
    mnemonic: Option<&str>,
    seed: Option<&[u8; 32]>,
    path: &Path,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let public = kp.public().to_hex();
    let private = Zeroizing::new(format!("0x{}", hex::encode(kp.private_key_bytes().as_slice())));
    let seed = seed.map(|s| Zeroizing::new(format!("0x{}", hex::encode(s))));
    let doc = KeyfileOut {
        account_id: &public,
        public_key: &public,
        private_key: Some(&private),
        secret_phrase: mnemonic,
        secret_seed: seed.as_deref().map(String::as_str),
        ss58_address: kp.ss58(),
    };
    serde_json::to_vec(&doc)
        .map(Zeroizing::new)
        .map_err(|e| KeyError::Crypto { path: path.to_path_buf(), reason: format!("serializing: {e}") })
}

/// The JSON of `coldkeypub.txt` and `hotkeys/<name>pub.txt`.
pub fn public_to_json(pk: &PublicKey, path: &Path) -> Result<Vec<u8>, KeyError> {
    let public = pk.to_hex();
    let ss58 = pk.to_ss58();
    let doc = KeyfileOut {
        account_id: &public,
        public_key: &public,
        private_key: None,
        secret_phrase: None,
        secret_seed: None,
        ss58_address: &ss58,
    };
    serde_json::to_vec(&doc)
        .map_err(|e| KeyError::Crypto { path: path.to_path_buf(), reason: format!("serializing: {e}") })
}

/// A parsed key file whose string values are wiped when it is dropped.
struct Fields(Map<String, Value>);

impl Drop for Fields {
    fn drop(&mut self) {
        for v in self.0.values_mut() {
            if let Value::String(s) = v {
                s.zeroize();
            }
        }
    }
}

impl Fields {
    fn parse(data: &[u8], path: &Path) -> Result<Fields, KeyError> {
        let text = std::str::from_utf8(data)
            .map_err(|_| KeyError::corrupt(path, "not UTF-8 text (nor a known encrypted format)"))?;
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(Fields(map)),
            Ok(_) => Err(KeyError::corrupt(path, "not a JSON object")),
            // serde_json's message has only line and column, never the content.
            Err(e) => Err(KeyError::corrupt(path, format!("not valid JSON ({e})"))),
        }
    }

    /// A string field; JSON null and a missing field are both `None`, as in btwallet.
    fn str(&self, name: &str, path: &Path) -> Result<Option<&str>, KeyError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(KeyError::corrupt(path, format!("field {name} is not a string"))),
        }
    }

    /// Refuses keys of other schemes: an ed25519 secret read as sr25519 would give another account.
    fn check_crypto_type(&self, path: &Path) -> Result<(), KeyError> {
        let ct = match self.0.get("cryptoType") {
            None | Some(Value::Null) => return Ok(()),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(_) => return Err(KeyError::corrupt(path, "field cryptoType is neither a number nor a string")),
        };
        match ct.as_str() {
            "1" => Ok(()),
            "0" => {
                Err(KeyError::UnsupportedCryptoType { path: path.to_path_buf(), crypto_type: ct, scheme: "ed25519" })
            }
            _ => Err(KeyError::UnsupportedCryptoType { path: path.to_path_buf(), crypto_type: ct, scheme: "unknown" }),
        }
    }

    /// The public key the file claims, from `publicKey`, `accountId` or `ss58Address` (first that parses).
    fn claimed_public(&self, path: &Path) -> Result<Option<PublicKey>, KeyError> {
        for name in ["publicKey", "accountId"] {
            if let Some(Ok(pk)) = self.str(name, path)?.map(PublicKey::from_hex) {
                return Ok(Some(pk));
            }
        }
        Ok(self.str("ss58Address", path)?.and_then(|s| PublicKey::from_ss58(s).ok()))
    }
}

/// Builds the key pair from key file JSON with btwallet's precedence:
/// `secretPhrase` > `secretSeed` > `privateKey`.
pub fn keypair_from_json(data: &[u8], path: &Path) -> Result<Keypair, KeyError> {
    let fields = Fields::parse(data, path)?;
    fields.check_crypto_type(path)?;
    let field_err = |name: &str, e: KeyError| KeyError::corrupt(path, format!("field {name}: {e}"));
    let kp = if let Some(phrase) = fields.str("secretPhrase", path)? {
        Keypair::from_phrase(phrase).map_err(|e| field_err("secretPhrase", e))?
    } else if let Some(seed) = fields.str("secretSeed", path)? {
        let bytes = Zeroizing::new(decode_0x_hex(seed, "secretSeed").map_err(|e| field_err("secretSeed", e))?);
        let seed =
            Zeroizing::new(<[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                KeyError::corrupt(path, format!("field secretSeed: {} bytes, expected 32", bytes.len()))
            })?);
        Keypair::from_seed(&seed)
    } else if let Some(private) = fields.str("privateKey", path)? {
        // btwallet strips "0x" if present, so accept bare hex too.
        let digits = private.strip_prefix("0x").unwrap_or(private);
        let bytes = Zeroizing::new(
            hex::decode(digits).map_err(|e| KeyError::corrupt(path, format!("field privateKey: bad hex ({e})")))?,
        );
        Keypair::from_private_key(&bytes).map_err(|e| field_err("privateKey", e))?
    } else {
        return Err(KeyError::NoSecretKey { path: path.to_path_buf() });
    };
    // A file whose secret and address disagree was edited or damaged; signing with a key other
    // than the one the operator sees would be worse than refusing.
    if let Some(claimed) = fields.claimed_public(path)?
        && claimed != kp.public()
    {
        return Err(KeyError::corrupt(
            path,
            format!("its secret derives {} but the file says {}", kp.ss58(), claimed.to_ss58()),
        ));
    }
    Ok(kp)
}

/// Reads the public key from a `*pub.txt` file (or any key file's public fields).
pub fn public_from_json(data: &[u8], path: &Path) -> Result<PublicKey, KeyError> {
    let fields = Fields::parse(data, path)?;
    fields.check_crypto_type(path)?;
    if let Some(s) = fields.str("ss58Address", path)? {
        return PublicKey::from_ss58(s).map_err(|e| KeyError::corrupt(path, format!("field ss58Address: {e}")));
    }
    for name in ["publicKey", "accountId"] {
        if let Some(h) = fields.str(name, path)? {
            return PublicKey::from_hex(h).map_err(|e| KeyError::corrupt(path, format!("field {name}: {e}")));
        }
    }
    Err(KeyError::NoPublicKey { path: path.to_path_buf() })
}

/// Loads a key pair from a key file, decrypting it if it is NaCl-encrypted and a password is given.
/// Refuses files that other users can access (they hold secrets, even when encrypted).
pub fn load_keypair(path: &Path, password: Option<&str>) -> Result<Keypair, KeyError> {
    let data = read_secret_file(path)?;
    match Encryption::detect(&data) {
        Encryption::None => keypair_from_json(&data, path),
        Encryption::Nacl => match password {
            Some(pw) => keypair_from_json(&decrypt_nacl(&data, pw, path)?, path),
            None => Err(KeyError::PasswordRequired { path: path.to_path_buf() }),
        },
        Encryption::AnsibleVault => {
            Err(KeyError::UnsupportedEncryption { path: path.to_path_buf(), format: "Ansible Vault (legacy)" })
        }
        Encryption::LegacyFernet => {
            Err(KeyError::UnsupportedEncryption { path: path.to_path_buf(), format: "legacy Fernet" })
        }
    }
}

/// Loads a public key file (not secret, so no permission check).
pub fn load_public(path: &Path) -> Result<PublicKey, KeyError> {
    let data = fs::read(path).map_err(|e| KeyError::io("reading", path, e))?;
    match Encryption::detect(&data) {
        Encryption::None => public_from_json(&data, path),
        _ => Err(KeyError::corrupt(path, "a public key file must not be encrypted")),
    }
}

/// Reads a file that holds secrets after checking that only its owner can access it.
fn read_secret_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let mut file = fs::File::open(path).map_err(|e| KeyError::io("reading", path, e))?;
    // Checked on the open handle so the file cannot be swapped between check and read.
    let meta = file.metadata().map_err(|e| KeyError::io("reading", path, e))?;
    check_permissions(path, &meta)?;
    let mut data = Zeroizing::new(Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0)));
    file.read_to_end(&mut data).map_err(|e| KeyError::io("reading", path, e))?;
    Ok(data)
}

#[cfg(unix)]
fn check_permissions(path: &Path, meta: &fs::Metadata) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    // Any access by "others" is refused; btwallet writes 0600.
    if mode & 0o007 != 0 {
        return Err(KeyError::Permissions { path: path.to_path_buf(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path, _meta: &fs::Metadata) -> Result<(), KeyError> {
    Ok(())
}

/// Refuses to go on if any of `paths` exists, unless `overwrite`.
pub fn check_overwrite(paths: &[&Path], overwrite: bool) -> Result<(), KeyError> {
    if overwrite {
        return Ok(());
    }
    for path in paths {
        match fs::symlink_metadata(path) {
            Ok(_) => return Err(KeyError::AlreadyExists { path: path.to_path_buf() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(KeyError::io("checking", path, e)),
        }
    }
    Ok(())
}

/// Writes `data` to `path` with mode 0600, creating directories. Atomic: the data goes to a
/// temporary file in the same directory first, then replaces `path` by rename, so a crash never
/// leaves a half-written key file.
pub fn write_private_file(path: &Path, data: &[u8]) -> Result<(), KeyError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| KeyError::io("creating directory", dir, e))?;
    let tmp = temp_path(path);
    let result = write_new_0600(&tmp, data)
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| KeyError::io("renaming into place", path, e)));
    if result.is_err() {
        // Best effort: do not leave a stray copy of a secret behind.
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}-{:08x}", std::process::id(), rand::random::<u32>()))
}

fn write_new_0600(path: &Path, data: &[u8]) -> Result<(), KeyError> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(path).map_err(|e| KeyError::io("creating", path, e))?;
    #[cfg(unix)]
    {
        // The umask can only clear bits; set the mode exactly anyway.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(|e| KeyError::io("setting mode of", path, e))?;
    }
    file.write_all(data).map_err(|e| KeyError::io("writing", path, e))?;
    file.sync_all().map_err(|e| KeyError::io("writing", path, e))?;
    Ok(())
}
