// A trunk layer's BatchNorm followed by its Dense, in the forms the network is computed in:
//  - as differentiable tfjs ops (the autograd forward): normalise, scale and shift, then the Dense;
//  - in the training pass, with batch statistics, the BatchNorm folded into the Dense
//    (batchnorm-fold.ts): the backend computes only the big [B, ·] products and the batch sums Σh,
//    Σh² (forward) and Σ_b h ⊗ dz, Σ_b dz (backward); the host turns them into the folded weights,
//    the parameter gradients and the two vectors of d loss / d h;
//  - folded with the running statistics, for the predictor.
// The activation, dropout and residual that follow are the training pass's (training-pass.ts).
import * as tf from '@tensorflow/tfjs';
import { fusedOps, type FusedOp } from '../runtime/fused-kernels';
import { columnSum, rowSum, setGrad, sumOnHost, transposedTimes, type BatchSums } from './batch-sums';
import {
  batchMoments,
  batchNormDenseValues,
  foldBatchNorm,
  foldedLayerGrads,
  transposeRows,
  type BatchNormDense,
  type FoldedLayer,
} from './batchnorm-fold';
import { denseAutograd } from './dense';
import type { NormDenseLayer } from './network';
import { getParameter, type TensorMap } from './parameters';
import { affine, packsRightOperand } from './products';

/** Batch mean and (biased) variance of each BatchNorm, from a training-mode pass. */
export type BatchMoments = Map<string, { mean: tf.Tensor; variance: tf.Tensor }>;

/** How the autograd forward normalises: with the batch's statistics (recorded in `moments`) or the running ones. */
export interface Normalisation {
  training: boolean;
  runningStats: Map<string, tf.Tensor>;
  eps: number;
  moments: BatchMoments;
}

/** ((p + gamma) + h·beta) + residual, gamma and beta per column: the layer's input gradient in one pass. */
export const LAYER_INPUT_GRAD: FusedOp = {
  name: 'TsdLayerInputGrad',
  inputs: ['p', 'gamma', 'h', 'beta', 'residual'],
  attrs: [],
  outputs: 1,
};

/** BatchNorm then Dense as differentiable tfjs ops; in training mode the batch moments are kept in `norm.moments`. */
export function normDenseAutograd(
  params: TensorMap,
  layer: NormDenseLayer,
  h: tf.Tensor,
  norm: Normalisation,
): tf.Tensor2D {
  const { bn } = layer;
  let mean: tf.Tensor;
  let variance: tf.Tensor;
  if (norm.training) {
    // Flax's fast variance: E[h²] − E[h]², clamped at 0
    mean = tf.mean(h, 0);
    variance = tf.relu(tf.sub(tf.mean(tf.square(h), 0), tf.square(mean)));
    norm.moments.set(bn, { mean: tf.keep(mean), variance: tf.keep(variance) });
  } else {
    mean = norm.runningStats.get(`${bn}/mean`)!;
    variance = norm.runningStats.get(`${bn}/var`)!;
  }
  const inv = tf.mul(tf.rsqrt(tf.add(variance, norm.eps)), getParameter(params, `${bn}/scale`));
  return denseAutograd(params, layer.dense, tf.add(tf.mul(tf.sub(h, mean), inv), getParameter(params, `${bn}/bias`)));
}

/** What the training pass's backward needs from the layer's forward. */
export interface NormDenseCache {
  h: tf.Tensor2D; // [B, I]
  hT: tf.Tensor2D | null; // [I, B], on wasm only
  p: BatchNormDense;
  f: FoldedLayer;
  moments: { mean: Float32Array; positive: Uint8Array };
}

/**
 * The training pass's forward with batch statistics: h [B, I] → z [B, O]. The batch sums Σh and
 * Σh² come to the host, where the fold is computed. Also returns the batch moments, kept beyond
 * the enclosing tidy.
 */
