// The network's activations, each with the three forms the network is computed in: as
// differentiable tfjs ops (the autograd forward, model.ts), and as the training pass's forward and
// backward (training-pass.ts), which also apply the layer's dropout mask and residual. The folded
// predictor (folded.ts) uses the training pass's forward without a mask.
//
// GELU is Flax's nn.gelu (approximate=True), the tanh approximation of Hendrycks & Gimpel
// (arXiv:1606.08415), in two equal forms:
//   0.5·z·(1 + tanh(a)), a = √(2/π)·(z + 0.044715·z³)          the autograd form
//   z·σ(2a) = z·σ(GELU_SIGMOID_LINEAR·z + GELU_SIGMOID_CUBIC·z³)  since 0.5·(1 + tanh(a)) = σ(2a)
// The sigmoid form needs no Tanh or Pow, which are slow on tfjs-wasm (training-pass.ts). On native
// TensorFlow its forward and backward each run as one fused op (src/runtime/fused-kernels.cc), with
// the same float operations in the same order as the ops below.
// SiLU is x·σ(x) (the time MLP's activation, Flax's nn.silu).
import * as tf from '@tensorflow/tfjs';
import { fusedOps, type FusedOp } from '../runtime/fused-kernels';

export type ActivationName = 'gelu' | 'silu';

/** What an activation's backward needs from its forward. */
export interface ActivationCache {
  z: tf.Tensor;
  /** The sigmoid each form computes. */
  sg: tf.Tensor;
  mask: tf.Tensor | null;
  /** Intermediate values the plain ops keep (a fused op recomputes them). */
  kept: tf.Tensor[];
}

export interface Activation {
  name: ActivationName;
  /** act(x) as differentiable tfjs ops. */
  autograd(x: tf.Tensor): tf.Tensor;
  /** residual + act(z)·mask (a null mask or residual is left out), and what backward needs. */
  forward(
    z: tf.Tensor2D,
    mask: tf.Tensor | null,
    residual: tf.Tensor2D | null,
  ): { y: tf.Tensor2D; cache: ActivationCache };
  /** d/dz of act(z)·mask, times dy. */
  backward(dy: tf.Tensor2D, cache: ActivationCache): tf.Tensor2D;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Coefficient of z in GELU's sigmoid form's argument: 2·√(2/π). */
export const GELU_SIGMOID_LINEAR = 2 * SQRT_2_OVER_PI;
/** Coefficient of z³ in GELU's sigmoid form's argument: 2·√(2/π)·0.044715. */
export const GELU_SIGMOID_CUBIC = GELU_SIGMOID_LINEAR * 0.044715;
/** The fused ops' attributes: u = (cubic·z² + linear)·z, and du/dz = cubic_slope·z² + linear. */
const GELU_ATTRS = { cubic: GELU_SIGMOID_CUBIC, linear: GELU_SIGMOID_LINEAR, cubic_slope: 3 * GELU_SIGMOID_CUBIC };
const GELU_ATTR_NAMES = Object.keys(GELU_ATTRS);
/** residual + z·σ(u)·mask, and σ(u). */
const GELU_FORWARD: FusedOp = {
  name: 'TsdGeluForward',
  inputs: ['z', 'mask', 'residual'],
  attrs: GELU_ATTR_NAMES,
  outputs: 2,
};
/** dy·mask·(σ + z·σ·(1 − σ)·du/dz), from z and the forward's σ(u). */
const GELU_BACKWARD: FusedOp = {
  name: 'TsdGeluBackward',
  inputs: ['dy', 'z', 'sigmoid', 'mask'],
  attrs: GELU_ATTR_NAMES,
  outputs: 1,
};

/** Flax/JAX GELU (approximate=True): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(SQRT_2_OVER_PI, tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  });
}

/** The mask, then the residual, as every activation's forward applies them. */
function maskAndResidual(g: tf.Tensor, mask: tf.Tensor | null, residual: tf.Tensor2D | null): tf.Tensor2D {
  const y = mask ? tf.mul(g, mask) : g;
  return (residual ? tf.add(residual, y) : y) as tf.Tensor2D;
}

export const gelu: Activation = {
  name: 'gelu',
  autograd: geluTanh,
  forward(z, mask, residual) {
    const fused = fusedOps();
    if (fused) {
      const [y, sg] = fused.run(GELU_FORWARD, { z, mask, residual }, GELU_ATTRS);
      return { y: y as tf.Tensor2D, cache: { z, sg, mask, kept: [] } };
    }
    const q = tf.square(z);
    const sg = tf.sigmoid(tf.mul(tf.add(tf.mul(q, GELU_SIGMOID_CUBIC), GELU_SIGMOID_LINEAR), z));
    const g = tf.mul(z, sg);
    return { y: maskAndResidual(g, mask, residual), cache: { z, sg, mask, kept: [q, g] } };
  },
  // d/dz [z·σ(u)] = σ + z·σ·(1 − σ)·du/dz, with u = linear·z + cubic·z³
  backward(dy, c) {
    const fused = fusedOps();
    if (fused)
      return fused.run(GELU_BACKWARD, { dy, z: c.z, sigmoid: c.sg, mask: c.mask }, GELU_ATTRS)[0] as tf.Tensor2D;
    const [q, g] = c.kept;
    const dg = c.mask ? tf.mul(dy, c.mask) : dy;
    const slope = tf.add(
      c.sg,
      tf.mul(tf.mul(g, tf.sub(1, c.sg)), tf.add(tf.mul(q, 3 * GELU_SIGMOID_CUBIC), GELU_SIGMOID_LINEAR)),
    );
    return tf.mul(dg, slope) as tf.Tensor2D;
  },
};

export const silu: Activation = {
  name: 'silu',
  autograd: (x) => tf.mul(x, tf.sigmoid(x)),
  forward(z, mask, residual) {
    const sg = tf.sigmoid(z);
    return { y: maskAndResidual(tf.mul(z, sg), mask, residual), cache: { z, sg, mask, kept: [] } };
  },
  // silu'(z) = σ·(1 + z·(1 − σ))
  backward(dy, c) {
    const dg = c.mask ? tf.mul(dy, c.mask) : dy;
    return tf.mul(tf.mul(dg, c.sg), tf.add(1, tf.mul(c.z, tf.sub(1, c.sg)))) as tf.Tensor2D;
  },
};

export const ACTIVATIONS: Record<ActivationName, Activation> = { gelu, silu };

/** residual + act(z), keeping nothing for a backward: the inference form. */
export function activate(act: Activation, z: tf.Tensor2D, residual: tf.Tensor2D | null = null): tf.Tensor2D {
  return tf.tidy(() => act.forward(z, null, residual).y);
}
