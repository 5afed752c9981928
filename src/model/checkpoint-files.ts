// Checkpoint files: a folder with manifest.json and the weights file it names. The manifest records
// the weights' size and SHA-256, and its own SHA-256, so a read either returns everything exactly or
// fails with an error that says what is wrong: a change to any byte of either file is caught.
//
// A save never leaves the folder without a loadable checkpoint: the weights are saved whole
// (runtime/files.ts: a temporary file, fsynced, renamed) to a file named by their checksum; the
// new manifest is saved the same way over manifest.json, the one step that switches checkpoints;
// only then are the weights files of earlier saves removed. A crash or a full disk at any point
// leaves the previous manifest and its weights in place, and the save throws. Saves into one
// folder take turns (folder-lock.ts), so no save removes the weights that another one's manifest
// names. A save removes only files this project wrote, weights files named by their own checksum,
// and never replaces a manifest.json that is not a checkpoint's. Two kinds share this format: a
// model (./checkpoint.ts) and a training run's state (src/train/training-state.ts); no save
// replaces the other kind, and a reader of one kind refuses the other.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { saveFile } from '../runtime/files';
import { lockFolder } from './folder-lock';
import type { VelocityModelConfig } from './network';

const FORMAT = 'tsdiffusion-checkpoint';
/** Version 2 added manifestSha256. */
const VERSION = 2;
/** A model (manifest.json has no `kind`), or a training run's state. */
export type CheckpointKind = 'model' | 'training-state';

interface TensorEntry {
  group: string;
  name: string;
  shape: number[];
  /** Offset and length in float32 elements. */
  offset: number;
  length: number;
}

export interface Manifest {
  format: string;
  version: number;
  kind?: 'training-state'; // absent for a model
  modelConfig: VelocityModelConfig;
  /** Anything else worth keeping: training config, step, loss history, scheduler config. */
  metadata: Record<string, unknown>;
  weights: { file: string; byteLength: number; sha256: string };
  tensors: TensorEntry[];
  /** SHA-256 of the manifest without this field, as manifestText writes it. */
  manifestSha256: string;
}

