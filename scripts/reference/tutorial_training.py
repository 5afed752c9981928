"""The tutorial's training step, retyped from the blog post: its TrainState with the parameter EMA,
apply_fn, loss_fn, _update_fn and the jitted update with its data sharding, and the scheduler it
trains with. seed_training.py runs it; scripts/bench/bench_jax.py times it.
"""
import functools

import diffusers
import jax
import optax
from flax.training import train_state as train_state_lib
from jax import numpy as jnp
from jax import sharding
from jax.experimental import mesh_utils

from tutorial_model import VelocityModel, make_data

jax.config.update('jax_threefry_partitionable', True)
mesh = sharding.Mesh(mesh_utils.create_device_mesh((jax.device_count(),)), ('data',))

scheduler = diffusers.schedulers.FlaxDDPMScheduler(
    1_000, clip_sample=False,
    prediction_type='v_prediction',
    variance_type='fixed_small')
scheduler_state = scheduler.create_state()


class TrainState(train_state_lib.TrainState):
    batch_stats: ...
    ema_decay: jax.Array
    ema_params: jax.Array
    scheduler_state: ...

    def apply_gradients(self, *, grads, **kwargs) -> 'TrainState':
        train_state = super().apply_gradients(grads=grads, **kwargs)
        ema_params = jax.tree_map(
            lambda ema, p: ema * self.ema_decay + (1 - self.ema_decay) * p,
            self.ema_params, train_state.params,
        )
        return train_state.replace(ema_params=ema_params)

    @classmethod
    def create(cls, *, params, tx, **kwargs):
        ema_params = jax.tree_map(lambda x: x, params)
        return super().create(apply_fn=None, params=params, tx=tx, ema_params=ema_params, **kwargs)


model = VelocityModel(dropout_rate=0.1, use_running_average=False)
model_vars = model.init(jax.random.key(0),
                        make_data(jax.random.key(0), shape=(2, 1)),
                        jnp.ones((2,), jnp.int32))
make_train_state = lambda model_vars: TrainState.create(
    params=model_vars['params'],
    tx=optax.chain(
        optax.clip_by_global_norm(1.0),
        optax.adamw(optax.linear_schedule(3e-4, 0, 5_000, 500))),
    batch_stats=model_vars['batch_stats'],
    ema_decay=jnp.array(0.9),
    scheduler_state=scheduler_state,
)


def apply_fn(model, scheduler, key, state, xs):
    dropout_key, noise_key, timesteps_key = jax.random.split(key, 3)
    noise = jax.random.normal(noise_key, xs.shape)
    timesteps = jax.random.choice(
        timesteps_key, state.scheduler_state.timesteps, (xs.shape[0],))
    predicted_velocity, mutable_vars = model.apply(
        dict(params=state.params, batch_stats=state.batch_stats),
        scheduler.add_noise(
            state.scheduler_state, xs, noise, timesteps), timesteps,
        rngs=dict(dropout=dropout_key),
        mutable=['batch_stats'])
    return (predicted_velocity, mutable_vars), noise, timesteps


def loss_fn(scheduler, noise, predicted_velocity, scheduler_state, xs, ts):
    velocity = scheduler.get_velocity(scheduler_state, xs, noise, ts)
    loss = jnp.square(predicted_velocity - velocity)
    return jnp.mean(loss), loss


def _update_fn(model, scheduler, key, state, xs):
    @functools.partial(jax.value_and_grad, has_aux=True)
    def _loss_fn(params):
        (predicted_velocity, mutable_vars), noise, timesteps = apply_fn(
            model, scheduler, key, state.replace(params=params), xs
        )
        loss, _ = loss_fn(scheduler, noise, predicted_velocity, state.scheduler_state, xs, timesteps)
        return loss, mutable_vars
    (loss, mutable_vars), grads = _loss_fn(state.params)
    state = state.apply_gradients(grads=grads, batch_stats=mutable_vars['batch_stats'])
    return state, loss


update_fn = jax.jit(
    functools.partial(_update_fn, model, scheduler),
    in_shardings=(None, None, sharding.NamedSharding(mesh, sharding.PartitionSpec('data'))),
    donate_argnums=1)
train_state = jax.jit(
    make_train_state,
    out_shardings=sharding.NamedSharding(mesh, sharding.PartitionSpec()))(
        model_vars)

make_sharded_data = jax.jit(
    make_data,
    static_argnums=1,
    out_shardings=sharding.NamedSharding(mesh, sharding.PartitionSpec('data')),
)


def fresh_train_state():
    """Another initial state like train_state (update_fn donates, and so frees, the one it is given)."""
    return jax.jit(make_train_state, out_shardings=sharding.NamedSharding(mesh, sharding.PartitionSpec()))(model_vars)
