#!/usr/bin/env bash
# Runs the test suite on another Node.js major (the `node` package from the npm registry ships the binary
# and its headers). Works on a copy of the project so native modules rebuilt for that Node do not replace
# the ones built for the default Node. Usage: scripts/test-on-node.sh 22 [vitest filters...]
set -euo pipefail
major="${1:?usage: test-on-node.sh MAJOR}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-node${major}-XXXXXX")"
trap 'rm -rf "$work"' EXIT

npm install --prefix "$work/runtime" --no-audit --no-fund --no-save "node@${major}" >/dev/null
runtime="$(dirname "$(dirname "$(find "$work/runtime/node_modules" -path '*/bin/node' -type f | head -n 1)")")"
[ -d "$runtime/include/node" ] || { echo "test-on-node: node@${major} came without headers" >&2; exit 1; }

mkdir -p "$work/app"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$work/app"
cd "$work/app"
export PATH="$runtime/bin:$PATH" npm_config_nodedir="$runtime"
echo "test-on-node: $(node -v)"
npm ci --no-audit --no-fund >/dev/null
npx vitest run "${@:2}"
