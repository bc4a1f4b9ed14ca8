//! `orchestra yuma`: run Yuma Consensus (the port of subtensor's epoch in crates/yuma) on a case
//! file, so owners can ask "what would Yuma do with these weights?".

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use orchestra_yuma::Variant;

#[derive(Args, Debug)]
#[command(after_long_help = orchestra_yuma::case::CASE_FORMAT_HELP)]
pub struct YumaArgs {
    /// The case file (JSON; format below, example in crates/yuma/examples/case.json). `-` reads stdin.
    #[arg(long)]
    pub input: String,
    /// Bonds variant: yuma2 (classic EMA bonds) or yuma3 (relative bonds, liquid alpha).
    #[arg(long, default_value = "yuma2")]
    pub variant: String,
}

pub fn run(a: YumaArgs) -> anyhow::Result<ExitCode> {
    let variant: Variant = a.variant.parse().map_err(|e| anyhow::anyhow!("--variant: {e}"))?;
    let text = if a.input == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading the case from stdin")?
    } else {
        std::fs::read_to_string(&a.input).with_context(|| format!("reading case file {}", a.input))?
    };
    let out = orchestra_yuma::case::run_case_json(&text, variant).with_context(|| format!("case file {}", a.input))?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}
