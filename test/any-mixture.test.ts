// data/mixture.json is the reader's to change: chapters 01, 02 and 05, and the exact parts of 04, 06
// and 08 (run without chapter 3's trained model, which knows the tutorial's mixture only), must judge
// their samples by bars derived from whatever mixture it holds, pass on another mixture than the
// tutorial's, print that mixture's numbers, and still fail samples that are wrong for it.
import test from 'node:test';
import assert from 'node:assert/strict';
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
import { samplerChecks } from '../src/notebook/sampler-checks';
import { chapterMixture } from '../src/notebook/setup';
import { repoPath } from '../src/runtime/paths';
import type { SamplerKind } from '../src/sample/compare';
import type { Report } from '../scripts/runner/report';
import { assertInstalled, hasJupyter, mixtureQuantiles, runNotebooks, samplerRow, skipUnlessCI } from './helpers';

const FIXTURE = 'test/fixtures/mixtures/other-three.json';
const other = chapterMixture(repoPath(FIXTURE));
const alphaBar = new DDPMScheduler(TUTORIAL_SCHEDULER).alphasCumprod;
/** Names of the failing checks of chapter 1's judgement of `samples` against `mixture`. */
const failing = (samples: Float32Array, mixture = other) =>
  modeChecks('s', compareWithMixture(samples, mixture), mixture)
    .filter((c) => !evaluateCheck(c))
    .map((c) => c.name);
const draw = (m: GaussianMixture, n = 4000, seed = 7) => m.sample(n, new Rng(seed).fork('other'));
/** The other mixture as the chapters print it (td.mixtureTex), and a piece of the tutorial mixture's. */
const OTHER_TEX = String.raw`w = (0.5,\ 0.2,\ 0.3),\quad \mu = (-3,\ 1,\ 4),\quad \sigma = (0.7,\ 0.4,\ 1.2)`;
const TUTORIAL_WEIGHTS_TEX = String.raw`0.3,\ 0.1,\ 0.6`;

/**
 * Runs chapters through the runner on the other mixture (`mixtureFile` added to each chapter's
 * parameters) into a temporary folder, asserts that each ran and passed every check, and returns
 * the report and every output of each executed notebook, as text.
 */
function runOnOther(params: Record<string, Record<string, unknown>>): { report: Report; outputs: Map<string, string> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-other-'));
  const file = path.join(dir, 'params.json');
  fs.writeFileSync(
    file,
    JSON.stringify(
      Object.fromEntries(Object.entries(params).map(([name, values]) => [name, { ...values, mixtureFile: FIXTURE }])),
    ),
  );
  const chapters = Object.keys(params).map((name) => name.slice(0, 2));
  const r = runNotebooks([...chapters, '--params', file, '--out', path.join(dir, 'out'), '--no-html']);
  const log = r.log;
  assert.equal(r.status, 0, log);
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'report.json'), 'utf8')) as Report;
  assert.deepEqual(
    report.notebooks.map((nb) => nb.name),
    Object.keys(params),
  );
  for (const nb of report.notebooks) {
    assert.equal(nb.status, 'ok', `${nb.name}: ${log}`);
    assert.deepEqual(
      nb.checks.filter((c) => !c.pass).map((c) => c.name),
      [],
      nb.name,
    );
  }
  const outputs = new Map(
    report.notebooks.map((nb) => [
      nb.name,
      (
        JSON.parse(fs.readFileSync(path.join(dir, 'out', 'notebooks', `${nb.name}.ipynb`), 'utf8')).cells as {
          outputs?: { text?: string[]; data?: Record<string, string | string[]> }[];
        }[]
      )
        .flatMap((c) => c.outputs ?? [])
        .map((o) =>
          [
            o.text ?? [],
            ...Object.entries(o.data ?? {})
              .filter(([mime]) => mime.startsWith('text/'))
              .map(([, v]) => v),
          ]
            .flat()
            .join(''),
        )
        .join('\n'),
    ]),
  );
  fs.rmSync(dir, { recursive: true, force: true });
  return { report, outputs };
}

