// Checkpoints: parameters, EMA parameters, BatchNorm statistics and configuration in a folder:
// manifest.json and the weights file it names. The manifest records the weights' size and
// SHA-256, and its own SHA-256, so a load either restores everything exactly or fails with an
// error that says what is wrong: a change to any byte of either file is caught.
//
// A save never leaves the folder without a loadable checkpoint: the weights are saved whole
// (runtime/files.ts: a temporary file, fsynced, renamed) to a file named by their checksum; the
// new manifest is saved the same way over manifest.json, the one step that switches checkpoints; only then are the weights files of earlier saves removed. A
// crash or a full disk at any point leaves the previous manifest and its weights in place, and the
// save throws. Saves into one folder take turns (folder-lock.ts), so no save removes the weights
// that another one's manifest names. A save removes only files this project wrote, weights files
// named by their own checksum, and never replaces a manifest.json that is not a checkpoint's.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { VelocityModel } from './model';
import type { TensorMap } from './parameters';
import type { VelocityModelConfig } from './network';
import { Rng } from '../math/rng';
import { assignFrom } from './variables';
import { lockFolder } from './folder-lock';
import { saveFile } from '../runtime/files';

const FORMAT = 'tsdiffusion-checkpoint';
/** Version 2 added manifestSha256. */
const VERSION = 2;
const GROUPS = ['params', 'ema', 'batchStats'] as const;
type Group = (typeof GROUPS)[number];

interface TensorEntry {
  group: Group;
  name: string;
  shape: number[];
  /** Offset and length in float32 elements. */
  offset: number;
  length: number;
}

interface Manifest {
  format: string;
  version: number;
  modelConfig: VelocityModelConfig;
  /** Anything else worth keeping: training config, step, loss history, scheduler config. */
  metadata: Record<string, unknown>;
  weights: { file: string; byteLength: number; sha256: string };
  tensors: TensorEntry[];
  /** SHA-256 of the manifest without this field, as manifestText writes it. */
  manifestSha256: string;
}

export interface LoadedCheckpoint {
  model: VelocityModel;
  /** EMA copy of the parameters (same names as model.params). */
  ema: TensorMap;
  metadata: Record<string, unknown>;
  /** Free the model and the EMA tensors. */
  dispose(): void;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** Save a model, its EMA parameters and metadata to `dir` (created if needed). */
export function saveCheckpoint(
  dir: string,
  model: VelocityModel,
  ema: Map<string, tf.Tensor>,
  metadata: Record<string, unknown> = {},
): void {
  const tensors: TensorEntry[] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  const add = (group: Group, map: Map<string, tf.Tensor>) => {
    for (const [name, t] of map) {
      const data = t.dataSync() as Float32Array;
      tensors.push({ group, name, shape: [...t.shape], offset, length: data.length });
      chunks.push(data);
      offset += data.length;
    }
  };
  add('params', model.params);
  add('ema', ema);
  add('batchStats', model.batchStats);
  const weights = new Float32Array(offset);
  let at = 0;
  for (const c of chunks) {
    weights.set(c, at);
    at += c.length;
  }
  const bytes = Buffer.from(weights.buffer, weights.byteOffset, weights.byteLength);
  const digest = sha256(bytes);
  const weightsFile = `weights-${digest.slice(0, 16)}.bin`;
  const text = manifestText({
    format: FORMAT,
    version: VERSION,
    modelConfig: model.config,
    metadata,
    weights: { file: weightsFile, byteLength: bytes.length, sha256: digest },
    tensors,
  });
  assertWritableDirectory(dir);
  let unlock = () => {};
  try {
    unlock = lockFolder(dir);
    // (a save of identical weights renames over the file of the same name, with the same bytes)
    saveFile(path.join(dir, weightsFile), bytes);
    saveFile(path.join(dir, 'manifest.json'), text);
  } catch (e) {
    unlock();
    throw new CheckpointError(`could not save the checkpoint to ${dir}: ${(e as Error).message}. The previous checkpoint there, if any, is unchanged.`);
  }
  try {
    removeEarlierWeights(dir, weightsFile);
  } finally {
    unlock();
  }
}

/**
 * The text of manifest.json for `content`: it ends with the SHA-256 of the text without that
 * field, so any change to the file is detected on load.
 */
export function manifestText(content: Omit<Manifest, 'manifestSha256'>): string {
  const manifestSha256 = sha256(Buffer.from(JSON.stringify(content, null, 2)));
  return JSON.stringify({ ...content, manifestSha256 }, null, 2);
}

/**
 * Throws unless a checkpoint can be saved to `dir`: it exists (it is created if needed), a file can
 * be written in it, and it holds no manifest.json other than a checkpoint's (a save replaces that
 * file). A training run checks this before it starts, not after minutes of work.
 */
export function assertWritableDirectory(dir: string): void {
  const probe = path.join(dir, `.write-test.${process.pid}`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    saveFile(probe, 'ok');
  } catch (e) {
    throw new CheckpointError(`cannot write to ${dir}: ${(e as Error).message}`);
  }
  fs.rmSync(probe, { force: true });
  const manifestPath = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifestPath)) return;
  let format: unknown;
  try {
    format = JSON.parse(fs.readFileSync(manifestPath, 'utf8'))?.format;
  } catch {
    format = 'not valid JSON';
  }
  if (format !== FORMAT) {
    throw new CheckpointError(
      `${manifestPath} is not a checkpoint's manifest (format: ${JSON.stringify(format)}), and a checkpoint save would replace it: ` +
        'move that file away, or save to another folder',
    );
  }
}

