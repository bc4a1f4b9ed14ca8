//! `orchestra submit`: send an objective to a validator's gateway and print the verified result
//! (with its receipts, the miner that served it and its scores).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};

#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// The objective, in plain words.
    #[arg(long)]
    pub objective: String,
    /// The target schema: a JSON Schema file, or the README shorthand.
    #[arg(long)]
    pub schema: String,
    /// The gateway (a validator's API URL).
    #[arg(long, env = "ORCHESTRA_GATEWAY_URL", default_value = "http://127.0.0.1:8090")]
    pub url: String,
    /// API key (developer tier or above).
    #[arg(long, env = "ORCHESTRA_API_KEY", hide_env_values = true)]
    pub key: String,
    /// Run a contest among the top N miners (1 = the best miner alone).
    #[arg(long = "top-n", default_value_t = 1)]
    pub top_n: usize,
    /// Deadline in milliseconds.
    #[arg(long = "deadline-ms", default_value_t = 20_000)]
    pub deadline_ms: u64,
    /// Budget in micro-units.
    #[arg(long = "budget", default_value_t = 1_000_000)]
    pub budget_micros: u64,
}

pub fn run(a: SubmitArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&a.schema).with_context(|| format!("reading schema {}", a.schema))?;
    let schema: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", a.schema))?;
    if !schema.is_object() {
        bail!("{}: the schema must be a JSON object", a.schema);
    }
    let body = json!({
        "objective": a.objective,
        "target_schema": schema,
        "contract": {"deadline_ms": a.deadline_ms, "budget_micros": a.budget_micros},
        "top_n": a.top_n,
    });
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (status, out) = rt.block_on(async {
        let http = reqwest::Client::builder().timeout(Duration::from_millis(a.deadline_ms + 30_000)).build()?;
        let resp = http
            .post(format!("{}/v1/objectives", a.url.trim_end_matches('/')))
            .bearer_auth(&a.key)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("reaching the gateway at {}", a.url))?;
        let status = resp.status();
        let out: Value = resp.json().await.context("the gateway's answer is not JSON")?;
        anyhow::Ok((status, out))
    })?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    if status.is_success() && out["state"] == "completed" {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("objective not completed: HTTP {status}");
        Ok(ExitCode::FAILURE)
    }
}
