import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { VelocityModel } from '../src/model/model';
import { ParameterEMA } from '../src/train/optim';
import { ddpmSampleModel } from '../src/sample/parallel/ddpm-model';
import { rowBlock } from '../src/sample/parallel/job';
import { Rng } from '../src/math/rng';
import { DDPMScheduler, TUTORIAL_SCHEDULER } from '../src/diffusion/scheduler';
import { maxAbsDiff, useBackend } from './helpers';

before(useBackend);

test('rowBlock returns one block of each full draw', () => {
  const full = new Rng(4).fork('s');
  const a = full.normals(10);
  const b = full.normals(10);
  const block = rowBlock(new Rng(4).fork('s'), 10, 3);
  assert.deepEqual(block.normals(4), a.subarray(3, 7));
  assert.deepEqual(block.normals(4), b.subarray(3, 7));
});

test('sampling on worker threads gives the single-threaded samples, snapshots and stream state', async () => {
  const model = new VelocityModel({ width: 32, depth: 2 }, new Rng(3).fork('init'));
  // non-trivial running statistics and an EMA copy that differs from the parameters
  model.batchStats.get('bn_out/var')!.assign(tf.fill([32], 2.5));
  const ema = new ParameterEMA(model.params, 0.5);
  model.params.get('dense_out/bias')!.assign(tf.tensor1d([1]));
  ema.update(model.params);
  const scheduler = new DDPMScheduler(TUTORIAL_SCHEDULER);
  const run = async (workers: number) => {
    const rng = new Rng(9).fork('sample');
    const r = await ddpmSampleModel({
      model,
      params: ema.values,
      scheduler,
      n: 700,
      rng,
      snapshotAt: [999, 500],
      workers,
    });
    return { ...r, next: rng.normal() };
  };
  const one = await run(1);
  const two = await run(2);
  assert.ok(maxAbsDiff(one.samples, two.samples) < 1e-4, `max diff ${maxAbsDiff(one.samples, two.samples)}`);
  assert.deepEqual(two.snapshots.get(999), one.snapshots.get(999));
  assert.ok(maxAbsDiff(one.snapshots.get(500)!, two.snapshots.get(500)!) < 1e-4);
  assert.equal(two.next, one.next, "the caller's stream continues as after a single-threaded run");
  model.dispose();
  ema.dispose();
});

test('an error from onProgress fails a sampling run on worker threads, and the workers stop rather than run to the end', async () => {
  const model = new VelocityModel({ width: 16, depth: 1 }, new Rng(3).fork('init'));
  const seen: number[] = [];
  await assert.rejects(
    ddpmSampleModel({
      model,
      scheduler: new DDPMScheduler(TUTORIAL_SCHEDULER),
      n: 600,
      rng: new Rng(9).fork('sample'),
      workers: 2,
      progressEvery: 10,
      onProgress: (done) => {
        seen.push(done);
        if (done === 100) throw new Error('the progress bar broke');
      },
    }),
    /^Error: the progress bar broke$/,
  );
  // what came after the failure: at most the steps under way when the workers were asked to stop
  assert.ok(Math.max(...seen) < 1000, `progress went on to ${Math.max(...seen)}`);
  model.dispose();
});
