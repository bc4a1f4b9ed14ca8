//! The `orchestra` command line: its argument types and the command implementations, kept in a
//! library so tests can drive the commands in-process.
//!
//! Commands: `call` (one signed request to any axon, Rust or Python), `wallet create|show`
//! (bittensor-format wallets), `yuma` (what would Yuma Consensus do with these weights?),
//! `owner simulate`, `ledger serve|keys|find|get|watch`, `devnet`, `chain ...`.

pub mod call;
pub mod chain_cmd;
pub mod devnet_cmd;
pub mod ledger_cmd;
pub mod localnet;
pub mod owner;
pub mod sim_cmd;
pub mod submit;
pub mod wallet;
pub mod yuma;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The orchestra CLI.
#[derive(Parser, Debug)]
#[command(name = "orchestra", version, about = "Orchestra: Bittensor subnet tools (calls, wallets, consensus)")]
pub struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long = "logging.json", global = true, env = "ORCHESTRA_LOG_JSON")]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Send one signed synapse to an axon and print the response JSON.
    Call(call::CallArgs),
    /// Create or show a bittensor wallet.
    #[command(subcommand)]
    Wallet(wallet::WalletCommand),
    /// Run one Yuma Consensus epoch on a case file and print the result as JSON.
    Yuma(yuma::YumaArgs),
    /// Run the SIMULATED subnets (search, data, LLM) for local networks and tests.
    SubnetSim(sim_cmd::SimArgs),
    /// Bring up a whole local network (devnet, simulated subnets, miners, validators) and run
    /// the worked example end to end.
    Localnet(localnet::LocalnetArgs),
    /// Run the local subtensor simulator (a devnet; not a chain).
    Devnet(devnet_cmd::DevnetArgs),
    /// Chain operations against a devnet or a subtensor network.
    #[command(subcommand)]
    Chain(chain_cmd::ChainCommand),
    /// Submit an objective to a validator's gateway and print the verified result.
    Submit(submit::SubmitArgs),
    /// Subnet owner tools (policy simulation).
    #[command(subcommand)]
    Owner(owner::OwnerCommand),
    /// The Subnet Ledger: serve the API, manage keys, query it.
    #[command(subcommand)]
    Ledger(ledger_cmd::LedgerCommand),
}

/// Set up `tracing` on stderr (stdout carries command output).
pub fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

/// Run a parsed command. The exit code is the command's verdict; an `Err` is a usage or
/// environment problem.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Call(args) => call::run(args),
        Command::Wallet(cmd) => wallet::run(cmd),
        Command::Yuma(args) => yuma::run(args),
        Command::Owner(cmd) => owner::run(cmd),
        Command::Devnet(a) => devnet_cmd::run(a),
        Command::Chain(cmd) => chain_cmd::run(cmd),
        Command::SubnetSim(a) => sim_cmd::run(a),
        Command::Localnet(a) => localnet::run(a),
        Command::Submit(a) => submit::run(a),
        Command::Ledger(cmd) => ledger_cmd::run(cmd),
    }
}

#[cfg(test)]
mod tests {
    /// Every subcommand's flags (the `--server.*` flags of `ledger serve` and `devnet`
    /// included) have their own ids and names.
    #[test]
    fn flags_are_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
