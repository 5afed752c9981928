// The network's activation: Flax's nn.gelu (approximate=True), the tanh approximation of GELU
// (Hendrycks & Gimpel, arXiv:1606.08415), in two equal forms:
//   0.5·z·(1 + tanh(a)), a = √(2/π)·(z + 0.044715·z³)        geluTanh, the plain forward
//   z·σ(2a) = z·σ(GELU_SIGMOID_LINEAR·z + GELU_SIGMOID_CUBIC·z³)  since 0.5·(1 + tanh(a)) = σ(2a)
// The sigmoid form needs no Tanh or Pow, which are slow on tfjs-wasm (see backprop.ts); the fast
// training step (geluForward, geluBackward) and the folded predictor (geluSigmoid) use it.
import * as tf from '@tensorflow/tfjs';
import { fusedKernels } from '../runtime/fused-kernels';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Coefficient of z in the sigmoid form's argument: 2·√(2/π). */
export const GELU_SIGMOID_LINEAR = 2 * SQRT_2_OVER_PI;
/** Coefficient of z³ in the sigmoid form's argument: 2·√(2/π)·0.044715. */
export const GELU_SIGMOID_CUBIC = GELU_SIGMOID_LINEAR * 0.044715;
const COEFFICIENTS = { cubic: GELU_SIGMOID_CUBIC, linear: GELU_SIGMOID_LINEAR };

/** Flax/JAX GELU (approximate=True): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(SQRT_2_OVER_PI, tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  });
}

/**
 * The same GELU in the sigmoid form, plus a residual if given: residual + z·σ((GELU_SIGMOID_CUBIC·z²
 * + GELU_SIGMOID_LINEAR)·z). The training step's forward below, without dropout and keeping none
 * of what its backward needs.
 */
export function geluSigmoid(z: tf.Tensor2D, residual: tf.Tensor2D | null = null): tf.Tensor2D {
  return tf.tidy(() => geluForward(z, null, residual).y);
}

/** What the training step's GELU backward needs from its forward. */
export interface GeluCache {
  z: tf.Tensor;
  sg: tf.Tensor; // σ(u)
  mask: tf.Tensor | null;
  /** z² and z·σ(u) (before dropout), kept by the plain ops; the fused kernel recomputes them. */
  q: tf.Tensor | null;
  g: tf.Tensor | null;
}

/**
 * The training step's GELU layer: the sigmoid form, then the dropout mask if any, then the residual
 * if any: residual + gelu(z)·mask. On native TensorFlow one fused op does it all (fused-kernels.cc), with
 * the same float operations in the same order as the ops below.
 */
export function geluForward(z: tf.Tensor2D, mask: tf.Tensor | null, residual: tf.Tensor2D | null): { y: tf.Tensor2D; cache: GeluCache } {
  const fused = fusedKernels();
  if (fused) {
    const { y, sigmoid } = fused.geluForward(z, mask, residual, COEFFICIENTS);
    return { y: y as tf.Tensor2D, cache: { z, sg: sigmoid, mask, q: null, g: null } };
  }
  const q = tf.square(z);
  const sg = tf.sigmoid(tf.mul(tf.add(tf.mul(q, GELU_SIGMOID_CUBIC), GELU_SIGMOID_LINEAR), z));
  const g = tf.mul(z, sg);
  const y = mask ? tf.mul(g, mask) : g;
  return { y: (residual ? tf.add(residual, y) : y) as tf.Tensor2D, cache: { z, sg, mask, q, g } };
}

/**
 * Its backward: dy·mask·d/dz [z·σ(u)], where d/dz [z·σ(u)] = σ + z·σ·(1 − σ)·du/dz and, with
 * u = linear·z + cubic·z³, du/dz = linear + 3·cubic·z².
 */
export function geluBackward(dy: tf.Tensor2D, c: GeluCache): tf.Tensor2D {
  const fused = fusedKernels();
  if (fused) return fused.geluBackward(dy, c.z, c.sg, c.mask, COEFFICIENTS) as tf.Tensor2D;
  const dg = c.mask ? tf.mul(dy, c.mask) : dy;
  const slope = tf.add(c.sg, tf.mul(tf.mul(c.g!, tf.sub(1, c.sg)), tf.add(tf.mul(c.q!, 3 * GELU_SIGMOID_CUBIC), GELU_SIGMOID_LINEAR)));
  return tf.mul(dg, slope) as tf.Tensor2D;
}
