#!/usr/bin/env bash
# Static analysis of the project's contracts with Slither, as a test suite: every finding
# must be in the committed triage list (scripts/slither/triage.json, each with the reason
# it is accepted), so a new finding fails. Installs slither-analyzer and crytic-compile
# from PyPI into .cache/slither once (idempotent); compiles through scripts/slither/solc.mjs,
# a `solc --standard-json` around the npm solc (no compiler download).
set -uo pipefail
cd "$(dirname "$0")/.."
SLITHER_VERSION=0.11.6
CRYTIC_COMPILE_VERSION=0.4.2
VENV="$PWD/.cache/slither"

if ! "$VENV/bin/slither" --version 2>/dev/null | grep -qx "$SLITHER_VERSION"; then
  echo "==> Installing slither-analyzer $SLITHER_VERSION into .cache/slither" >&2
  { python3 -m venv "$VENV" && "$VENV/bin/pip" install --quiet "slither-analyzer==$SLITHER_VERSION" "crytic-compile==$CRYTIC_COMPILE_VERSION"; } >&2 \
    || { echo "slither: could not install slither-analyzer (python3 -m venv and pip from PyPI)." >&2; echo "  1 failing"; exit 1; }
fi

OUT=$(mktemp -d "${TMPDIR:-/tmp}/chainmail-slither.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
reports=()
# Slither takes a directory's top-level files as one compilation: the registry (with its
# interface) and the relayer's probe. Test-only contracts (contracts/test) are left out.
for target in contracts contracts/probe; do
  report="$OUT/$(echo "$target" | tr / -).json"
  "$VENV/bin/slither" "$target" --solc scripts/slither/solc.mjs --solc-standard-json \
    --solc-remaps "@openzeppelin/=node_modules/@openzeppelin/" --filter-paths node_modules \
    --json "$report" >"$OUT/log" 2>&1
  if [ ! -s "$report" ]; then
    cat "$OUT/log" >&2
    echo "slither: no report for $target." >&2
    echo "  1 failing"
    exit 1
  fi
  reports+=("$report")
done
node scripts/slither/check.mjs "${reports[@]}"
