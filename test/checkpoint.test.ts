import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadCheckpoint, loadTrainedCheckpoint, saveCheckpoint } from '../src/model/checkpoint';
import { VelocityModel } from '../src/model/model';
import { ParameterEMA } from '../src/train/optim';
import { Rng } from '../src/math/rng';
import { toArray, useBackend } from './helpers';

before(useBackend);

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

  const weights = path.join(dir, 'weights.bin');
  const bytes = fs.readFileSync(weights);
  fs.writeFileSync(weights, bytes.subarray(0, bytes.length - 8));
  assert.throws(() => loadCheckpoint(dir), /weights.bin has \d+ bytes but manifest.json says \d+: the file is truncated/);
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
  fs.rmSync(path.join(dir, 'weights.bin'));
  fs.writeFileSync(manifestPath, good);
  assert.throws(() => loadCheckpoint(dir), /missing weights.bin/);
});
