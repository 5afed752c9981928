#!/bin/sh
# Creates the project's Python environment, .venv/, with the pinned Jupyter stack of
# requirements/jupyter.txt (JupyterLab, Notebook 7, nbclient, nbconvert). Debian's Python makes it
# (python3 -m venv needs Debian's python3-venv, which scripts/system-deps.sh installs as root).
#
# Quick when up to date: .venv/requirements.sha256 holds the hash of the requirements file and of
# the Python that built it; when both match, nothing is done. Otherwise .venv/ is rebuilt from
# scratch, so a removed pin does not linger. Any failure stops with a message and a non-zero exit
# status, and leaves no stamp, so the next run tries again.
#
#   sh scripts/python-env.sh        (PYTHON_FOR_VENV chooses another interpreter)
set -e
cd "$(dirname "$0")/.."
venv=.venv
requirements=requirements/jupyter.txt
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
"$venv/bin/python" -c 'import jupyterlab, notebook, nbclient, nbconvert' ||
  fail "$venv was installed but cannot import jupyterlab, notebook, nbclient and nbconvert"
echo "$want" > "$stamp"
echo "[python-env] $venv ready: $("$venv/bin/jupyter" lab --version | sed 's/^/JupyterLab /'), $("$venv/bin/python" -c 'import nbclient, nbconvert; print("nbclient", nbclient.__version__, "nbconvert", nbconvert.__version__)')"
