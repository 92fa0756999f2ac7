#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the browser tests (test/browser); installs it if not.
# Used by .ci/run and by the test suite's global setup. Nothing is downloaded but the Debian package.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: /usr/bin/chromium is missing; install it with: sudo apt-get install -y chromium" >&2
  exit 1
fi
echo "ensure-chromium: installing Debian's chromium"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
[ -x /usr/bin/chromium ] || { echo "ensure-chromium: the install did not provide /usr/bin/chromium" >&2; exit 1; }
