//! `orchestra owner`: tools for the subnet owner. `simulate` shows what a policy (emission
//! split, score weights) does to each kind of miner before it is published.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use orchestra_incentive::policy::{OrchestrationWeights, OwnerPolicy};
use orchestra_incentive::sim::{SimSpec, simulate, svg, table};

#[derive(Subcommand, Debug)]
pub enum OwnerCommand {
    /// Simulate populations of miners under several splits and score weights; print a table and
    /// write an SVG chart.
    Simulate(SimulateArgs),
    /// Publish the owner policy (split, score weights, half-lives, re-probe rate) as the owner
    /// hotkey's chain commitment; validators started with `--policy.owner <hotkey>` follow it.
    PublishPolicy {
        /// The policy (JSON; `orchestra owner show-default` prints the default to start from).
        #[arg(long)]
        file: String,
        #[arg(long, default_value_t = 1)]
        netuid: u16,
        #[command(flatten)]
        chain: Box<crate::chain_cmd::ChainArgs>,
    },
    /// Print the default policy as JSON.
    ShowDefault,
    /// Read the policy an owner hotkey published.
    ShowPolicy {
        #[arg(long)]
        owner: String,
        #[arg(long, default_value_t = 1)]
        netuid: u16,
        #[command(flatten)]
        chain: Box<crate::chain_cmd::ChainArgs>,
    },
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Epochs to simulate.
    #[arg(long, default_value_t = 20)]
    pub epochs: u64,
    /// Emission splits (orchestration share) to compare, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "0.4,0.6,0.8")]
    pub splits: Vec<f64>,
    /// Base policy file (JSON, as published); defaults to the built-in default policy.
    #[arg(long)]
    pub policy: Option<String>,
    /// Validators send the same task to several miners (shows what copying would earn).
    #[arg(long)]
    pub same_tasks: bool,
    /// Where to write the chart.
    #[arg(long, default_value = "owner-simulation.svg")]
    pub svg: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn run(cmd: OwnerCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        OwnerCommand::ShowDefault => {
            println!("{}", serde_json::to_string_pretty(&OwnerPolicy::default())?);
            Ok(ExitCode::SUCCESS)
        }
        OwnerCommand::PublishPolicy { file, netuid, chain } => {
            let text = std::fs::read(&file).with_context(|| format!("reading policy {file}"))?;
            let policy = OwnerPolicy::from_commitment(&text).with_context(|| format!("policy {file}"))?;
            // Re-encode compactly: the commitment holds at most 128 bytes.
            let bytes = policy.to_commitment()?;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async {
                let hotkey = chain.hotkey()?;
                let who = hotkey.ss58().to_string();
                let c = chain.connect(Some(hotkey), None).await?;
                let tx = c.set_commitment(netuid, &bytes).await.context("set_commitment")?;
                println!("{}", serde_json::json!({"published": true, "owner": who, "netuid": netuid, "bytes": bytes.len(), "block": tx.block_number}));
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        OwnerCommand::ShowPolicy { owner, netuid, chain } => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async {
                let c = chain.connect(None, None).await?;
                let Some(com) = c.commitment(netuid, &owner).await? else {
                    anyhow::bail!("{owner} has published no commitment on netuid {netuid}");
                };
                let bytes = com.fields.iter().find_map(|f| match f {
                    orchestra_chain::CommitmentData::Raw(b) | orchestra_chain::CommitmentData::BigRaw(b) => {
                        Some(b.clone())
                    }
                    _ => None,
                });
                let bytes = bytes.context("the commitment holds no raw data")?;
                let p = OwnerPolicy::from_commitment(&bytes)?;
                println!("{}", serde_json::to_string_pretty(&p)?);
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        OwnerCommand::Simulate(a) => {
            let base = match &a.policy {
                Some(p) => {
                    let text = std::fs::read_to_string(p).with_context(|| format!("reading policy {p}"))?;
                    OwnerPolicy::from_commitment(text.as_bytes()).with_context(|| format!("policy {p}"))?
                }
                None => OwnerPolicy::default(),
            };
            let spec =
                SimSpec { epochs: a.epochs, randomized_tasks: !a.same_tasks, seed: a.seed, ..SimSpec::default() };
            let weight_sets = [
                ("quality-heavy", OrchestrationWeights { quality: 0.6, speed: 0.25, cost: 0.15 }),
                ("speed-heavy", OrchestrationWeights { quality: 0.3, speed: 0.5, cost: 0.2 }),
            ];
            let mut results = Vec::new();
            for split in &a.splits {
                for (name, w) in &weight_sets {
                    let policy = OwnerPolicy { split: *split, orchestration: w.clone(), ..base.clone() };
                    results.push(simulate(&spec, &policy, name).with_context(|| format!("split {split}"))?);
                }
            }
            std::fs::write(&a.svg, svg(&results)).with_context(|| format!("writing {}", a.svg))?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&results)?);
            } else {
                print!("{}", table(&results));
                println!("chart: {}", a.svg);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
