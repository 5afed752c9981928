// A training run's state on disk, so that an interrupted run continues where it was saved and ends
// with the parameters, EMA and BatchNorm statistics the uninterrupted run reaches, to the bit.
// It is a checkpoint of kind 'training-state' (src/model/checkpoint-files.ts: written whole and renamed
// into place, checksummed, verified on load, under the folder's lock, removing only files it
// wrote), in a folder of its own beside the model's (trainingStateDir), so a finished model's
// checkpoint is unchanged. Its tensors are the parameters, the EMA, the BatchNorm statistics and
// AdamW's moments; its manifest holds the step, AdamW's update count, every random stream's
// position, the loss summed since the last log, the logs so far and the recipe. The learning rate
// is a function of the step and the recipe.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MixtureSpec } from '../math/mixture';
import type { DDPMSchedulerConfig } from '../diffusion/scheduler';
import {
  CheckpointError,
  readCheckpointFiles,
  removeCheckpointFiles,
  writeCheckpointFiles,
  type SavedTensor,
} from '../model/checkpoint-files';
import type { VelocityModel } from '../model/model';
import type { NamedValues } from '../model/tensor-values';
import type { TrainConfig, TrainLog } from './config';
import type { TrainerState } from './thread-trainer';

/** The version of the manifest's trainingState entry. */
const VERSION = 1;
const GROUPS = ['params', 'ema', 'batchStats', 'adamM', 'adamV'] as const;

/** Everything a run's numbers depend on. A state continues only a run of the same recipe. */
export interface Recipe {
  /** tfjs's backend: the same seed gives other float32 roundings on another. */
  backend: string;
  mixture: MixtureSpec;
  scheduler: DDPMSchedulerConfig;
  model: VelocityModel['config'];
  /** The training configuration without logEvery, which changes no number. */
  train: Omit<TrainConfig, 'logEvery'>;
}

/** A run's state with its recipe and its logs so far (Trainer.state, Trainer.restore). */
export interface TrainingState extends TrainerState {
  recipe: Recipe;
  history: TrainLog[];
}

/** What the manifest's metadata holds besides the tensors. */
interface SavedMetadata {
  trainingState: number;
  recipe: Recipe;
  step: number;
  optimizerCount: number;
  streams: TrainerState['streams'];
  loss: TrainerState['loss'];
  history: TrainLog[];
}

/** A run asked to continue from the state of another recipe. */
export class RecipeMismatch extends Error {
  override name = 'RecipeMismatch';
  constructor(readonly differences: string[]) {
    super(`the training state is of another recipe: ${differences.join('; ')}`);
  }
}

/** Where chapter 3 keeps the training state of a run that saves its model to `checkpointDir`: beside it. */
export function trainingStateDir(checkpointDir: string): string {
  return path.join(path.dirname(checkpointDir), `${path.basename(checkpointDir)}-training-state`);
}

/** Save `state` to `dir` (created if needed), replacing the training state there, with a checkpoint's guarantees. */
export function saveTrainingState(dir: string, state: TrainingState): void {
  // (flat: the trainer that restores a state knows the shapes)
  const group = (name: (typeof GROUPS)[number], values: NamedValues): SavedTensor[] =>
    values.map(([n, v]) => ({ group: name, name: n, shape: [v.length], values: v }));
  const { recipe, history, step, optimizer, streams, loss } = state;
  const metadata: SavedMetadata = {
    trainingState: VERSION,
    recipe,
    step,
    optimizerCount: optimizer.count,
    streams,
    loss,
    history,
  };
  writeCheckpointFiles(dir, {
    kind: 'training-state',
    modelConfig: recipe.model,
    metadata: metadata as unknown as Record<string, unknown>,
    tensors: [
      ...group('params', state.params),
      ...group('ema', state.ema),
      ...group('batchStats', state.batchStats),
      ...group('adamM', optimizer.m),
      ...group('adamV', optimizer.v),
    ],
  });
}

