//! `orchestra subnet-sim`: run the SIMULATED subnets (search, data, LLM) until Ctrl-C or SIGTERM, printing
//! one JSON ready line and optionally writing their Ledger entries for miners and validators.
//!
//! With `--axon-only KIND` it runs one SIMULATED subnet served only as a Bittensor v10 axon
//! (no HTTP API), and with `--chain.endpoint` registers the axon's hotkey on `--netuid` of that
//! devnet and announces the axon there, so callers routing through the metagraph find it. Run
//! it several times with different `--axon.key`s for a subnet served by several axons.

use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use orchestra_chain::devnet::DevnetClient;
use orchestra_chain::{AxonServe, Chain};
use orchestra_keys::Keypair;
use orchestra_subnet_sim::{SimConfig, SubnetKind, SubnetSimConfig, ledger, start};

#[derive(Args, Debug)]
pub struct SimArgs {
    /// TOML config (`seed`, `[[subnet]]` kind/netuid/name/port/faults/axon_only/axon_key);
    /// default: the three simulated subnets of the worked example on free ports.
    #[arg(long)]
    pub config: Option<String>,
    /// World file (JSON: pages, posts with sentiment, facts with quotes; see the README's "World
    /// files") served instead of the built-in world or the config's `world`. A bad file is
    /// refused with the problem named.
    #[arg(long)]
    pub world: Option<String>,
    /// Write the Ledger entries of the running simulated subnets (JSON array) here.
    #[arg(long = "ledger-out")]
    pub ledger_out: Option<String>,
    /// Serve one SIMULATED subnet of this kind (`search` or `data`) only as a v10 axon, instead
    /// of the config's subnets. Its Ledger entry routes through the metagraph.
    #[arg(long = "axon-only", value_name = "KIND", value_parser = ["search", "data"])]
    pub axon_only: Option<String>,
    /// The simulated subnet's netuid (with --axon-only).
    #[arg(long, default_value_t = 22)]
    pub netuid: u16,
    /// Dev URI of the axon's hotkey (with --axon-only; default //SimulatedSubnet<netuid>).
    /// Each axon of one subnet needs its own.
    #[arg(long = "axon.key")]
    pub axon_key: Option<String>,
    /// Address the axon binds (with --axon-only).
    #[arg(long = "axon.host", default_value = "127.0.0.1")]
    pub axon_host: String,
    /// Port the axon binds (with --axon-only; 0 = a free one).
    #[arg(long = "axon.port", default_value_t = 0)]
    pub axon_port: u16,
    /// A devnet to register the axon on (with --axon-only): its hotkey is registered on
    /// --netuid (burn paid by --coldkey.uri) unless it already is, and the axon is announced.
    #[arg(long = "chain.endpoint")]
    pub chain_endpoint: Option<String>,
    /// Dev URI of the coldkey paying the registration burn (with --chain.endpoint).
    #[arg(long = "coldkey.uri", default_value = "//Alice")]
    pub coldkey_uri: String,
}

fn axon_only_config(a: &SimArgs, kind: &str) -> SimConfig {
    let kind = if kind == "search" { SubnetKind::Search } else { SubnetKind::Data };
    let name = format!("sim-{}-axon", if kind == SubnetKind::Search { "search" } else { "data" });
    SimConfig {
        seed: 42,
        subnets: vec![SubnetSimConfig {
            kind,
            netuid: a.netuid,
            name,
            host: a.axon_host.clone(),
            port: a.axon_port,
            faults: Default::default(),
            axon_only: true,
            axon_key: a.axon_key.clone(),
        }],
        world_file: None,
        world: orchestra_subnet_sim::World::builtin(),
    }
}

/// Register `hotkey` on `netuid` (unless it is) and announce its axon at `ip:port`; its uid.
async fn register(url: &str, coldkey: &str, hotkey: &str, netuid: u16, ip: IpAddr, port: u16) -> anyhow::Result<u16> {
    let hk = Keypair::from_uri(hotkey).with_context(|| format!("axon key {hotkey}"))?;
    let ck = Keypair::from_uri(coldkey).with_context(|| format!("coldkey {coldkey}"))?;
    let connect = || async { DevnetClient::connect(url).await.with_context(|| format!("devnet at {url}")) };
    let c = connect().await?;
    if c.uid_of(netuid, hk.ss58()).await?.is_none() {
        connect()
            .await?
            .with_coldkey(ck)
            .burned_register(netuid, hk.ss58())
            .await
            .with_context(|| format!("registering {} on netuid {netuid} (does the subnet exist?)", hk.ss58()))?;
    }
    let version = orchestra_proto::wire::SDK_VERSION_AS_INT as u32;
    connect()
        .await?
        .with_hotkey(hk.clone())
        .serve_axon(netuid, &AxonServe::new(ip, port, version))
        .await
        .with_context(|| format!("announcing the axon of {} on netuid {netuid}", hk.ss58()))?;
    c.uid_of(netuid, hk.ss58()).await?.context("registered but not in the metagraph")
}

pub fn run(a: SimArgs) -> anyhow::Result<ExitCode> {
    let cfg = match (&a.axon_only, &a.config) {
        (Some(kind), _) => axon_only_config(&a, kind),
        (None, Some(p)) => SimConfig::from_toml_file(p)?,
        (None, None) => SimConfig::default_trio(),
    };
    let cfg = match &a.world {
        Some(w) => cfg.with_world_file(w)?,
        None => cfg,
    };
    let rt = tokio::runtime::Runtime::new()?;
    let world_name = cfg.world_file.clone().unwrap_or_else(|| "builtin".into());
    rt.block_on(async move {
        let sim = start(cfg).await?;
        let entries: Vec<_> = sim.subnets.iter().map(ledger::entry).collect();
        if let Some(p) = &a.ledger_out {
            std::fs::write(p, serde_json::to_vec_pretty(&entries)?).with_context(|| format!("writing {p}"))?;
        }
        let mut uid = None;
        if let (Some(url), Some(s)) = (&a.chain_endpoint, sim.subnets.first().filter(|s| s.axon_only)) {
            let ip = match s.addr.ip() {
                ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                ip => ip,
            };
            let key = a.axon_key.clone().unwrap_or_else(|| format!("//SimulatedSubnet{}", s.netuid));
            uid = Some(register(url, &a.coldkey_uri, &key, s.netuid, ip, s.addr.port()).await?);
        }
        println!(
            "{}",
            serde_json::json!({"event": "ready", "simulated": true, "world": world_name, "subnets": sim.subnets, "uid": uid})
        );
        orchestra_node::shutdown_signal().await;
        sim.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
