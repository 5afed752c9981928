// Sums over the rows of a training batch, as the training pass needs them. A data-parallel run
// holds the batch's rows on several threads, so every sum is this thread's rows' sum, added across
// the threads by `reduce` (supplied by src/train/, one exchange per call: a barrier).
//
// The products are laid out for the backend (products.ts): on wasm, a layer's input is transposed
// once and is the left operand of its sums; elsewhere matMul transposes within the kernel.
import * as tf from '@tensorflow/tfjs';
import { getParameter, type TensorMap } from './parameters';
import { packsRightOperand } from './products';

/** Sums over the whole batch: this thread's rows, then summed over the threads. */
export interface BatchSums {
  /** Rows of the whole batch. */
  total: number;
  /** Sums over the threads, in one exchange (the identity on one thread). */
  reduce: (xs: Float32Array[]) => Float32Array[];
  /** [B, 1] and [1, B] of ones: batch sums as matMuls. */
  onesColumn: tf.Tensor2D;
  onesRow: tf.Tensor2D;
}

/** Σ over this thread's rows of each feature, from the transposed activations: [F, B] → [F, 1]. */
export function rowSum(sums: BatchSums, xT: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(xT, sums.onesColumn);
}

/** Σ over this thread's rows of each feature: [B, F] → [1, F] (cheap once x is packed as a matMul's `b`). */
export function columnSum(sums: BatchSums, x: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(sums.onesRow, x);
}

/** xᵀ·y for batch-major x [B, I] and y [B, K]: [I, K], from xT [I, B] where the backend wants it explicit. */
export function transposedTimes(x: tf.Tensor2D, xT: tf.Tensor2D | null, y: tf.Tensor2D): tf.Tensor2D {
  if (xT) return tf.matMul(xT, y);
  return packsRightOperand() ? tf.matMul(tf.transpose(x), y) : tf.matMul(x, y, true, false);
}

/** The tensors' values summed over the whole batch (over the threads, in one exchange), on the host. */
export function sumOnHost(sums: BatchSums, xs: tf.Tensor[]): Float32Array[] {
  return sums.reduce(xs.map((x) => x.dataSync() as Float32Array));
}

/** Record d loss / d `name` from its values, shaped as the parameter, kept beyond the enclosing tidy. */
export function setGrad(grads: Map<string, tf.Tensor>, params: TensorMap, name: string, values: Float32Array): void {
  grads.set(name, tf.keep(tf.tensor(values, getParameter(params, name).shape)));
}
