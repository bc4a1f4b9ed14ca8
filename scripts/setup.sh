#!/usr/bin/env bash
# Install what a fresh Debian machine lacks to build and test Orchestra:
# system packages (when run as root) and the pinned Python Bittensor SDK reference peer.
# Idempotent and fast when everything is there (a stamp file skips the venv check), so both of
# the README's commands (scripts/localnet.sh, scripts/test.sh) run it first.
#
#   scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${ORCHESTRA_SHARED:-$(cd .. && pwd)/shared}"
BTREF="${TMPDIR:-/tmp}/btref"

# System packages: Debian's RocksDB (linked instead of compiling it, see .cargo/config.toml),
# libclang for the bindgen step of librocksdb-sys, and python3-venv for the reference peer.
need=()
dpkg -s librocksdb-dev >/dev/null 2>&1 || need+=(librocksdb-dev)
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing: ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  elif command -v sudo >/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  else
    echo "missing Debian packages: ${need[*]} (install them as root)" >&2; exit 1
  fi
fi

# chopsticks (runs the real subtensor runtime WASM for the chain conformance test): Node 22 and
# chopsticks 1.5.1 into ~/.cache/orchestra/chopsticks; a stamp check when already there.
# ORCHESTRA_SKIP_CHOPSTICKS=1 skips it (the conformance test then prints why it is skipped).
if [ "${ORCHESTRA_SKIP_CHOPSTICKS:-0}" != 1 ]; then
  bash scripts/chopsticks.sh >/dev/null
fi

# The Python reference peer: bittensor 10.5.0 (axon/dendrite) and 11.3.0 (btauth/1).
if [ ! -d "$SHARED/refpeer" ]; then
  echo "cannot find the shared reference peer at $SHARED/refpeer (set ORCHESTRA_SHARED)" >&2
  exit 1
fi
# The stamp records which refpeer setup script made the venvs; a changed pin re-runs it.
stamp="$BTREF/.orchestra-setup-$(sha256sum "$SHARED/refpeer/setup.sh" | cut -c1-16)"
if [ -f "$stamp" ] && [ -x "$BTREF/venv10/bin/python" ] && [ -x "$BTREF/venv11/bin/python" ]; then
  exit 0
fi
bash "$SHARED/refpeer/setup.sh" "$BTREF/venv10" --lean "$BTREF/venv11"
touch "$stamp"
