//! `orchestra devnet`: runs the local subtensor simulator (crates/devnet) in this process until
//! Ctrl-C or SIGTERM. It is a simulator for development and tests, not a chain; real networks go
//! through `--subtensor.network`. Prints one JSON line `{"event":"ready","url":...}` on stdout
//! once it accepts requests, so scripts can wait for it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use orchestra_devnet::{DevnetConfig, DevnetServer};

/// Flags of `orchestra devnet`.
#[derive(clap::Args, Debug, Clone)]
pub struct DevnetArgs {
    /// TCP port of the HTTP API (0 picks a free one; the ready line says which).
    #[arg(long, default_value_t = 9955)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Directory of the devnet's database; the state survives restarts.
    #[arg(long = "data-dir", default_value = "./devnet-data")]
    pub data_dir: PathBuf,
    /// Milliseconds between blocks (0: blocks only on `advance_blocks` admin calls).
    #[arg(long = "block-time-ms", default_value_t = 1000)]
    pub block_time_ms: u64,
    /// Tempo (blocks between epochs) of new subnets, including genesis subnet 1.
    #[arg(long, default_value_t = 100)]
    pub tempo: u16,
    /// Emission per block and subnet, in rao.
    #[arg(long = "emission-per-block", default_value_t = 1_000_000_000)]
    pub emission_per_block: u64,
    /// Do not fund //Alice…//Ferdie nor create subnet 1 (owned by //Alice) on a fresh data dir.
    #[arg(long = "no-dev-accounts")]
    pub no_dev_accounts: bool,
    /// Refuse loopback axon IPs as subtensor does (`InvalidIpAddress`).
    #[arg(long = "strict-ips")]
    pub strict_ips: bool,
    #[command(flatten)]
    pub server: orchestra_net::ServerArgs,
}

/// Runs the devnet until a shutdown signal.
pub fn run(a: DevnetArgs) -> anyhow::Result<ExitCode> {
    let listen: SocketAddr = format!("{}:{}", a.host, a.port)
        .parse()
        .with_context(|| format!("--host {} --port {} is not a socket address", a.host, a.port))?;
    let mut config = DevnetConfig::new(&a.data_dir);
    config.listen = listen;
    config.block_time_ms = a.block_time_ms;
    config.tempo = a.tempo;
    config.emission_per_block = a.emission_per_block;
    config.dev_accounts = !a.no_dev_accounts;
    config.allow_loopback_axons = !a.strict_ips;
    config.server = a.server.limits();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("start the async runtime")?;
    rt.block_on(async move {
        let server = DevnetServer::new(config)
            .with_context(|| format!("start the devnet (data dir {})", a.data_dir.display()))?;
        let state = server.state();
        println!(
            "{}",
            serde_json::json!({
                "event": "ready",
                "url": server.url(),
                "block": state.block,
                "subnets": state.subnets.keys().collect::<Vec<_>>(),
                "block_time_ms": a.block_time_ms,
                "data_dir": a.data_dir.display().to_string(),
            })
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        server.run(orchestra_node::shutdown_signal()).await.context("serve the devnet")?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
