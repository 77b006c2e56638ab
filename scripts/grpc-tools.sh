#!/usr/bin/env bash
# Installs the gRPC clients the tests call, into .cache/ (gitignored), once:
#   grpcurl      Go module github.com/fullstorydev/grpcurl/cmd/grpcurl (needs go)
#   grpcio-tools Python venv with grpcio and grpcio-tools from PyPI (needs python3 -m venv)
# Idempotent; a tool that cannot be installed is reported and left out (its tests then
# fail with a message naming this script). buf itself comes from npm (@bufbuild/buf).
set -uo pipefail
cd "$(dirname "$0")/.."
CACHE="$PWD/.cache"
GRPCURL_VERSION=v1.9.3
GRPCIO_VERSION=1.76.0
mkdir -p "$CACHE/go-bin"

if [ ! -x "$CACHE/go-bin/grpcurl" ]; then
  if command -v go >/dev/null; then
    echo "==> Installing grpcurl $GRPCURL_VERSION (go install, a few minutes the first time)" >&2
    GOBIN="$CACHE/go-bin" go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION" >&2 || echo "grpc-tools: go install grpcurl failed." >&2
  else
    echo "grpc-tools: go is not installed, so no grpcurl." >&2
  fi
fi

if [ ! -x "$CACHE/python/bin/python" ] || ! "$CACHE/python/bin/python" -c "import grpc_tools, grpc" 2>/dev/null; then
  echo "==> Installing grpcio-tools $GRPCIO_VERSION into .cache/python" >&2
  { python3 -m venv "$CACHE/python" && "$CACHE/python/bin/pip" install --quiet "grpcio==$GRPCIO_VERSION" "grpcio-tools==$GRPCIO_VERSION"; } >&2 \
    || echo "grpc-tools: could not install grpcio-tools (python3 -m venv and pip from PyPI)." >&2
fi
