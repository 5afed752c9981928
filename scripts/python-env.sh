#!/bin/sh
# Creates a project Python environment from a pinned requirements file. With no arguments it is
# the project's Jupyter stack: .venv/ from requirements/jupyter.txt (JupyterLab, Notebook 7,
# nbclient, nbconvert). scripts/reference/setup.sh calls it for .venv-reference/ (JAX, Flax, optax,
# diffusers). Debian's Python makes it (python3 -m venv needs Debian's python3-venv, which
# scripts/system-deps.sh installs as root).
#
# Quick when up to date: VENV/requirements.sha256 holds the hash of the requirements file and of
# the Python that built it; when both match, nothing is done. Otherwise the venv is rebuilt from
# scratch, so a removed pin does not linger. The venv that was there waits in VENV.previous while
# the new one is built, and comes back if anything fails (PyPI unreachable, disk full, Ctrl-C); a
# run killed outright leaves it there, and the next run puts it back first. (A venv cannot be built
# beside the old one and moved into place: its scripts name its own path.) Any failure stops with
# a message and a non-zero exit status, and leaves no valid stamp, so the next run tries again.
# One run at a time: a second one waits for the first.
#
#   sh scripts/python-env.sh [VENV REQUIREMENTS CHECK]   (PYTHON_FOR_VENV chooses another interpreter)
# CHECK is Python code run in the new venv: it must import what the venv is for, and prints the
# versions for the closing line.
set -e
cd "$(dirname "$0")/.."
venv=${1:-.venv}
requirements=${2:-requirements/jupyter.txt}
check=${3:-'import jupyterlab, notebook, nbclient, nbconvert; print("JupyterLab", jupyterlab.__version__, "nbclient", nbclient.__version__, "nbconvert", nbconvert.__version__)'}
python=${PYTHON_FOR_VENV:-/usr/bin/python3}
stamp=$venv/requirements.sha256
previous=$venv.previous

# Puts the venv that worked back in place of an unfinished one.
restore() {
  rm -rf "$venv" && mv "$previous" "$venv"
}
fail() {
  trap - INT TERM HUP
  if [ ! -d "$previous" ]; then
    rm -f "$stamp"
    echo "[python-env] FAILED: $*" >&2
  elif restore; then
    echo "[python-env] FAILED: $*; $venv is as it was before this run" >&2
  else
    echo "[python-env] FAILED: $*; the venv that was in $venv could not be put back: it is in $previous (move it back to $venv)" >&2
  fi
  exit 1
}

exec 9< scripts/python-env.sh
flock -n 9 || { echo "[python-env] waiting for another run of scripts/python-env.sh to finish"; flock 9; }
# A stamp in the new venv means it was finished, and the run was killed while removing the old one.
if [ -d "$previous" ]; then
  if [ -f "$stamp" ]; then
    rm -rf "$previous"
  else
    echo "[python-env] putting back $venv from $previous (an earlier run was killed while building it)"
    restore || { echo "[python-env] FAILED: could not put $previous back in place of $venv (move it there by hand)" >&2; exit 1; }
  fi
fi

[ -x "$python" ] || { echo "[python-env] FAILED: no Python at $python (Debian: apt-get install python3 python3-venv; or set PYTHON_FOR_VENV)" >&2; exit 1; }
[ -f "$requirements" ] || { echo "[python-env] FAILED: no requirements file $requirements" >&2; exit 1; }
version=$("$python" -c 'import sys; print(sys.version)') || { echo "[python-env] FAILED: $python does not run" >&2; exit 1; }
want=$( { cat "$requirements" && echo "$version"; } | sha256sum)
want=${want%% *}
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi

echo "[python-env] creating $venv with $python from $requirements"
trap 'fail "interrupted"' INT TERM HUP
if [ -e "$venv" ] || [ -L "$venv" ]; then
  mv "$venv" "$previous" || fail "could not move $venv aside to $previous"
fi
"$python" -m venv "$venv" ||
  fail "$python -m venv failed (Debian: apt-get install python3-venv, or run scripts/system-deps.sh as root)"
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$requirements" ||
  fail "pip could not install $requirements into $venv (is PyPI reachable?)"
versions=$("$venv/bin/python" -c "$check") ||
  fail "$venv was installed but its check failed: $check"
echo "$want" > "$stamp" || fail "could not write $stamp"
trap - INT TERM HUP
rm -rf "$previous"
echo "[python-env] $venv ready: $versions"
