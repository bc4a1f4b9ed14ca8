//! Keys and wallets for Orchestra, compatible with the Bittensor Python SDK (`bittensor_wallet`).
//!
//! - [`Keypair`], [`PublicKey`], [`VerifyingKey`]: sr25519 keys, SS58 addresses (format 42) and
//!   signatures exactly as the SDK makes and checks them.
//! - [`Wallet`]: the `~/.bittensor/wallets/<name>` layout and its key files
//!   (plaintext JSON and NaCl-encrypted), readable by the SDK and from it.
//! - [`keyfile`]: the key file format itself, for tools that handle files directly.

mod error;
pub mod keyfile;
mod keypair;
mod wallet;

pub use error::KeyError;
pub use keypair::{
    BatchItem, Keypair, PublicKey, SS58_FORMAT, VerifyingKey, parse_signature_hex, python_message_bytes, verify_batch,
};
pub use wallet::Wallet;
