#!/usr/bin/env bash
# The whole test suite: contract tests (Solidity fuzzing and mocha), then each workspace
# package's tests (relayer, mirror, audit, subscriber, CLI...) against real services. Starts a Kafka broker of its own (when
# Java is present) and stops it at the end; the tests start their own chain nodes.
# The last line totals every suite as "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
export PATH="$ROOT/node_modules/.bin:$PATH"
# grpcurl and Python's grpcio-tools for the gRPC client tests (cached in .cache/).
bash scripts/grpc-tools.sh
# geth (Go module, cached in .cache/go-bin) for the suite on geth, built in the background
# while the other suites run (its first `go install` takes minutes); the geth suite waits for it.
GETH_OUT=$(mktemp "${TMPDIR:-/tmp}/chainmail-geth.XXXXXX")
bash scripts/geth.sh >"$GETH_OUT" &
GETH_INSTALL=$!
# The timeline page's tests run in Debian's chromium; a failure here shows up as failed tests.
bash scripts/chromium.sh || echo "test: chromium is not installed; the browser tests will fail." >&2

WORK=$(mktemp -d "${TMPDIR:-/tmp}/chainmail-test.XXXXXX")
BROKER_STARTED=0
cleanup() {
  if [ "$BROKER_STARTED" = 1 ]; then
    KAFKA_RUN_DIR="$WORK/kafka" bash scripts/kafka/stop.sh >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${KAFKA_BROKERS:-}" ]; then
  if command -v java >/dev/null; then
    PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    CONTROLLER_PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    echo "==> Starting a Kafka broker for the tests on 127.0.0.1:$PORT" >&2
    if KAFKA_PORT=$PORT KAFKA_CONTROLLER_PORT=$CONTROLLER_PORT KAFKA_RUN_DIR="$WORK/kafka" \
      bash scripts/kafka/start.sh >&2; then
      BROKER_STARTED=1
      export KAFKA_BROKERS="127.0.0.1:$PORT"
    else
      echo "test: the Kafka broker did not start; the Kafka tests will fail." >&2
    fi
  else
    echo "test: Java is not installed, so no Kafka broker: the Kafka tests will fail. Set KAFKA_BROKERS to use an existing broker." >&2
  fi
fi

PASSED=0
FAILED=0
# Runs one suite, shows its output, and adds its mocha-style "N passing"/"N failing"
# summary to the totals; a suite that dies before its summary counts as one failure.
run_suite() {
  local name=$1
  shift
  echo "==> $name" >&2
  local log="$WORK/$name.log"
  "$@" 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  local passing failing
  passing=$(grep -Eo '^ *[0-9]+ passing' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  failing=$(grep -Eo '^ *[0-9]+ failing' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  if [ "$status" -ne 0 ] && [ "$failing" -eq 0 ]; then failing=1; fi
  PASSED=$((PASSED + passing))
  FAILED=$((FAILED + failing))
  echo "==> $name: $passing passed, $failing failed" >&2
}

run_suite typecheck bash -c 'if tsc -p . && tsc -p relayer/ui; then echo "  1 passing"; else echo "  1 failing"; exit 1; fi'
run_suite contracts hardhat test
# Slither over the contracts; any finding not triaged in scripts/slither/triage.json fails.
run_suite slither bash scripts/slither.sh
for dir in packages/protocol packages/runtime packages/chain packages/testkit packages/client packages/teams relayer packages/mirror packages/subscriber packages/audit packages/cli deploy; do
  run_suite "$(basename "$dir")" bash -c "cd $dir && mocha"
done
# The end-to-end flow and the submitter's recovery paths on a geth dev node (relayer/test/geth).
if wait "$GETH_INSTALL"; then
  GETH=$(cat "$GETH_OUT") && export GETH
else
  echo "test: geth could not be installed (scripts/geth.sh); the geth suite will fail." >&2
fi
rm -f "$GETH_OUT"
run_suite geth bash -c "cd relayer && mocha --config .mocharc.geth.json"

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
