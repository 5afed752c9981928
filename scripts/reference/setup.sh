#!/bin/sh
# Creates .venv-reference/ with the pinned reference stack of requirements/reference.txt (JAX on
# the CPU, Flax, optax, diffusers with its Flax scheduler), through scripts/python-env.sh: quick
# when up to date, rebuilt when the pins or the Python change, loud and non-zero on any failure,
# which leaves the .venv-reference/ that was there as it was.
# Only npm run reference, npm run reference:seed-run and npm run bench use it; the tests read the
# committed fixtures and never need Python.
#
#   sh scripts/reference/setup.sh      (PYTHON_FOR_VENV chooses another interpreter)
set -e
cd "$(dirname "$0")/../.."
export JAX_PLATFORMS=cpu
exec sh scripts/python-env.sh .venv-reference requirements/reference.txt \
  'import jax, flax, optax, diffusers; from diffusers.models import embeddings_flax; diffusers.schedulers.FlaxDDPMScheduler; print("jax", jax.__version__, "flax", flax.__version__, "optax", optax.__version__, "diffusers", diffusers.__version__)'
