"""The tutorial's network and data, retyped from the blog post (its code lost its indentation).

Shared by make_fixtures.py and seed_training.py so both use the same definitions, written as the
tutorial wrote them (including ResnetBlock's `dropout_rate: bool` annotation, which Flax ignores).
"""
import jax
import numpy as np
from diffusers.models import embeddings_flax
from flax import linen as nn
from jax import numpy as jnp

P = np.array((0.3, 0.1, 0.6), np.float32)
MU = np.array((-5, 0, 6), np.float32)
SIGMA = np.array((1, 0.5, 2), np.float32)


def make_data(key: jax.Array, shape=()):
    ps, mus, sigmas = jnp.array(P), jnp.array(MU), jnp.array(SIGMA)
    i_key, noise_key = jax.random.split(key, 2)
    i = jax.random.choice(i_key, np.arange(ps.shape[0]), shape, p=ps)
    xs = mus[i]
    ys = jax.random.normal(noise_key, xs.shape)
    return xs + ys * sigmas[i]


class ResnetBlock(nn.Module):
    dropout_rate: bool
    use_running_average: bool

    @nn.compact
    def __call__(self, xs):
        xs += nn.Dropout(deterministic=False, rate=self.dropout_rate)(
            nn.gelu(nn.Dense(128)(nn.BatchNorm(self.use_running_average)(xs))))
        return xs, ()


class VelocityModel(nn.Module):
    dropout_rate: float
    use_running_average: bool

    @nn.compact
    def __call__(self, xs, ts):
        ts = embeddings_flax.FlaxTimesteps()(ts)
        ts = embeddings_flax.FlaxTimestepEmbedding()(ts)
        xs = jnp.concatenate((xs, ts), -1)
        xs = nn.BatchNorm(self.use_running_average)(xs)
        xs = nn.Dropout(deterministic=False, rate=self.dropout_rate)(nn.gelu(nn.Dense(128)(xs)))
        xs, _ = nn.scan(
            ResnetBlock,
            length=3,
            variable_axes={"params": 0, "batch_stats": 0},
            split_rngs={"params": True, "dropout": True},
            metadata_params={nn.PARTITION_NAME: None})(
                self.dropout_rate, self.use_running_average)(xs)
        xs = nn.BatchNorm(self.use_running_average)(xs)
        return nn.Dense(1)(xs)


def init_tutorial_model():
    """model.init exactly as the tutorial calls it: key 0, two data rows, timesteps of ones."""
    model = VelocityModel(dropout_rate=0.1, use_running_average=False)
    return model.init(jax.random.key(0),
                      make_data(jax.random.key(0), shape=(2, 1)),
                      jnp.ones((2,), jnp.int32))
