// data/mixture.json is the reader's to change: chapters 01, 02 and 05 must judge their samples by
// bars derived from whatever mixture it holds, pass on another mixture than the tutorial's, print
// that mixture's numbers, and still fail samples that are wrong for it.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DDPMScheduler, TUTORIAL_SCHEDULER } from '../src/diffusion/scheduler';
import { compareWithMixture } from '../src/eval/metrics';
import { judgeSamples } from '../src/eval/sample-bars';
import { GaussianMixture } from '../src/math/mixture';
import { Rng } from '../src/math/rng';
import { evaluateCheck } from '../src/notebook/checks';
import { modeChecks, mustFailCheck } from '../src/notebook/sample-checks';
import { chapterMixture } from '../src/notebook/setup';
import { REPO_ROOT, repoPath } from '../src/runtime/paths';
import type { Report } from '../scripts/runner/report';
import { assertInstalled, hasJupyter, skipUnlessCI } from './helpers';

const FIXTURE = 'test/fixtures/mixtures/other-three.json';
const other = chapterMixture(repoPath(FIXTURE));
const alphaBar = new DDPMScheduler(TUTORIAL_SCHEDULER).alphasCumprod;
/** Names of the failing checks of chapter 1's judgement of `samples` against `mixture`. */
const failing = (samples: Float32Array, mixture = other) => modeChecks('s', compareWithMixture(samples, mixture), mixture).filter((c) => !evaluateCheck(c)).map((c) => c.name);
const draw = (m: GaussianMixture, n = 4000, seed = 7) => m.sample(n, new Rng(seed).fork('other'));

