// Named tensors as plain arrays, to hand them to or from a worker thread: each worker runs its own
// tfjs instance, so tensors cannot cross threads, only their values (structured clone).
import * as tf from '@tensorflow/tfjs';
import { assignFrom } from './variables';

/** Tensor names and their values, in the map's order. */
export type NamedValues = [string, Float32Array][];

/** The values of named tensors as plain arrays. */
export function tensorValues(tensors: Map<string, tf.Tensor>): NamedValues {
  return [...tensors].map(([name, t]) => [name, Float32Array.from(t.dataSync())]);
}

/** Assign values taken with tensorValues to variables of the same names and shapes. */
export function assignValues(variables: Map<string, tf.Variable>, values: NamedValues): void {
  for (const [name, data] of values) {
    const v = variables.get(name);
    if (!v) throw new Error(`assignValues: no variable '${name}'`);
    assignFrom(v, tf.tensor(data, v.shape));
  }
}
