//! `orchestra wallet create|show`: bittensor-format wallets that the Python SDK and btcli read.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use orchestra_keys::Keypair;
use orchestra_node::WalletArgs;

#[derive(Subcommand, Debug)]
pub enum WalletCommand {
    /// Create a coldkey and a hotkey (new random mnemonics, or from --uri for local networks).
    Create(CreateArgs),
    /// Print the wallet's public keys as JSON (never secrets).
    Show(ShowArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    #[command(flatten)]
    pub wallet: WalletArgs,
    /// Encrypt the coldkey with this password (NaCl, as the SDK does). Prefer the env var.
    #[arg(long, env = "ORCHESTRA_COLDKEY_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Store the coldkey unencrypted (local networks only).
    #[arg(long, conflicts_with = "password")]
    pub no_password: bool,
    /// Derive the hotkey from a dev URI such as //Alice instead of a new mnemonic.
    #[arg(long = "hotkey-uri")]
    pub hotkey_uri: Option<String>,
    /// Derive the coldkey from a dev URI instead of a new mnemonic.
    #[arg(long = "coldkey-uri")]
    pub coldkey_uri: Option<String>,
    /// Only create the hotkey (the coldkey exists).
    #[arg(long)]
    pub hotkey_only: bool,
    /// Replace existing key files.
    #[arg(long)]
    pub overwrite: bool,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    #[command(flatten)]
    pub wallet: WalletArgs,
}

fn key_from(uri: Option<&str>) -> anyhow::Result<(Keypair, Option<String>)> {
    match uri {
        Some(u) => Ok((Keypair::from_uri(u).context("the key URI is not valid")?, None)),
        None => {
            let (kp, phrase) = Keypair::generate();
            Ok((kp, Some(phrase)))
        }
    }
}

pub fn run(cmd: WalletCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        WalletCommand::Create(a) => {
            let w = a.wallet.wallet();
            let mut out = serde_json::Map::new();
            if !a.hotkey_only {
                if a.password.is_none() && !a.no_password {
                    bail!(
                        "the coldkey needs --password (or ORCHESTRA_COLDKEY_PASSWORD), or --no-password for a local network"
                    );
                }
                let (ck, phrase) = key_from(a.coldkey_uri.as_deref())?;
                w.create_coldkey(&ck, phrase.as_deref(), a.password.as_deref(), a.overwrite)?;
                out.insert("coldkey".into(), ck.ss58().into());
                out.insert("coldkey_path".into(), w.coldkey_path().display().to_string().into());
                if let Some(p) = phrase {
                    eprintln!("coldkey mnemonic (write it down, it is not shown again):\n  {p}");
                }
            }
            let (hk, phrase) = key_from(a.hotkey_uri.as_deref())?;
            w.create_hotkey(&hk, phrase.as_deref(), a.overwrite)?;
            out.insert("hotkey".into(), hk.ss58().into());
            out.insert("hotkey_path".into(), w.hotkey_path().display().to_string().into());
            println!("{}", serde_json::Value::Object(out));
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::Show(a) => {
            let w = a.wallet.wallet();
            let mut out = serde_json::Map::new();
            out.insert("name".into(), a.wallet.name.clone().into());
            match w.coldkeypub() {
                Ok(pk) => out.insert("coldkey".into(), pk.to_ss58().into()),
                Err(e) => out.insert("coldkey_error".into(), e.to_string().into()),
            };
            match w.hotkey() {
                Ok(kp) => out.insert("hotkey".into(), kp.ss58().into()),
                Err(e) => out.insert("hotkey_error".into(), e.to_string().into()),
            };
            let ok = out.contains_key("hotkey");
            println!("{}", serde_json::Value::Object(out));
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}
