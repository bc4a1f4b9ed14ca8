#!/usr/bin/env bash
# Dev-set evaluation: run eval/devset.json (objectives with reference answers over the built-in
# SIMULATED world) through the real miner pipeline and the real verifier, and write the figures
# (completion, field accuracy, Spearman(score, accuracy), red-team scores) into
# docs/benchmarks.md between the eval markers; raw rows go to docs/bench-raw/eval.json, and the
# verifier's sub-scores per strategy to crates/incentive/data/measured-populations.json (the owner
# simulator's populations: rebuild the CLI after running this).
#
#   scripts/eval.sh [--world FILE] [--devset FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >&2
TARGET="${CARGO_TARGET_DIR:-target}"
cargo build --quiet -p orchestra-testkit --bin eval
mkdir -p docs/bench-raw
md=$(mktemp)
"$TARGET/debug/eval" --json docs/bench-raw/eval.json --markdown "$md" \
  --populations crates/incentive/data/measured-populations.json "$@"
python3 - "$md" <<'PY'
import sys, re
section = open(sys.argv[1]).read().strip()
path = "docs/benchmarks.md"
doc = open(path).read()
block = "<!-- eval:start (scripts/eval.sh writes this section) -->\n" + section + "\n<!-- eval:end -->"
if "<!-- eval:start" in doc:
    doc = re.sub(r"<!-- eval:start.*?<!-- eval:end -->", lambda _: block, doc, flags=re.S)
else:
    doc = doc.rstrip() + "\n\n## Answer quality: dev-set evaluation\n\n" + block + "\n"
open(path, "w").write(doc)
PY
rm -f "$md"
echo "eval: docs/benchmarks.md updated" >&2
