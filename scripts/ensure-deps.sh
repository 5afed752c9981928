#!/bin/sh
# Install what `npm test`, `npm run notebooks`, `npm run setup` and `npm run lab` need on a fresh
# clone: the npm dependencies from the lock file (when node_modules is missing or older than it),
# the Debian packages (scripts/system-deps.sh), the project's Jupyter environment .venv/
# (scripts/python-env.sh) and the native TensorFlow backend (scripts/native-backend.sh); the last
# two are quick when up to date.
set -e
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[ensure-deps] installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
sh scripts/system-deps.sh
sh scripts/python-env.sh
sh scripts/native-backend.sh
