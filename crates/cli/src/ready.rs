//! Typed ready lines: the one JSON line a long-running command (`orchestra devnet`,
//! `orchestra subnet-sim`) prints on stdout once it serves, `{"event":"ready", ...}`. The command
//! prints its view with [`print`]; localnet (and anything else that starts it) reads the same
//! view with [`parse`], so a renamed or missing field is an error naming it, not a `null`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// What `orchestra devnet` says once it serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevnetReady {
    /// The HTTP API, e.g. `http://127.0.0.1:9944`.
    pub url: String,
    /// The block it starts from.
    pub block: u64,
    /// Netuids that already exist.
    pub subnets: Vec<u16>,
    pub block_time_ms: u64,
    pub data_dir: String,
}

/// What `orchestra subnet-sim` says once every subnet serves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimReady {
    /// Always true: these subnets are SIMULATED.
    pub simulated: bool,
    /// The world file, or `builtin`.
    pub world: String,
    pub subnets: Vec<orchestra_subnet_sim::RunningSubnet>,
    /// The uid the axon-only subnet registered as, with `--chain.endpoint`.
    pub uid: Option<u16>,
}

/// The line's envelope: `event` is `"ready"`, the view's fields sit beside it.
#[derive(Serialize, Deserialize)]
struct Line<T> {
    event: String,
    #[serde(flatten)]
    view: T,
}

const READY: &str = "ready";

/// The ready line of `view`.
pub fn line<T: Serialize>(view: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string(&Line { event: READY.into(), view })
}

/// Prints the ready line of `view` on stdout and flushes it (the reader waits for it).
pub fn print<T: Serialize>(view: &T) -> Result<(), serde_json::Error> {
    use std::io::Write;
    println!("{}", line(view)?);
    let _ = std::io::stdout().flush();
    Ok(())
}

/// Reads one stdout line: `None` for anything that is not a ready line (logs, other events); a
/// ready line that does not fit the view is an error naming what is wrong.
pub fn parse<T: DeserializeOwned>(text: &str) -> Option<Result<T, serde_json::Error>> {
    #[derive(Deserialize)]
    struct Event {
        event: Option<String>,
    }
    let e: Event = serde_json::from_str(text).ok()?;
    if e.event.as_deref() != Some(READY) {
        return None;
    }
    Some(serde_json::from_str::<Line<T>>(text).map(|l| l.view))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devnet() -> DevnetReady {
        DevnetReady {
            url: "http://127.0.0.1:9944".into(),
            block: 3,
            subnets: vec![1],
            block_time_ms: 250,
            data_dir: "/tmp/d".into(),
        }
    }

    #[test]
    fn a_printed_line_parses_back_to_its_view() {
        let text = line(&devnet()).expect("line");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["event"], "ready", "{text}");
        assert_eq!(v["url"], "http://127.0.0.1:9944", "the fields sit beside the event: {text}");
        let back: DevnetReady = parse(&text).expect("a ready line").expect("fits");
        assert_eq!(back, devnet());
    }

    #[test]
    fn other_lines_are_skipped_and_a_bad_ready_line_names_the_field() {
        assert!(parse::<DevnetReady>("2026-11-27T17:00:00Z INFO devnet serving").is_none());
        assert!(parse::<DevnetReady>(r#"{"event":"stopped"}"#).is_none());
        assert!(parse::<DevnetReady>(r#"{"level":"INFO","msg":"x"}"#).is_none());
        let e = parse::<DevnetReady>(r#"{"event":"ready","block":1}"#).expect("a ready line").expect_err("no url");
        assert!(e.to_string().contains("url"), "{e}");
    }

    #[test]
    fn the_simulator_line_carries_its_subnets() {
        let text = r#"{"event":"ready","simulated":true,"world":"builtin","uid":null,"subnets":[
            {"kind":"search","netuid":22,"name":"sim-desearch","addr":"127.0.0.1:4000","axon":null}]}"#
            .replace('\n', "");
        let r: SimReady = parse(&text).expect("a ready line").expect("fits");
        assert_eq!(r.subnets.len(), 1);
        assert_eq!((r.subnets[0].netuid, r.subnets[0].addr.port()), (22, 4000));
        assert!(r.simulated && r.uid.is_none());
    }
}
