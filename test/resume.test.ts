import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GaussianMixture } from '../src/math/mixture';
import { loadCheckpoint, saveCheckpoint } from '../src/model/checkpoint';
import { assertWritableDirectory } from '../src/model/checkpoint-files';
import type { NamedValues } from '../src/model/tensor-values';
import { TUTORIAL_TRAINING, type TrainConfig } from '../src/train/config';
import { Trainer } from '../src/train/trainer';
import {
  loadTrainingState,
  RecipeMismatch,
  removeTrainingState,
  resumeTraining,
  saveTrainingState,
  trainingStateDir,
  type TrainingState,
} from '../src/train/training-state';
import { useBackend, tutorialProblem } from './helpers';

before(useBackend);

/** A small run whose dropout matters: 12 steps, logs at 4, 8 and 12. */
const RUN: Partial<TrainConfig> = {
  ...TUTORIAL_TRAINING,
  steps: 12,
  batchSize: 64,
  logEvery: 4,
  learningRate: 1e-3,
  warmupSteps: 3,
  holdSteps: 0,
  decaySteps: null,
  seed: 5,
};
const NET = { width: 16, depth: 1, dropout: 0.2 };

function trainer(config: Partial<TrainConfig> = {}, net = {}): Trainer {
  const { mixture, scheduler } = tutorialProblem();
  return new Trainer(mixture, scheduler, { ...RUN, ...config }, { ...NET, ...net });
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'resume-'));
}

/** Each tensor's float32 bit patterns: equal only if every value is the same to the bit. */
function bits(values: NamedValues): [string, number[]][] {
  return values.map(([name, v]) => [name, Array.from(new Uint32Array(v.buffer, v.byteOffset, v.length))]);
}

/** Everything of a state that the next steps depend on, as bits (not the logs' timings). */
function comparable(s: TrainingState) {
  return {
    step: s.step,
    params: bits(s.params),
    ema: bits(s.ema),
    batchStats: bits(s.batchStats),
    adam: [s.optimizer.count, bits(s.optimizer.m), bits(s.optimizer.v)],
    streams: s.streams,
    losses: s.history.map((h) => [h.step, h.loss, h.learningRate]),
  };
}

/**
 * `config` trained k = 5 steps (one step past a log, so a loss sum is pending), its state saved to
 * disk when the snapshot is taken and the run stopped there; then a fresh trainer loads the state
 * and runs to the end. Returns that trainer and the state saved.
 */
async function interruptedRun(
  config: Partial<TrainConfig>,
  edit: (state: TrainingState) => void = () => {},
): Promise<{ resumed: Trainer; saved: TrainingState }> {
  const dir = tempDir();
  const first = trainer(config);
  const stop = new AbortController();
  await first.run(undefined, stop.signal, {
    every: 5,
    take: (state) => {
      saveTrainingState(dir, state);
      stop.abort();
    },
  });
  assert.ok(first.step >= 5 && first.step < 12, `stopped at step ${first.step}`);
  first.dispose();
  const saved = loadTrainingState(dir)!;
  assert.equal(saved.step, 5);
  assert.equal(saved.optimizer.count, 5);
  assert.deepEqual(saved.loss.steps, 1);
  assert.deepEqual(
    saved.history.map((h) => h.step),
    [4],
  );
  edit(saved);
  const resumed = trainer(config);
  resumed.restore(saved);
  assert.equal(resumed.step, 5);
  await resumed.run();
  fs.rmSync(dir, { recursive: true });
  return { resumed, saved };
}

for (const workers of [1, 2]) {
  test(`${workers === 1 ? 'one thread' : '2 worker threads'}: 5 steps, save, load into a fresh trainer, 7 more give the uninterrupted run's 12 to the bit`, async () => {
    const straight = trainer({ workers });
    await straight.run();
    const { resumed } = await interruptedRun({ workers });
    assert.equal(resumed.step, 12);
    assert.deepEqual(
      resumed.history.map((h) => h.step),
      [4, 8, 12],
    );
    assert.deepEqual(comparable(resumed.state()), comparable(straight.state()));
    straight.dispose();
    resumed.dispose();
  });
}

test('the comparison can fail: resuming with a fresh dropout stream ends elsewhere', async () => {
  const straight = trainer();
  await straight.run();
  const want = comparable(straight.state());
  const fresh = trainer();
  const { resumed } = await interruptedRun({}, (state) => {
    state.streams.dropout = fresh.state().streams.dropout;
  });
  const got = comparable(resumed.state());
  assert.notDeepEqual(got.params, want.params);
  assert.notDeepEqual(got.ema, want.ema);
  // the losses up to the saved step are the saved run's; the last two differ
  assert.deepEqual(got.losses[0], want.losses[0]);
  assert.notDeepEqual(got.losses.slice(1), want.losses.slice(1));
  for (const t of [straight, fresh, resumed]) t.dispose();
});

