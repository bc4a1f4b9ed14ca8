//! The Ledger keeping itself true, with real processes: the `validator` binary re-probes the
//! simulated subnets (`orchestra subnet-sim` processes), the `miner` binary follows the
//! validator's Ledger API (`--ledger.url`). The search subnet 22 runs in its own simulator
//! process, which the test kills (the subnet is down: connections refused) and starts again on
//! the same port. Checked:
//! - down for longer than the window, 22 moves to degraded (`entry_degraded`, rule `down`, in
//!   `/v1/changes`), and back to verified when it returns (`entry_recovered`);
//! - each change reaches the running miner within one validator round (`--epoch.secs`), and the
//!   miner routes by it: while 22 is degraded its search calls go to 122 and never try 22; once
//!   22 is healthy again it is preferred again;
//! - an approved proposal (drift injected into the data subnet 13, proposed by the validator's
//!   re-probes and approved after its probe) reaches the miner within one round too, and the
//!   miner's calls to 13 then match the approved schema (no more drift proposals).
//!
//! Needs the `orchestra`, `validator` and `miner` binaries (scripts/test.sh builds every binary
//! before the tests).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use orchestra_devnet::{DevnetConfig, DevnetServer};
use orchestra_keys::Keypair;
use orchestra_net::{AxonTarget, Dendrite, DendriteConfig};
use orchestra_proto::receipt::CallStatus;
use orchestra_proto::synapses::Orchestrate;
use orchestra_testkit::{synapse, worked_example};
use serde_json::Value;
use tokio::io::AsyncBufReadExt;

/// Seconds between validation rounds: the bound on how long a change may take to reach a miner.
const EPOCH_SECS: u64 = 3;
/// The upkeep window.
const WINDOW_MS: u64 = 3000;

fn bin(name: &str) -> PathBuf {
    // Test binaries live in target/<profile>/deps; the binaries one level up.
    let exe = std::env::current_exe().expect("exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let p = dir.join(name);
    assert!(p.exists(), "{} is missing: build every binary first (scripts/test.sh does)", p.display());
    p
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A daemon with its output in `log` (killed when dropped).
fn daemon(program: &Path, args: &[String], log: &Path) -> tokio::process::Child {
    let f = std::fs::File::create(log).expect("log");
    tokio::process::Command::new(program)
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::from(f.try_clone().expect("log")))
        .stderr(Stdio::from(f))
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()))
}

/// `orchestra subnet-sim --config CONFIG --ledger-out OUT`, once it printed its ready line.
async fn simulator(config: &Path, out: &Path, log: &Path) -> tokio::process::Child {
    let f = std::fs::File::create(log).expect("log");
    let mut child = tokio::process::Command::new(bin("orchestra"))
        .arg("subnet-sim")
        .arg("--config")
        .arg(config)
        .arg("--ledger-out")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(f))
        .kill_on_drop(true)
        .spawn()
        .expect("spawn subnet-sim");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the simulator did not get ready")
        .expect("read")
        .expect("a ready line");
    let v: Value = serde_json::from_str(&line).expect("ready JSON");
    assert_eq!(v["event"], "ready", "{line}");
    // Keep reading (and dropping) its stdout so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}

async fn get_json(http: &reqwest::Client, url: &str, key: &str) -> Option<Value> {
    http.get(url).bearer_auth(key).send().await.ok()?.json().await.ok()
}

