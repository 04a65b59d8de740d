#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the console's browser tests
# (docs/console.md#tests): installs the `chromium` package when it is missing, or says why it cannot.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "error: /usr/bin/chromium is missing and apt-get is not available: install Chromium so that /usr/bin/chromium runs it (the console's browser tests drive it)." >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "error: /usr/bin/chromium is missing: run 'sudo apt-get install -y chromium' (the console's browser tests drive it)." >&2
  exit 1
fi
echo "Installing Debian's chromium for the console's browser tests..."
if ! { apt-get install -y --no-install-recommends chromium || { apt-get update && apt-get install -y --no-install-recommends chromium; }; }; then
  echo "error: apt-get could not install chromium; install it so that /usr/bin/chromium exists." >&2
  exit 1
fi
[ -x /usr/bin/chromium ] || { echo "error: the chromium package did not provide /usr/bin/chromium." >&2; exit 1; }
