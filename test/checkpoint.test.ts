import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { assertWritableDirectory, loadCheckpoint, loadTrainedCheckpoint, saveCheckpoint } from '../src/model/checkpoint';
import { VelocityModel } from '../src/model/model';
import { ParameterEMA } from '../src/train/optim';
import { Rng } from '../src/math/rng';
import { releaseDisk, smallDisk, toArray, useBackend } from './helpers';

before(useBackend);

/** The weights file a checkpoint's manifest names. */
function weightsFile(dir: string): string {
  return path.join(dir, JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).weights.file);
}

function saved(config = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-'));
  const model = new VelocityModel({ width: 16, depth: 2, ...config }, new Rng(1).fork('init'));
  model.batchStats.get('bn_in/mean')!.assign(tf.fill([33], 0.25));
  const ema = new ParameterEMA(model.params, 0.5);
  model.params.get('dense_out/bias')!.assign(tf.tensor1d([4]));
  ema.update(model.params);
  saveCheckpoint(dir, model, ema.values, { step: 42, note: 'test' });
  return { dir, model, ema };
}

test('round trip restores parameters, EMA, BatchNorm statistics and metadata exactly', () => {
  const { dir, model, ema } = saved();
  const c = loadCheckpoint(dir, { width: 16 });
  for (const [name, p] of model.params) assert.deepEqual(toArray(c.model.params.get(name)!), toArray(p));
  for (const [name, s] of model.batchStats) assert.deepEqual(toArray(c.model.batchStats.get(name)!), toArray(s));
  for (const [name, e] of ema.values) assert.deepEqual(toArray(c.ema.get(name)!), toArray(e));
  assert.deepEqual(toArray(c.ema.get('dense_out/bias')!), [2]);
  assert.deepEqual(c.metadata, { step: 42, note: 'test' });
  assert.deepEqual(c.model.config, model.config);
  const x = tf.tensor2d([1, -2], [2, 1]);
  assert.deepEqual(toArray(c.model.predict(x, 10)), toArray(model.predict(x, 10)));
  assert.ok(!fs.readdirSync(dir).some((f) => f.endsWith('.tmp')));
  c.dispose();
});

test('missing, truncated, corrupted or mismatched checkpoints give clear errors', () => {
  assert.throws(() => loadCheckpoint('/nonexistent/ckpt'), /no checkpoint at \/nonexistent\/ckpt/);
  assert.throws(() => loadTrainedCheckpoint('/nonexistent/ckpt'), /^Error: no checkpoint at \/nonexistent\/ckpt \(missing manifest.json\)\nRun notebooks\/03-training.ipynb first: it trains the model and saves it to \/nonexistent\/ckpt\.$/);
  const { dir } = saved();
  assert.throws(() => loadCheckpoint(dir, { width: 128 }), /width is 16 in the checkpoint, expected 128/);

  const weights = weightsFile(dir);
  const bytes = fs.readFileSync(weights);
  fs.writeFileSync(weights, bytes.subarray(0, bytes.length - 8));
  assert.throws(() => loadCheckpoint(dir), /weights-[0-9a-f]{16}\.bin has \d+ bytes but manifest.json says \d+: the file is truncated/);
  const flipped = Buffer.from(bytes);
  flipped[100] ^= 0xff;
  fs.writeFileSync(weights, flipped);
  assert.throws(() => loadCheckpoint(dir), /SHA-256 checksum does not match manifest.json: the weights are corrupted/);
  fs.writeFileSync(weights, bytes);

  const manifestPath = path.join(dir, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  const good = JSON.stringify(manifest);
  manifest.modelConfig.width = 32; // the stored tensors no longer fit
  fs.writeFileSync(manifestPath, JSON.stringify(manifest));
  assert.throws(() => loadCheckpoint(dir), /has shape \[33,16\], the model the manifest describes \(width 32, depth 2, time embedding 32\) needs \[33,32\]: manifest.json does not match/);
  const dropped = JSON.parse(good);
  dropped.tensors = dropped.tensors.filter((t: { name: string; group: string }) => !(t.group === 'ema' && t.name === 'bn_out/scale'));
  fs.writeFileSync(manifestPath, JSON.stringify(dropped));
  assert.throws(() => loadCheckpoint(dir), /ema:bn_out\/scale is missing/);
  fs.writeFileSync(manifestPath, '{"format": "tsdiff');
  assert.throws(() => loadCheckpoint(dir), /not valid JSON/);
  fs.rmSync(weights);
  fs.writeFileSync(manifestPath, good);
  assert.throws(() => loadCheckpoint(dir), /missing weights-[0-9a-f]{16}\.bin/);
});

test('a second save replaces the first in one step and leaves no stray files', () => {
  const { dir, model, ema } = saved();
  const first = weightsFile(dir);
  model.params.get('dense_out/bias')!.assign(tf.tensor1d([7]));
  saveCheckpoint(dir, model, ema.values, { step: 43 });
  assert.notEqual(weightsFile(dir), first);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['manifest.json', path.basename(weightsFile(dir))].sort());
  const c = loadCheckpoint(dir);
  assert.deepEqual(toArray(c.model.params.get('dense_out/bias')!), [7]);
  assert.equal(c.metadata.step, 43);
  c.dispose();
  // saving the same weights again keeps one weights file
  saveCheckpoint(dir, model, ema.values, { step: 44 });
  assert.equal(fs.readdirSync(dir).length, 2);
});

test('an unwritable folder is reported before any work, as a CheckpointError', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-')), 'not-a-folder');
  fs.writeFileSync(file, 'x');
  assert.throws(() => assertWritableDirectory(path.join(file, 'velocity')), /cannot write to .*not-a-folder\/velocity/);
});

test('on a full disk the save throws and the previous checkpoint still loads', (t) => {
  const disk = smallDisk('600k');
  if (!disk) return t.skip('mount needs root');
  try {
    const dir = path.join(disk, 'velocity');
    const model = new VelocityModel({}, new Rng(2).fork('init')); // about 460 kB of weights
    const ema = new ParameterEMA(model.params, 0.5);
    saveCheckpoint(dir, model, ema.values, { step: 1 });
    model.params.get('dense_out/bias')!.assign(tf.tensor1d([3]));
    // a second weights file does not fit beside the first
    assert.throws(() => saveCheckpoint(dir, model, ema.values, { step: 2 }), (e: Error) => e.name === 'CheckpointError' && /could not save the checkpoint .*previous checkpoint there, if any, is unchanged/s.test(e.message));
    const c = loadCheckpoint(dir);
    assert.equal(c.metadata.step, 1);
    assert.ok(!fs.readdirSync(dir).some((f) => f.endsWith('.tmp')));
    c.dispose();
    model.dispose();
    ema.dispose();
  } finally {
    releaseDisk(disk);
  }
});
