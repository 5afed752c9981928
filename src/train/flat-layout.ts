// Named tensors as one flat host array (each tensor's values in turn, in the map's order), for
// per-element loops on the host such as the optimiser's.
import * as tf from '@tensorflow/tfjs';
import { assignFrom } from '../model/variables';
import type { NamedValues } from '../model/tensor-values';

export class FlatLayout {
  /** Floats in all tensors together. */
  readonly size: number;
  private readonly entries: { name: string; shape: number[]; offset: number; size: number }[] = [];

  /** The layout of `tensors` (their names, shapes and order). */
  constructor(tensors: Map<string, tf.Tensor>) {
    let offset = 0;
    for (const [name, t] of tensors) {
      this.entries.push({ name, shape: t.shape, offset, size: t.size });
      offset += t.size;
    }
    this.size = offset;
  }

  /** The values of tensors with this layout's names and shapes, laid end to end. */
  read(tensors: Map<string, tf.Tensor>): Float32Array {
    const out = new Float32Array(this.size);
    for (const { name, shape, offset, size } of this.entries) {
      const t = tensors.get(name);
      if (!t || t.size !== size)
        throw new Error(`FlatLayout: expected '${name}' of shape [${shape}], got ${t ? `[${t.shape}]` : 'none'}`);
      out.set(t.dataSync(), offset);
    }
    return out;
  }

  /** `values` cut into its tensors, named (copies). */
  split(values: Float32Array): NamedValues {
    return this.entries.map(({ name, offset, size }) => [name, values.slice(offset, offset + size)]);
  }

  /** Named values laid end to end; they must have exactly this layout's names, order and sizes. */
  join(named: NamedValues): Float32Array {
    const at = this.entries.findIndex((e, i) => named[i]?.[0] !== e.name || named[i][1].length !== e.size);
    if (at >= 0 || named.length !== this.entries.length) {
      const e = this.entries[at];
      const got = named[at < 0 ? this.entries.length : at];
      const want = e ? `'${e.name}' with ${e.size} values` : 'no more tensors';
      throw new Error(`FlatLayout: expected ${want}, got ${got ? `'${got[0]}' with ${got[1].length} values` : 'none'}`);
    }
    const out = new Float32Array(this.size);
    for (const [i, [, v]] of named.entries()) out.set(v, this.entries[i].offset);
    return out;
  }

  /** Give each variable its part of `values`. */
  write(values: Float32Array, variables: Map<string, tf.Variable>): void {
    for (const { name, shape, offset, size } of this.entries) {
      const v = variables.get(name);
      if (!v) throw new Error(`FlatLayout: no variable '${name}'`);
      assignFrom(v, tf.tensor(values.subarray(offset, offset + size), shape));
    }
  }
}
