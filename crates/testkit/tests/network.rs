//! A whole network with the real validator binary: devnet, simulated subnets, an honest miner
//! (the real miner node), a hallucinating one (made-up prices, correctly re-signed) and a slow
//! one (honest but past its deadline). After a few rounds and devnet epochs the honest miner has
//! the largest incentive. Then the validator is killed with SIGKILL and restarted on the same
//! data directory: its scores continue and it does not resubmit weights inside the rate-limit
//! window (no `SettingWeightsTooFast`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use orchestra_chain::devnet::DevnetClient;
use orchestra_chain::{AxonServe, Chain};
use orchestra_devnet::{AdminCall, AdminClient, DevnetConfig, DevnetServer};
use orchestra_keys::Keypair;
use orchestra_miner::node::{MinerConfig, MinerNode};
use orchestra_miner::pipeline::MinerCore;
use orchestra_net::{Axon, AxonConfig, BlacklistPolicy};
use orchestra_proto::receipt::{commitment, result_digest};
use orchestra_proto::synapses::Orchestrate;
use serde_json::{Value, json};

const TAO: u64 = 1_000_000_000;
const NETUID: u16 = 1;

fn validator_bin() -> PathBuf {
    // Test binaries live in target/<profile>/deps; the daemons one level up.
    let exe = std::env::current_exe().expect("exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let p = dir.join("validator");
    assert!(p.exists(), "{} is missing: build every binary first (scripts/test.sh does)", p.display());
    p
}

fn spawn_validator(data: &Path, chain: &str, ledger: &Path, api_port: u16, log: &Path) -> Child {
    let log = std::fs::File::create(log).expect("log");
    Command::new(validator_bin())
        .args(["--uri", "//NetValidator", "--chain.endpoint", chain, "--netuid", "1", "--data-dir"])
        .arg(data)
        .args(["--api.host", "127.0.0.1", "--api.port", &api_port.to_string(), "--epoch.secs", "2"])
        .args(["--tasks.deadline_ms", "4000", "--metagraph.sync_secs", "1", "--net.allow_private", "--ledger.seed"])
        .arg(ledger)
        .stdout(Stdio::from(log.try_clone().expect("log")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn validator")
}

/// An axon that answers Orchestrate through a real pipeline, then tampers with the answer.
async fn rogue_miner(key: Keypair, core: Arc<MinerCore>, mode: &'static str) -> u16 {
    let cfg = AxonConfig { policy: BlacklistPolicy::allow_all(), ..AxonConfig::default() };
    let k2 = key.clone();
    let axon = Axon::new(cfg, key)
        .expect("axon")
        .attach(move |_ctx, req: Orchestrate| {
            let (core, key) = (core.clone(), k2.clone());
            async move {
                let mut out = core.orchestrate(req).await;
                if mode == "hallucinate" {
                    if let Some(r) = out.result.as_mut() {
                        hallucinate(r);
                        if let (Some(root), Ok(d)) = (out.receipt_root, result_digest(r)) {
                            out.miner_signature = Some(key.sign_hex(&commitment(&out.task_id, &d, &root).0));
                        }
                    }
                } else {
                    // Slow: answers correctly, but after its deadline (the validator still hears it).
                    tokio::time::sleep(Duration::from_millis(4200)).await;
                }
                Ok(out)
            }
        })
        .expect("attach");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let _ = axon.serve(listener, std::future::pending()).await;
    });
    port
}

fn hallucinate(v: &mut Value) {
    match v {
        Value::Number(_) => *v = json!(0.42),
        Value::String(s) => *s = "Imaginary GPU Cloud, the best price anywhere".into(),
        Value::Array(a) => a.iter_mut().for_each(hallucinate),
        Value::Object(m) => m.values_mut().for_each(hallucinate),
        _ => {}
    }
}

/// //Alice (funded, owner of the devnet's genesis subnet 1) sets short weight limits, registers
/// `hotkeys`, stakes the first one as the validator and runs the first epoch (permits).
async fn setup_subnet(url: &str, weights_rate_limit: u64, hotkeys: &[&str]) -> Vec<Keypair> {
    let alice = Keypair::from_uri("//Alice").expect("key");
    let admin = AdminClient::new(url, alice.clone()).expect("admin");
    let mut hp = serde_json::Map::new();
    hp.insert("weights_rate_limit".into(), json!(weights_rate_limit));
    hp.insert("min_allowed_weights".into(), json!(1));
    admin.submit(AdminCall::SetHyperparams { netuid: NETUID, hyperparams: hp }).await.expect("hyperparams");
    let reg = DevnetClient::connect(url).await.expect("chain").with_coldkey(alice);
    let keys: Vec<Keypair> = hotkeys.iter().map(|u| Keypair::from_uri(u).expect("k")).collect();
    for k in &keys {
        reg.burned_register(NETUID, k.ss58()).await.expect("register");
    }
    admin
        .submit(AdminCall::AddStake { netuid: NETUID, hotkey: keys[0].ss58().into(), amount: 1000 * TAO })
        .await
        .expect("stake");
    admin.submit(AdminCall::AdvanceBlocks { blocks: 22 }).await.expect("first epoch: permits");
    keys
}

/// The simulated subnets and a Ledger file describing them.
async fn start_sim(
    dir: &Path,
) -> (orchestra_subnet_sim::SimHandle, Vec<orchestra_proto::ledger::LedgerEntry>, PathBuf) {
    let sim = orchestra_subnet_sim::start(orchestra_subnet_sim::SimConfig::default_trio()).await.expect("sim");
    let entries: Vec<_> = sim.subnets.iter().map(orchestra_subnet_sim::ledger::entry).collect();
    let ledger = dir.join("ledger.json");
    std::fs::write(&ledger, serde_json::to_vec(&entries).expect("json")).expect("write");
    (sim, entries, ledger)
}

/// The real miner node as //NetHonest, serving until the test ends.
async fn start_honest_miner(url: &str, dir: &Path, ledger: &Path) {
    let mcfg = MinerConfig::try_parse_from([
        "miner",
        "--uri",
        "//NetHonest",
        "--chain.endpoint",
        url,
        "--netuid",
        "1",
        "--axon.host",
        "127.0.0.1",
        "--axon.port",
        "0",
        "--data-dir",
        &dir.join("m").display().to_string(),
        "--ledger.file",
        &ledger.display().to_string(),
        "--net.allow_private",
    ])
    .expect("miner config");
    let miner = MinerNode::new(mcfg).await.expect("miner");
    // Never cancelled: the miner serves until the runtime stops.
    tokio::spawn(miner.run(orchestra_node::shutdown::CancellationToken::new()));
}

/// `GET /v1/feedback/{hotkey}` signed (btauth/1) by `signer` for `validator`: (status, body, signature).
async fn feedback(api: u16, signer: &Keypair, hotkey: &str, validator: &str) -> (u16, String, String) {
    let path = format!("/v1/feedback/{hotkey}");
    let nonce = orchestra_net::now_ns();
    let payload = orchestra_proto::btauth::payload("GET", &path, b"", nonce, signer.ss58(), Some(validator));
    let auth = orchestra_proto::btauth::AuthHeaders {
        hotkey: signer.ss58().to_string(),
        nonce_ns: nonce,
        signature: signer.sign_hex(payload.as_bytes()),
        receiver: Some(validator.to_string()),
    };
    let mut req = reqwest::Client::new().get(format!("http://127.0.0.1:{api}{path}"));
    for (k, v) in auth.to_pairs() {
        req = req.header(k, v);
    }
    let r = req.send().await.expect("feedback");
    let code = r.status().as_u16();
    let sig =
        r.headers().get("x-orchestra-validator-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (code, r.text().await.expect("body"), sig)
}

async fn status(api: u16) -> Option<Value> {
    reqwest::get(format!("http://127.0.0.1:{api}/v1/status")).await.ok()?.json().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_miner_earns_most_and_a_killed_validator_resumes_without_double_submission() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut dcfg = DevnetConfig::new(dir.path().join("devnet"));
    dcfg.listen = "127.0.0.1:0".parse().expect("addr");
    dcfg.block_time_ms = 100;
    dcfg.tempo = 20;
    let devnet = DevnetServer::new(dcfg).expect("devnet").spawn();
    let url = devnet.url.clone();

    let keys = setup_subnet(&url, 15, &["//NetValidator", "//NetHonest", "//NetHallucinating", "//NetSlow"]).await;
    let (sim, entries, ledger) = start_sim(dir.path()).await;
    start_honest_miner(&url, dir.path(), &ledger).await;
    // Rogues: their own pipelines, tampered answers, announced on chain like any miner.
    for (k, mode) in [(&keys[2], "hallucinate"), (&keys[3], "slow")] {
        let core = Arc::new(MinerCore::new_local(k.clone(), entries.clone(), None).expect("core"));
        let port = rogue_miner(k.clone(), core, mode).await;
        let c = DevnetClient::connect(&url).await.expect("chain").with_hotkey(k.clone());
        c.serve_axon(NETUID, &AxonServe::new("127.0.0.1".parse().expect("ip"), port, 1)).await.expect("serve");
    }

    let api = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let vdata = dir.path().join("v");
    let mut validator = spawn_validator(&vdata, &url, &ledger, api, &dir.path().join("validator.log"));

    // Let a few rounds and devnet epochs happen, then read the incentive.
    let chain = DevnetClient::connect(&url).await.expect("chain");
    let t0 = Instant::now();
    let incentive = loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mg = chain.metagraph(NETUID).await.expect("metagraph");
        let inc = |k: &Keypair| mg.neuron_by_hotkey(k.ss58()).map(|n| n.incentive).unwrap_or(0);
        let (h, x, s) = (inc(&keys[1]), inc(&keys[2]), inc(&keys[3]));
        let rounds = status(api).await.and_then(|v| v["status"]["weight_submissions"].as_u64()).unwrap_or(0);
        if h > 0 && rounds >= 3 {
            break (h, x, s);
        }
        let log = std::fs::read_to_string(dir.path().join("validator.log")).unwrap_or_default();
        assert!(t0.elapsed() < Duration::from_secs(90), "no incentive yet (h {h} x {x} s {s}); validator log:\n{log}");
    };
    let (h, x, s) = incentive;
    eprintln!("devnet incentive: honest {h}, hallucinating {x}, slow {s}");
    assert!(h > x, "honest {h} must out-earn hallucinating {x}");

    // The miner reads its own score breakdown, signed by the validator.
    let fb = feedback(api, &keys[1], keys[1].ss58(), keys[0].ss58()).await;
    assert_eq!(fb.0, 200, "{}", fb.1);
    let body: Value = serde_json::from_str(&fb.1).expect("json");
    assert!(body["last_task"]["sub"]["signature"].as_bool().unwrap_or(false), "{body}");
    // The slow miner loses its speed share on every task it answers. Its incentive is not
    // compared with the honest miner's over these three rounds: tasks are drawn per miner and
    // epoch, and a task the honest miner cannot complete (a required field that the
    // deterministic synthesis cannot fill without an LLM answer) scores 0 and can put it below
    // the slow one (seen in about a quarter of runs).
    let slow = feedback(api, &keys[3], keys[3].ss58(), keys[0].ss58()).await;
    assert_eq!(slow.0, 200, "{}", slow.1);
    let slow: Value = serde_json::from_str(&slow.1).expect("json");
    let speed = |v: &Value| v["last_task"]["score"]["speed"].as_f64().unwrap_or(-1.0);
    assert_eq!(speed(&slow), 0.0, "the slow miner answers past the deadline's speed budget: {slow}");
    if body["last_task"]["score"]["zeroed"].is_null() {
        assert!(speed(&body) > 0.5, "the honest miner is fast: {body}");
    }
    if h <= s {
        eprintln!("note: slow out-earned honest this run ({s} > {h}); see the comment above");
    }
    let sig = orchestra_keys::parse_signature_hex(&fb.2).expect("validator signature");
    let digest = <sha2::Sha256 as sha2::Digest>::digest(fb.1.as_bytes());
    assert!(keys[0].public().verify(&digest, &sig), "the answer is signed by the validator");
    // Another miner cannot read it.
    assert_eq!(feedback(api, &keys[2], keys[1].ss58(), keys[0].ss58()).await.0, 403);

    // SIGKILL mid-run, then restart on the same data directory.
    let before = status(api).await.expect("status")["status"].clone();
    validator.kill().expect("SIGKILL");
    let _ = validator.wait();
    let mut validator = spawn_validator(&vdata, &url, &ledger, api, &dir.path().join("validator2.log"));
    let t0 = Instant::now();
    let after = loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(v) = status(api).await
            && v["status"]["epoch"].as_u64().unwrap_or(0) > before["epoch"].as_u64().unwrap_or(0)
        {
            break v["status"].clone();
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "the restarted validator made no round");
    };
    let log = std::fs::read_to_string(dir.path().join("validator2.log")).unwrap_or_default();
    assert!(!log.contains("SettingWeightsTooFast"), "resubmitted inside the rate-limit window:\n{log}");
    assert!(after["scores"].as_object().is_some_and(|m| !m.is_empty()), "scores survived: {after}");
    let _ = validator.kill();
    let _ = validator.wait();
    sim.shutdown().await;
    let _ = devnet.stop().await;
}

