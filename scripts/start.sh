#!/usr/bin/env bash
# The main job: installs what is missing, then starts a local ChainMail stack (chain,
# registry, demo channel, Kafka where Java is present, relayer, mirror) and tells you what
# to do next. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH"
exec tsx scripts/local-stack.ts
