#!/bin/sh
# The Debian packages the notebooks and their tests need: Jupyter's execution tools (nbclient,
# nbconvert), the classic Notebook server for the live test, and Chromium for the HTML checks.
# As root with apt-get, missing ones are installed; otherwise the script says what to install.
set -e
missing=""
for pkg in jupyter-nbconvert python3-nbclient jupyter-client jupyter-notebook chromium; do
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
