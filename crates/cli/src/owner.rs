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