/// The first change event after `since` for `netuid` of `kind`.
async fn wait_event(
    http: &reqwest::Client,
    (api, key): (&str, &str),
    since: u64,
    (netuid, kind): (u16, &str),
    limit: Duration,
) -> Value {
    let t0 = Instant::now();
    loop {
        if let Some(v) = get_json(http, &format!("{api}/v1/changes?since={since}&limit=1000"), key).await
            && let Some(ev) = v["events"]
                .as_array()
                .and_then(|a| a.iter().find(|e| e["kind"] == kind && e["netuid"] == netuid).cloned())
        {
            return ev;
        }
        assert!(t0.elapsed() < limit, "no {kind} event for netuid {netuid} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn last_seq(http: &reqwest::Client, api: &str, key: &str) -> u64 {
    get_json(http, &format!("{api}/v1/changes?since=0&limit=1000"), key)
        .await
        .and_then(|v| v["events"].as_array().and_then(|a| a.last()).and_then(|e| e["seq"].as_u64()))
        .unwrap_or(0)
}

/// When the miner's log first shows a Ledger update bringing `netuid` at `version` or later.
async fn wait_miner_has(log: &Path, netuid: u16, version: u64, limit: Duration) -> u64 {
    let t0 = Instant::now();
    let tag = format!("{netuid}@v");
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let has = text.lines().filter(|l| l.contains("Ledger updated")).any(|l| {
            // `changed=22@v5,13@v4`: the tag right after the `=` or a `,`.
            l.split(['=', ',']).filter_map(|part| part.strip_prefix(&tag)).any(|rest| {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse::<u64>().is_ok_and(|v| v >= version)
            })
        });
        if has {
            return now_ms();
        }
        assert!(t0.elapsed() < limit, "the miner never followed netuid {netuid} to v{version}:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The worked example through the miner (`None` when the miner did not answer).
async fn orchestrate(d: &Dendrite, target: &AxonTarget, task: &str) -> Option<Orchestrate> {
    let r = d.call(target, synapse(&worked_example(task, 20_000)), Duration::from_secs(25)).await;
    r.is_success().then_some(r.synapse)
}

/// The netuids the worked example's search calls went to, in order, with whether each answered
/// (empty when the miner did not answer).
async fn search_calls(d: &Dendrite, target: &AxonTarget, task: &str) -> Vec<(u16, bool)> {
    let Some(o) = orchestrate(d, target, task).await else { return Vec::new() };
    o.receipts
        .iter()
        .filter(|x| x.netuid == 22 || x.netuid == 122)
        .map(|x| (x.netuid, x.status == CallStatus::Ok))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subnet_down_for_the_window_is_degraded_and_recovers_and_the_miner_follows_within_a_round() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let mut dcfg = DevnetConfig::new(d.join("devnet"));
    dcfg.listen = "127.0.0.1:0".parse().expect("addr");
    dcfg.block_time_ms = 100;
    let devnet = DevnetServer::new(dcfg).expect("devnet").spawn();

    // Search 22 alone in one simulator process on a fixed port (so it can come back there); the
    // slower search 122, data 13 and LLM 64 in another.
    let port22 = free_port();
    let (cfg_a, cfg_b) = (d.join("a.toml"), d.join("b.toml"));
    std::fs::write(
        &cfg_a,
        format!("seed = 42\n[[subnet]]\nkind = \"search\"\nnetuid = 22\nname = \"sim-desearch\"\nport = {port22}\n"),
    )
    .expect("write");
    std::fs::write(
        &cfg_b,
        "seed = 42\n[[subnet]]\nkind = \"search\"\nnetuid = 122\nname = \"sim-search-b\"\n[subnet.faults]\nlatency_ms = 100\n\n\
[[subnet]]\nkind = \"data\"\nnetuid = 13\nname = \"sim-data-universe\"\n\n\
[[subnet]]\nkind = \"llm\"\nnetuid = 64\nname = \"sim-chutes\"\n",
    )
    .expect("write");
    let (out_a, out_b) = (d.join("a.json"), d.join("b.json"));
    let mut sim_a = simulator(&cfg_a, &out_a, &d.join("sim-a.log")).await;
    let _sim_b = simulator(&cfg_b, &out_b, &d.join("sim-b.log")).await;
    let mut seed: Vec<Value> = serde_json::from_slice(&std::fs::read(&out_a).expect("a")).expect("json");
    seed.extend(serde_json::from_slice::<Vec<Value>>(&std::fs::read(&out_b).expect("b")).expect("json"));
    let seed_file = d.join("seed.json");
    std::fs::write(&seed_file, serde_json::to_vec(&seed).expect("json")).expect("write");

    let s = |x: &str| x.to_string();
    let api_port = free_port();
    let api = format!("http://127.0.0.1:{api_port}");
    let key_file = d.join("validator.key");
    let validator_log = d.join("validator.log");
    let _validator = daemon(
        &bin("validator"),
        &[
            s("--uri"),
            s("//UpkeepValidator"),
            s("--chain.endpoint"),
            devnet.url.clone(),
            s("--netuid"),
            s("1"),
            s("--data-dir"),
            d.join("v").display().to_string(),
            s("--api.host"),
            s("127.0.0.1"),
            s("--api.port"),
            api_port.to_string(),
            s("--epoch.secs"),
            EPOCH_SECS.to_string(),
            s("--metagraph.sync_secs"),
            s("1"),
            s("--net.allow_private"),
            s("--ledger.seed"),
            seed_file.display().to_string(),
            s("--api.bootstrap_key_file"),
            key_file.display().to_string(),
            // Seeded candidates verified after two probes.
            s("--ledger.verify_probes"),
            s("2"),
            s("--ledger.verify_secs"),
            s("0"),
            s("--ledger.probe_gap_secs"),
            s("0"),
            // Short windows: a probe every ~0.5 s, down = 2+ failures spanning 3 s.
            s("--upkeep.interval_secs"),
            s("0.5"),
            s("--upkeep.cycle_secs"),
            s("0.25"),
            s("--upkeep.window_secs"),
            (WINDOW_MS as f64 / 1000.0).to_string(),
            s("--upkeep.min_samples"),
            s("100000"),
            s("--upkeep.fail_streak"),
            s("2"),
            s("--upkeep.recover_probes"),
            s("2"),
            s("--upkeep.publish_secs"),
            s("1"),
            s("--upkeep.probe_timeout_ms"),
            s("1000"),
            s("--upkeep.deprecate_secs"),
            s("600"),
        ],
        &validator_log,
    );
    let miner_port = free_port();
    let miner_log = d.join("miner.log");
    let miner_key = Keypair::from_uri("//UpkeepMiner").expect("key");
    let _miner = daemon(
        &bin("miner"),
        &[
            s("--uri"),
            s("//UpkeepMiner"),
            s("--chain.endpoint"),
            devnet.url.clone(),
            s("--netuid"),
            s("1"),
            s("--axon.host"),
            s("127.0.0.1"),
            s("--axon.port"),
            miner_port.to_string(),
            s("--axon.no_serve"),
            s("--blacklist.allow_any"),
            s("--net.allow_private"),
            s("--data-dir"),
            d.join("m").display().to_string(),
            s("--ledger.url"),
            api.clone(),
            s("--ledger.key_file"),
            key_file.display().to_string(),
            s("--ledger.sync_secs"),
            s("1"),
        ],
        &miner_log,
    );

    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("http");
    let t0 = Instant::now();
    let key = loop {
        if let Ok(k) = std::fs::read_to_string(&key_file)
            && !k.trim().is_empty()
        {
            break k.trim().to_string();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no API key: {}",
            std::fs::read_to_string(&validator_log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // Every seeded entry verified by the validator's re-probes.
    let t0 = Instant::now();
    loop {
        let v = get_json(&http, &format!("{api}/v1/subnets"), &key).await;
        let all = v
            .as_ref()
            .and_then(|v| v["subnets"].as_array())
            .map(|a| a.len() == 4 && a.iter().all(|e| e["status"] == "verified"));
        if all == Some(true) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "entries not verified: {v:?}\n{}",
            std::fs::read_to_string(&validator_log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The miner follows and routes search to 22, the faster one.
    let caller = Dendrite::new(
        Keypair::from_uri("//UpkeepCaller").expect("key"),
        DendriteConfig { allow_private: true, ..DendriteConfig::default() },
    )
    .expect("dendrite");
    let miner = AxonTarget::new("127.0.0.1", miner_port, miner_key.ss58());
    let t0 = Instant::now();
    let mut n = 0;
    loop {
        n += 1;
        let calls = search_calls(&caller, &miner, &format!("healthy-{n}")).await;
        if calls.first() == Some(&(22, true)) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "the miner never routed search to 22: {calls:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // 22 goes down: its simulator process is killed.
    let since = last_seq(&http, &api, &key).await;
    sim_a.kill().await.expect("kill subnet 22");
    let down_ms = now_ms();
    let degraded = wait_event(&http, (&api, &key), since, (22, "entry_degraded"), Duration::from_secs(30)).await;
    let at = degraded["at_ms"].as_u64().expect("at_ms");
    assert!(at >= down_ms + WINDOW_MS, "degraded {} ms after going down, before the window", at - down_ms);
    assert_eq!(degraded["detail"]["upkeep"]["rule"], "down", "{degraded}");
    let version = degraded["version"].as_u64().expect("version");
    // The change reaches the running miner within one validator round...
    let seen = wait_miner_has(&miner_log, 22, version, Duration::from_secs(20)).await;
    eprintln!(
        "22 degraded {} ms after going down; the miner followed {} ms later",
        at - down_ms,
        seen.saturating_sub(at)
    );
    assert!(seen <= at + EPOCH_SECS * 1000, "the miner followed {} ms after the change", seen - at);
    // ...which routes by it: search goes to 122 and never tries the degraded 22.
    let calls = search_calls(&caller, &miner, "degraded").await;
    assert!(calls.contains(&(122, true)), "{calls:?}");
    assert!(calls.iter().all(|c| c.0 != 22), "a degraded entry is not preferred: {calls:?}");

    // 22 comes back on the same port: verified again.
    let _sim_a = simulator(&cfg_a, &d.join("a2.json"), &d.join("sim-a2.log")).await;
    let after = degraded["seq"].as_u64().unwrap_or(since);
    let recovered = wait_event(&http, (&api, &key), after, (22, "entry_recovered"), Duration::from_secs(30)).await;
    assert!(recovered["seq"].as_u64() > degraded["seq"].as_u64());
    let rat = recovered["at_ms"].as_u64().expect("at_ms");
    let rv = recovered["version"].as_u64().expect("version");
    let seen = wait_miner_has(&miner_log, 22, rv, Duration::from_secs(20)).await;
    eprintln!("22 recovered; the miner followed {} ms later", seen.saturating_sub(rat));
    assert!(seen <= rat + EPOCH_SECS * 1000, "the miner followed {} ms after the change", seen - rat);
    // Preferred again once its reliability over the window shows it healthy.
    let t0 = Instant::now();
    let mut n = 0;
    loop {
        n += 1;
        let calls = search_calls(&caller, &miner, &format!("back-{n}")).await;
        if calls.first() == Some(&(22, true)) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "22 never preferred again: {calls:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // An approved proposal: drift on the data subnet 13 (a new field) that the validator's
    // re-probes keep seeing for a window becomes its own schema-change proposal, probed and
    // approved. Before it, the miner's tasks see the drift (and propose it); once the approved
    // entry reaches the miner, within a round, its calls to 13 match it.
    let data_url = seed
        .iter()
        .find(|e| e["netuid"] == 13)
        .and_then(|e| e["transports"][0]["url"].as_str())
        .and_then(|u| reqwest::Url::parse(u).ok())
        .expect("data subnet url");
    let control = format!(
        "http://{}:{}/control/faults",
        data_url.host_str().unwrap_or("127.0.0.1"),
        data_url.port().unwrap_or(80)
    );
    let since = last_seq(&http, &api, &key).await;
    let drift = serde_json::json!({"drift": {"after_ms": 0, "kind": "add_field", "path": "metadata.scrape_timestamp",
                                             "value": "2026-11-22T10:00:00Z"}});
    assert!(http.post(&control).json(&drift).send().await.expect("faults").status().is_success());
    let before = orchestrate(&caller, &miner, "drift-before").await.expect("the miner answers");
    assert!(
        before.ledger_proposals.iter().any(|p| p.netuid == 13),
        "the miner sees the drift: {:?}",
        before.ledger_proposals
    );
    let changed = wait_event(&http, (&api, &key), since, (13, "schema_changed"), Duration::from_secs(30)).await;
    assert!(changed["detail"]["proposal_id"].is_string(), "{changed}");
    let cat = changed["at_ms"].as_u64().expect("at_ms");
    let seen =
        wait_miner_has(&miner_log, 13, changed["version"].as_u64().expect("version"), Duration::from_secs(20)).await;
    eprintln!("13's schema change approved; the miner followed {} ms later", seen.saturating_sub(cat));
    assert!(seen <= cat + EPOCH_SECS * 1000, "the miner followed {} ms after the approval", seen - cat);
    let after = orchestrate(&caller, &miner, "drift-after").await.expect("the miner answers");
    assert!(after.receipts.iter().any(|r| r.netuid == 13 && r.status == CallStatus::Ok), "{:?}", after.receipts);
    assert!(
        after.ledger_proposals.iter().all(|p| p.netuid != 13),
        "the miner calls 13 by the approved entry: {:?}",
        after.ledger_proposals
    );

    // The change feed shows both.
    let feed = get_json(&http, &format!("{api}/v1/changes?since=0&limit=1000"), &key).await.expect("feed");
    let kinds: Vec<&str> = feed["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["netuid"] == 22)
        .filter_map(|e| e["kind"].as_str())
        .collect();
    let deg = kinds.iter().position(|k| *k == "entry_degraded").expect("degraded in the feed");
    let rec = kinds.iter().rposition(|k| *k == "entry_recovered").expect("recovered in the feed");
    assert!(deg < rec, "{kinds:?}");
    assert!(kinds.contains(&"entry_verified"), "the candidate was verified first: {kinds:?}");
    let _ = devnet.stop().await;
}
