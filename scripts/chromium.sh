#!/usr/bin/env bash
# Makes sure Debian's chromium is installed for the timeline's browser tests (the test
# suite drives it with playwright-core; nothing is downloaded by Playwright itself).
# Idempotent: does nothing when /usr/bin/chromium exists.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium.sh: /usr/bin/chromium is missing and installing it needs root: sudo apt-get install -y chromium" >&2
  exit 1
fi
echo "==> Installing Debian's chromium for the browser tests" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends chromium >&2 || { apt-get update >&2 && apt-get install -y --no-install-recommends chromium >&2; }
