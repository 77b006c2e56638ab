#!/usr/bin/env bash
# Stop the broker started by start.sh: SIGTERM (Kafka shuts down cleanly, so the
# next start needs no log recovery), then SIGKILL if it takes too long.
# Stopping a broker that is not running is not an error.
# Settings: KAFKA_RUN_DIR (default .kafka), KAFKA_STOP_TIMEOUT (default 30 s).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN_DIR="${KAFKA_RUN_DIR:-$ROOT/.kafka}"
TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
PID_FILE="$RUN_DIR/broker.pid"

# A PID counts only if that process is still our broker (PIDs get reused).
is_our_broker() { [[ -r "/proc/$1/cmdline" ]] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -q 'kafka\.Kafka '; }

pid="$(cat "$PID_FILE" 2>/dev/null || true)"
if [[ -z "$pid" ]] || ! is_our_broker "$pid"; then
  rm -f "$PID_FILE"
  echo "Kafka was not running."
  exit 0
fi

# Wait (bounded) until the process is gone, so its ports are free on return.
wait_gone() {
  local deadline=$((SECONDS + $1))
  while kill -0 "$pid" 2>/dev/null; do
    (( SECONDS < deadline )) || return 1
    sleep 0.2
  done
}

echo "Stopping Kafka (PID $pid)..."
start=$SECONDS
kill -TERM "$pid" 2>/dev/null || true
if ! wait_gone "$TIMEOUT"; then
  echo "Kafka did not stop within ${TIMEOUT}s; killing it."
  kill -KILL "$pid" 2>/dev/null || true
  # SIGKILL is delivered asynchronously too.
  wait_gone 10 || { echo "Kafka (PID $pid) is still alive after SIGKILL." >&2; exit 1; }
fi
rm -f "$PID_FILE"
echo "Kafka stopped ($((SECONDS - start))s)."
