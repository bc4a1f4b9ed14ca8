//! The real subtensor runtime for tests: chopsticks started by scripts/local-runtime.sh on a free
//! port (spec 218 from shared/chain/subtensor-raonet-spec218.json), stopped on drop. Included by
//! path from the tests of several crates (`#[path = ".../chain/tests/chopsticks/mod.rs"]`), which
//! all sit two levels below the repository.
//!
//! [`start`] returns `None`, with the reason printed, when chopsticks is not installed
//! (scripts/chopsticks.sh installs it; scripts/setup.sh runs that) or the chain spec is missing;
//! with `ORCHESTRA_REQUIRE_CHOPSTICKS=1` it panics instead.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The chopsticks wrapper scripts/chopsticks.sh installs.
pub fn chopsticks() -> PathBuf {
    let dir = std::env::var_os("ORCHESTRA_CHOPSTICKS_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"));
        cache.join("orchestra/chopsticks")
    });
    dir.join("bin/chopsticks")
}

/// The chain spec with the runtime.
pub fn spec() -> PathBuf {
    std::env::var_os("ORCHESTRA_RUNTIME_SPEC").map(PathBuf::from).unwrap_or_else(|| {
        let shared =
            std::env::var_os("ORCHESTRA_SHARED").map(PathBuf::from).unwrap_or_else(|| repo().join("../shared"));
        shared.join("chain/subtensor-raonet-spec218.json")
    })
}

/// Skips (or fails under ORCHESTRA_REQUIRE_CHOPSTICKS=1) with `reason`.
pub fn skip(what: &str, reason: &str) {
    if std::env::var("ORCHESTRA_REQUIRE_CHOPSTICKS").is_ok_and(|v| v == "1") {
        panic!("{what} on the subtensor runtime cannot run: {reason}");
    }
    println!("SKIPPED: {what} on the subtensor runtime: {reason}");
}

/// chopsticks started by scripts/local-runtime.sh; stopped on drop.
pub struct Runtime {
    dir: tempfile::TempDir,
    /// `ws://127.0.0.1:PORT`.
    pub url: String,
}

/// Starts the runtime for `what` (a test's name for the skip message), or `None` when it cannot.
pub fn start(what: &str) -> Option<Runtime> {
    if !chopsticks().exists() {
        skip(what, &format!("chopsticks is not installed at {} (run scripts/chopsticks.sh)", chopsticks().display()));
        return None;
    }
    if !spec().exists() {
        skip(what, &format!("no chain spec at {}", spec().display()));
        return None;
    }
    Some(Runtime::start())
}

impl Runtime {
    fn start() -> Runtime {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let out = Command::new("bash")
            .arg(repo().join("scripts/local-runtime.sh"))
            .args(["--port", &port.to_string(), "--dir"])
            .arg(dir.path())
            .env("ORCHESTRA_RUNTIME_SPEC", spec())
            .output()
            .expect("run scripts/local-runtime.sh");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "local-runtime.sh failed: {stderr}");
        let url = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().trim().to_string();
        println!("[subtensor] chopsticks at {url} in {:.1} s ({})", t.elapsed().as_secs_f64(), stderr.trim());
        Runtime { dir, url }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo().join("scripts/local-runtime.sh"))
            .args(["--stop", "--dir"])
            .arg(self.dir.path())
            .status();
    }
}
