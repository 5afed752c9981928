// Reads test/fixtures/reference/flax.json (written by scripts/reference/make_fixtures.py with the
// real diffusers, Flax and optax) and maps Flax's parameter tree onto the VelocityModel's names.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { VelocityModel } from '../src/model/model';
import { assignFrom } from '../src/model/variables';

export const FLAX_FIXTURE = path.join(__dirname, '..', '..', 'test', 'fixtures', 'reference', 'flax.json');

/** A float32 array stored as its shape and the base64 of its little-endian bytes. */
export interface PackedArray {
  shape: number[];
  float32_base64: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function loadFlaxFixture(): any {
  return JSON.parse(fs.readFileSync(FLAX_FIXTURE, 'utf8'));
}

export function unpack(a: PackedArray): Float32Array {
  const bytes = Buffer.from(a.float32_base64, 'base64');
  const values = new Float32Array(bytes.length / 4);
  for (let i = 0; i < values.length; i++) values[i] = bytes.readFloatLE(4 * i);
  return values;
}

/**
 * Flax's auto-generated module names (nn.compact numbers modules per class in call order) for
 * each of our layers. The three residual blocks are one nn.scan'ed ResnetBlock: their parameters
 * and batch statistics are stacked along a leading axis of length 3, so block i is slice i.
 */
export function flaxLayerOf(ourLayer: string): { path: string; block?: number } {
  const fixed: Record<string, string> = {
    'time/linear_1': 'FlaxTimestepEmbedding_0/linear_1',
    'time/linear_2': 'FlaxTimestepEmbedding_0/linear_2',
    bn_in: 'BatchNorm_0',
    dense_in: 'Dense_0',
    bn_out: 'BatchNorm_1',
    dense_out: 'Dense_1',
  };
  if (fixed[ourLayer]) return { path: fixed[ourLayer] };
  const block = /^block_(\d+)\/(bn|dense)$/.exec(ourLayer);
  if (!block) throw new Error(`no Flax counterpart for layer '${ourLayer}'`);
  const inner = block[2] === 'bn' ? 'BatchNorm_0' : 'Dense_0';
  return { path: `ScanResnetBlock_0/${inner}`, block: Number(block[1]) };
}

/** The values of our parameter or batch statistic `name` ('block_1/dense/kernel') in a Flax tree. */
export function flaxValues(tree: Record<string, PackedArray | number[]>, name: string, size: number): Float32Array {
  const cut = name.lastIndexOf('/');
  const { path: layer, block } = flaxLayerOf(name.slice(0, cut));
  const leaf = tree[`${layer}/${name.slice(cut + 1)}`];
  if (!leaf) throw new Error(`Flax tree has no '${layer}/${name.slice(cut + 1)}' for '${name}'`);
  const all = Array.isArray(leaf) ? Float32Array.from(leaf) : unpack(leaf);
  if (block === undefined) return all;
  return all.slice(block * size, (block + 1) * size);
}

/** Give the model Flax's parameters (and, if given, batch statistics) in place of its own. */
export function loadFlaxVariables(
  model: VelocityModel,
  params: Record<string, PackedArray>,
  batchStats?: Record<string, number[]>,
): void {
  const fill = (target: Map<string, tf.Variable>, tree: Record<string, PackedArray | number[]>) => {
    for (const [name, v] of target) {
      const values = flaxValues(tree, name, v.size);
      if (values.length !== v.size) throw new Error(`'${name}': Flax has ${values.length} values, ours ${v.size}`);
      assignFrom(v, tf.tensor(values, v.shape, 'float32'));
    }
  };
  fill(model.params, params);
  if (batchStats) fill(model.batchStats, batchStats);
}
