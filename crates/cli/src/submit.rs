//! `orchestra submit`: send an objective to a validator's gateway and print the verified result
//! (with its receipts, the miner that served it and its scores).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use orchestra_ledger_api::ErrorBody;
use orchestra_proto::contract::Contract;
use orchestra_proto::gateway::{ObjectiveRecord, ObjectiveRequest, ObjectiveState};
use serde_json::Value;

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
    let request = ObjectiveRequest::new(&a.objective, schema)
        .with_contract(Contract { deadline_ms: a.deadline_ms, budget_micros: a.budget_micros, ..Contract::default() })
        .with_top_n(a.top_n);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (status, body) = rt.block_on(async {
        let http = reqwest::Client::builder().timeout(Duration::from_millis(a.deadline_ms + 30_000)).build()?;
        let resp = http
            .post(format!("{}/v1/objectives", a.url.trim_end_matches('/')))
            .bearer_auth(&a.key)
            .json(&request)
            .send()
            .await
            .with_context(|| format!("reaching the gateway at {}", a.url))?;
        let status = resp.status();
        let body = resp.text().await.context("reading the gateway's answer")?;
        anyhow::Ok((status, body))
    })?;
    match answer(status.as_u16(), &body)? {
        Answer::Record(rec) => {
            println!("{}", serde_json::to_string_pretty(&rec)?);
            if rec.state == ObjectiveState::Completed {
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!("objective {}: {}", rec.state, rec.reason.as_deref().unwrap_or("no reason given"));
        }
        Answer::Refused(e) => eprintln!("the gateway refused the objective: HTTP {status} {}: {}", e.code, e.error),
    }
    Ok(ExitCode::FAILURE)
}

/// What the gateway answered: a record (any success status) or a refusal.
#[derive(Debug)]
pub enum Answer {
    Record(Box<ObjectiveRecord>),
    Refused(ErrorBody),
}

/// Reads the gateway's answer to `POST /v1/objectives`; anything that is neither view is an
/// error naming the status and the start of the body.
pub fn answer(status: u16, body: &str) -> anyhow::Result<Answer> {
    let head: String = body.chars().take(300).collect();
    if (200..300).contains(&status) {
        let rec = serde_json::from_str(body)
            .with_context(|| format!("the gateway's HTTP {status} answer is not an objective record: {head}"))?;
        return Ok(Answer::Record(Box::new(rec)));
    }
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(e) => Ok(Answer::Refused(e)),
        Err(_) => bail!("the gateway answered HTTP {status}: {head}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_records_or_refusals() {
        let rec = serde_json::json!({
            "id": "obj-1", "request": {"objective": "x", "target_schema": {"a": "str"}}, "state": "completed",
            "result": {"a": "y"}, "miner": "5H1", "scores": null, "receipts": [], "receipt_root": null,
            "revisions": [], "contestants": []
        });
        match answer(201, &rec.to_string()).expect("record") {
            Answer::Record(r) => assert_eq!((r.id.as_str(), r.state), ("obj-1", ObjectiveState::Completed)),
            other => panic!("{other:?}"),
        }
        match answer(429, r#"{"error":"slow down","code":"rate_limited"}"#).expect("refusal") {
            Answer::Refused(e) => assert_eq!(e.code, "rate_limited"),
            other => panic!("{other:?}"),
        }
        let e = answer(502, "<html>bad gateway</html>").expect_err("not JSON");
        assert!(e.to_string().contains("HTTP 502") && e.to_string().contains("bad gateway"), "{e}");
        let e = answer(200, r#"{"state":"completed"}"#).expect_err("not a record");
        assert!(e.to_string().contains("not an objective record"), "{e}");
    }
}
