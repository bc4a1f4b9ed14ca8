//! The dependency rules the README states, checked against `cargo metadata`:
//! - `proto` depends on no other workspace crate;
//! - nothing depends on `miner` or `validator` except `crates/testkit`, and neither depends on
//!   the other;
//! - only `crates/chain` depends on subxt;
//! - only `crates/store` (`orchestra-store`, the storage engine) depends on rocksdb;
//! - `crates/yuma` and `crates/incentive` are pure (no async runtime, HTTP or storage);
//! - library crates carry no binary-only dependencies (clap, anyhow, tracing-subscriber): load
//!   generators, benchmark peers and CLI types live in `crates/bench`, `crates/cli` and
//!   `crates/node` (the daemons' flags and runtime); anyhow is allowed in dev-dependencies.

use std::process::Command;

use serde_json::Value;

fn metadata() -> Value {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("metadata JSON")
}

/// (package, its normal and build dependencies) for every workspace member.
fn packages() -> Vec<(String, Vec<String>)> {
    let m = metadata();
    m["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("deps")
                .iter()
                .filter(|d| d["kind"].as_str() != Some("dev"))
                .map(|d| d["name"].as_str().unwrap_or_default().to_string())
                .collect();
            (p["name"].as_str().unwrap_or_default().to_string(), deps)
        })
        .collect()
}

/// Library crates: what other crates build on. Binaries and their support (`miner`, `validator`,
/// `crates/cli`, `crates/bench`, `crates/node`, `crates/testkit`) are the rest.
const LIBRARIES: &[&str] = &[
    "orchestra-proto",
    "orchestra-store",
    "orchestra-ledger-store",
    "orchestra-keys",
    "orchestra-net",
    "orchestra-chain",
    "orchestra-yuma",
    "orchestra-incentive",
    "orchestra-subnet-sim",
    "orchestra-subnets",
    "orchestra-ledger-api",
    "orchestra-devnet",
];

/// Dependencies only a binary needs.
const BINARY_ONLY: &[&str] = &["clap", "anyhow", "tracing-subscriber"];

#[test]
fn library_crates_carry_no_binary_only_dependencies() {
    let pkgs = packages();
    let mut broken = Vec::new();
    for lib in LIBRARIES {
        let Some((_, deps)) = pkgs.iter().find(|(n, _)| n == lib) else {
            broken.push(format!("{lib} is not in the workspace (update LIBRARIES)"));
            continue;
        };
        for d in BINARY_ONLY.iter().filter(|d| deps.iter().any(|x| x == *d)) {
            broken.push(format!("{lib} depends on {d} (binary-only: move the binary or CLI type to crates/bench, crates/cli or crates/node)"));
        }
    }
    assert!(broken.is_empty(), "dependency rules broken:\n{}", broken.join("\n"));
}

#[test]
fn the_workspace_keeps_its_dependency_rules() {
    let pkgs = packages();
    assert!(pkgs.len() >= 15, "expected the whole workspace, got {}", pkgs.len());
    let mut broken = Vec::new();
    for (name, deps) in &pkgs {
        let has = |d: &str| deps.iter().any(|x| x == d);
        if name == "orchestra-proto" {
            for d in deps.iter().filter(|d| d.starts_with("orchestra-")) {
                broken.push(format!("orchestra-proto depends on {d}"));
            }
        }
        for upper in ["orchestra-miner", "orchestra-validator"] {
            if has(upper) && name != "orchestra-testkit" {
                broken.push(format!("{name} depends on {upper}"));
            }
        }
        if has("subxt") && name != "orchestra-chain" {
            broken.push(format!("{name} depends on subxt (only orchestra-chain may)"));
        }
        if has("rocksdb") && name != "orchestra-store" {
            broken.push(format!("{name} depends on rocksdb (only orchestra-store, the storage engine, may)"));
        }
        if name == "orchestra-yuma" || name == "orchestra-incentive" {
            for impure in [
                "tokio",
                "reqwest",
                "rocksdb",
                "axum",
                "hyper",
                "orchestra-store",
                "orchestra-ledger-store",
                "orchestra-net",
            ] {
                if has(impure) {
                    broken.push(format!("{name} is meant to be pure but depends on {impure}"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "dependency rules broken:\n{}", broken.join("\n"));
}
