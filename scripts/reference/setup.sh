#!/bin/sh
# Creates .venv-reference/ with the pinned reference stack of requirements/reference.txt (JAX on
# the CPU, Flax, optax, diffusers with its Flax scheduler). Only npm run reference and npm run bench
# use it; tests read the committed fixtures and never need Python.
#
# Idempotent: .venv-reference/requirements.sha256 holds the hash of the requirements file and of
# the Python that built it; when both match nothing is done, otherwise the venv is rebuilt from
# scratch. Any failure stops with a message and a non-zero exit status and leaves no stamp.
#
#   sh scripts/reference/setup.sh      (PYTHON_FOR_VENV chooses another interpreter)
set -e
cd "$(dirname "$0")/../.."
venv=.venv-reference
requirements=requirements/reference.txt
python=${PYTHON_FOR_VENV:-/usr/bin/python3}
stamp=$venv/requirements.sha256

fail() {
  echo "[reference-env] FAILED: $*" >&2
  rm -f "$stamp"
  exit 1
}

[ -x "$python" ] || fail "no Python at $python (Debian: apt-get install python3 python3-venv; or set PYTHON_FOR_VENV)"
want=$( { cat "$requirements"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi

echo "[reference-env] creating $venv with $python from $requirements"
"$python" -m venv --clear "$venv" || fail "$python -m venv failed (Debian: apt-get install python3-venv)"
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$requirements" ||
  fail "pip could not install $requirements into $venv (is PyPI reachable?)"
JAX_PLATFORMS=cpu "$venv/bin/python" -c 'import jax, flax, optax, diffusers; from diffusers.models import embeddings_flax; diffusers.schedulers.FlaxDDPMScheduler' ||
  fail "$venv was installed but cannot import jax, flax, optax and diffusers' Flax scheduler"
echo "$want" > "$stamp"
echo "[reference-env] $venv ready: $(JAX_PLATFORMS=cpu "$venv/bin/python" -c 'import jax, flax, optax, diffusers; print("jax", jax.__version__, "flax", flax.__version__, "optax", optax.__version__, "diffusers", diffusers.__version__)')"
