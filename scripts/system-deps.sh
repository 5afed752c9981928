#!/bin/sh
# The Debian packages the notebooks and their tests need: python3-venv, with which
# scripts/python-env.sh makes the project's Jupyter environment (.venv/), Chromium for the
# HTML exports and the live JupyterLab and Notebook 7 checks, and g++ and make, with which
# scripts/native-backend.sh builds the native TensorFlow backend. As root with apt-get, missing ones
# are installed; otherwise the script says what to install.
set -e
missing=""
for pkg in python3-venv chromium g++ make; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "[system-deps] apt-get install$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
else
  echo "[system-deps] not installed:$missing (as root: apt-get install$missing); the tests that need them are skipped, or fail when CI is set" >&2
fi
