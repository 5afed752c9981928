// The network's parameters as named tensors (the model's own variables, or a copy such as the EMA).
import type * as tf from '@tensorflow/tfjs';

export type TensorMap = Map<string, tf.Tensor>;

/** The parameter `name` of a parameter map. */
export function getParameter(params: TensorMap, name: string): tf.Tensor2D {
  const v = params.get(name);
  if (!v) throw new Error(`VelocityModel: missing parameter '${name}'`);
  // kernels are [in, out]; biases and BatchNorm vectors are [features], used where any rank will do
  return v as tf.Tensor2D;
}

/** A Dense bias parameter ([O]), typed as the rank-1 tensor it is. */
export function getBias(params: TensorMap, name: string): tf.Tensor1D {
  return getParameter(params, name) as tf.Tensor as tf.Tensor1D;
}