/** The training state saved in `dir`, verified whole; null if there is none (no manifest.json). Throws a CheckpointError if it is damaged. */
export function loadTrainingState(dir: string): TrainingState | null {
  if (!fs.existsSync(path.join(dir, 'manifest.json'))) return null;
  const { manifest, tensors } = readCheckpointFiles(dir, 'training-state');
  const m = manifest.metadata as unknown as SavedMetadata;
  if (m.trainingState !== VERSION)
    throw new CheckpointError(
      `${dir}: a training state of version ${m.trainingState}; this project reads version ${VERSION}`,
    );
  const stray = tensors.find((t) => !(GROUPS as readonly string[]).includes(t.group));
  if (stray) throw new CheckpointError(`${dir}: unexpected tensor ${stray.group}:${stray.name}`);
  // (copies: views of the one weights buffer would each carry all of it to a worker thread)
  const group = (name: (typeof GROUPS)[number]): NamedValues =>
    tensors.filter((t) => t.group === name).map((t) => [t.name, t.values.slice()]);
  return {
    recipe: m.recipe,
    history: m.history,
    step: m.step,
    params: group('params'),
    ema: group('ema'),
    batchStats: group('batchStats'),
    optimizer: { count: m.optimizerCount, m: group('adamM'), v: group('adamV') },
    streams: m.streams,
    loss: m.loss,
  };
}

/**
 * Remove the training state in `dir` if it is one of `recipe` (a run that finished has no more use
 * for it); returns whether it did. A state of another recipe, and every file a training state save
 * did not write, stay.
 */
export function removeTrainingState(dir: string, recipe: Recipe): boolean {
  return removeCheckpointFiles(
    dir,
    'training-state',
    (m) => recipeDifferences((m.metadata as unknown as SavedMetadata).recipe, recipe).length === 0,
  );
}

/** What resumeTraining uses of a Trainer (named so, as ./trainer.ts imports this module). */
interface Resumable {
  readonly config: { steps: number };
  restore(state: TrainingState): void;
}

/**
 * Continue `trainer` from the training state in `dir` if there is one of its recipe; returns the
 * step it continues from (0: it starts afresh), whether this run may save its own state there, and
 * a line saying which and why. A state of another recipe is another run's work: it stays, and this
 * run saves none (`saves` false). A damaged state throws.
 */
export function resumeTraining(trainer: Resumable, dir: string): { step: number; saves: boolean; message: string } {
  let state: TrainingState | null;
  try {
    state = loadTrainingState(dir);
  } catch (e) {
    throw new CheckpointError(`${(e as Error).message}. To start the run over instead, delete ${dir}.`);
  }
  if (!state) return { step: 0, saves: true, message: `no saved training state in ${dir}: training starts at step 0` };
  try {
    trainer.restore(state);
  } catch (e) {
    if (!(e instanceof RecipeMismatch)) throw e;
    return {
      step: 0,
      saves: false,
      message:
        `the training state in ${dir} (step ${state.step}) is of another recipe (${e.differences.join('; ')}): training starts over at step 0. ` +
        'That state is kept, so this run saves none of its own and cannot be continued if interrupted (delete the folder to let it)',
    };
  }
  return {
    step: state.step,
    saves: true,
    message: `continuing an interrupted run from step ${state.step} of ${trainer.config.steps} (its training state in ${dir})`,
  };
}

/** Each field in which two recipes differ, e.g. 'train.batchSize: 4096 in the saved state, 1024 here'. */
export function recipeDifferences(saved: Recipe, current: Recipe): string[] {
  const a = leaves(saved);
  const b = leaves(JSON.parse(JSON.stringify(current)));
  const keys = new Set([...b.keys(), ...a.keys()]);
  return [...keys]
    .filter((k) => a.get(k) !== b.get(k))
    .map((k) => `${k}: ${a.get(k) ?? 'absent'} in the saved state, ${b.get(k) ?? 'absent'} here`);
}

/** The leaves of a JSON value by their path ('train.batchSize'), as JSON text; an array is one leaf. */
function leaves(value: unknown, at = '', out = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) leaves(v, at ? `${at}.${k}` : k, out);
  } else {
    out.set(at, JSON.stringify(value));
  }
  return out;
}