fn redteam_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let p = dir.join("redteam-miner");
    assert!(p.exists(), "{} is missing: build every binary first (scripts/test.sh does)", p.display());
    p
}

/// A red-team miner process; returns once it printed its ready line.
fn spawn_redteam(strategy: &str, uri: &str, chain: &str, ledger: &Path, peer: Option<String>, log: &Path) -> Child {
    use std::io::BufRead;
    let log = std::fs::File::create(log).expect("log");
    let mut cmd = Command::new(redteam_bin());
    cmd.args(["--strategy", strategy, "--uri", uri, "--chain.endpoint", chain, "--netuid", "1", "--ledger.file"])
        .arg(ledger)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    if let Some(p) = peer {
        cmd.args(["--peer", &p]);
    }
    let mut child = cmd.spawn().expect("spawn redteam-miner");
    let out = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(out).read_line(&mut line).expect("ready line");
    assert!(line.starts_with("ready"), "{strategy}: {line}");
    child
}

/// Red-team miners as real processes against the real validator binary: fabricator (the
/// number-swapping one), replayer and copier each earn under 5% of the honest miner's
/// incentive; a schema-valid but wrong answer scores under 0.3 of the honest one; the Ledger
/// spammer (honest answers, a flood of proposals that must earn nothing) has a Ledger score of
/// 0 and earns no more than its orchestration score merits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_miners_do_not_pay() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut dcfg = DevnetConfig::new(dir.path().join("devnet"));
    dcfg.listen = "127.0.0.1:0".parse().expect("addr");
    dcfg.block_time_ms = 100;
    dcfg.tempo = 20;
    let devnet = DevnetServer::new(dcfg).expect("devnet").spawn();
    let url = devnet.url.clone();
    let uris = [
        "//NetValidator",
        "//NetHonest",
        "//RtFabricator",
        "//RtReplayer",
        "//RtCopier",
        "//RtWrong",
        "//RtLazy",
        "//RtSlow",
        "//RtSpammer",
    ];
    let keys = setup_subnet(&url, 15, &uris).await;
    let (sim, _entries, ledger) = start_sim(dir.path()).await;
    start_honest_miner(&url, dir.path(), &ledger).await;
    let chain = DevnetClient::connect(&url).await.expect("chain");
    // The honest miner's axon, for the copier.
    let t0 = Instant::now();
    let honest_axon = loop {
        let mg = chain.metagraph(NETUID).await.expect("metagraph");
        if let Some(n) = mg.neuron_by_hotkey(keys[1].ss58()).filter(|n| n.axon.is_serving()) {
            break format!("127.0.0.1:{}/{}", n.axon.port, keys[1].ss58());
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "the honest miner never served its axon");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let strategies = ["fabricator", "replayer", "copier", "wrong-template", "lazy-cache", "slow", "ledger-spammer"];
    let mut children = Vec::new();
    for (i, st) in strategies.iter().enumerate() {
        let peer = (*st == "copier").then(|| honest_axon.clone());
        let log = dir.path().join(format!("{st}.log"));
        children.push(spawn_redteam(st, uris[i + 2], &url, &ledger, peer, &log));
    }
    let api = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let mut validator = spawn_validator(&dir.path().join("v"), &url, &ledger, api, &dir.path().join("validator.log"));

    let t0 = Instant::now();
    let (inc, scores) = loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mg = chain.metagraph(NETUID).await.expect("metagraph");
        let inc: Vec<u16> =
            keys.iter().map(|k| mg.neuron_by_hotkey(k.ss58()).map(|n| n.incentive).unwrap_or(0)).collect();
        let st = status(api).await;
        let rounds = st.as_ref().and_then(|v| v["status"]["weight_submissions"].as_u64()).unwrap_or(0);
        if inc[1] > 0 && rounds >= 3 {
            break (inc, st.map(|v| v["status"]["scores"].clone()).unwrap_or_default());
        }
        let log = std::fs::read_to_string(dir.path().join("validator.log")).unwrap_or_default();
        assert!(t0.elapsed() < Duration::from_secs(150), "no incentive yet ({inc:?}); validator log:\n{log}");
    };
    let honest = inc[1] as f64;
    let share = |i: usize| inc[i] as f64 / honest;
    let score = |i: usize| scores[keys[i].ss58()][0].as_f64().unwrap_or(0.0);
    let ledger_score = |i: usize| scores[keys[i].ss58()][1].as_f64().unwrap_or(f64::NAN);
    eprintln!("incentive relative to honest ({honest}):");
    for (i, st) in strategies.iter().enumerate() {
        eprintln!(
            "  {st:>15}: incentive {:.3}, score {:.3} (honest score {:.3})",
            share(i + 2),
            score(i + 2),
            score(1)
        );
    }
    for (i, st) in strategies.iter().enumerate().take(3) {
        assert!(share(i + 2) < 0.05, "{st} earns {:.3} of the honest miner's incentive", share(i + 2));
    }
    assert!(score(5) < 0.3 * score(1), "wrong-template scores {} vs honest {}", score(5), score(1));
    // The Ledger spammer: its flood reached governance (refused on arrival or refuted by a
    // probe), earned no Ledger credit, and its incentive is what its orchestration merits.
    let spam = 8;
    let log = std::fs::read_to_string(dir.path().join("validator.log")).unwrap_or_default();
    let refused =
        log.lines().filter(|l| l.contains("malformed proposal refused") && l.contains(keys[spam].ss58())).count();
    assert!(refused > 0, "the spammer's proposals never reached governance:\n{log}");
    // Threat model M6 end to end: the proposal citing a made-up digest is skipped unseen.
    let skipped =
        log.lines().any(|l| l.contains("cites evidence this validator has not seen") && l.contains(keys[spam].ss58()));
    assert!(skipped, "the made-up evidence was not skipped:\n{log}");
    assert_eq!(ledger_score(spam), 0.0, "the spammer's Ledger score");
    let merit = score(spam) / score(1).max(1e-9);
    eprintln!("  ledger-spammer: {refused} proposals refused on arrival, orchestration {merit:.3} of honest");
    assert!(
        share(spam) <= merit * 1.25 + 0.05,
        "the spammer earns {:.3} of the honest incentive for {merit:.3} of its orchestration score",
        share(spam)
    );
    let _ = validator.kill();
    let _ = validator.wait();
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    sim.shutdown().await;
    let _ = devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_reach_a_devnet_that_was_down_for_a_while() {
    let dir = tempfile::tempdir().expect("tmp");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let devnet_cfg = || {
        let mut c = DevnetConfig::new(dir.path().join("devnet"));
        c.listen = format!("127.0.0.1:{port}").parse().expect("addr");
        c.block_time_ms = 100;
        c.tempo = 20;
        c
    };
    let devnet = DevnetServer::new(devnet_cfg()).expect("devnet").spawn();
    let url = devnet.url.clone();
    let keys = setup_subnet(&url, 5, &["//NetValidator", "//NetHonest"]).await;
    let v = keys[0].clone();
    let (sim, _entries, ledger) = start_sim(dir.path()).await;
    start_honest_miner(&url, dir.path(), &ledger).await;

    let api = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let mut validator = spawn_validator(&dir.path().join("v"), &url, &ledger, api, &dir.path().join("validator.log"));
    let field = |s: &Value, k: &str| s["status"][k].as_u64().unwrap_or(0);
    let wait = |what: &'static str, pred: Box<dyn Fn(&Value) -> bool + Send>| async move {
        let t0 = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if let Some(s) = status(api).await
                && pred(&s)
            {
                return s;
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        }
    };
    let up = wait("a first weight submission", Box::new(move |s| field(s, "weight_submissions") >= 1)).await;
    let submitted = field(&up, "weight_submissions");

    // The chain goes away: rounds fail loudly (counted, in status), nothing is lost.
    devnet.stop().await.expect("stop devnet");
    let before_err = up["status"]["last_error"].clone();
    let down = wait(
        "a failure recorded while the chain is down",
        Box::new(move |s| !s["status"]["last_error"].is_null() && s["status"]["last_error"] != before_err),
    )
    .await;
    eprintln!("while down: {}", down["status"]["last_error"]);

    // The chain comes back on the same data and port: weights land again.
    let devnet = DevnetServer::new(devnet_cfg()).expect("devnet").spawn();
    wait("weights after recovery", Box::new(move |s| field(s, "weight_submissions") > submitted)).await;
    let mg = DevnetClient::connect(&devnet.url).await.expect("chain").metagraph(NETUID).await.expect("mg");
    let me = mg.neuron_by_hotkey(v.ss58()).expect("validator");
    assert!(me.last_update > 0, "the devnet recorded the validator's weights");
    let _ = validator.kill();
    let _ = validator.wait();
    sim.shutdown().await;
    let _ = devnet.stop().await;
}
