#!/usr/bin/env bash
# The main job: installs what is missing, then starts a local ChainMail stack (chain,
# registry, demo channel, Kafka where Java is present, relayer, mirror) and tells you what
# to do next. Ctrl-C, kill (INT/TERM) or closing the terminal (HUP) stops everything it
# started, also when its output is piped (`./scripts/start.sh | tee log`).
# CHAINMAIL_SKIP_SETUP=1 skips the install and build (they are already done).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${CHAINMAIL_SKIP_SETUP:-0}" != 1 ]]; then bash scripts/setup.sh; fi
export PATH="$PWD/node_modules/.bin:$PATH"
# The node binary itself, neither the tsx wrapper nor node_modules/.bin/node (a shell
# script that does not exec): a signal sent to this script's PID then reaches the stack,
# which stops its parts.
exec "$(node -p process.execPath)" --import tsx scripts/local-stack.ts
