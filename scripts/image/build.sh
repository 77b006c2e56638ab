#!/usr/bin/env bash
# Builds the ChainMail image (relayer and mirror: `chainmail relayer`, `chainmail mirror`)
# on a machine where no registry image can be pulled, with the same layout as
# deploy/Containerfile: FROM scratch over a Debian bookworm minbase root filesystem
# (debootstrap, cached in .cache/image/), Node 24 from the npm package `node` that setup
# installed, and the compiled CLI with its production dependencies only (pnpm deploy).
#
#   bash scripts/image/build.sh [IMAGE]        default localhost/chainmail:dev
#
# Needs root, debootstrap and buildah (deploy/scripts/tools.sh installs them) and a built
# workspace (scripts/setup.sh). First run: about a minute for debootstrap; then ~10 s.
# Prints the image's name and size on the last line.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
IMAGE=${1:-localhost/chainmail:dev}
CACHE=${CHAINMAIL_IMAGE_CACHE:-$ROOT/.cache/image}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PNPM_VERSION=10.34.8
# Storage and isolation that work without a daemon or cgroup delegation (TOOLCHAIN.md).
BUILDAH=(buildah --storage-driver vfs)
say() { printf '==> %s\n' "$*" >&2; }
fail() { echo "image build: $*" >&2; exit 1; }

for tool in debootstrap buildah; do
  command -v "$tool" >/dev/null || fail "$tool is not installed; run deploy/scripts/tools.sh (apt-get install -y $tool)."
done
[ "$(id -u)" -eq 0 ] || fail "debootstrap and buildah's chroot isolation need root."
NODE_BIN=$(ls "$ROOT"/node_modules/.pnpm/node@24.*/node_modules/node/bin/node 2>/dev/null | head -1)
[ -x "$NODE_BIN" ] || fail "Node 24 from the npm package node is missing; run scripts/setup.sh."
[ -f packages/cli/dist/main.js ] || fail "the packages are not built; run scripts/setup.sh (or node --run build)."
mkdir -p "$CACHE"

# 1. The base root filesystem, made once: debootstrap into a temporary folder, trimmed,
#    with the service user added, then packed as a tar (which keeps owners and modes).
ROOTFS_TAR=$CACHE/rootfs-bookworm-minbase.tar
if [ ! -s "$ROOTFS_TAR" ]; then
  say "Making a Debian bookworm minbase root filesystem with debootstrap (about a minute, once)"
  rm -rf "$CACHE/rootfs.tmp"
  debootstrap --variant=minbase bookworm "$CACHE/rootfs.tmp" "$DEBIAN_MIRROR" >&2
  # apt's lists and downloads, documentation and manuals: nothing the services read.
  rm -rf "$CACHE"/rootfs.tmp/var/cache/apt/* "$CACHE"/rootfs.tmp/var/lib/apt/lists/* \
    "$CACHE"/rootfs.tmp/usr/share/doc/* "$CACHE"/rootfs.tmp/usr/share/man/* "$CACHE"/rootfs.tmp/usr/share/info/*
  echo "chainmail:x:10001:10001:ChainMail:/app:/usr/sbin/nologin" >>"$CACHE/rootfs.tmp/etc/passwd"
  echo "chainmail:x:10001:" >>"$CACHE/rootfs.tmp/etc/group"
  # /dev is the runtime's to fill; debootstrap's device nodes would only get in the way.
  tar -C "$CACHE/rootfs.tmp" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf "$ROOTFS_TAR.tmp" .
  mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf "$CACHE/rootfs.tmp"
fi

# 2. The build context: the CLI and its production dependencies (workspace packages are
#    copied in, not linked), Node's binary (debug sections stripped when `strip` exists:
#    127 -> 124 MB) and the launcher.
CONTEXT=$CACHE/context
rm -rf "$CONTEXT"
mkdir -p "$CONTEXT"
say "Collecting the CLI with its production dependencies (pnpm deploy --prod)"
# --legacy: pnpm 10's newer deploy wants inject-workspace-packages for the whole workspace.
npx --yes "pnpm@$PNPM_VERSION" --filter @chainmail/cli deploy --prod --legacy --reporter=silent "$CONTEXT/app" >&2
cp "$NODE_BIN" "$CONTEXT/node"
if command -v strip >/dev/null; then strip --strip-debug "$CONTEXT/node"; fi
cp deploy/image/chainmail "$CONTEXT/chainmail"
cp deploy/image/Containerfile.scratch "$CONTEXT/Containerfile"
ln "$ROOTFS_TAR" "$CONTEXT/rootfs.tar" 2>/dev/null || cp "$ROOTFS_TAR" "$CONTEXT/rootfs.tar"

# 3. The image.
say "Building $IMAGE with buildah"
PREVIOUS=$("${BUILDAH[@]}" images -q "$IMAGE" 2>/dev/null || true)
"${BUILDAH[@]}" bud --isolation chroot --layers=false -q -t "$IMAGE" -f "$CONTEXT/Containerfile" "$CONTEXT" >&2
# vfs keeps a full copy per image: drop the one this build replaced (unless in use).
CURRENT=$("${BUILDAH[@]}" images -q "$IMAGE")
if [ -n "$PREVIOUS" ] && [ "$PREVIOUS" != "$CURRENT" ]; then "${BUILDAH[@]}" rmi "$PREVIOUS" >/dev/null 2>&1 || true; fi
SIZE=$("${BUILDAH[@]}" images --format '{{.Size}}' "$IMAGE" | head -1)
echo "built $IMAGE ($SIZE)"
