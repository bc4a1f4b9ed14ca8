#!/usr/bin/env bash
# The test command: formatting, lints, and every test of the workspace.
# This is what the README tells a newcomer to run and exactly what CI (.ci/run) runs.
#
#   scripts/test.sh
#
# Needs the Python reference peer for the interop tests: `scripts/setup.sh` installs it
# (it runs ../shared/refpeer/setup.sh), or point BTREF_PYTHON / BTREF_PYTHON11 at existing venvs.
set -euo pipefail
cd "$(dirname "$0")/.."
# The set-up step (system packages, Python reference peer): fast when already satisfied.
scripts/setup.sh >&2

export ORCHESTRA_SHARED="${ORCHESTRA_SHARED:-$(cd .. && pwd)/shared}"
export BTREF_PYTHON="${BTREF_PYTHON:-${TMPDIR:-/tmp}/btref/venv10/bin/python}"
export BTREF_PYTHON11="${BTREF_PYTHON11:-${TMPDIR:-/tmp}/btref/venv11/bin/python}"

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build every binary (end-to-end tests run the real miner and validator)"
cargo build --workspace --bins --locked

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
step "all green"
