#!/usr/bin/env bash
# Profile the Rust echo axon under saturating signed load and draw a flamegraph.
#
#   scripts/profile-axon.sh [out.svg]      # default docs/axon-flamegraph.svg; ~1 minute
#
# `perf record` (DWARF call graphs; the release profile keeps line tables) samples the axon
# process while `axon-load --presign` keeps 64 connections busy; inferno folds the stacks and
# draws the SVG. Installs what is missing: perf from Debian (linux-perf), inferno from
# crates.io (into ${INFERNO_ROOT:-$HOME/.cache/inferno-bin}).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-docs/axon-flamegraph.svg}"
TARGET="${CARGO_TARGET_DIR:-target}"
INFERNO_ROOT="${INFERNO_ROOT:-$HOME/.cache/inferno-bin}"
N="${N:-60000}"
# One worker thread by default, as in the per-core figure of scripts/bench-axon.sh.
WORKERS="${WORKERS:-1}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf >/dev/null; }
[ -x "$INFERNO_ROOT/bin/inferno-flamegraph" ] || cargo install inferno --locked --quiet --root "$INFERNO_ROOT"

cargo build --release --quiet -p orchestra-bench --bin echo_axon --bin axon-load
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$TARGET/release/echo_axon" --host 127.0.0.1 --port "$PORT" --uri //Alice --workers "$WORKERS" >"$WORK/r.out" 2>"$WORK/r.err" &
APID=$!; PIDS+=($APID)
for _ in $(seq 1 100); do grep -q '"ready"' "$WORK/r.out" 2>/dev/null && break; sleep 0.1; done
HOT=$(python3 -c 'import json,sys; print(next(json.loads(l)["hotkey"] for l in open(sys.argv[1]) if "ready" in l))' "$WORK/r.out")

# Warm up, then record while the measured load runs.
"$TARGET/release/axon-load" --port "$PORT" --axon-hotkey "$HOT" -n 5000 -c 64 --presign --warmup 50 >/dev/null
perf record -F 1999 -g --call-graph dwarf,16384 -p "$APID" -o "$WORK/perf.data" 2>"$WORK/perf.err" &
PERF=$!
sleep 0.5
"$TARGET/release/axon-load" --port "$PORT" --axon-hotkey "$HOT" -n "$N" -c 64 --presign --warmup 0 --pid "$APID" \
  --label profiled | tee "$WORK/load.json" >&2
kill -INT "$PERF"; wait "$PERF" || true
perf script -i "$WORK/perf.data" 2>/dev/null | "$INFERNO_ROOT/bin/inferno-collapse-perf" >"$WORK/folded"
"$INFERNO_ROOT/bin/inferno-flamegraph" --title "echo_axon ($WORKERS worker(s)) under signed load (perf, $(date -u +%F))" \
  --width 1400 <"$WORK/folded" >"$OUT"
# The biggest self-time frames, for the notes.
python3 - "$WORK/folded" <<'EOF' >&2
import collections, sys
selfc, total = collections.Counter(), 0
for line in open(sys.argv[1]):
    stack, n = line.rsplit(" ", 1)
    n = int(n); total += n
    selfc[stack.split(";")[-1]] += n
print(f"{total} samples; top self time:")
for f, n in selfc.most_common(25):
    print(f"  {100*n/total:5.1f}%  {f[:140]}")
EOF
cp "$WORK/folded" "${OUT%.svg}.folded"
echo "wrote $OUT" >&2
