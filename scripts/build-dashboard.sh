#!/usr/bin/env bash
# Build the React dashboard into monitor_api/static when its sources changed.
set -euo pipefail
cd "$(dirname "$0")/.."
src=monitor_api/dashboard
out=monitor_api/static
if [ ! -f "$src/package.json" ]; then
  mkdir -p "$out"
  exit 0
fi
mkdir -p "$out"
# one build at a time: concurrent `npm ci` runs in one folder corrupt node_modules
exec 9>"$src/.build.lock"
flock 9
stamp="$out/.build-hash"
hash=$(cd "$src" && find . -path ./node_modules -prune -o -type f -print | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then exit 0; fi
(cd "$src" && npm ci --no-audit --no-fund --loglevel=error && npm run build)
echo "$hash" > "$stamp"
