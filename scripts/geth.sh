#!/usr/bin/env bash
# Installs geth (go-ethereum's client) for the end-to-end suite on geth, into .cache/go-bin
# (gitignored), once: `go install` of the Go module at GETH_VERSION, a few minutes on
# 2 cores the first time, seconds after that while Go's build cache holds it. Prints the
# binary's path on stdout. Idempotent; exits non-zero (and the geth suite then fails with
# a message naming this script) when go is missing or the install fails.
# GETH overrides the binary (an existing install of the same version).
set -uo pipefail
cd "$(dirname "$0")/.."
CACHE="$PWD/.cache"
GETH_VERSION=v1.17.10
BIN="$CACHE/go-bin/geth"

if [ -n "${GETH:-}" ]; then echo "$GETH"; exit 0; fi
# The version is part of what is cached: a binary of another version is replaced.
if [ -x "$BIN" ] && "$BIN" version 2>/dev/null | grep -q "^Version: ${GETH_VERSION#v}"; then
  echo "$BIN"; exit 0
fi
command -v go >/dev/null || PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null; then
  echo "geth: go is not installed, so no geth (the geth suite needs it)." >&2
  exit 1
fi
mkdir -p "$CACHE/go-bin"
# Go's module and build caches stay where Go keeps them (shared with other installs on the
# machine) when that place is writable; otherwise they go under .cache, so a fresh clone
# installs without anything outside it.
if ! { mkdir -p "$(go env GOMODCACHE)" && [ -w "$(go env GOMODCACHE)" ]; } 2>/dev/null; then
  export GOMODCACHE="$CACHE/go-mod"
fi
if ! { mkdir -p "$(go env GOCACHE)" && [ -w "$(go env GOCACHE)" ]; } 2>/dev/null; then
  export GOCACHE="$CACHE/go-build"
fi
# Module mode regardless of the caller's GOFLAGS (a -mod=vendor would break `go install x@v`).
export GOFLAGS="-buildvcs=false"
echo "==> Installing geth $GETH_VERSION (go install, a few minutes the first time)" >&2
if ! GOBIN="$CACHE/go-bin" go install "github.com/ethereum/go-ethereum/cmd/geth@$GETH_VERSION" >&2; then
  echo "geth: go install github.com/ethereum/go-ethereum/cmd/geth@$GETH_VERSION failed." >&2
  exit 1
fi
echo "$BIN"
