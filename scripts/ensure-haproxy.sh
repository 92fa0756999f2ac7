#!/usr/bin/env bash
# Makes sure Debian's HAProxy is installed, so test/deploy.test.ts can check deploy/haproxy/haproxy.cfg with
# `haproxy -c`; installs it if not. Used by .ci/run. Idempotent. Nothing is downloaded but the Debian package,
# and the package's own service is not started (only the binary is needed).
set -euo pipefail

if [ -x /usr/sbin/haproxy ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-haproxy: /usr/sbin/haproxy is missing; install it with: sudo apt-get install -y haproxy" >&2
  exit 1
fi
echo "ensure-haproxy: installing Debian's haproxy"
# Keep the package's postinst from starting a daemon: policy-rc.d exit 101 means "action forbidden".
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
[ -x /usr/sbin/haproxy ] || { echo "ensure-haproxy: the install did not provide /usr/sbin/haproxy" >&2; exit 1; }
