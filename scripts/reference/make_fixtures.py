"""Writes test/fixtures/reference/flax.json: what the real libraries (diffusers' Flax scheduler and
embeddings, Flax, optax; versions pinned in requirements/reference.txt) compute for the tutorial's
scheduler, timestep embedding, network and optimiser, on fixed inputs. test/reference.test.ts
compares the TypeScript library against it, without Python.

    sh scripts/reference/setup.sh && JAX_PLATFORMS=cpu .venv-reference/bin/python scripts/reference/make_fixtures.py
(or npm run reference, which does both)
"""
import base64
import json
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import diffusers
import flax
import jax
import numpy as np
import optax
from diffusers.models import embeddings_flax
from jax import numpy as jnp

sys.path.insert(0, os.path.dirname(__file__))
from tutorial_model import VelocityModel, init_tutorial_model  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "reference", "flax.json")


def floats(a):
    """float32 values as JSON numbers; 9 significant digits round-trip a float32 exactly."""
    return [float(f"{v:.9g}") for v in np.asarray(a, np.float32).ravel()]


def packed(a):
    """A large float32 array as shape + base64 of its little-endian bytes (exact and compact)."""
    a = np.asarray(a, np.float32)
    return {"shape": list(a.shape), "float32_base64": base64.b64encode(a.astype("<f4").tobytes()).decode()}


def tree_paths(tree, encode):
    """{'a/b/c': encode(leaf)} for a nested dict of arrays."""
    flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(tree), sep="/")
    return {k: encode(v) for k, v in sorted(flat.items())}


# Fixed inputs, drawn once from numpy's generator so the fixture does not depend on JAX's PRNG.
rng = np.random.default_rng(14)
B = 16
x0 = rng.normal(0, 4, (B, 1)).astype(np.float32)
eps = rng.normal(0, 1, (B, 1)).astype(np.float32)
ts = np.array([0, 1, 2, 3, 10, 50, 100, 250, 400, 500, 600, 750, 900, 997, 998, 999], np.int32)


def scheduler_fixture():
    # diffusers.schedulers.scheduling_ddpm_flax.FlaxDDPMScheduler, configured as the tutorial does
    scheduler = diffusers.schedulers.FlaxDDPMScheduler(
        1_000, clip_sample=False, prediction_type="v_prediction", variance_type="fixed_small")
    state = scheduler.create_state()
    idx = sorted(set(range(0, 1000, 10)) | {1, 2, 998, 999})
    out = {
        "config": {"num_train_timesteps": 1000, "clip_sample": False,
                   "prediction_type": "v_prediction", "variance_type": "fixed_small"},
        "init_noise_sigma": float(state.init_noise_sigma),
        "create_state_timesteps_head": [int(t) for t in state.timesteps[:5]],
        "create_state_timesteps_tail": [int(t) for t in state.timesteps[-5:]],
        "indices": idx,
        "betas": floats(state.common.betas[np.array(idx)]),
        "alphas_cumprod": floats(state.common.alphas_cumprod[np.array(idx)]),
        "set_timesteps": {},
    }
    for n in (1, 7, 10, 50, 100, 333, 1000):
        out["set_timesteps"][str(n)] = [int(t) for t in scheduler.set_timesteps(state, n).timesteps]
    # scheduling_utils_flax.add_noise_common / get_velocity_common via the scheduler's methods
    t = jnp.asarray(ts)
    out["forward"] = {
        "x0": floats(x0), "noise": floats(eps), "timesteps": ts.tolist(),
        "add_noise": floats(scheduler.add_noise(state, x0, eps, t)),
        "get_velocity": floats(scheduler.get_velocity(state, x0, eps, t)),
    }
    # step(state, model_output, t, sample, key): the noise is normal(split(key, 1)[0], shape), drawn
    # here the same way and recorded; prev_sample is checked to be mean + std·that noise below.
    steps = []
    for t in [0, 1, 2, 3, 5, 10, 50, 100, 250, 500, 750, 900, 998, 999]:
        key = jax.random.key(1000 + t)
        model_output = rng.normal(0, 2, (8, 1)).astype(np.float32)
        sample = rng.normal(0, 3, (8, 1)).astype(np.float32)
        prev = scheduler.step(state, jnp.asarray(model_output), t, jnp.asarray(sample), key).prev_sample
        noise = jax.random.normal(jax.random.split(key, num=1)[0], shape=model_output.shape, dtype=jnp.float32)
        # the recorded noise is the one step added: prev − std·noise is the same for another key
        std = float(scheduler._get_variance(state, t, None)) ** 0.5 if t > 0 else 0.0
        other_key = jax.random.key(7)
        other = scheduler.step(state, jnp.asarray(model_output), t, jnp.asarray(sample), other_key).prev_sample
        other_noise = jax.random.normal(jax.random.split(other_key, num=1)[0], shape=model_output.shape)
        assert np.allclose(np.asarray(prev) - std * np.asarray(noise),
                           np.asarray(other) - std * np.asarray(other_noise), atol=1e-5), t
        steps.append({"t": t, "model_output": floats(model_output), "sample": floats(sample),
                      "noise": floats(noise), "prev_sample": floats(prev)})
    out["step"] = steps
    return out


def embedding_fixture(params):
    t = jnp.asarray(ts)
    sinusoid = embeddings_flax.FlaxTimesteps().apply({}, t)
    mlp = embeddings_flax.FlaxTimestepEmbedding().apply(
        {"params": params["FlaxTimestepEmbedding_0"]}, sinusoid)
    return {"timesteps": ts.tolist(), "dim": 32, "flax_timesteps": floats(sinusoid),
            "flax_timestep_embedding": floats(mlp),
            "note": "FlaxTimestepEmbedding uses the model's FlaxTimestepEmbedding_0 parameters"}


