"""JAX CPU reference for scripts/bench/bench.ts: the tutorial's own jitted training step
(scripts/reference/tutorial_training.py: make_data, then update_fn with the TrainState, EMA,
clipping and AdamW, as the blog post wrote them) and a jitted inference-mode forward pass.
Prints one JSON object on stdout. Run with .venv-reference/bin/python (npm run reference sets it up).
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
from jax import numpy as jnp

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
from tutorial_model import VelocityModel  # noqa: E402
import tutorial_training  # noqa: E402


def timed(run, seconds, min_calls=5):
    """Mean seconds per call of run() (which blocks until its result is ready), after 3 warm-up calls."""
    for _ in range(3):
        run()
    n, start = 0, time.perf_counter()
    while n < min_calls or time.perf_counter() - start < seconds:
        run()
        n += 1
    return (time.perf_counter() - start) / n, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="1024,4096")
    ap.add_argument("--seconds", type=float, default=3.0, help="minimum timed seconds per measurement")
    ap.add_argument("--infer-rows", type=int, default=10000)
    args = ap.parse_args()
    out = {"jax": jax.__version__, "devices": jax.device_count(), "platform": jax.default_backend(), "train": []}
    for B in [int(b) for b in args.batches.split(",") if b]:
        # a fresh state per batch size: update_fn donates the state it is given
        state = {"train": tutorial_training.fresh_train_state(), "key": jax.random.key(1), "i": 0}

        def step():
            # the tutorial's loop body: one key for the data and the update
            state["key"] = jax.random.fold_in(state["key"], state["i"])
            xs = tutorial_training.make_sharded_data(state["key"], (B, 1))
            state["train"], loss = tutorial_training.update_fn(state["key"], state["train"], xs)
            loss.block_until_ready()
            state["i"] += 1

        sec, n = timed(step, args.seconds)
        out["train"].append({"batch": B, "steps": n, "ms_per_step": sec * 1e3, "samples_per_s": B / sec})
    model_vars = tutorial_training.model_vars
    inference_model = VelocityModel(dropout_rate=0, use_running_average=True)
    forward = jax.jit(lambda v, x, t: inference_model.apply(v, x, t))
    x = jax.random.normal(jax.random.key(2), (args.infer_rows, 1))
    t = jnp.full((args.infer_rows,), 500, jnp.int32)
    sec, _ = timed(lambda: forward(model_vars, x, t).block_until_ready(), 1.0)
    out["infer"] = {"rows": args.infer_rows, "ms": sec * 1e3, "rows_per_s": args.infer_rows / sec}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
