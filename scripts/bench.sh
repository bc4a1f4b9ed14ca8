#!/usr/bin/env bash
# Regenerate docs/benchmarks.md: every benchmark, one run, release builds.
#
#   scripts/bench.sh        # ~6–10 minutes on 2 cores (builds included); run on an idle machine
#
# Runs the axon benchmark (scripts/bench-axon.sh: Rust vs the Python SDK axon), the idle and
# trickling connections benchmark (scripts/bench-conns.sh), the Ledger API load test, the
# devnet/Yuma benchmark and the miner/validator pipeline benchmark, keeps their
# raw JSON in docs/benchmarks-*.json*, and rewrites docs/benchmarks.md from them
# (scripts/bench_report.py).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-target}"

scripts/bench-axon.sh
echo "== idle and trickling connections" >&2
scripts/bench-conns.sh
cargo build --release --quiet -p orchestra-bench --bin ledger-load -p orchestra-devnet --bin devnet_bench \
  -p orchestra-testkit --bin pipeline-bench
echo "== ledger API" >&2
"$TARGET/release/ledger-load" --duration-secs 10 --subscribers 1000 --changes 10 | tee docs/benchmarks-ledger.jsonl
echo "== devnet and Yuma" >&2
"$TARGET/release/devnet_bench" --yuma-svg docs/yuma-scaling.svg | tee docs/benchmarks-devnet.json
echo "== miner and validator" >&2
"$TARGET/release/pipeline-bench" 300 | tee docs/benchmarks-pipeline.jsonl
python3 scripts/bench_report.py docs/benchmarks-axon.jsonl docs/benchmarks.md \
  --ledger docs/benchmarks-ledger.jsonl --devnet docs/benchmarks-devnet.json --pipeline docs/benchmarks-pipeline.jsonl \
  --conns docs/benchmarks-conns.jsonl
echo "wrote docs/benchmarks.md" >&2
