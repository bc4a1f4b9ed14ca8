#!/usr/bin/env bash
# Start the real subtensor runtime locally: chopsticks executing the runtime WASM of
# shared/chain/subtensor-raonet-spec218.json (spec_version 218), in memory, one block per
# extrinsic (build-block-mode Instant), //Alice as Sudo, //Alice //Bob //Charlie //Dave //Eve
# //Ferdie funded with 1,000,000 TAO each. Waits until it answers JSON-RPC and prints the
# WebSocket endpoint on stdout (the last line); everything else goes to stderr.
#
#   scripts/local-runtime.sh [--port 9944] [--dir DIR] [--log-level 0-5] [--foreground]
#   scripts/local-runtime.sh --stop [--dir DIR]
#
# In the background (the default) chopsticks' pid is in DIR/chopsticks.pid and its log in
# DIR/chopsticks.log; stop it with --stop. Produce blocks with the `dev_newBlock` RPC method
# (`{"count": N}`); `account_nextIndex` (which the Python SDK calls) is served as an alias of
# system_accountNextIndex. Start-up takes 3-11 s. Installs chopsticks first (scripts/chopsticks.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${ORCHESTRA_SHARED:-$(cd "$ROOT/.." && pwd)/shared}"
SPEC="${ORCHESTRA_RUNTIME_SPEC:-$SHARED/chain/subtensor-raonet-spec218.json}"
PORT=9944
DIR=""
LOG_LEVEL=0
FOREGROUND=0
STOP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT="$2"; shift 2 ;;
    --dir) DIR="$2"; shift 2 ;;
    --log-level) LOG_LEVEL="$2"; shift 2 ;;
    --foreground) FOREGROUND=1; shift ;;
    --stop) STOP=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "local-runtime.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
DIR="${DIR:-${TMPDIR:-/tmp}/orchestra-local-runtime-$PORT}"
mkdir -p "$DIR"

if [ "$STOP" = 1 ]; then
  if [ -f "$DIR/chopsticks.pid" ]; then
    kill "$(cat "$DIR/chopsticks.pid")" 2>/dev/null || true
    rm -f "$DIR/chopsticks.pid"
  fi
  exit 0
fi
if [ ! -f "$SPEC" ]; then
  echo "local-runtime.sh: no chain spec at $SPEC (set ORCHESTRA_SHARED or ORCHESTRA_RUNTIME_SPEC)" >&2
  exit 1
fi
CHOPSTICKS="$("$ROOT/scripts/chopsticks.sh")"

# SS58 (prefix 42) of the dev accounts //Alice … //Ferdie.
ACCOUNTS=(
  5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY
  5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty
  5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y
  5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy
  5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw
  5CiPPseXPECbkjWCa6MnjNokrgYjMqmKndv2rSnekmSK2DjL
)
FUND="${ORCHESTRA_RUNTIME_FUND:-1000000000000000}"   # rao: 1,000,000 TAO
{
  echo "genesis: $SPEC"
  echo "port: $PORT"
  echo "host: 127.0.0.1"
  echo "build-block-mode: Instant"
  echo "runtime-log-level: $LOG_LEVEL"
  echo "import-storage:"
  echo "  Sudo:"
  echo "    Key: ${ACCOUNTS[0]}"
  echo "  System:"
  echo "    Account:"
  for a in "${ACCOUNTS[@]}"; do
    echo "      - [[$a], {providers: 1, data: {free: '$FUND'}}]"
  done
} >"$DIR/config.yml"
# The Python SDK's substrate layer calls account_nextIndex, which chopsticks does not serve.
cat >"$DIR/rpc-methods.js" <<'JS'
return {
  account_nextIndex: async (context, [address]) => {
    const head = context.chain.head;
    const registry = await head.registry;
    const account = registry.createType('AccountId', address);
    const result = await head.call('AccountNonceApi_account_nonce', [account.toHex()]);
    // The result is the SCALE (little-endian) u32 nonce as hex.
    const hex = result.result.slice(2);
    let nonce = 0;
    for (let i = hex.length - 2; i >= 0; i -= 2) nonce = nonce * 256 + parseInt(hex.slice(i, i + 2), 16);
    return nonce + context.chain.txPool.pendingExtrinsicsBy(address).length;
  },
};
JS
ARGS=(--config "$DIR/config.yml" --unsafe-rpc-methods "$DIR/rpc-methods.js")
if [ "$FOREGROUND" = 1 ]; then
  exec "$CHOPSTICKS" "${ARGS[@]}"
fi

if [ -f "$DIR/chopsticks.pid" ] && kill -0 "$(cat "$DIR/chopsticks.pid")" 2>/dev/null; then
  echo "local-runtime.sh: already running (pid $(cat "$DIR/chopsticks.pid")); --stop first" >&2
  exit 1
fi
start=$(date +%s%N)
nohup "$CHOPSTICKS" "${ARGS[@]}" >"$DIR/chopsticks.log" 2>&1 &
echo $! >"$DIR/chopsticks.pid"
# Start-up takes 3-18 s on an idle machine, much longer on one busy with builds and tests.
WAIT_SECS="${ORCHESTRA_RUNTIME_WAIT_SECS:-180}"
for _ in $(seq 1 $((WAIT_SECS * 4))); do
  if ! kill -0 "$(cat "$DIR/chopsticks.pid")" 2>/dev/null; then
    echo "local-runtime.sh: chopsticks exited; its log ($DIR/chopsticks.log):" >&2
    tail -n 30 "$DIR/chopsticks.log" >&2
    exit 1
  fi
  if curl -sf -m 2 -H 'Content-Type: application/json' \
      -d '{"jsonrpc":"2.0","id":1,"method":"chain_getHeader","params":[]}' \
      "http://127.0.0.1:$PORT" 2>/dev/null | grep -q '"number"'; then
    echo "subtensor runtime up in $(( ($(date +%s%N) - start) / 1000000 )) ms, pid $(cat "$DIR/chopsticks.pid"), log $DIR/chopsticks.log" >&2
    echo "ws://127.0.0.1:$PORT"
    exit 0
  fi
  sleep 0.25
done
echo "local-runtime.sh: no RPC answer on port $PORT after $WAIT_SECS s; log: $DIR/chopsticks.log" >&2
kill "$(cat "$DIR/chopsticks.pid")" 2>/dev/null || true
exit 1
