//! `orchestra subnet-sim`: run the SIMULATED subnets (search, data, LLM) until Ctrl-C or SIGTERM, printing
//! one JSON ready line and optionally writing their Ledger entries for miners and validators.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use orchestra_subnet_sim::{SimConfig, ledger, start};

#[derive(Args, Debug)]
pub struct SimArgs {
    /// TOML config (`seed`, `[[subnet]]` kind/netuid/name/port/faults); default: the three
    /// simulated subnets of the worked example on free ports.
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
}

pub fn run(a: SimArgs) -> anyhow::Result<ExitCode> {
    let cfg = match &a.config {
        Some(p) => SimConfig::from_toml_file(p)?,
        None => SimConfig::default_trio(),
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
        println!(
            "{}",
            serde_json::json!({"event": "ready", "simulated": true, "world": world_name, "subnets": sim.subnets})
        );
        orchestra_node::shutdown::signal().await;
        sim.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