def dropout_masks(model, variables, xs, t, dropout_key):
    """The keep masks of the model's four Dropout layers (in call order) in one training pass.

    Flax draws them with jax.random.bernoulli on threefry keys split through nn.scan; the
    TypeScript library has its own generator, so the test injects these recorded masks instead.
    The interceptor reads each Dropout's input and output through an ordered debug callback,
    which also works inside nn.scan's traced body.
    """
    masks = []

    def record(inputs, outputs):
        masks.append((np.asarray(outputs) != 0).astype(np.int8))

    def interceptor(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        if isinstance(context.module, flax.linen.Dropout) and context.method_name == "__call__":
            jax.debug.callback(record, args[0], out, ordered=True)
        return out

    with flax.linen.intercept_methods(interceptor):
        (output, _) = model.apply(variables, xs, t, rngs={"dropout": dropout_key}, mutable=["batch_stats"])
    jax.effects_barrier()
    return output, masks


def model_fixture(variables):
    xs = jnp.asarray(x0)
    t = jnp.asarray(ts)
    inference = VelocityModel(dropout_rate=0, use_running_average=True)
    training = VelocityModel(dropout_rate=0, use_running_average=False)
    out_infer_init = inference.apply(variables, xs, t)
    out_train, mutated = training.apply(variables, xs, t, mutable=["batch_stats"])
    updated = {"params": variables["params"], "batch_stats": mutated["batch_stats"]}
    out_infer_updated = inference.apply(updated, xs, t)
    with_dropout = VelocityModel(dropout_rate=0.1, use_running_average=False)
    out_dropout, masks = dropout_masks(with_dropout, variables, xs, t, jax.random.key(1))
    assert len(masks) == 4, len(masks)
    return {
        "x": floats(xs), "timesteps": ts.tolist(),
        "init": "VelocityModel(dropout_rate=0.1, use_running_average=False).init(jax.random.key(0), "
                "make_data(jax.random.key(0), shape=(2, 1)), jnp.ones((2,), jnp.int32))",
        "params": tree_paths(variables["params"], packed),
        "batch_stats_init": tree_paths(variables["batch_stats"], floats),
        "inference_output": floats(out_infer_init),
        "training_output": floats(out_train),
        "batch_stats_after_training_pass": tree_paths(mutated["batch_stats"], floats),
        "inference_output_after_training_pass": floats(out_infer_updated),
        "dropout": {"rate": 0.1, "dropout_key": "jax.random.key(1)",
                    "masks": ["".join(map(str, m.ravel())) for m in masks],
                    "training_output": floats(out_dropout)},
    }


def optimizer_fixture():
    # The tutorial's chain on a small tree: clipping, then adamw with the linear schedule.
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(optax.linear_schedule(3e-4, 0, 5_000, 500)))
    params = {"dense": {"kernel": rng.normal(0, 0.5, (3, 4)).astype(np.float32),
                        "bias": rng.normal(0, 0.1, (4,)).astype(np.float32)},
              "bn": {"scale": (1 + rng.normal(0, 0.1, (4,))).astype(np.float32)}}
    big = jax.tree_util.tree_map(lambda p: rng.normal(0, 1.5, p.shape).astype(np.float32), params)
    small = jax.tree_util.tree_map(lambda g: g * np.float32(0.05), big)
    # gradients of ~1e−7, where Adam's eps = 1e−8 (outside the square root) visibly matters
    tiny = jax.tree_util.tree_map(lambda g: g * np.float32(1e-7), big)
    norm = lambda g: float(optax.global_norm(g))

    def one_update(p, state, g):
        updates, state = tx.update(g, state, p)
        return optax.apply_updates(p, updates), state

    cases = {}
    for name, g in (("step0_clipped", big), ("step0_unclipped", small), ("step0_tiny", tiny)):
        p1, _ = one_update(params, tx.init(params), g)
        cases[name] = {"grads": tree_paths(g, floats), "grad_norm": norm(g), "updates_before": 0,
                       "params_after": tree_paths(p1, floats)}
    # 600 updates with the same (clipped) gradients, then the 601st at schedule step 600
    p, state = params, tx.init(params)
    for _ in range(600):
        p, state = one_update(p, state, big)
    p601, _ = one_update(p, state, big)
    cases["step600_clipped"] = {"grads": tree_paths(big, floats), "grad_norm": norm(big), "updates_before": 600,
                                "params_before_last": tree_paths(p, floats),
                                "params_after": tree_paths(p601, floats)}
    return {"chain": "optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(optax.linear_schedule(3e-4, 0, 5_000, 500)))",
            "params": tree_paths(params, floats), "cases": cases,
            "learning_rate": {str(k): float(optax.linear_schedule(3e-4, 0, 5_000, 500)(k))
                              for k in (0, 1, 499, 500, 501, 600, 2750, 5499, 5500, 6000)}}


def main():
    variables = init_tutorial_model()
    fixture = {
        "generated_by": "scripts/reference/make_fixtures.py",
        "versions": {"python": sys.version.split()[0], "jax": jax.__version__, "jaxlib": jax.lib.__version__,
                     "flax": flax.__version__, "optax": optax.__version__, "diffusers": diffusers.__version__,
                     "numpy": np.__version__},
        "platform": jax.default_backend(),
        "scheduler": scheduler_fixture(),
        "embedding": embedding_fixture(variables["params"]),
        "model": model_fixture(variables),
        "optimizer": optimizer_fixture(),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"[reference] wrote {os.path.relpath(OUT, ROOT)} ({os.path.getsize(OUT) // 1024} KiB) with "
          + ", ".join(f"{k} {v}" for k, v in fixture["versions"].items()))


if __name__ == "__main__":
    main()
