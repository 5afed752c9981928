// The network's activation: Flax's nn.gelu (approximate=True), the tanh approximation of GELU
// (Hendrycks & Gimpel, arXiv:1606.08415), in two equal forms:
//   0.5·z·(1 + tanh(a)), a = √(2/π)·(z + 0.044715·z³)        geluTanh, the plain forward
//   z·σ(2a) = z·σ(GELU_SIGMOID_LINEAR·z + GELU_SIGMOID_CUBIC·z³)  since 0.5·(1 + tanh(a)) = σ(2a)
// The sigmoid form needs no Tanh or Pow, which are slow on tfjs-wasm (see backprop.ts); the fast
// training step and the folded predictor use it.
import * as tf from '@tensorflow/tfjs';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Coefficient of z in the sigmoid form's argument: 2·√(2/π). */
export const GELU_SIGMOID_LINEAR = 2 * SQRT_2_OVER_PI;
/** Coefficient of z³ in the sigmoid form's argument: 2·√(2/π)·0.044715. */
export const GELU_SIGMOID_CUBIC = GELU_SIGMOID_LINEAR * 0.044715;

/** Flax/JAX GELU (approximate=True): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(SQRT_2_OVER_PI, tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  });
}

/** The same GELU in the sigmoid form: z·σ((GELU_SIGMOID_CUBIC·z² + GELU_SIGMOID_LINEAR)·z). */
export function geluSigmoid(z: tf.Tensor): tf.Tensor {
  return tf.mul(z, tf.sigmoid(tf.mul(tf.add(tf.mul(tf.square(z), GELU_SIGMOID_CUBIC), GELU_SIGMOID_LINEAR), z)));
}