/** One tensor of a checkpoint: its group, name, shape and values. */
export type SavedTensor = Omit<TensorEntry, 'offset' | 'length'> & { values: Float32Array };

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** Save tensors, a model configuration and metadata to `dir` as a checkpoint of `kind`, as described at the top. */
export function writeCheckpointFiles(
  dir: string,
  content: {
    kind: CheckpointKind;
    modelConfig: VelocityModelConfig;
    metadata: Record<string, unknown>;
    tensors: SavedTensor[];
  },
): void {
  const tensors: TensorEntry[] = [];
  let offset = 0;
  for (const { group, name, shape, values } of content.tensors) {
    tensors.push({ group, name, shape, offset, length: values.length });
    offset += values.length;
  }
  const weights = new Float32Array(offset);
  for (const [i, { values }] of content.tensors.entries()) weights.set(values, tensors[i].offset);
  const bytes = Buffer.from(weights.buffer, weights.byteOffset, weights.byteLength);
  const digest = sha256(bytes);
  const weightsFile = `weights-${digest.slice(0, 16)}.bin`;
  const text = manifestText({
    format: FORMAT,
    version: VERSION,
    // (a model's manifest has no kind: it reads as before training states existed)
    ...(content.kind === 'model' ? {} : { kind: content.kind }),
    modelConfig: content.modelConfig,
    metadata: content.metadata,
    weights: { file: weightsFile, byteLength: bytes.length, sha256: digest },
    tensors,
  });
  assertWritableDirectory(dir, content.kind);
  const what = describeKind(content.kind);
  let unlock = () => {};
  try {
    unlock = lockFolder(dir);
    // (a save of identical weights renames over the file of the same name, with the same bytes)
    saveFile(path.join(dir, weightsFile), bytes);
    saveFile(path.join(dir, 'manifest.json'), text);
  } catch (e) {
    unlock();
    throw new CheckpointError(
      `could not save the ${what} to ${dir}: ${(e as Error).message}. The previous ${what} there, if any, is unchanged.`,
    );
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
 * Throws unless a checkpoint of `kind` can be saved to `dir`: it exists (it is created if needed), a
 * file can be written in it, and it holds no manifest.json other than a checkpoint's of that kind (a
 * save replaces that file). A training run checks this before it starts, not after minutes of work.
 */
export function assertWritableDirectory(dir: string, kind: CheckpointKind = 'model'): void {
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
  let found: unknown;
  try {
    const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
    format = manifest?.format;
    found = manifest?.kind ?? 'model';
  } catch {
    format = 'not valid JSON';
  }
  if (format !== FORMAT) {
    throw new CheckpointError(
      `${manifestPath} is not a checkpoint's manifest (format: ${JSON.stringify(format)}), and a ${describeKind(kind)} save would replace it: ` +
        'move that file away, or save to another folder',
    );
  }
  if (found !== kind)
    throw new CheckpointError(
      `${dir} holds a ${kindName(found)}, and a ${describeKind(kind)} save would replace it: save to another folder`,
    );
}

function describeKind(kind: CheckpointKind): string {
  return kind === 'model' ? 'checkpoint' : 'training state';
}

function kindName(kind: unknown): string {
  return kind === 'model'
    ? 'model checkpoint'
    : kind === 'training-state'
      ? 'training state'
      : `checkpoint of kind ${JSON.stringify(kind)}`;
}

/**
 * Read and verify the checkpoint of `kind` in `dir`: its manifest (its own checksum, format,
 * version and kind; `expectedConfig` as in loadCheckpoint) and the weights it names (size and
 * checksum), cut into its tensors. Throws a CheckpointError saying what is wrong.
 */
export function readCheckpointFiles(
  dir: string,
  kind: CheckpointKind,
  expectedConfig?: Partial<VelocityModelConfig>,
): { manifest: Manifest; tensors: SavedTensor[] } {
  const manifestPath = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifestPath))
    throw new CheckpointError(`no ${describeKind(kind)} at ${dir} (missing manifest.json)`);
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
    throw new CheckpointError(
      `checkpoint ${dir}: manifest.json is damaged (its checksum does not match its content): it was changed after it was saved`,
    );
  }
  if (manifest.version !== VERSION) throw new CheckpointError(`${manifestPath}: ${expected}`);
  const found = manifest.kind ?? 'model';
  if (found !== kind) throw new CheckpointError(`${dir} holds a ${kindName(found)}, not a ${kindName(kind)}`);
  for (const [key, value] of Object.entries(expectedConfig ?? {})) {
    const saved = manifest.modelConfig[key as keyof VelocityModelConfig];
    if (saved !== value)
      throw new CheckpointError(`${dir}: model config ${key} is ${saved} in the checkpoint, expected ${value}`);
  }
  const weightsPath = path.join(dir, manifest.weights.file);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(weightsPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    // a save may have switched to new weights and removed these since manifest.json was read
    if (fs.readFileSync(manifestPath, 'utf8') !== text) return readCheckpointFiles(dir, kind, expectedConfig);
    throw new CheckpointError(`${dir}: missing ${manifest.weights.file}`);
  }
  if (bytes.length !== manifest.weights.byteLength) {
    throw new CheckpointError(
      `${weightsPath} has ${bytes.length} bytes but manifest.json says ${manifest.weights.byteLength}: ` +
        'the file is truncated (an interrupted write or copy) or belongs to another checkpoint',
    );
  }
  if (sha256(bytes) !== manifest.weights.sha256) {
    throw new CheckpointError(
      `${weightsPath}: SHA-256 checksum does not match manifest.json: the weights are corrupted or belong to another checkpoint`,
    );
  }
  const weights = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const tensors = manifest.tensors.map(({ group, name, shape, offset, length }) => {
    if (offset < 0 || offset + length > weights.length)
      throw new CheckpointError(`${dir}: tensor ${group}:${name} lies outside ${manifest.weights.file}`);
    return { group, name, shape, values: weights.subarray(offset, offset + length) };
  });
  return { manifest, tensors };
}

/**
 * Under the folder's lock, remove the checkpoint of `kind` in `dir` if it verifies whole (else throw)
 * and `accept` says so of its manifest; returns whether it did. Other files, and the folder, stay.
 */
export function removeCheckpointFiles(
  dir: string,
  kind: CheckpointKind,
  accept: (manifest: Manifest) => boolean,
): boolean {
  if (!fs.existsSync(path.join(dir, 'manifest.json'))) return false;
  const unlock = lockFolder(dir);
  try {
    if (!accept(readCheckpointFiles(dir, kind).manifest)) return false;
    fs.rmSync(path.join(dir, 'manifest.json'));
    removeEarlierWeights(dir, null);
    return true;
  } finally {
    unlock();
  }
}

/**
 * Remove the weights files of earlier saves, all but `keep` (under the folder's lock). A file
 * counts as one only if its name is weights-<the first 16 hex digits of its content's SHA-256>.bin:
 * other programs' files are left alone.
 */
function removeEarlierWeights(dir: string, keep: string | null): void {
  for (const name of fs.readdirSync(dir)) {
    const digest = /^weights-([0-9a-f]{16})\.bin$/.exec(name)?.[1];
    const file = path.join(dir, name);
    if (digest && name !== keep && sha256(fs.readFileSync(file)).startsWith(digest)) fs.rmSync(file);
  }
}

function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}