export function normDenseForward(
  params: TensorMap,
  eps: number,
  sums: BatchSums,
  layer: NormDenseLayer,
  h: tf.Tensor2D,
): { z: tf.Tensor2D; cache: NormDenseCache; moments: { mean: tf.Tensor; variance: tf.Tensor } } {
  const p = batchNormDenseValues(params, layer.bn, layer.dense);
  const hT = packsRightOperand() ? (tf.transpose(h) as tf.Tensor2D) : null;
  const partial = hT
    ? [rowSum(sums, hT), rowSum(sums, tf.square(hT) as tf.Tensor2D)]
    : [columnSum(sums, h), columnSum(sums, tf.square(h) as tf.Tensor2D)];
  const [sumH, sumH2] = sumOnHost(sums, partial);
  const m = batchMoments(sumH, sumH2, sums.total);
  const f = foldBatchNorm(p, m.mean, m.variance, eps);
  const z = affine(h, tf.tensor2d(f.Wp, [p.I, p.O]), tf.tensor1d(f.bp));
  const moments = { mean: tf.keep(tf.tensor1d(m.mean)), variance: tf.keep(tf.tensor1d(m.variance)) };
  return { z, cache: { h, hT, p, f, moments: m }, moments };
}

/**
 * The training pass's backward from dz ([B, O]): records the four parameter gradients in `grads`
 * and returns d loss / d h ([B, I], or only columns `fromColumn`… of it), plus `residual` (the
 * gradient reaching h by the skip connection).
 */
export function normDenseBackward(
  params: TensorMap,
  grads: Map<string, tf.Tensor>,
  sums: BatchSums,
  layer: NormDenseLayer,
  dz: tf.Tensor2D,
  c: NormDenseCache,
  residual: tf.Tensor2D | null,
  fromColumn: number,
): tf.Tensor2D {
  const { I, O } = c.p;
  // Σ_b h ⊗ dz: [I, O], then Σ_b dz: [O] (on wasm, dz is packed by then)
  const [G, cz] = sumOnHost(sums, [transposedTimes(c.h, c.hT, dz), columnSum(sums, dz)]);
  const g = foldedLayerGrads(c.p, c.f, c.moments, G, cz, sums.total);
  setGrad(grads, params, `${layer.dense}/kernel`, g.kernel);
  setGrad(grads, params, `${layer.dense}/bias`, g.bias);
  setGrad(grads, params, `${layer.bn}/scale`, g.scale);
  setGrad(grads, params, `${layer.bn}/bias`, g.bnBias);
  // dh = dz·Wpᵀ + β·h + γ, with γ as the product's bias; one addN rather than two adds
  const cols = I - fromColumn;
  const h = fromColumn ? tf.slice(c.h, [0, fromColumn], [c.h.shape[0], cols]) : c.h;
  const WpT = tf.tensor2d(transposeRows(c.f.Wp, I, O, fromColumn), [O, cols]);
  const gamma = tf.tensor1d(g.gamma.subarray(fromColumn));
  const beta = tf.tensor1d(g.beta.subarray(fromColumn));
  // one fused op on native TensorFlow (the same sums in the same order), else three
  const fused = fusedOps();
  if (fused) return fused.run(LAYER_INPUT_GRAD, { p: tf.matMul(dz, WpT), gamma, h, beta, residual })[0] as tf.Tensor2D;
  const terms = [affine(dz, WpT, gamma), tf.mul(h, beta)];
  return tf.addN(residual ? [...terms, residual] : terms) as tf.Tensor2D;
}

/** The layer with its BatchNorm's running statistics folded into the Dense: z = h·W + b. */
export function foldNormDense(
  params: TensorMap,
  runningStats: Map<string, tf.Tensor>,
  eps: number,
  layer: NormDenseLayer,
): { W: tf.Tensor2D; b: tf.Tensor1D } {
  const p = batchNormDenseValues(params, layer.bn, layer.dense);
  const stat = (name: string) => runningStats.get(`${layer.bn}/${name}`)!.dataSync();
  const f = foldBatchNorm(p, stat('mean'), stat('var'), eps);
  return { W: tf.tensor2d(f.Wp, [p.I, p.O]), b: tf.tensor1d(f.bp) };
}
