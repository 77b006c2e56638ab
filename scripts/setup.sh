#!/usr/bin/env bash
# Installs what ChainMail needs on a fresh machine (system Node 20, no pnpm, nothing
# global): pnpm runs through npx, the workspace's packages include Node 24 (Hardhat 3
# needs it), then the contracts are compiled (with their TypeChain types) and the
# workspace packages built into JavaScript (package.json's "build").
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=10.34.8
step() { printf '\n==> %s\n' "$*" >&2; }

if ! command -v npx >/dev/null; then
  echo "setup: npx (from Node.js and npm) is needed and was not found on PATH." >&2
  exit 1
fi

step "Installing packages with pnpm ${PNPM_VERSION} (first run takes about a minute)"
npx --yes "pnpm@${PNPM_VERSION}" install --frozen-lockfile --reporter=append-only 2>&1 | grep -v '^Progress' >&2 || {
  echo "setup: pnpm install failed (see above)." >&2
  exit 1
}

export PATH="$PWD/node_modules/.bin:$PATH"
step "Compiling contracts with solc from npm and building the packages (Node $(node --version))"
node --run build >&2
