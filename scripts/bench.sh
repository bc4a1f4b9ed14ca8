#!/usr/bin/env bash
# Regenerate docs/benchmarks.md: every benchmark, one run, release builds.
#
#   scripts/bench.sh           # ~8–10 minutes on 2 idle cores, builds excluded; run it idle
#   scripts/bench.sh --quick   # fewer requests, rounds and points: ~4 minutes
#
# Runs the axon benchmark (scripts/bench-axon.sh: Rust vs the Python SDK axon and the sr25519
# verify bound), the idle and trickling connections benchmark (scripts/bench-conns.sh), the
# Ledger API load test and its curve over connections, the devnet/Yuma benchmark, the
# miner/validator pipeline benchmark, the verification bench (criterion, 1–100 receipts), the
# validator round at scale (16–1,024 miner axons over loopback) and the miner bench (objectives
# per core, RSS with 1,000 in flight); keeps their raw JSON in docs/benchmarks-*.json*, draws the
# curves as docs/*-scaling.svg and rewrites docs/benchmarks.md from them
# (scripts/bench_report.py). Every figure carries the load average it was taken under.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-target}"
QUICK=""
[ "${1:-}" = "--quick" ] && QUICK=1
export QUICK
T0=$(date +%s)

echo "== build (release)" >&2
cargo build --release --quiet -p orchestra-bench --bin echo_axon --bin axon-load --bin curve --bin ledger-load \
  -p orchestra-devnet --bin devnet_bench -p orchestra-testkit --bin pipeline-bench
cargo bench --quiet -p orchestra-bench --no-run 2>/dev/null
T1=$(date +%s)

scripts/bench-axon.sh

echo "== idle and trickling connections" >&2
scripts/bench-conns.sh

echo "== ledger API" >&2
"$TARGET/release/ledger-load" --duration-secs "$([ -n "$QUICK" ] && echo 4 || echo 10)" --subscribers 1000 --changes 10 \
  | tee docs/benchmarks-ledger.jsonl
echo "== ledger API lookups vs connections" >&2
: >docs/benchmarks-ledger-curve.jsonl
for c in 1 4 16 64 256; do
  "$TARGET/release/ledger-load" -c "$c" --duration-secs "$([ -n "$QUICK" ] && echo 1.5 || echo 3)" --warmup-secs 0.5 \
    --skip-sse | tee -a docs/benchmarks-ledger-curve.jsonl
done
"$TARGET/release/curve" docs/benchmarks-ledger-curve.jsonl --bench ledger_lookups --x concurrency --y rps \
  --title "Ledger API lookups vs connections (in-process server, 2 threads)" --x-label "keep-alive connections" \
  --y-label "lookups/s" --label "lookups/s" --svg docs/ledger-scaling.svg | tee -a docs/benchmarks-ledger-curve.jsonl

echo "== devnet and Yuma" >&2
"$TARGET/release/devnet_bench" --yuma-svg docs/yuma-scaling.svg | tee docs/benchmarks-devnet.json

echo "== miner and validator pipeline" >&2
"$TARGET/release/pipeline-bench" "$([ -n "$QUICK" ] && echo 100 || echo 300)" | tee docs/benchmarks-pipeline.jsonl

echo "== verification vs receipts (criterion)" >&2
# cargo bench runs a bench from its package directory: paths it writes are absolute.
BENCH_VERIFY_OUT="$PWD/docs/benchmarks-verify.json" BENCH_VERIFY_SVG="$PWD/docs/verify-scaling.svg" \
  cargo bench --quiet -p orchestra-bench --bench verify >&2

echo "== validator round at scale" >&2
rm -f docs/benchmarks-round.jsonl
cargo bench --quiet -p orchestra-bench --bench round -- \
  --miners "$([ -n "$QUICK" ] && echo 16,64,256 || echo 16,64,256,1024)" --rounds 2 \
  --json "$PWD/docs/benchmarks-round.jsonl" --svg "$PWD/docs/round-scaling.svg" >&2

echo "== miner" >&2
cargo bench --quiet -p orchestra-bench --bench miner -- --objectives "$([ -n "$QUICK" ] && echo 500 || echo 2000)" \
  --in-flight 1000 | tee docs/benchmarks-miner.jsonl

python3 scripts/bench_report.py docs/benchmarks-axon.jsonl docs/benchmarks.md \
  --ledger docs/benchmarks-ledger.jsonl --ledger-curve docs/benchmarks-ledger-curve.jsonl \
  --devnet docs/benchmarks-devnet.json --pipeline docs/benchmarks-pipeline.jsonl \
  --verify docs/benchmarks-verify.json --round docs/benchmarks-round.jsonl --miner docs/benchmarks-miner.jsonl \
  --conns docs/benchmarks-conns.jsonl
T2=$(date +%s)
echo "wrote docs/benchmarks.md (build $((T1 - T0)) s, benchmarks $((T2 - T1)) s)" >&2
