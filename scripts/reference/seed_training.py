"""Runs the tutorial's training loop and DDPM sampling as the blog post wrote them (its TrainState
with the EMA, apply_fn, loss_fn, _update_fn, the jitted update with its sharding, and the loop that
passes the same key to make_data and to the update, so the data and the noise/timestep/dropout
keys come from one key), at a batch and step count a 2-core CPU finishes in minutes instead of
the post's 2**18 rows × 5,000 steps on 8 TPU cores. It prints the loss every 500 steps, the loss
plateau and the mode weights of the samples, and writes data/reference/seed-run.json.

    JAX_PLATFORMS=cpu .venv-reference/bin/python scripts/reference/seed_training.py [--batch 4096] [--steps 5000]
(npm run reference:seed-run sets up the venv first)
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import diffusers
import flax
import jax
import numpy as np
import optax
from jax import numpy as jnp
from scipy import stats

sys.path.insert(0, os.path.dirname(__file__))
from tutorial_model import MU, P, SIGMA, VelocityModel  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "data", "reference", "seed-run.json")

args = argparse.ArgumentParser()
args.add_argument("--batch", type=int, default=4096)
args.add_argument("--steps", type=int, default=5000)
args.add_argument("--samples", type=int, default=10000)
args.add_argument("--out", default=OUT)
args = args.parse_args()

from tutorial_training import make_sharded_data, scheduler, train_state, update_fn  # noqa: E402

# ---- the training loop (batch 1 << 18 in the post; --batch here) -------------------------------
started = time.time()
losses = []
key = jax.random.key(1)
for i in range(args.steps):
    key = jax.random.fold_in(key, i)
    xs = make_sharded_data(key, (args.batch, 1))
    train_state, loss = update_fn(key, train_state, xs)
    losses.append(float(loss))
    if i % 500 == 0:
        print(f'{i=}, {loss=}', flush=True)
train_seconds = time.time() - started

# ---- sampling, as the post's sampling cell -----------------------------------------------------
inference_model = VelocityModel(dropout_rate=0, use_running_average=True)
inference_scheduler_state = scheduler.set_timesteps(train_state.scheduler_state, 1000)


@jax.jit
def step_fn(model_vars, state, t, xs, key):
    velocity = inference_model.apply(model_vars, xs, jnp.broadcast_to(t, xs.shape[:1]))
    return scheduler.step(state, velocity, t, xs, key=key).prev_sample


started = time.time()
key = jax.random.key(100)
xs = jax.random.normal(key, (args.samples, 1))
for i, t in enumerate(inference_scheduler_state.timesteps):
    key = jax.random.fold_in(key, t)
    xs = step_fn(dict(params=train_state.ema_params, batch_stats=train_state.batch_stats),
                 inference_scheduler_state, t, xs, key)
sample_seconds = time.time() - started

# ---- what the run shows ------------------------------------------------------------------------
samples = np.asarray(xs).ravel()
# exact assignment: a sample belongs to the component with the largest w_k·N(x; μ_k, σ_k)
weighted = P[None, :] * stats.norm.pdf(samples[:, None], loc=MU[None, :], scale=SIGMA[None, :])
mode = np.argmax(weighted, axis=1)
mode_weights = [float(np.mean(mode == k)) for k in range(len(P))]
plateau_window = min(1000, max(1, args.steps // 5))
plateau = float(np.mean(losses[-plateau_window:]))
print(f'loss plateau (mean of the last {plateau_window} steps): {plateau:.4f}')
print('mode weights of the DDPM samples: '
      + ', '.join(f'μ={m:g}: {w:.4f} (true {p:.1f})' for m, w, p in zip(MU, mode_weights, P)))
print(f'samples: mean {samples.mean():.4f}, std {samples.std():.4f}; '
      f'training {train_seconds:.0f} s, sampling {sample_seconds:.0f} s')

result = {
    "generated_by": "scripts/reference/seed_training.py",
    "versions": {"jax": jax.__version__, "flax": flax.__version__, "optax": optax.__version__,
                 "diffusers": diffusers.__version__},
    "platform": jax.default_backend(), "devices": jax.device_count(),
    "batch": args.batch, "steps": args.steps, "tutorial_batch": 1 << 18,
    "key_reuse": "as in the post: make_sharded_data(key) and update_fn(key) share each step's key",
    "losses_every_500": {str(i): round(losses[i], 6) for i in range(0, args.steps, 500)},
    "final_loss": round(losses[-1], 6),
    "loss_plateau": {"mean": round(plateau, 6), "last_steps": plateau_window},
    "samples": args.samples, "sample_mean": round(float(samples.mean()), 6),
    "sample_std": round(float(samples.std()), 6),
    "mode_assignment": "argmax_k w_k N(x; mu_k, sigma_k)",
    "mode_weights": {f"{m:g}": round(w, 6) for m, w in zip(MU, mode_weights)},
    "true_weights": {f"{m:g}": float(p) for m, p in zip(MU, P)},
    "seconds": {"training": round(train_seconds, 1), "sampling": round(sample_seconds, 1)},
}
os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
with open(args.out, "w") as f:
    json.dump(result, f, indent=1)
    f.write("\n")
print(f'[reference] wrote {os.path.relpath(args.out, ROOT)}')
