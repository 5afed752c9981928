// The regression baseline's tolerances come from each check's sampling noise: a change smaller than
// a chapter's own bars is caught, while the rounding of another CPU, and for a trained network the
// other network another CPU trains, pass.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compareWithBaseline, TOLERANCE_IN_STANDARD_ERRORS, updateBaseline } from '../scripts/runner/baseline';
import { compareWithMixture } from '../src/eval/metrics';
import { GaussianMixture } from '../src/math/mixture';
import { Rng } from '../src/math/rng';
import { type Check, evaluateCheck } from '../src/notebook/checks';
import { modeChecks } from '../src/notebook/sample-checks';

const mixture = GaussianMixture.default();
/** Chapter 1 at the CI configuration: 4,000 samples judged against exact sampling. */
const N = 4000;
const samples = (m: GaussianMixture) => m.sample(N, new Rng(100).fork('planted'));
const run = (checks: Check[]) => ({ config: 'ci', backend: 'wasm', notebooks: [{ name: '01-data', checks }] });
const chapterChecks = (x: Float32Array, trained = false) =>
  modeChecks('exact samples', compareWithMixture(x, mixture), mixture, trained);

test('the baseline catches a 5 % wider middle mode, which the chapter passes, and lets rounding through', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-planted-'));
  const exact = chapterChecks(samples(mixture));
  updateBaseline(run(exact), dir);
  const stds = [...mixture.stds];
  stds[1] *= 1.05;
  // the same draws, the middle mode 5 % wider
  const wider = chapterChecks(
    samples(new GaussianMixture({ weights: [...mixture.weights], means: [...mixture.means], stds })),
  );
  assert.ok(wider.every(evaluateCheck), "the chapter's own bars (4 standard errors) pass it");
  const moved = compareWithBaseline(run(wider), dir)!.moved.map((r) => r.check);
  assert.ok(moved.includes('exact samples: mode 2 std'), `moved: ${moved.join(', ')}`);
  const sigma = (checks: Check[]) => checks.find((c) => c.name === 'exact samples: mode 2 std')!;
  const shift = Math.abs(sigma(wider).value - sigma(exact).value) / sigma(exact).se!;
  assert.ok(shift > 1 && shift < 2, `the σ check moved by ${shift.toFixed(2)} standard errors`);
  // another CPU's rounding: every value off by a relative 1e-6
  const rounded = exact.map((c) => ({ ...c, value: c.value * (1 + 1e-6) }));
  assert.deepEqual(compareWithBaseline(run(rounded), dir)!.moved, []);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a trained network's checks may move by up to three standard errors, no more", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-trained-'));
  const checks = chapterChecks(samples(mixture), true);
  updateBaseline(run(checks), dir);
  const saved = JSON.parse(fs.readFileSync(path.join(dir, 'ci.wasm.json'), 'utf8')).notebooks['01-data'];
  for (const c of checks) {
    assert.equal(saved[c.name].tolerance, TOLERANCE_IN_STANDARD_ERRORS.trained * c.se!, c.name);
    assert.equal(saved[c.name].trained, true);
  }
  const move = (k: number) => checks.map((c) => ({ ...c, value: c.value + k * c.se! }));
  assert.deepEqual(compareWithBaseline(run(move(2.9)), dir)!.moved, []);
  assert.equal(compareWithBaseline(run(move(3.1)), dir)!.moved.length, checks.length);
  fs.rmSync(dir, { recursive: true, force: true });
});