test('the other mixture is a chapter mixture; components out of increasing order are refused, saying what to do', () => {
  assert.deepEqual([...other.weights], [0.5, 0.2, 0.3]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mix-order-'));
  const file = path.join(dir, 'mixture.json');
  fs.writeFileSync(file, JSON.stringify({ weights: [0.2, 0.5, 0.3], means: [1, -3, 4], stds: [0.4, 0.7, 1.2] }));
  assert.throws(
    () => chapterMixture(file),
    (e: Error) => e.message === `${file}: the chapters name the components left, middle and right in the file's order, so their means must increase; these are 1, -3, 4. List the components (weights, means and stds alike) by increasing mean.`,
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test('another mixture: exact samples pass its bars; shifted, widened and reweighted samples fail them', () => {
  assert.deepEqual(failing(draw(other)), []);
  const shifted = Float32Array.from(draw(other), (x) => x + 0.2);
  assert.ok(failing(shifted).includes('s: mode 1 mean'), failing(shifted).join());
  const wider = new GaussianMixture({ weights: [...other.weights], means: [...other.means], stds: [0.7, 0.5, 1.2] });
  assert.ok(failing(draw(wider)).includes('s: mode 2 std'), failing(draw(wider)).join());
  const reweighted = new GaussianMixture({ weights: [0.4, 0.2, 0.4], means: [...other.means], stds: [...other.stds] });
  assert.deepEqual(failing(draw(reweighted)).filter((c) => c.endsWith('weight')), ['s: mode 1 weight', 's: mode 3 weight']);
  // chapter 5's must-fail check: the reweighted set is outside the weight bars, exact samples are not
  const weights = (x: Float32Array) => judgeSamples(compareWithMixture(x, other), other).filter((j) => j.name.endsWith(' weight'));
  assert.ok(evaluateCheck(mustFailCheck('plain', weights(draw(reweighted)))));
  assert.ok(!evaluateCheck(mustFailCheck('plain', weights(draw(other)))));
});

test('the forward process of another mixture: exact noised samples pass at every shown t, merged modes by weight alone; a wrong ᾱ fails', () => {
  for (const t of [249, 499, 749, 999]) {
    const marginal = other.noised(alphaBar[t]);
    const checks = modeChecks(`t=${t}`, compareWithMixture(draw(marginal, 1000, t), marginal), marginal);
    assert.deepEqual(checks.filter((c) => !evaluateCheck(c)).map((c) => c.name), [], `t=${t}`);
    if (t >= 499) {
      // the middle component is never the most likely once the modes merge: its mode is judged by weight only
      assert.ok(!checks.some((c) => c.name === `t=${t}: mode 2 mean`));
      assert.match(checks.find((c) => c.name === `t=${t}: mode 2 weight`)!.detail!, /mean and std not judged: 0 samples expected in this mode, under 9\.7$/);
    }
  }
  // samples noised to t = 299 judged as t = 249: the forward process's error shows
  const marginal = other.noised(alphaBar[249]);
  assert.ok(failing(draw(other.noised(alphaBar[299]), 1000), marginal).length > 0);
});

test('chapters 01, 02 and 05 on another mixture: every check passes, and the outputs carry its numbers', { skip: skipUnlessCI(!hasJupyter() && 'a Python with nbclient'), timeout: 300_000 }, () => {
  assertInstalled(!hasJupyter() && 'a Python with nbclient');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-other-'));
  const params = path.join(dir, 'params.json');
  fs.writeFileSync(
    params,
    JSON.stringify({
      '01-data': { nSamples: 1000, mixtureFile: FIXTURE },
      '02-forward-process': { nSamples: 1000, mixtureFile: FIXTURE },
      '05-langevin': { nSamples: 500, longerLangevin: [10_000], mixtureFile: FIXTURE },
    }),
  );
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist/scripts/runner/run-notebooks.js'), '01', '02', '05', '--params', params, '--out', path.join(dir, 'out'), '--no-html'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  const log = r.stdout + r.stderr;
  assert.equal(r.status, 0, log);
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'report.json'), 'utf8')) as Report;
  for (const nb of report.notebooks) {
    assert.equal(nb.status, 'ok', `${nb.name}: ${log}`);
    assert.deepEqual(nb.checks.filter((c) => !c.pass).map((c) => c.name), [], nb.name);
  }
  const byName = new Map(report.notebooks.map((nb) => [nb.name, new Set(nb.checks.map((c) => c.name))]));
  assert.equal(byName.get('01-data')!.size, 10);
  assert.ok(byName.get('02-forward-process')!.has('t=749: mode 2 weight') && !byName.get('02-forward-process')!.has('t=749: mode 2 mean'));
  assert.ok(byName.get('05-langevin')!.has("tutorial Langevin: mode weights: outside exact sampling's bars (worst |error| ÷ bar)"));
  // every output of the executed notebooks, as text
  const outputs = (name: string) =>
    (JSON.parse(fs.readFileSync(path.join(dir, 'out', 'notebooks', `${name}.ipynb`), 'utf8')).cells as { outputs?: { text?: string[]; data?: Record<string, string | string[]> }[] }[])
      .flatMap((c) => c.outputs ?? [])
      .map((o) => [o.text ?? [], ...Object.entries(o.data ?? {}).filter(([mime]) => mime.startsWith('text/')).map(([, v]) => v)].flat().join(''))
      .join('\n');
  const chapter1 = outputs('01-data');
  assert.ok(chapter1.includes(String.raw`w = (0.5,\ 0.2,\ 0.3),\quad \mu = (-3,\ 1,\ 4),\quad \sigma = (0.7,\ 0.4,\ 1.2)`), 'the mixture formula with its numbers');
  assert.ok(!chapter1.includes(String.raw`0.3,\ 0.1,\ 0.6`), "not the tutorial mixture's");
  assert.match(chapter1, /the weights 0\.500 \/ 0\.200 \/ 0\.300 become the expected fractions 0\.5000 \/ 0\.2079 \/ 0\.2921/);
  assert.match(outputs('05-langevin'), /Annealed Langevin, in 1000 steps against the tutorial run's 5000, passes all 10 bars/);
  fs.rmSync(dir, { recursive: true, force: true });
});
