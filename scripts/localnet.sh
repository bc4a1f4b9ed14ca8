#!/usr/bin/env bash
# The README's run command: build if needed, then bring up a whole local network and make it do
# real work (see `orchestra localnet --help`):
#
#   scripts/localnet.sh            # run the demo, then keep the network up until Ctrl-C
#   scripts/localnet.sh --demo     # run the demo and exit 0 if everything worked
#
# It starts the devnet (a local subtensor SIMULATOR), the SIMULATED subnets, creates wallets and
# a subnet, registers and stakes neurons, starts 3 miners and 2 validators (the real binaries),
# submits the README's worked example through a validator's gateway, turns injected schema drift
# into an approved Ledger change, and prints weights and emissions after an epoch.
set -euo pipefail
cd "$(dirname "$0")/.."
# The set-up step (system packages, Python reference peer): fast when already satisfied.
scripts/setup.sh >&2
TARGET="${CARGO_TARGET_DIR:-target}"
echo "==> building (first time: several minutes)" >&2
cargo build --quiet --bins
exec "$TARGET/debug/orchestra" localnet "$@"
