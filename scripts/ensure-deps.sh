#!/bin/sh
# Install the npm dependencies from the lock file when node_modules is missing or older than it.
# Used by `npm test` and `npm run notebooks` so that both work on a fresh clone.
set -e
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[ensure-deps] installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
