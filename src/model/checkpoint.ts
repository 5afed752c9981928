// Model checkpoints: parameters, EMA parameters, BatchNorm statistics and configuration, saved and
// verified as checkpoint files (./checkpoint-files.ts: atomic, checksummed, under the folder's lock).
// A model's loader refuses a training run's state, and no save replaces the other kind.
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../math/rng';
import { CheckpointError, readCheckpointFiles, type SavedTensor, writeCheckpointFiles } from './checkpoint-files';
import { VelocityModel } from './model';
import type { VelocityModelConfig } from './network';
import type { TensorMap } from './parameters';
import { assignFrom } from './variables';

const GROUPS = ['params', 'ema', 'batchStats'] as const;
type Group = (typeof GROUPS)[number];

export interface LoadedCheckpoint {
  model: VelocityModel;
  /** EMA copy of the parameters (same names as model.params). */
  ema: TensorMap;
  metadata: Record<string, unknown>;
  /** Free the model and the EMA tensors. */
  dispose(): void;
}

/** Save a model, its EMA parameters and metadata to `dir` (created if needed). */
export function saveCheckpoint(
  dir: string,
  model: VelocityModel,
  ema: Map<string, tf.Tensor>,
  metadata: Record<string, unknown> = {},
): void {
  const tensors: SavedTensor[] = [];
  const add = (group: Group, map: Map<string, tf.Tensor>) => {
    for (const [name, t] of map)
      tensors.push({ group, name, shape: [...t.shape], values: t.dataSync() as Float32Array });
  };
  add('params', model.params);
  add('ema', ema);
  add('batchStats', model.batchStats);
  writeCheckpointFiles(dir, { kind: 'model', modelConfig: model.config, metadata, tensors });
}

/**
 * loadCheckpoint for the notebooks that use chapter 3's model: when there is no usable
 * checkpoint, the error also says how to make one.
 */
export function loadTrainedCheckpoint(dir: string): LoadedCheckpoint {
  try {
    return loadCheckpoint(dir);
  } catch (e) {
    throw new Error(
      `${(e as Error).message}\nRun notebooks/03-training.ipynb first: it trains the model and saves it to ${dir}.`,
    );
  }
}

/**
 * Load a checkpoint saved by saveCheckpoint. `expectedConfig` (optional) must match the saved
 * model configuration field by field.
 */
export function loadCheckpoint(dir: string, expectedConfig?: Partial<VelocityModelConfig>): LoadedCheckpoint {
  const { manifest, tensors } = readCheckpointFiles(dir, 'model', expectedConfig);
  // A freshly initialised model of the saved configuration tells us every name and shape to expect.
  const model = new VelocityModel(manifest.modelConfig, new Rng(0, 'checkpoint-load'));
  const ema: TensorMap = new Map();
  try {
    const expected = new Map<string, Map<string, tf.Tensor>>([
      ['params', model.params],
      ['ema', model.params],
      ['batchStats', model.batchStats],
    ]);
    const seen = new Set<string>();
    for (const e of tensors) {
      const key = `${e.group}:${e.name}`;
      const like = expected.get(e.group)?.get(e.name);
      if (!like) throw new CheckpointError(`${dir}: unexpected tensor ${key}`);
      if (seen.has(key)) throw new CheckpointError(`${dir}: tensor ${key} appears twice`);
      seen.add(key);
      if (!tf.util.arraysEqual(like.shape, e.shape) || e.values.length !== like.size) {
        throw new CheckpointError(
          `${dir}: tensor ${key} has shape [${e.shape}], the model the manifest describes (${describeConfig(manifest.modelConfig)}) ` +
            `needs [${like.shape}]: manifest.json does not match the saved weights`,
        );
      }
      if (e.group === 'ema') ema.set(e.name, tf.tensor(e.values, e.shape));
      else assignFrom(like as tf.Variable, tf.tensor(e.values, e.shape));
    }
    for (const group of GROUPS) {
      for (const name of expected.get(group)!.keys()) {
        if (!seen.has(`${group}:${name}`)) throw new CheckpointError(`${dir}: tensor ${group}:${name} is missing`);
      }
    }
  } catch (e) {
    model.dispose();
    tf.dispose([...ema.values()]);
    throw e;
  }
  return {
    model,
    ema,
    metadata: manifest.metadata,
    dispose: () => {
      model.dispose();
      tf.dispose([...ema.values()]);
    },
  };
}

function describeConfig(c: VelocityModelConfig): string {
  return `width ${c.width}, depth ${c.depth}, time embedding ${c.timeEmbeddingDim}`;
}
