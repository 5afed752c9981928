import test from 'node:test';
import assert from 'node:assert/strict';
import { DROPOUT_BLOCK, Rng, trainingStreams } from '../src/math/rng';

test('same seed and stream give the same numbers; different streams differ', () => {
  const a = new Rng(7).fork('data').normals(1000);
  const b = new Rng(7).fork('data').normals(1000);
  const c = new Rng(7).fork('noise').normals(1000);
  const d = new Rng(8).fork('data').normals(1000);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.notDeepEqual(a, d);
});

test('a child stream does not depend on how much the parent has drawn', () => {
  const p1 = new Rng(3);
  const p2 = new Rng(3);
  p2.normals(50);
  assert.deepEqual(p1.fork('x').normals(10), p2.fork('x').normals(10));
});

test('handing out the same stream twice is an error (the tutorial key-reuse bug)', () => {
  const root = new Rng(1);
  root.fork('data');
  assert.throws(() => root.fork('data'), /already handed out/);
});

test('training streams are pairwise uncorrelated', () => {
  const s = trainingStreams(123);
  const n = 20000;
  const data = s.data.normals(n);
  const noise = s.noise.normals(n);
  let dot = 0;
  for (let i = 0; i < n; i++) dot += data[i] * noise[i];
  // correlation of independent normals has sd 1/√n ≈ 0.007
  assert.ok(Math.abs(dot / n) < 0.03, `correlation ${dot / n}`);
});

test('normals have mean 0 and variance 1; uniforms cover [0, 1)', () => {
  const r = new Rng(11).fork('t');
  const n = 200000;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const z = r.normal();
    s += z;
    s2 += z * z;
  }
  assert.ok(Math.abs(s / n) < 0.01);
  assert.ok(Math.abs(s2 / n - 1) < 0.015);
  let below = 0;
  for (let i = 0; i < n; i++) {
    const u = r.uniform();
    assert.ok(u >= 0 && u < 1);
    if (u < 0.25) below++;
  }
  assert.ok(Math.abs(below / n - 0.25) < 0.005);
});

test('ints are uniform over the range; dropout masks drop at the rate and rescale', () => {
  const r = new Rng(5).fork('t');
  const counts = new Array(10).fill(0);
  for (const v of r.ints(100000, 10)) counts[v]++;
  for (const c of counts) assert.ok(Math.abs(c / 100000 - 0.1) < 0.005, `count ${c}`);
  const mask = r.dropoutMask(100000, 0.1);
  const zeros = mask.filter((m) => m === 0).length;
  assert.ok(Math.abs(zeros / 100000 - 0.1) < 0.005);
  assert.ok(mask.every((m) => m === 0 || Math.abs(m - 1 / 0.9) < 1e-6));
  // each block of a mask has its own stream: no two of these 97 whole blocks, nor two masks, repeat
  const blocks = new Set<string>();
  for (let b = 0; (b + 1) * DROPOUT_BLOCK <= mask.length; b++)
    blocks.add(mask.subarray(b * DROPOUT_BLOCK, (b + 1) * DROPOUT_BLOCK).join());
  assert.equal(blocks.size, Math.floor(mask.length / DROPOUT_BLOCK));
  assert.notDeepEqual(r.dropoutMask(DROPOUT_BLOCK, 0.1), r.dropoutMask(DROPOUT_BLOCK, 0.1));
  assert.throws(() => new Rng(-1), /seed/);
  assert.throws(() => r.dropoutMask(3, 1), /rate/);
});
