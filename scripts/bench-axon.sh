#!/usr/bin/env bash
# Axon benchmark: the Rust echo axon vs the Python SDK axon under the same signed load, in one
# run, plus the measured sr25519 verify cost as the bound. Writes docs/benchmarks-axon.jsonl
# and regenerates the axon section of docs/benchmarks.md.
#
#   scripts/bench-axon.sh            # release build; ~2 minutes on 2 cores
#   QUICK=1 scripts/bench-axon.sh    # fewer requests (~1 minute)
#
# The load client is `axon-load` (crates/bench): keep-alive connections, one dendrite uuid
# each. The peak runs sign every request before the clock starts (`--presign`), so the client
# (one thread, sharing the 2 cores) can saturate either axon and requests arrive together, as
# from many validators; the c=1 runs sign as they send. Throughput per core is requests
# divided by the axon process's own CPU seconds (procfs), so the client sharing the machine
# does not flatter or penalise either axon. The Rust axon runs twice: with signature batching
# (the default) and with it off (`--verify-batch 1`), side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-target}"
PY="${BTREF_PYTHON:-${TMPDIR:-/tmp}/btref/venv10/bin/python}"
SHARED="${ORCHESTRA_SHARED:-$(cd .. && pwd)/shared}"
QUICK="${QUICK:-}"
RUST_N="${RUST_N:-$([ -n "$QUICK" ] && echo 20000 || echo 60000)}"
# Presigned nonces must reach the Python axon within its 16 s window: at ~150 req/s, 1,000
# requests take about 7 s.
PY_N="${PY_N:-$([ -n "$QUICK" ] && echo 500 || echo 1000)}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
[ -x "$PY" ] || { echo "Python reference peer missing: run scripts/setup.sh" >&2; exit 1; }

cargo build --release --quiet -p orchestra-bench --bin echo_axon --bin axon-load
LOAD="$TARGET/release/axon-load"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() {
  for _ in $(seq 1 300); do
    if grep -q '"ready"' "$1" 2>/dev/null; then
      python3 -c 'import json,sys; print(next(json.loads(l)["hotkey"] for l in open(sys.argv[1]) if "ready" in l))' "$1"; return 0
    fi; sleep 0.1
  done; echo "axon not ready: $(cat "$1")" >&2; return 1
}

RPORT=$(free_port); PPORT=$(free_port); SPORT=$(free_port)
"$TARGET/release/echo_axon" --host 127.0.0.1 --port "$RPORT" --uri //Alice --metrics >"$WORK/r.out" 2>"$WORK/r.err" &
RPID=$!; PIDS+=($RPID)
"$TARGET/release/echo_axon" --host 127.0.0.1 --port "$SPORT" --uri //Alice --verify-batch 1 >"$WORK/s.out" 2>"$WORK/s.err" &
SPID=$!; PIDS+=($SPID)
"$PY" "$SHARED/refpeer/py_axon_echo.py" --port "$PPORT" --wallet-path "$WORK/w" --wallet-name miner --create \
  >"$WORK/p.out" 2>"$WORK/p.err" &
PPID_=$!; PIDS+=($PPID_)
RHOT=$(wait_ready "$WORK/r.out"); SHOT=$(wait_ready "$WORK/s.out"); PHOT=$(wait_ready "$WORK/p.out")

OUT="$WORK/results.jsonl"
echo "== sr25519 verify bound (single and batched)" >&2
"$LOAD" --measure-verify -n 20000 | tee -a "$OUT"
echo "== python axon, c=64, presigned (peak)" >&2
"$LOAD" --port "$PPORT" --axon-hotkey "$PHOT" -n "$PY_N" -c 64 --warmup 50 --presign --pid "$PPID_" --label python-peak | tee -a "$OUT"
echo "== rust axon, c=64, presigned (peak)" >&2
"$LOAD" --port "$RPORT" --axon-hotkey "$RHOT" -n "$RUST_N" -c 64 --presign --axon-metrics --pid "$RPID" --label rust-peak \
  | tee "$WORK/rpeak.json" | tee -a "$OUT"
echo "== rust axon without signature batching, c=64, presigned (peak)" >&2
"$LOAD" --port "$SPORT" --axon-hotkey "$SHOT" -n "$RUST_N" -c 64 --presign --pid "$SPID" --label rust-peak-nobatch | tee -a "$OUT"
HALF=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["rps"]/2))' "$WORK/rpeak.json")
echo "== rust axon at half of peak ($HALF req/s, open loop)" >&2
"$LOAD" --port "$RPORT" --axon-hotkey "$RHOT" -n "$((RUST_N / 2))" -c 64 --rate "$HALF" --presign --axon-metrics --pid "$RPID" \
  --label rust-half | tee -a "$OUT"
echo "== rust axon, c=1 (sequential latency)" >&2
"$LOAD" --port "$RPORT" --axon-hotkey "$RHOT" -n 5000 -c 1 --axon-metrics --pid "$RPID" --label rust-c1 | tee -a "$OUT"
echo "== python axon, c=1 (sequential latency)" >&2
"$LOAD" --port "$PPORT" --axon-hotkey "$PHOT" -n 500 -c 1 --warmup 20 --pid "$PPID_" --label python-c1 | tee -a "$OUT"

mkdir -p docs
cp "$OUT" docs/benchmarks-axon.jsonl
python3 scripts/bench_report.py docs/benchmarks-axon.jsonl docs/benchmarks.md
echo "wrote docs/benchmarks.md"