test('the other mixture is a chapter mixture; components out of increasing order are refused, saying what to do', () => {
  assert.deepEqual([...other.weights], [0.5, 0.2, 0.3]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mix-order-'));
  const file = path.join(dir, 'mixture.json');
  fs.writeFileSync(file, JSON.stringify({ weights: [0.2, 0.5, 0.3], means: [1, -3, 4], stds: [0.4, 0.7, 1.2] }));
  assert.throws(
    () => chapterMixture(file),
    (e: Error) =>
      e.message ===
      `${file}: the chapters name the components left, middle and right in the file's order, so their means must increase; these are 1, -3, 4. List the components (weights, means and stds alike) by increasing mean.`,
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test('another mixture: exact samples pass its bars; shifted, widened and reweighted samples fail them', () => {
  // modeChecks judges chapter 1's exact draws, chapter 4's oracle and chapter 6's reverse SDE and ODE alike
  assert.deepEqual(failing(draw(other)), []);
  const shifted = Float32Array.from(draw(other), (x) => x + 0.2);
  assert.ok(failing(shifted).includes('s: mode 1 mean'), failing(shifted).join());
  const wider = new GaussianMixture({ weights: [...other.weights], means: [...other.means], stds: [0.7, 0.5, 1.2] });
  assert.ok(failing(draw(wider)).includes('s: mode 2 std'), failing(draw(wider)).join());
  const reweighted = new GaussianMixture({ weights: [0.4, 0.2, 0.4], means: [...other.means], stds: [...other.stds] });
  assert.deepEqual(
    failing(draw(reweighted)).filter((c) => c.endsWith('weight')),
    ['s: mode 1 weight', 's: mode 3 weight'],
  );
  // chapter 5's must-fail check: the reweighted set is outside the weight bars, exact samples are not
  const weights = (x: Float32Array) =>
    judgeSamples(compareWithMixture(x, other), other).filter((j) => j.name.endsWith(' weight'));
  assert.ok(evaluateCheck(mustFailCheck('plain', weights(draw(reweighted)))));
  assert.ok(!evaluateCheck(mustFailCheck('plain', weights(draw(other)))));
});

test('the forward process of another mixture: exact noised samples pass at every shown t, merged modes by weight alone; a wrong ᾱ fails', () => {
  for (const t of [249, 499, 749, 999]) {
    const marginal = other.noised(alphaBar[t]);
    const checks = modeChecks(`t=${t}`, compareWithMixture(draw(marginal, 1000, t), marginal), marginal);
    assert.deepEqual(
      checks.filter((c) => !evaluateCheck(c)).map((c) => c.name),
      [],
      `t=${t}`,
    );
    if (t >= 499) {
      // the middle component is never the most likely once the modes merge: its mode is judged by weight only
      assert.ok(!checks.some((c) => c.name === `t=${t}: mode 2 mean`));
      assert.match(
        checks.find((c) => c.name === `t=${t}: mode 2 weight`)!.detail!,
        /mean and std not judged: 0 samples expected in this mode, under 9\.7$/,
      );
    }
  }
  // samples noised to t = 299 judged as t = 249: the forward process's error shows
  const marginal = other.noised(alphaBar[249]);
  assert.ok(failing(draw(other.noised(alphaBar[299]), 1000), marginal).length > 0);
});

test("chapter 8's checks without a trained model, on another mixture: exact-score rows pass; a shifted, widened or reweighted sampler fails, and only its checks", () => {
  const n = 5000; // chapter 8's nSamples
  const exactDraws = (name: string, m = other, count = n) => m.sample(count, new Rng(21).fork(name));
  // a deterministic sampler's own output with the exact score: here the mixture itself
  const reference = Float32Array.from(mixtureQuantiles(other, 20_000));
  // the tutorial's plain Langevin on 1,000 chains, stuck with too little of the left mode
  const stuck = new GaussianMixture({ weights: [0.35, 0.25, 0.4], means: [...other.means], stds: [...other.stds] });
  const rows = (corrupt: Partial<Record<SamplerKind, Float32Array>> = {}) => [
    samplerRow(other, 'ddpm', 'exact score', corrupt.ddpm ?? exactDraws('ddpm')),
    samplerRow(other, 'ddim', 'exact score', corrupt.ddim ?? exactDraws('ddim'), 50, reference),
    samplerRow(other, 'heun', 'exact score', corrupt.heun ?? exactDraws('heun'), 99, reference),
    samplerRow(other, 'predictor-corrector', 'exact score', corrupt['predictor-corrector'] ?? exactDraws('pc')),
    samplerRow(other, 'annealed-langevin', 'exact score', corrupt['annealed-langevin'] ?? exactDraws('annealed')),
    samplerRow(
      other,
      'plain-langevin',
      'exact score',
      corrupt['plain-langevin'] ?? exactDraws('plain', stuck, 1000),
      5000,
    ),
  ];
  const checks = (corrupt?: Partial<Record<SamplerKind, Float32Array>>) =>
    samplerChecks(rows(corrupt), other, { exact: 'exact score' });
  const failed = (corrupt: Partial<Record<SamplerKind, Float32Array>>) =>
    checks(corrupt)
      .filter((c) => !evaluateCheck(c))
      .map((c) => c.name);
  const exact = checks();
  assert.deepEqual(
    exact.filter((c) => !evaluateCheck(c)).map((c) => c.name),
    [],
  );
  assert.ok(
    exact.every((c) => c.name.startsWith('exact: ')),
    'no trained model, no check of one',
  );
  assert.match(
    exact.find((c) => c.name === 'exact: ddpm 1000: mode 2 weight')!.detail!,
    /\(exact sampling: 0\.2079 ± /,
  );
  /** Only `row`'s checks fail, `expected` among them. */
  const onlyRow = (names: string[], row: string, expected: string[]) => {
    assert.ok(names.length > 0 && names.every((name) => name.startsWith(`exact: ${row}: `)), names.join('; '));
    for (const e of expected) assert.ok(names.includes(`exact: ${row}: ${e}`), names.join('; '));
  };
  onlyRow(failed({ ddpm: Float32Array.from(exactDraws('ddpm'), (x) => x + 0.2) }), 'ddpm 1000', ['mode 1 mean']);
  const wider = new GaussianMixture({ weights: [...other.weights], means: [...other.means], stds: [0.7, 0.5, 1.2] });
  onlyRow(failed({ heun: exactDraws('heun', wider) }), 'heun 99', ['mode 2 std']);
  const reweighted = new GaussianMixture({ weights: [0.4, 0.2, 0.4], means: [...other.means], stds: [...other.stds] });
  onlyRow(failed({ 'annealed-langevin': exactDraws('annealed', reweighted) }), 'annealed-langevin 1000', [
    'mode 1 weight',
    'mode 3 weight',
  ]);
  // a plain Langevin that reproduced the mixture fails the check that it must fail
  assert.deepEqual(failed({ 'plain-langevin': exactDraws('plain', other, 1000) }), [
    "exact: plain Langevin: outside exact sampling's bars (worst |error| ÷ bar)",
  ]);
});

test('chapters 01, 02 and 05 on another mixture: every check passes, and the outputs carry its numbers', {
  skip: skipUnlessCI(!hasJupyter() && 'a Python with nbclient'),
  timeout: 300_000,
}, () => {
  assertInstalled(!hasJupyter() && 'a Python with nbclient');
  const { report, outputs } = runOnOther({
    '01-data': { nSamples: 1000 },
    '02-forward-process': { nSamples: 1000 },
    '05-langevin': { nSamples: 500, longerLangevin: [10_000] },
  });
  const byName = new Map(report.notebooks.map((nb) => [nb.name, new Set(nb.checks.map((c) => c.name))]));
  assert.equal(byName.get('01-data')!.size, 10);
  assert.ok(
    byName.get('02-forward-process')!.has('t=749: mode 2 weight') &&
      !byName.get('02-forward-process')!.has('t=749: mode 2 mean'),
  );
  assert.ok(
    byName
      .get('05-langevin')!
      .has("tutorial Langevin: mode weights: outside exact sampling's bars (worst |error| ÷ bar)"),
  );
  const chapter1 = outputs.get('01-data')!;
  assert.ok(chapter1.includes(OTHER_TEX), 'the mixture formula with its numbers');
  assert.ok(!chapter1.includes(TUTORIAL_WEIGHTS_TEX), "not the tutorial mixture's");
  assert.match(
    chapter1,
    /the weights 0\.500 \/ 0\.200 \/ 0\.300 become the expected fractions 0\.5000 \/ 0\.2079 \/ 0\.2921/,
  );
  assert.match(
    outputs.get('05-langevin')!,
    /Annealed Langevin, in 4000 steps against the tutorial run's 5000, passes all 10 bars/,
  );
});

test('chapters 04, 06 and 08 without a trained model, on another mixture: every exact and oracle sampler passes, and the outputs carry its numbers', {
  skip: skipUnlessCI(!hasJupyter() && 'a Python with nbclient'),
  timeout: 300_000,
}, () => {
  assertInstalled(!hasJupyter() && 'a Python with nbclient');
  // checkpointDir null: no trained model (chapter 3's knows the tutorial's mixture only), the exact parts only
  const { report, outputs } = runOnOther({
    '04-sampling': { nSamples: 500, checkpointDir: null },
    '06-score-sde': { nPaths: 500, checkpointDir: null },
    '08-samplers': { nSamples: 500, checkpointDir: null },
  });
  const checks = new Map(report.notebooks.map((nb) => [nb.name, nb.checks]));
  const detail = (nb: string, name: string) =>
    checks.get(nb)!.find((c) => c.name === name)?.detail ?? `no check '${name}'`;
  for (const [name, list] of checks)
    assert.deepEqual(
      list.filter((c) => c.name.includes('trained')).map((c) => c.name),
      [],
      name,
    );
  // the oracle's 10; p₁'s KS and the exact SDE's and ODE's 10 each; every exact-score sampler's KS, and plain Langevin's failure
  assert.equal(checks.get('04-sampling')!.length, 10);
  assert.equal(checks.get('06-score-sde')!.length, 21);
  assert.equal(checks.get('08-samplers')!.filter((c) => c.name.endsWith(': KS statistic')).length, 6);
  assert.ok(
    checks
      .get('08-samplers')!
      .some((c) => c.name === "exact: plain Langevin: outside exact sampling's bars (worst |error| ÷ bar)"),
  );
  // bars from the other mixture: its mode 2 holds 0.2079 of exact samples under the most-likely-mode rule
  assert.match(detail('04-sampling', 'oracle: mode 2 weight'), /\(exact sampling: 0\.2079 ± /);
  assert.match(detail('06-score-sde', 'exact ODE: mode 2 weight'), /\(exact sampling: 0\.2079 ± /);
  assert.match(
    detail('08-samplers', 'exact: DDPM ancestral, 1000 steps: mode 2 weight'),
    /\(exact sampling: 0\.2079 ± /,
  );
  for (const [name, text] of outputs) {
    assert.ok(text.includes(`The mixture of \`${FIXTURE}\`: $${OTHER_TEX}$.`), `${name}: the mixture with its numbers`);
    assert.ok(!text.includes(TUTORIAL_WEIGHTS_TEX), `${name}: not the tutorial mixture's`);
  }
  assert.match(outputs.get('04-sampling')!, /no trained model \(checkpointDir is null\)/);
});
