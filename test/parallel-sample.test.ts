import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { VelocityModel } from '../src/model/model';
import { ParameterEMA } from '../src/train/optim';
import { ddpmSampleModel } from '../src/sample/ddpm-model';
import { Rng } from '../src/math/rng';
import { DDPMScheduler, TUTORIAL_SCHEDULER } from '../src/diffusion/scheduler';
import { useBackend } from './helpers';

before(useBackend);

test('sampling on several threads gives the single-threaded samples, snapshots and stream state, bit for bit', async () => {
  const model = new VelocityModel({ width: 32, depth: 2 }, new Rng(3).fork('init'));
  // non-trivial running statistics and an EMA copy that differs from the parameters
  model.batchStats.get('bn_out/var')!.assign(tf.fill([32], 2.5));
  const ema = new ParameterEMA(model.params, 0.5);
  model.params.get('dense_out/bias')!.assign(tf.tensor1d([1]));
  ema.update(model.params);
  const scheduler = new DDPMScheduler(TUTORIAL_SCHEDULER);
  const run = async (threads: number) => {
    const rng = new Rng(9).fork('sample');
    const r = await ddpmSampleModel({ model, params: ema.values, scheduler, n: 2500, rng, snapshotAt: [999, 500], threads });
    return { ...r, next: rng.normal() };
  };
  const one = await run(1);
  const two = await run(2);
  assert.deepEqual(two.samples, one.samples);
  assert.deepEqual(two.snapshots, one.snapshots);
  assert.equal(two.next, one.next, 'the caller\'s stream continues as after a single-threaded run');
  model.dispose();
  ema.dispose();
});
