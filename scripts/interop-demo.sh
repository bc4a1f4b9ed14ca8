#!/usr/bin/env bash
# Interop demonstration: Orchestra's Rust axon and dendrite against the real Python SDK.
#
#   scripts/interop-demo.sh [--keep]
#
# A Rust axon and a Python SDK axon on loopback; Orchestra's Rust dendrite calls both over the real v10 protocol, the Python SDK
# dendrite calls the Rust axon, and a btauth/1 call goes to the Rust axon. Every response is
# checked; the script exits non-zero if any exchange fails. With --keep, the axons stay up
# until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP=0; [ "${1:-}" = "--keep" ] && KEEP=1
TARGET="${CARGO_TARGET_DIR:-target}"
PY="${BTREF_PYTHON:-${TMPDIR:-/tmp}/btref/venv10/bin/python}"
SHARED="${ORCHESTRA_SHARED:-$(cd .. && pwd)/shared}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

echo "==> building (first time: a few minutes)"
cargo build --quiet -p orchestra-bench --bin echo_axon -p orchestra-cli --bin orchestra
ORCH="$TARGET/debug/orchestra"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { # file -> prints hotkey
  for _ in $(seq 1 300); do
    if grep -q '"ready"' "$1" 2>/dev/null; then
      python3 -c 'import json,sys; print(next(json.loads(l)["hotkey"] for l in open(sys.argv[1]) if "ready" in l))' "$1"; return 0
    fi
    sleep 0.1
  done
  echo "axon did not become ready; its output:" >&2; cat "$1" >&2; return 1
}

RPORT=$(free_port)
"$TARGET/debug/echo_axon" --host 127.0.0.1 --port "$RPORT" --uri //Alice >"$WORK/rust.out" 2>"$WORK/rust.err" &
PIDS+=($!)
RHOT=$(wait_ready "$WORK/rust.out")
echo "==> Rust echo axon  http://127.0.0.1:$RPORT  hotkey $RHOT"

echo "==> Rust dendrite -> Rust axon (v10)"
"$ORCH" call --host 127.0.0.1 --port "$RPORT" --axon-hotkey "$RHOT" --synapse EchoSynapse \
  --body '{"query":"hello from the rust dendrite"}' --required query --uri //Bob
echo "==> Rust client -> Rust axon (btauth/1)"
"$ORCH" call --host 127.0.0.1 --port "$RPORT" --axon-hotkey "$RHOT" --synapse EchoSynapse \
  --body '{"query":"hello over btauth"}' --auth btauth --uri //Bob

if [ -x "$PY" ]; then
  PPORT=$(free_port)
  "$PY" "$SHARED/refpeer/py_axon_echo.py" --port "$PPORT" --wallet-path "$WORK/wallets" --wallet-name miner --create \
    >"$WORK/py.out" 2>"$WORK/py.err" &
  PIDS+=($!)
  PHOT=$(wait_ready "$WORK/py.out")
  echo "==> Python SDK axon http://127.0.0.1:$PPORT  hotkey $PHOT"
  echo "==> Rust dendrite -> Python axon (v10)"
  "$ORCH" call --host 127.0.0.1 --port "$PPORT" --axon-hotkey "$PHOT" --synapse EchoSynapse \
    --body '{"query":"hello python axon"}' --required query --uri //Bob
  echo "==> Python SDK dendrite -> Rust axon (200 requests, 16 concurrent)"
  "$PY" "$SHARED/refpeer/py_dendrite_load.py" --host 127.0.0.1 --port "$RPORT" --axon-hotkey "$RHOT" \
    --synapse-name EchoSynapse --uri //Bob -n 200 -c 16 --mode conc --dendrites both 2>/dev/null \
    | tee "$WORK/pyload.json"
  python3 - "$WORK/pyload.json" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
res = [r for r in rows if r.get("event") == "result"]
assert res, "no result line from the Python dendrite"
for r in res:
    assert r.get("failed") == 0 and r.get("ok") == r.get("requests"), f"Python dendrite saw failures: {r}"
print("python dendrite: all", sum(r["requests"] for r in res), "requests ok")
PYEOF
else
  echo "==> Python reference peer not installed ($PY); run scripts/setup.sh to add the Python side"
fi

echo "==> local network OK"
if [ "$KEEP" = 1 ]; then
  echo "axons stay up; Ctrl-C to stop"
  wait
fi
