#!/usr/bin/env bash
# A/B of echo axon configurations on this machine: interleaved fresh axons, medians.
#
#   scripts/axon-ab.sh "A=--workers 1" "B="                  # flags of the built echo_axon
#   scripts/axon-ab.sh "old=/tmp/echo_old" "new=$CARGO_TARGET_DIR/release/echo_axon"
#   ALLOCS=1 scripts/axon-ab.sh "now="                       # heap allocations per request
#
# Each argument is NAME=SPEC; SPEC is either a path to an echo_axon binary (to compare builds)
# or flags for the release echo_axon of this tree. For PROCS rounds (default 5) every config
# gets a freshly started axon that serves RUNS (default 2) runs of N (default 60,000) presigned
# signed requests at c=64 from `axon-load`; the figure is the axon's CPU time per request. One
# run varies by ±15% on a shared 2-core VM (the machine's phase, and how the connections land
# on the worker threads), so configs are interleaved and compared by their medians.
#
# ALLOCS=1 counts libc malloc and realloc calls per request instead (perf uprobes; needs a
# binary on the system allocator, which ours are).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-target}"
PROCS="${PROCS:-5}"; RUNS="${RUNS:-2}"; N="${N:-60000}"
[ $# -gt 0 ] || { sed -n 2,16p "$0" >&2; exit 2; }
cargo build --release --quiet -p orchestra-bench --bin echo_axon --bin axon-load
LOAD="$TARGET/release/axon-load"
WORK="$(mktemp -d)"
APID=""
cleanup() { [ -n "$APID" ] && kill "$APID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
LIBC="$(ldconfig -p | awk '/libc.so.6 .*x86-64/ {print $NF; exit}')"
if [ -n "${ALLOCS:-}" ]; then
  command -v perf >/dev/null || { echo "ALLOCS=1 needs perf (scripts/profile-axon.sh installs it)" >&2; exit 1; }
  perf probe -q -x "$LIBC" malloc 2>/dev/null || true
  perf probe -q -x "$LIBC" realloc 2>/dev/null || true
fi

start() { # start SPEC: sets APID, APORT, AHOT
  local spec=$1 bin="$TARGET/release/echo_axon" args=()
  if [ -x "${spec%% *}" ] && [ -f "${spec%% *}" ]; then bin="${spec%% *}"; spec="${spec#"$bin"}"; fi
  read -r -a args <<<"$spec"
  APORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$bin" --host 127.0.0.1 --port "$APORT" --uri //Alice --metrics "${args[@]}" >"$WORK/a.out" 2>/dev/null &
  APID=$!
  for _ in $(seq 1 100); do grep -q '"ready"' "$WORK/a.out" 2>/dev/null && break; sleep 0.1; done
  AHOT=$(python3 -c 'import json,sys; print(next(json.loads(l)["hotkey"] for l in open(sys.argv[1]) if "ready" in l))' "$WORK/a.out")
}
stop() { kill "$APID" 2>/dev/null || true; wait "$APID" 2>/dev/null || true; APID=""; }

for round in $(seq 1 "$PROCS"); do
  for cfg in "$@"; do
    name=${cfg%%=*}; start "${cfg#*=}"
    if [ -n "${ALLOCS:-}" ]; then
      "$LOAD" --port "$APORT" --axon-hotkey "$AHOT" -n 5000 -c 64 --presign >/dev/null
      perf stat -x, -e probe_libc:malloc,probe_libc:realloc -p "$APID" -o "$WORK/stat" &
      PF=$!; sleep 0.3
      "$LOAD" --port "$APORT" --axon-hotkey "$AHOT" -n "$N" -c 64 --presign >/dev/null
      kill -INT "$PF"; wait "$PF" || true
      python3 -c '
import sys
c = {l.split(",")[2]: int(l.split(",")[0]) for l in open(sys.argv[1]) if l.count(",") > 2 and l.split(",")[0].isdigit()}
print(sys.argv[2], "allocs_per_request", round(sum(c.values()) / int(sys.argv[3]), 1))' "$WORK/stat" "$name" "$N"
    else
      for _ in $(seq 1 "$RUNS"); do
        "$LOAD" --port "$APORT" --axon-hotkey "$AHOT" -n "$N" -c 64 --presign --axon-metrics --pid "$APID" --label "$name" \
          | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d["label"], "cpu_us_per_request", d["axon_cpu_us_per_req"], "batch", d["mean_signature_batch"])'
      done
    fi
    stop
  done
done | tee "$WORK/all" >&2
python3 - "$WORK/all" <<'EOF'
import collections, statistics, sys
by = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, metric, value = line.split()[:3]
    by[(name, metric)].append(float(value))
for (name, metric), v in by.items():
    print(f"{name}: {metric} median {statistics.median(v):.1f}, min {min(v):.1f}, max {max(v):.1f}, n {len(v)}")
EOF