/**
 * loadCheckpoint for the notebooks that use chapter 3's model: when there is no usable
 * checkpoint, the error also says how to make one.
 */
export function loadTrainedCheckpoint(dir: string): LoadedCheckpoint {
  try {
    return loadCheckpoint(dir);
  } catch (e) {
    throw new Error(`${(e as Error).message}\nRun notebooks/03-training.ipynb first: it trains the model and saves it to ${dir}.`);
  }
}

/**
 * Load a checkpoint saved by saveCheckpoint. `expectedConfig` (optional) must match the saved
 * model configuration field by field.
 */
export function loadCheckpoint(dir: string, expectedConfig?: Partial<VelocityModelConfig>): LoadedCheckpoint {
  const manifestPath = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifestPath)) throw new CheckpointError(`no checkpoint at ${dir} (missing manifest.json)`);
  const text = fs.readFileSync(manifestPath, 'utf8');
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch (e) {
    throw new CheckpointError(`${manifestPath} is damaged: it is not valid JSON (${(e as Error).message})`);
  }
  const expected = `expected ${FORMAT} version ${VERSION}, got ${manifest?.format} version ${manifest?.version}`;
  // A damaged byte can change the format or the checksum's name, not both: either says the file is ours.
  const hasChecksum = typeof manifest?.manifestSha256 === 'string';
  if (manifest?.format !== FORMAT && !hasChecksum) throw new CheckpointError(`${manifestPath}: ${expected}`);
  if (manifest.version === 1 && !hasChecksum) {
    throw new CheckpointError(
      `${manifestPath} is in the format of an earlier version of this project (version 1), whose manifest.json has no checksum of its own: ` +
        'a change to it could not be detected, so it is not loaded. Save the model again.',
    );
  }
  const { manifestSha256: _, ...content } = manifest;
  if (manifestText(content) !== text) {
    throw new CheckpointError(`checkpoint ${dir}: manifest.json is damaged (its checksum does not match its content): it was changed after it was saved`);
  }
  if (manifest.version !== VERSION) throw new CheckpointError(`${manifestPath}: ${expected}`);
  for (const [key, value] of Object.entries(expectedConfig ?? {})) {
    const saved = manifest.modelConfig[key as keyof VelocityModelConfig];
    if (saved !== value) throw new CheckpointError(`${dir}: model config ${key} is ${saved} in the checkpoint, expected ${value}`);
  }
  const weightsPath = path.join(dir, manifest.weights.file);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(weightsPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    // a save may have switched to new weights and removed these since manifest.json was read
    if (fs.readFileSync(manifestPath, 'utf8') !== text) return loadCheckpoint(dir, expectedConfig);
    throw new CheckpointError(`${dir}: missing ${manifest.weights.file}`);
  }
  if (bytes.length !== manifest.weights.byteLength) {
    throw new CheckpointError(
      `${weightsPath} has ${bytes.length} bytes but manifest.json says ${manifest.weights.byteLength}: ` +
        'the file is truncated (an interrupted write or copy) or belongs to another checkpoint',
    );
  }
  if (sha256(bytes) !== manifest.weights.sha256) {
    throw new CheckpointError(`${weightsPath}: SHA-256 checksum does not match manifest.json: the weights are corrupted or belong to another checkpoint`);
  }
  const weights = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));

  // A freshly initialised model of the saved configuration tells us every name and shape to expect.
  const model = new VelocityModel(manifest.modelConfig, new Rng(0, 'checkpoint-load'));
  const ema: TensorMap = new Map();
  try {
    const expected: Record<Group, Map<string, tf.Tensor>> = { params: model.params, ema: model.params, batchStats: model.batchStats };
    const seen = new Set<string>();
    for (const e of manifest.tensors) {
      const key = `${e.group}:${e.name}`;
      const like = expected[e.group]?.get(e.name);
      if (!like) throw new CheckpointError(`${dir}: unexpected tensor ${key}`);
      if (seen.has(key)) throw new CheckpointError(`${dir}: tensor ${key} appears twice`);
      seen.add(key);
      if (!tf.util.arraysEqual(like.shape, e.shape) || e.length !== like.size) {
        throw new CheckpointError(
          `${dir}: tensor ${key} has shape [${e.shape}], the model the manifest describes (${describeConfig(manifest.modelConfig)}) ` +
            `needs [${like.shape}]: manifest.json does not match the saved weights`,
        );
      }
      if (e.offset < 0 || e.offset + e.length > weights.length) throw new CheckpointError(`${dir}: tensor ${key} lies outside ${manifest.weights.file}`);
      const values = weights.subarray(e.offset, e.offset + e.length);
      if (e.group === 'ema') ema.set(e.name, tf.tensor(values, e.shape));
      else assignFrom(expected[e.group].get(e.name) as tf.Variable, tf.tensor(values, e.shape));
    }
    for (const group of GROUPS) {
      for (const name of expected[group].keys()) {
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

/**
 * Remove the weights files of earlier saves, all but `keep` (run under the folder's lock). A file
 * counts as one only if its name is weights-<the first 16 hex digits of its content's SHA-256>.bin:
 * other programs' files are left alone.
 */
function removeEarlierWeights(dir: string, keep: string): void {
  for (const name of fs.readdirSync(dir)) {
    const digest = /^weights-([0-9a-f]{16})\.bin$/.exec(name)?.[1];
    const file = path.join(dir, name);
    if (digest && name !== keep && sha256(fs.readFileSync(file)).startsWith(digest)) fs.rmSync(file);
  }
}

function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}