test('a state of another recipe is refused, naming every difference; logEvery is not part of the recipe', async () => {
  const source = trainer();
  await source.run();
  const state = source.state();
  source.dispose();
  const other = trainer({ batchSize: 32, learningRate: 2e-3, target: 'exact', seed: 6, workers: 2 }, { width: 8 });
  assert.throws(
    () => other.restore(state),
    (e: unknown) => {
      assert.ok(e instanceof RecipeMismatch);
      assert.deepEqual([...e.differences].sort(), [
        'model.width: 16 in the saved state, 8 here',
        'train.batchSize: 64 in the saved state, 32 here',
        'train.learningRate: 0.001 in the saved state, 0.002 here',
        'train.seed: 5 in the saved state, 6 here',
        'train.target: "plain" in the saved state, "exact" here',
        'train.workers: 1 in the saved state, 2 here',
      ]);
      assert.match(
        e.message,
        /^the training state is of another recipe: .*train\.batchSize: 64 in the saved state, 32 here/,
      );
      return true;
    },
  );
  assert.equal(other.step, 0);
  other.dispose();
  const { mixture, scheduler } = tutorialProblem();
  const spec = mixture.toJSON();
  const shifted = new Trainer(
    new GaussianMixture({ ...spec, means: spec.means.map((m) => m + 1) }),
    scheduler,
    { ...RUN },
    NET,
  );
  assert.throws(() => shifted.restore(state), {
    message: `the training state is of another recipe: mixture.means: ${JSON.stringify(spec.means)} in the saved state, ${JSON.stringify(spec.means.map((m) => m + 1))} here`,
  });
  shifted.dispose();
  const relogged = trainer({ logEvery: 3 });
  relogged.restore(state);
  assert.equal(relogged.step, 12);
  relogged.dispose();
});

test('resumeTraining: starts, continues or starts over, saying which; removes only its own state; a damaged state fails loudly', async () => {
  const dir = path.join(tempDir(), 'velocity-training-state');
  assert.equal(trainingStateDir(path.join(path.dirname(dir), 'velocity')), dir);
  assert.equal(
    trainingStateDir('data/checkpoints/velocity/'),
    path.join('data', 'checkpoints', 'velocity-training-state'),
  );
  const fresh = trainer();
  assert.deepEqual(resumeTraining(fresh, dir), {
    step: 0,
    saves: true,
    message: `no saved training state in ${dir}: training starts at step 0`,
  });
  fresh.dispose();

  const source = trainer();
  await source.run(undefined, undefined, {
    every: 5,
    take: (state) => state.step === 5 && saveTrainingState(dir, state),
  });
  const recipe = source.recipe();
  source.dispose();
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
  fs.writeFileSync(path.join(dir, 'weights-0000000000000000.bin'), 'not named by its checksum');
  const files = () =>
    Object.fromEntries(
      fs
        .readdirSync(dir)
        .sort()
        .map((f) => [f, fs.readFileSync(path.join(dir, f), 'hex')]),
    );
  const before = files();
  assert.deepEqual(
    Object.keys(before)
      .filter((f) => !['notes.txt', 'weights-0000000000000000.bin'].includes(f))
      .map((f) => f.replace(/[0-9a-f]{16}/, 'X')),
    ['manifest.json', 'weights-X.bin'],
  );

  const same = trainer();
  assert.deepEqual(resumeTraining(same, dir), {
    step: 5,
    saves: true,
    message: `continuing an interrupted run from step 5 of 12 (its training state in ${dir})`,
  });
  assert.equal(same.step, 5);
  same.dispose();

  const other = trainer({ batchSize: 32 });
  assert.deepEqual(resumeTraining(other, dir), {
    step: 0,
    saves: false,
    message:
      `the training state in ${dir} (step 5) is of another recipe (train.batchSize: 64 in the saved state, 32 here): training starts over at step 0. ` +
      'That state is kept, so this run saves none of its own and cannot be continued if interrupted (delete the folder to let it)',
  });
  assert.equal(other.step, 0);
  assert.equal(removeTrainingState(dir, other.recipe()), false);
  assert.deepEqual(files(), before);
  other.dispose();

  // the kinds do not mix: a model loader refuses the state, and neither save replaces the other kind
  assert.throws(() => loadCheckpoint(dir), /holds a training state, not a model checkpoint/);
  const modelDir = tempDir();
  const t = trainer();
  saveCheckpoint(modelDir, t.model, t.ema.values, {});
  assert.throws(
    () => saveTrainingState(modelDir, t.state()),
    /holds a model checkpoint, and a training state save would replace it/,
  );
  assert.throws(
    () => saveCheckpoint(dir, t.model, t.ema.values, {}),
    /holds a training state, and a checkpoint save would replace it/,
  );
  assert.throws(() => assertWritableDirectory(dir), /holds a training state/);
  assertWritableDirectory(dir, 'training-state');
  assert.throws(() => loadTrainingState(modelDir), /holds a model checkpoint, not a training state/);
  t.dispose();

  // damage: one flipped bit of the weights
  const weights = path.join(
    dir,
    Object.keys(before).find((f) => /^weights-[0-9a-f]{16}\.bin$/.test(f) && f !== 'weights-0000000000000000.bin')!,
  );
  const bytes = fs.readFileSync(weights);
  bytes[100] ^= 1;
  fs.writeFileSync(weights, bytes);
  const damaged = trainer();
  assert.throws(
    () => resumeTraining(damaged, dir),
    new RegExp(`SHA-256 checksum does not match manifest.json.*To start the run over instead, delete ${dir}\\.$`),
  );
  assert.throws(() => removeTrainingState(dir, recipe), /SHA-256/);
  bytes[100] ^= 1;
  fs.writeFileSync(weights, bytes);

  assert.equal(removeTrainingState(dir, recipe), true);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['notes.txt', 'weights-0000000000000000.bin']);
  assert.equal(loadTrainingState(dir), null);
  damaged.dispose();
});

test('a snapshot that cannot be saved stops the run with its error, on one thread and on 2 workers', async () => {
  for (const workers of [1, 2]) {
    const t = trainer({ workers });
    await assert.rejects(
      t.run(undefined, undefined, {
        every: 3,
        take: () => {
          throw new Error('disk full');
        },
      }),
      /disk full/,
    );
    t.dispose();
  }
  const t = trainer();
  await assert.rejects(
    t.run(undefined, undefined, { every: 0, take: () => {} }),
    /snapshots.every must be a positive integer, got 0/,
  );
  t.dispose();
});
