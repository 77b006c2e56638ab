#!/usr/bin/env bash
# Installs the tools the deployment tests and bench:scale need, idempotently:
# podman, buildah, runc and debootstrap (images built FROM scratch, run without a
# registry), haproxy (the load balancer of bench:scale) from Debian; helm from the Go
# module proxy (cached in GOPATH/bin); kubernetes-validate from PyPI (bundles the
# Kubernetes schemas, so validation works offline). Prints where each tool is; exits 1
# naming every tool it could not install, so the tests that need them fail, not skip.
set -uo pipefail

HELM_VERSION=v3.22.0
KUBERNETES_VALIDATE_VERSION=1.37.0
missing=()
# Go's own install location, for shells whose PATH does not name it.
command -v go >/dev/null || PATH="$PATH:/usr/local/go/bin"
say() { printf '==> %s\n' "$*" >&2; }

apt_packages=()
for tool in podman buildah runc catatonit debootstrap haproxy; do
  command -v "$tool" >/dev/null || apt_packages+=("$tool")
done
if [ ${#apt_packages[@]} -gt 0 ]; then
  say "Installing ${apt_packages[*]} from Debian (apt-get)"
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    say "not root and no sudo: cannot apt-get install ${apt_packages[*]}"
  else
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    export DEBIAN_FRONTEND=noninteractive
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends \
        "${apt_packages[@]}" uidmap fuse-overlayfs slirp4netns iptables; } >&2 ||
      say "apt-get install failed"
  fi
fi
for tool in podman buildah runc catatonit debootstrap haproxy; do
  command -v "$tool" >/dev/null || missing+=("$tool (apt-get install $tool)")
done

GOBIN_DIR=$(go env GOPATH 2>/dev/null)/bin
if ! { command -v helm >/dev/null || [ -x "$GOBIN_DIR/helm" ]; }; then
  if command -v go >/dev/null; then
    say "Installing helm $HELM_VERSION with go install (a few minutes the first time)"
    go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2 || say "go install helm failed"
  fi
fi
if command -v helm >/dev/null || [ -x "$GOBIN_DIR/helm" ]; then :; else
  missing+=("helm (go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION: needs Go and the Go module proxy)")
fi

if ! python3 -c 'import kubernetes_validate' 2>/dev/null; then
  say "Installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION from PyPI"
  python3 -m pip install -q "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2 || say "pip install kubernetes-validate failed"
fi
python3 -c 'import kubernetes_validate' 2>/dev/null ||
  missing+=("kubernetes-validate (python3 -m pip install kubernetes-validate==$KUBERNETES_VALIDATE_VERSION)")

if [ ${#missing[@]} -gt 0 ]; then
  say "deploy tools missing: ${missing[*]}"
  exit 1
fi
say "deploy tools ready: podman $(podman --version | awk '{print $3}'), buildah $(buildah --version | awk '{print $3}'), helm $("$(command -v helm || echo "$GOBIN_DIR/helm")" version --short), haproxy $(haproxy -v | awk 'NR==1{print $3}')"
