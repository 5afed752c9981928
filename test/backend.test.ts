import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../src/runtime/backend';

test('wasm runs here', async () => {
  const info = await initBackend('wasm');
  assert.equal(info.name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  const y = tf.matMul(
    tf.tensor2d([
      [1, 2],
      [3, 4],
    ]),
    tf.tensor2d([[5], [6]]),
  );
  assert.deepEqual(Array.from(y.dataSync()), [17, 39]);
  assert.match(describeBackend(info), /backend: wasm \(WebAssembly; forced by caller\)/);
});

test('without an override the first backend that loads is chosen, and the skipped ones are reported', () => {
  const lib = path.resolve(__dirname, '../src/runtime/backend.js');
  const script = `const b = require(${JSON.stringify(lib)}); b.initBackend().then(i => console.log(JSON.stringify(i)))`;
  const env = { ...process.env };
  delete env.TSDIFFUSION_BACKEND;
  const info = JSON.parse(execFileSync(process.execPath, ['-e', script], { env }).toString());
  const order = ['tensorflow', 'wasm', 'cpu'];
  assert.deepEqual(
    info.tried.map((t: { name: string }) => t.name),
    order.slice(0, order.indexOf(info.name)),
  );
});

test('TSDIFFUSION_BACKEND overrides the choice, and a bad value is a clear error', () => {
  const lib = path.resolve(__dirname, '../src/runtime/backend.js');
  const script = `require(${JSON.stringify(lib)}).initBackend().then(i => console.log(i.name), e => { console.log('ERR ' + e.message); })`;
  const run = (value: string) =>
    execFileSync(process.execPath, ['-e', script], { env: { ...process.env, TSDIFFUSION_BACKEND: value } })
      .toString()
      .trim();
  assert.equal(run('cpu'), 'cpu');
  assert.equal(run('wasm'), 'wasm');
  assert.match(run('gpu'), /^ERR TSDIFFUSION_BACKEND=gpu is not one of tensorflow, wasm, cpu/);
});
