#!/usr/bin/env bash
# podman with the settings that work on machines like the project's CI (root, no
# cgroup delegation, no registry): vfs storage (the same as scripts/image/build.sh's
# buildah, so the images it builds are here), runc with cgroupfs, and no default
# ulimits. Any podman command: deploy/scripts/podman.sh run|ps|logs|kube play ...
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$HERE/podman/containers.conf}
exec podman --storage-driver vfs --runtime runc --cgroup-manager cgroupfs "$@"
