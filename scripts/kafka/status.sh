#!/usr/bin/env bash
# Say whether the broker started by start.sh is running.
# Exit 0 if it is, 1 if not (usable as a check in scripts and CI).
# Settings: KAFKA_RUN_DIR (default .kafka).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN_DIR="${KAFKA_RUN_DIR:-$ROOT/.kafka}"
PID_FILE="$RUN_DIR/broker.pid"

# A PID counts only if that process is still our broker (PIDs get reused).
is_our_broker() { [[ -r "/proc/$1/cmdline" ]] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -q 'kafka\.Kafka '; }

pid="$(cat "$PID_FILE" 2>/dev/null || true)"
if [[ -n "$pid" ]] && is_our_broker "$pid"; then
  # The port the broker was started with, read from the config start.sh wrote.
  port="$(sed -n 's/^advertised\.listeners=PLAINTEXT:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' "$RUN_DIR/server.properties")"
  echo "Kafka is running (PID $pid, port $port)."
  exit 0
fi
echo "Kafka is not running."
exit 1
