// The notebooks' checks must be able to fail: run the sampling notebook on a deliberately broken
// (untrained) model and require the runner to flag the trained-model checks, while the oracle
// checks, which do not depend on the model, still pass. And a missing or damaged checkpoint
// must stop notebook 04 at its load cell with a message saying what is wrong and what to do.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../src/runtime/backend';
import { loadCheckpoint, saveCheckpoint } from '../src/model/checkpoint';
import { manifestText } from '../src/model/checkpoint-files';
import { DDPMScheduler, TUTORIAL_SCHEDULER } from '../src/diffusion/scheduler';
import { chapterMixture } from '../src/notebook/setup';
import { tensorValues } from '../src/model/tensor-values';
import { Trainer } from '../src/train/trainer';
import { saveTrainingState, trainingStateDir } from '../src/train/training-state';
import { VelocityModel } from '../src/model/model';
import { Rng } from '../src/math/rng';
import type { Report } from '../scripts/runner/report';
import { assertInstalled, hasJupyter, runNotebooks, skipUnlessCI } from './helpers';
import { REPO_ROOT } from '../src/runtime/paths';

test('notebook 04 fails its checks on an untrained model', {
  skip: skipUnlessCI(!hasJupyter() && 'a Python with nbclient'),
  timeout: 300_000,
}, async () => {
  assertInstalled(!hasJupyter() && 'a Python with nbclient');
  await initBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-broken-'));
  const model = new VelocityModel({}, new Rng(1).fork('init'));
  saveCheckpoint(path.join(dir, 'ckpt'), model, model.params, {
    train: { steps: 0, batchSize: 0 },
    excessLoss: NaN,
    bayesOptimalLoss: 12.19,
  });
  model.dispose();
  const params = path.join(dir, 'params.json');
  fs.writeFileSync(
    params,
    JSON.stringify({ '04-sampling': { nSamples: 1000, checkpointDir: path.join(dir, 'ckpt') } }),
  );
  const r = runNotebooks(['04', '--params', params, '--out', path.join(dir, 'out'), '--no-html']);
  assert.equal(r.status, 1, r.log);
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'report.json'), 'utf8')) as Report;
  const nb = report.notebooks[0];
  assert.equal(nb.status, 'checks-failed');
  const byName = new Map(nb.checks.map((c) => [c.name, c.pass]));
  assert.equal(byName.get('trained: KS statistic'), false);
  assert.equal(byName.get('trained vs oracle: W1 to the exact run on the same noise'), false);
  for (const stat of ['weight', 'mean', 'std']) assert.equal(byName.get(`oracle: mode 2 ${stat}`), true, stat);
  assert.equal(byName.get('oracle: KS statistic'), true);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('notebook 04 stops at the load cell on a missing, truncated or mismatched checkpoint', {
  skip: skipUnlessCI(!hasJupyter() && 'a Python with nbclient'),
  timeout: 300_000,
}, async () => {
  assertInstalled(!hasJupyter() && 'a Python with nbclient');
  await initBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-ckpt-'));
  const model = new VelocityModel({}, new Rng(1).fork('init'));
  const make = (name: string) => {
    saveCheckpoint(path.join(dir, name), model, model.params, {
      train: { steps: 0, batchSize: 0 },
      excessLoss: NaN,
      bayesOptimalLoss: 12.19,
    });
    return path.join(dir, name);
  };
  const truncated = make('truncated');
  const weights = path.join(
    truncated,
    JSON.parse(fs.readFileSync(path.join(truncated, 'manifest.json'), 'utf8')).weights.file,
  );
  fs.truncateSync(weights, fs.statSync(weights).size - 1000);
  const mismatched = make('mismatched');
  const manifestFile = path.join(mismatched, 'manifest.json');
  const { manifestSha256: _, ...manifest } = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  manifest.modelConfig.width = 64; // another architecture than its weights, with a valid checksum (as other model code might save)
  fs.writeFileSync(manifestFile, manifestText(manifest));
  const damaged = make('damaged');
  const damagedFile = path.join(damaged, 'manifest.json');
  fs.writeFileSync(damagedFile, fs.readFileSync(damagedFile, 'utf8').replace('"depth": 3', '"depth": 2'));
  model.dispose();

  const cases: [string, RegExp][] = [
    [path.join(dir, 'missing'), /^Error: no checkpoint at \S+missing \(missing manifest.json\)/],
    [truncated, /^Error: \S+weights-[0-9a-f]{16}\.bin has \d+ bytes but manifest.json says \d+: the file is truncated/],
    [
      damaged,
      /^Error: checkpoint \S+damaged: manifest.json is damaged \(its checksum does not match its content\): it was changed after it was saved$/,
    ],
    [
      mismatched,
      /^Error: \S+mismatched: tensor \S+ has shape \[[\d,]+\], the model the manifest describes \(width 64, depth 3, time embedding 32\) needs/,
    ],
  ];
  for (const [checkpointDir, what] of cases) {
    const out = path.join(dir, `out-${path.basename(checkpointDir)}`);
    fs.mkdirSync(out);
    fs.writeFileSync(
      path.join(out, 'params.json'),
      JSON.stringify({ '04-sampling': { nSamples: 1000, checkpointDir } }),
    );
    const r = runNotebooks(['04', '--params', path.join(out, 'params.json'), '--out', out, '--no-html']);
    const log = r.log;
    assert.equal(r.status, 1, log);
    const nb = (JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as Report).notebooks[0];
    assert.equal(nb.status, 'failed', log);
    assert.match(
      nb.failedCell?.source ?? '',
      /td\.loadTrainedCheckpoint\(td\.repoPath\(checkpointDir\)\)/,
      'fails at the load cell',
    );
    // tslab's error text: the throwing source line, then the error's message and stack.
    const lines = (nb.error ?? '').split('\n');
    const at = lines.findIndex((l) => l.startsWith('Error: '));
    const [problem, advice] = lines.slice(at, at + 2);
    assert.match(problem, what, nb.error);
    assert.equal(
      advice,
      `Run notebooks/03-training.ipynb first: it trains the model and saves it to ${checkpointDir}.`,
    );
    assert.match(log, /--- 04-sampling: failed\ncode cell 3/);
    assert.ok(log.includes(`\n  ${problem}\n  ${advice}\n`), 'the runner prints the message');
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('notebook 03 continues an interrupted run of its recipe to the uninterrupted parameters, and saves a model that failed its checks beside checkpointDir, never over it', {
  skip: skipUnlessCI(!hasJupyter() && 'a Python with nbclient'),
  timeout: 300_000,
}, async () => {
  assertInstalled(!hasJupyter() && 'a Python with nbclient');
  await initBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-save-'));
  const checkpointDir = path.join(dir, 'velocity');
  // a model the user trained before: it must survive a run whose model fails its checks
  const model = new VelocityModel({ width: 16, depth: 2 }, new Rng(1).fork('init'));
  saveCheckpoint(checkpointDir, model, model.params, { earlier: true });
  model.dispose();
  const earlier = fs.readFileSync(path.join(checkpointDir, 'manifest.json'), 'utf8');
  // the chapter's recipe (its defaults and the overrides below), trained here without interruption;
  // its state at step 10 is what an interrupted run of the chapter would have left
  const straight = new Trainer(
    chapterMixture(),
    new DDPMScheduler(TUTORIAL_SCHEDULER),
    {
      steps: 20,
      batchSize: 64,
      seed: 1,
      logEvery: 10,
      target: 'exact',
      referenceSize: 512,
      learningRate: 3e-3,
      endLearningRate: 0,
      warmupSteps: 100,
      holdSteps: 0,
      emaDecay: 0.998,
      workers: 1,
    },
    { dropout: 0 },
  );
  const stateDir = trainingStateDir(checkpointDir);
  await straight.run(undefined, undefined, {
    every: 10,
    take: (state) => state.step === 10 && saveTrainingState(stateDir, state),
  });
  const params = path.join(dir, 'params.json');
  // a 20-step model's samples fail the save gate's per-mode bars
  fs.writeFileSync(
    params,
    JSON.stringify({
      '03-training': {
        steps: 20,
        batchSize: 64,
        workers: 1,
        logEvery: 10,
        evalPerTimestep: 1,
        gateSamples: 500,
        checkpointDir,
      },
    }),
  );
  const r = runNotebooks(['03', '--params', params, '--out', path.join(dir, 'out'), '--no-html']);
  assert.equal(r.status, 1, r.log);
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'report.json'), 'utf8')) as Report;
  assert.equal(report.notebooks[0].status, 'checks-failed');
  assert.equal(fs.readFileSync(path.join(checkpointDir, 'manifest.json'), 'utf8'), earlier);
  assert.ok(fs.existsSync(path.join(`${checkpointDir}-failed`, 'manifest.json')), 'the failed model is kept beside it');
  const executed = fs.readFileSync(path.join(dir, 'out', 'notebooks', '03-training.ipynb'), 'utf8');
  assert.ok(
    executed.includes(`continuing an interrupted run from step 10 of 20 (its training state in ${stateDir})`),
    'the chapter says where it continues from',
  );
  const saved = loadCheckpoint(`${checkpointDir}-failed`);
  // to the bit: the same float32 values
  assert.deepEqual(tensorValues(saved.model.params), tensorValues(straight.model.params));
  assert.deepEqual(tensorValues(saved.ema), tensorValues(straight.ema.values));
  assert.deepEqual(tensorValues(saved.model.batchStats), tensorValues(straight.model.batchStats));
  assert.deepEqual(fs.readdirSync(stateDir), [], 'the finished run removed its training state');
  saved.dispose();
  straight.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("the CI configuration writes its model apart from the full run's", () => {
  const ci = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'notebooks', 'ci-params.json'), 'utf8')) as Record<
    string,
    Record<string, unknown>
  >;
  for (const name of ['03-training', '04-sampling', '06-score-sde', '08-samplers']) {
    const nb = fs.readFileSync(path.join(REPO_ROOT, 'notebooks', `${name}.ipynb`), 'utf8');
    const fullDefault = /let checkpointDir(?:: [^=]+)? = '([^']+)'/.exec(nb)?.[1];
    assert.ok(
      fullDefault && ci[name].checkpointDir && ci[name].checkpointDir !== fullDefault,
      `${name}: CI checkpointDir ${ci[name].checkpointDir} vs ${fullDefault}`,
    );
  }
});
