#!/bin/sh
# Creates a project Python environment from a pinned requirements file. With no arguments it is
# the project's Jupyter stack: .venv/ from requirements/jupyter.txt (JupyterLab, Notebook 7,
# nbclient, nbconvert). scripts/reference/setup.sh calls it for .venv-reference/ (JAX, Flax, optax,
# diffusers). Debian's Python makes it (python3 -m venv needs Debian's python3-venv, which
# scripts/system-deps.sh installs as root).
#
# Quick when up to date: VENV/requirements.sha256 holds the hash of the requirements file and of
# the Python that built it; when both match, nothing is done. Otherwise the venv is rebuilt from
# scratch, so a removed pin does not linger. Any failure stops with a message and a non-zero exit
# status, and leaves no stamp, so the next run tries again.
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

fail() {
  echo "[python-env] FAILED: $*" >&2
  rm -f "$stamp"
  exit 1
}

[ -x "$python" ] || { echo "[python-env] FAILED: no Python at $python (Debian: apt-get install python3 python3-venv; or set PYTHON_FOR_VENV)" >&2; exit 1; }
want=$( { cat "$requirements"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi

echo "[python-env] creating $venv with $python from $requirements"
"$python" -m venv --clear "$venv" ||
  fail "$python -m venv failed (Debian: apt-get install python3-venv, or run scripts/system-deps.sh as root)"
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$requirements" ||
  fail "pip could not install $requirements into $venv (is PyPI reachable?)"
versions=$("$venv/bin/python" -c "$check") ||
  fail "$venv was installed but its check failed: $check"
echo "$want" > "$stamp"
echo "[python-env] $venv ready: $versions"
