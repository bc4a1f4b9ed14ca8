//! Bittensor wallets on disk (`~/.bittensor/wallets/<name>/…`), read and written in the layout
//! and format of the Python SDK (the `--wallet.*` flags that name one are `orchestra_node::WalletArgs`).
//!
//! Layout: `<path>/<name>/coldkey`, `coldkeypub.txt`, `hotkeys/<hotkey>`, `hotkeys/<hotkey>pub.txt`.

use std::path::{Path, PathBuf};

use crate::error::KeyError;
use crate::keyfile;
use crate::keypair::{Keypair, PublicKey};

/// A wallet: a directory with one coldkey and any number of hotkeys. Only paths are held; keys
/// are read from disk on each call, so nothing secret lives longer than the caller keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wallet {
    path: PathBuf,
    name: String,
    hotkey: String,
}

impl Wallet {
    /// A wallet named `name` under `path` (a leading `~` is expanded), using hotkey `hotkey`.
    pub fn new(path: impl Into<PathBuf>, name: &str, hotkey: &str) -> Wallet {
        Wallet { path: expand_tilde(path.into()), name: name.to_string(), hotkey: hotkey.to_string() }
    }

    /// The directory holding all wallets (expanded).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The wallet (coldkey) name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The hotkey name.
    pub fn hotkey_name(&self) -> &str {
        &self.hotkey
    }

    /// `<path>/<name>`.
    pub fn dir(&self) -> PathBuf {
        self.path.join(&self.name)
    }

    /// `<path>/<name>/hotkeys/<hotkey>`.
    pub fn hotkey_path(&self) -> PathBuf {
        self.dir().join("hotkeys").join(&self.hotkey)
    }

    /// `<path>/<name>/hotkeys/<hotkey>pub.txt` (written by newer SDKs).
    pub fn hotkeypub_path(&self) -> PathBuf {
        self.dir().join("hotkeys").join(format!("{}pub.txt", self.hotkey))
    }

    /// `<path>/<name>/coldkey`.
    pub fn coldkey_path(&self) -> PathBuf {
        self.dir().join("coldkey")
    }

    /// `<path>/<name>/coldkeypub.txt`.
    pub fn coldkeypub_path(&self) -> PathBuf {
        self.dir().join("coldkeypub.txt")
    }

    /// Loads the hotkey from its plaintext key file. An encrypted hotkey gives
    /// [`KeyError::PasswordRequired`]; use [`Wallet::hotkey_with_password`] for it.
    pub fn hotkey(&self) -> Result<Keypair, KeyError> {
        keyfile::load_keypair(&self.hotkey_path(), None)
    }

    /// Loads the hotkey, decrypting it with `password` if it is encrypted.
    pub fn hotkey_with_password(&self, password: &str) -> Result<Keypair, KeyError> {
        keyfile::load_keypair(&self.hotkey_path(), Some(password))
    }

    /// Loads the coldkey, decrypting it with `password` (a plaintext coldkey loads too).
    /// Decryption derives a key with Argon2i at 512 MiB: expect about a second.
    pub fn coldkey(&self, password: &str) -> Result<Keypair, KeyError> {
        keyfile::load_keypair(&self.coldkey_path(), Some(password))
    }

    /// The coldkey's public key from `coldkeypub.txt`.
    pub fn coldkeypub(&self) -> Result<PublicKey, KeyError> {
        keyfile::load_public(&self.coldkeypub_path())
    }

    /// The hotkey's public key from `hotkeys/<hotkey>pub.txt`.
    pub fn hotkeypub(&self) -> Result<PublicKey, KeyError> {
        keyfile::load_public(&self.hotkeypub_path())
    }

    /// Writes the hotkey (plaintext JSON, as the SDK does by default) and its `pub.txt`.
    /// `mnemonic`, if given, must derive `kp`; it is stored as `secretPhrase`.
    pub fn create_hotkey(&self, kp: &Keypair, mnemonic: Option<&str>, overwrite: bool) -> Result<(), KeyError> {
        self.write_pair(&self.hotkey_path(), &self.hotkeypub_path(), kp, mnemonic, None, overwrite)
    }

    /// Like [`Wallet::create_hotkey`] but NaCl-encrypts the hotkey with `password`.
    pub fn create_hotkey_encrypted(
        &self,
        kp: &Keypair,
        mnemonic: Option<&str>,
        password: &str,
        overwrite: bool,
    ) -> Result<(), KeyError> {
        self.write_pair(&self.hotkey_path(), &self.hotkeypub_path(), kp, mnemonic, Some(password), overwrite)
    }

    /// Writes the coldkey (NaCl-encrypted when `password` is given, plaintext otherwise) and
    /// `coldkeypub.txt`.
    pub fn create_coldkey(
        &self,
        kp: &Keypair,
        mnemonic: Option<&str>,
        password: Option<&str>,
        overwrite: bool,
    ) -> Result<(), KeyError> {
        self.write_pair(&self.coldkey_path(), &self.coldkeypub_path(), kp, mnemonic, password, overwrite)
    }

    fn write_pair(
        &self,
        path: &Path,
        pub_path: &Path,
        kp: &Keypair,
        mnemonic: Option<&str>,
        password: Option<&str>,
        overwrite: bool,
    ) -> Result<(), KeyError> {
        // Both files are checked first so that a refusal changes nothing.
        keyfile::check_overwrite(&[path, pub_path], overwrite)?;
        let from_phrase = match mnemonic {
            Some(m) => {
                let derived = Keypair::from_phrase(m)?;
                if derived.public() != kp.public() {
                    return Err(KeyError::MnemonicMismatch { path: path.into() });
                }
                Some(derived)
            }
            None => None,
        };
        let seed = from_phrase.as_ref().and_then(Keypair::seed).or_else(|| kp.seed());
        let json = keyfile::keypair_to_json(kp, mnemonic, seed, path)?;
        let public = keyfile::public_to_json(&kp.public(), pub_path)?;
        match password {
            Some(pw) => keyfile::write_private_file(path, &keyfile::encrypt_nacl(&json, pw, path)?)?,
            None => keyfile::write_private_file(path, &json)?,
        }
        keyfile::write_private_file(pub_path, &public)
    }
}

/// Expands a leading `~` to `$HOME`, like Python's `os.path.expanduser` for the current user.
fn expand_tilde(path: PathBuf) -> PathBuf {
    let Ok(rest) = path.strip_prefix("~") else {
        return path;
    };
    match std::env::var_os("HOME") {
        Some(home) if !home.is_empty() => PathBuf::from(home).join(rest),
        _ => path,
    }
}
