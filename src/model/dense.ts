// A Dense layer, x·kernel + bias (the time MLP's layers), in the three forms the network is
// computed in: differentiable tfjs ops (the autograd forward), and the training pass's forward and
// backward. Its fold is itself.
import * as tf from '@tensorflow/tfjs';
import { columnSum, transposedTimes, type BatchSums } from './batch-sums';
import type { DenseLayer } from './network';
import { getBias, getParameter, type TensorMap } from './parameters';
import { affine } from './products';

/** x·kernel + bias as differentiable tfjs ops. */
export function denseAutograd(params: TensorMap, name: string, x: tf.Tensor): tf.Tensor2D {
  return tf.add(
    tf.matMul(x as tf.Tensor2D, getParameter(params, `${name}/kernel`)),
    getParameter(params, `${name}/bias`),
  ) as tf.Tensor2D;
}

/** x·kernel + bias, laid out for the backend (products.ts): the training pass's and the predictor's form. */
export function denseForward(params: TensorMap, name: string, x: tf.Tensor2D): tf.Tensor2D {
  return affine(x, getParameter(params, `${name}/kernel`), getBias(params, `${name}/bias`));
}

/**
 * The layer's parameter gradients over this thread's rows (not yet summed over threads) from
 * dy [B, O], given its input x [B, I] (and xT [I, B] where the backend wants it explicit); and, if
 * `inputGrad`, d loss / d x = dy·kernelᵀ.
 */
export function denseBackward(
  params: TensorMap,
  sums: BatchSums,
  layer: DenseLayer,
  x: tf.Tensor2D,
  xT: tf.Tensor2D | null,
  dy: tf.Tensor2D,
  inputGrad: boolean,
): { grads: [string, tf.Tensor][]; dx: tf.Tensor2D | null } {
  const grads: [string, tf.Tensor][] = [
    [`${layer.name}/kernel`, transposedTimes(x, xT, dy)],
    [`${layer.name}/bias`, columnSum(sums, dy)],
  ];
  const dx = inputGrad
    ? (tf.matMul(dy, tf.transpose(getParameter(params, `${layer.name}/kernel`))) as tf.Tensor2D)
    : null;
  return { grads, dx };
}
