#!/usr/bin/env bash
# Idle and trickling connections: a normal client's p50/p99 against the echo axon, the miner's
# axon (signed `Capabilities` calls) and the validator's API, unloaded and with 1,000 idle or 1,000 trickling
# connections held open (`conn-flood`, crates/bench). Writes docs/benchmarks-conns.jsonl;
# scripts/bench_report.py renders it in docs/benchmarks.md ("Idle and trickling connections").
#
#   scripts/bench-conns.sh          # release build; ~1 minute after the build
#
# CONNS (default 1000) flood connections, N (default 2000) requests per measurement, ROUNDS
# (default 5) rounds of (unloaded, flooded) per row, medians reported. The
# validator runs against a local devnet with a bootstrap production key; the HTTP client asks
# `GET /v1/subnets` (a real Ledger API lookup) with it.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-target}"
CONNS="${CONNS:-1000}"
N="${N:-2000}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

# PROFILE=debug uses debug builds (quicker to build, slower to serve; for trying the script).
# DEVNET_PROFILE picks the build of the devnet (`orchestra devnet`), which is the validator's
# chain and not under test (default: PROFILE).
PROFILE="${PROFILE:-release}"
DEVNET_PROFILE="${DEVNET_PROFILE:-$PROFILE}"
flag() { [ "$1" = "release" ] && echo --release || true; }
cargo build $(flag "$PROFILE") --quiet -p orchestra-bench --bin echo_axon --bin conn-flood \
  -p orchestra-validator --bin validator -p orchestra-miner --bin miner
cargo build $(flag "$DEVNET_PROFILE") --quiet -p orchestra-cli --bin orchestra
R="$TARGET/$PROFILE"
# Enough descriptors for the flood, the servers and the client (conn-flood raises its own soft
# limit to the hard one; the servers do the same).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "open-file limit: $(ulimit -n)" >&2

ready_field() { # file field
  for _ in $(seq 1 300); do
    if grep -q '"ready"' "$1" 2>/dev/null; then
      python3 -c 'import json,sys; print(next(json.loads(l)[sys.argv[2]] for l in open(sys.argv[1]) if "ready" in l))' "$1" "$2"
      return 0
    fi
    sleep 0.1
  done
  echo "not ready: $(cat "$1")" >&2; return 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$R/echo_axon" --host 127.0.0.1 --port 0 --uri //Alice >"$WORK/echo.out" 2>"$WORK/echo.err" &
EPID=$!; PIDS+=($EPID)
"$TARGET/$DEVNET_PROFILE/orchestra" devnet --port 0 --data-dir "$WORK/devnet" --block-time-ms 1000 >"$WORK/devnet.out" 2>"$WORK/devnet.err" &
PIDS+=($!)
EPORT=$(ready_field "$WORK/echo.out" port); EHOT=$(ready_field "$WORK/echo.out" hotkey)
DEVNET=$(ready_field "$WORK/devnet.out" url)
APORT=$(free_port)
MPORT=$(free_port)
# The miner's axon, answering any signed caller (--blacklist.allow_any: the flood client is not a
# registered validator), not announced on chain (--axon.no_serve), and without the per-hotkey
# rate limit (--axon.hotkey_rate 0: the one normal client calls back to back, far above 50/s).
"$R/miner" --uri //Alice --chain.endpoint "$DEVNET" --data-dir "$WORK/miner" --axon.host 127.0.0.1 \
  --axon.port "$MPORT" --axon.no_serve --blacklist.allow_any --axon.hotkey_rate 0 --net.allow_private >"$WORK/miner.log" 2>&1 &
MPID=$!; PIDS+=($MPID)
"$R/validator" --uri //Alice --chain.endpoint "$DEVNET" --data-dir "$WORK/validator" --api.host 127.0.0.1 \
  --api.port "$APORT" --epoch.secs 3600 --metagraph.sync_secs 3600 --ledger.publish_root false \
  --api.bootstrap_key_file "$WORK/key" --net.allow_private >"$WORK/validator.log" 2>&1 &
VPID=$!; PIDS+=($VPID)
for _ in $(seq 1 300); do
  [ -s "$WORK/key" ] && curl -sf "http://127.0.0.1:$APORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$APORT/healthz" >/dev/null || { echo "validator API not up: $(tail -5 "$WORK/validator.log")" >&2; exit 1; }

OUT="$WORK/conns.jsonl"
echo "{\"bench\":\"conn_flood_meta\",\"profile\":\"$PROFILE\",\"nproc\":$(nproc)}" >"$OUT"
echo "== echo axon: $CONNS idle, then $CONNS trickling connections" >&2
"$R/conn-flood" --rounds "${ROUNDS:-5}" --addr "127.0.0.1:$EPORT" --kind axon --axon-hotkey "$EHOT" --conns "$CONNS" -n "$N" \
  --pid "$EPID" --label echo-axon | tee -a "$OUT"
for _ in $(seq 1 300); do
  python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$MPORT" 2>/dev/null && break
  sleep 0.1
done
MHOT="$EHOT" # the miner runs as //Alice too (not registered; the echo axon printed that hotkey)
echo "== miner axon (signed Capabilities): $CONNS idle, then $CONNS trickling connections" >&2
"$R/conn-flood" --rounds "${ROUNDS:-5}" --addr "127.0.0.1:$MPORT" --kind miner --axon-hotkey "$MHOT" --conns "$CONNS" -n "$N" \
  --pid "$MPID" --label miner-axon | tee -a "$OUT"
echo "== validator API (GET /v1/subnets, production key): $CONNS idle, then $CONNS trickling connections" >&2
"$R/conn-flood" --rounds "${ROUNDS:-5}" --addr "127.0.0.1:$APORT" --kind http --path /v1/subnets --bearer-file "$WORK/key" \
  --conns "$CONNS" -n "$N" --pid "$VPID" --label validator-api | tee -a "$OUT"
mkdir -p docs
cp "$OUT" docs/benchmarks-conns.jsonl
