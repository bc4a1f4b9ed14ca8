//! End to end with the real binaries: `orchestra localnet --demo` brings up the devnet, the
//! simulated subnets, 3 miners and 2 validators, runs the worked example through the gateway
//! (again with a search subnet down: miners fall back to the other one),
//! turns injected drift into an approved Ledger change that reaches an SSE client and a signed
//! webhook, creates a key through validator0's Ledger admin endpoint while it runs, buys a
//! developer key with TAO from it, and sees emissions paid after an epoch.
//!
//! Needs the `miner` and `validator` binaries next to `orchestra` (scripts/test.sh builds every
//! binary before the tests).

use std::process::Command;

#[test]
fn localnet_demo_runs_the_worked_example_end_to_end() {
    let orchestra = env!("CARGO_BIN_EXE_orchestra");
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(orchestra)
        .args(["localnet", "--demo", "--dir"])
        .arg(dir.path())
        .output()
        .expect("run orchestra localnet");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "localnet failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("verified_result"), "{stdout}");
    assert!(stdout.contains("\"kind\": \"schema_changed\""), "{stdout}");
    assert!(stderr.contains("served by netuid 122"), "fallback when a subnet is down: {stderr}");
    assert!(stderr.contains("SSE client got seq"), "{stderr}");
    assert!(stderr.contains("HMAC signature verified"), "{stderr}");
    assert!(stderr.contains("validator0 holds"), "a key through the admin endpoint: {stderr}");
    assert!(stderr.contains("lookups a month works"), "a developer key paid in TAO: {stderr}");
    assert!(stderr.contains("localnet: OK"), "{stderr}");
}

/// The same demo on the real subtensor runtime (spec 218 under chopsticks): about 3 minutes on
/// two shared cores, so not part of the default test run. Run it with
/// `cargo test -p orchestra-cli --test localnet -- --ignored` (needs scripts/chopsticks.sh).
#[test]
#[ignore = "about 3 minutes; run with --ignored (needs chopsticks)"]
fn localnet_demo_on_the_subtensor_runtime() {
    let orchestra = env!("CARGO_BIN_EXE_orchestra");
    let dir = tempfile::tempdir().expect("tmp");
    let t = std::time::Instant::now();
    let out = Command::new(orchestra)
        .args(["localnet", "--chain", "subtensor", "--demo", "--dir"])
        .arg(dir.path())
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("run orchestra localnet --chain subtensor");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "localnet on subtensor failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("every validator set weights"), "{stderr}");
    assert!(stderr.contains("lookups a month works"), "{stderr}");
    println!("localnet --chain subtensor --demo: {:.0} s", t.elapsed().as_secs_f64());
}
