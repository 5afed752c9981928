// Dense products x·W + b laid out for the backend that computes them. Measured at [4,096, 128]·
// [128, 128] (scripts/bench): wasm's matMul is fast only without transposes and fuses a bias for
// free; native TensorFlow's matMul transposes within the kernel at no cost, and its _FusedMatMul
// with a bias takes ~1.1 ms against ~0.6 + 0.3 ms for matMul then add.
import * as tf from '@tensorflow/tfjs';

/**
 * Whether to lay products out for wasm's matMul: explicit transposes and the bias fused into the
 * product. Every other backend transposes within matMul and adds the bias after it.
 */
export function packsRightOperand(): boolean {
  return tf.getBackend() === 'wasm';
}

/**
 * x·W + bias. The bias must have been made with rank 1 (an op's output or tf.tensor1d, not a
 * reshape): the wasm kernel checks the rank its data was made with.
 */
export function affine(x: tf.Tensor2D, W: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  if (!packsRightOperand()) return tf.add(tf.matMul(x, W), bias) as tf.Tensor2D;
  return tf.fused.matMul({ a: x, b: W, bias }) as tf.Tensor2D;
}
