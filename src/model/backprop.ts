// One training step's loss, its gradient for every parameter and the BatchNorm batch moments, by
// hand-written backpropagation through the VelocityModel (the same mathematics as
// tf.variableGrads over VelocityModel.forward, within float32 rounding).
//
// Why it is faster, measured on tfjs-wasm (see scripts/bench/bench.ts): the wasm backend's matMul
// is fast only without transposes (transposeA/transposeB fall back to a ~1.3 GFLOP/s loop), and it
// packs its right-hand operand before multiplying, so a product is fastest when that operand is
// small: at B 4,096, h [B, 128]·W [128, 128] takes ~3.9 ms against ~5.7 ms for Wᵀ·hT with the
// activations packed. Tanh/Exp/Pow are ~10 ms per 0.5 M floats while Sigmoid and arithmetic are
// ~0.3–0.5 ms, Sum/Mean over axis 0 transpose internally, GatherV2 is ~60 ns per element, and a
// transpose of [128, B] is ~2 ms. So:
//  - activations are batch-major ([B, features]), multiplied by the small weights on the right
//    (the forward h·W' with the bias fused in, and the backward dz·W'ᵀ);
//  - each layer transposes its input once, hT [I, B]: the left operand of the weight gradient
//    hT·dz and of the batch sums hT·1 (Σh, Σh²);
//  - Σ_b dz is 1ᵀ·dz, right after hT·dz has packed dz;
//  - GELU is computed in its sigmoid form (gelu.ts), no Tanh or Pow;
//  - BatchNorm is folded into the Dense after it (batchnorm-fold.ts), and that [features]-sized
//    algebra runs on the host: the backend computes only the batch sums Σh, Σh² (forward) and
//    Σ_b h ⊗ dz, Σ_b dz (backward), and the host turns them into the folded weights, the
//    parameter gradients and the two vectors of d loss / d h. A tiny tfjs op costs ~10–20 µs of
//    dispatch on tfjs-node, and these were ~250 of them per step;
//  - on worker threads, those sums are added across the workers on the host, in one exchange per
//    point of the step where they are needed (each exchange is a barrier): one per BatchNorm
//    forward, one per layer backward and one at the end (the loss and the time MLP's gradients);
//  - the sinusoidal embedding rows are gathered on the host (the timesteps are host data).
//
// Native TensorFlow (tfjs-node) differs, measured the same way at B 4,096: its matMul transposes
// either operand within the kernel at no cost, while an explicit transpose of [B, 128] takes ~0.4 ms
// (as long as a multiply), and its _FusedMatMul with a bias takes ~1.1 ms against ~0.6 + 0.3 ms for
// matMul then add. So on every backend but wasm (products.ts), hᵀ·x is matMul's transposeA,
// batch sums are 1ᵀ·x, and biases are added after the product. There, too, each layer's GELU,
// dropout mask and residual add run as one fused op forward and one backward, and each layer's
// input gradient as one more, where the addon of runtime/fused-kernels.cc is built (19 elementwise
// ops otherwise), with bit-identical results.
//
// A wasm-backend pitfall this file avoids: matMul caches its packed right-hand operand by tensor
// data id, not by shape, so a tensor and a reshape of it (which share the data id) must never
// both be the `b` of a matMul; the second product silently reads the first's packing (NaNs or
// out-of-bounds reads). The same tensor with the same shape as `b` twice is fine (dz above).
import * as tf from '@tensorflow/tfjs';
import { geluBackward, geluForward, type GeluCache } from './gelu';
import { batchMoments, batchNormDenseValues, foldBatchNorm, foldedLayerGrads, transposeRows, type BatchNormDense, type FoldedLayer } from './batchnorm-fold';
import { affine, packsRightOperand } from './products';
import { fusedKernels } from '../runtime/fused-kernels';
import { getBias, getParameter, type BatchMoments, type TensorMap, type VelocityModel, type VelocityModelConfig } from './model';
import type { Rng } from '../math/rng';

/** Data-parallel training: which rows of the whole batch this thread holds, and how to sum over threads. */
export interface BatchShard {
  /** These rows are rows [start, start + B) of the whole batch. */
  start: number;
  /** Rows of the whole batch. */
  total: number;
  /** Each array summed over the workers, all in one exchange. */
  allReduce: (xs: Float32Array[]) => Float32Array[];
}

export interface FastGradInputs {
  /** x_t, [B, 1]. */
  xt: tf.Tensor2D;
  /** The B integer timesteps, as host data (the fast path gathers the embedding on the host). */
  timesteps: ArrayLike<number>;
  /** The v-target, [B, 1]. */
  target: tf.Tensor2D;
  /** Dropout stream; required when the model's dropout > 0. Drawn exactly as forward() draws it. */
  dropoutRng?: Rng;
  /** Parameters to use instead of the model's own. */
  params?: TensorMap;
  /**
   * Data-parallel training: every batch statistic and every gradient is then that of the whole
   * batch (see src/train/parallel/coordinator.ts).
   */
  shard?: BatchShard;
}

export interface LossAndGrads {
  /** mean((v̂ − v)²), the training loss. */
  loss: tf.Scalar;
  /** d loss / d parameter, keyed by the model's parameter names. */
  grads: Map<string, tf.Tensor>;
  /** The batch moments each BatchNorm used (as forward's `moments`). */
  moments: BatchMoments;
}

/** Sums over the whole batch: this thread's rows, then summed over the workers. */
interface BatchSums {
  /** Rows of the whole batch. */
  total: number;
  /** Sums over the workers, in one exchange (the identity on one thread). */
  reduce: (xs: Float32Array[]) => Float32Array[];
  /** [B, 1] and [1, B] of ones: batch sums as matMuls. */
  onesColumn: tf.Tensor2D;
  onesRow: tf.Tensor2D;
}

/** What the folded BatchNorm + Dense layer's backward needs from its forward. */
interface LayerCache {
  h: tf.Tensor2D; // [B, I]
  hT: tf.Tensor2D | null; // [I, B], on wasm only
  p: BatchNormDense;
  f: FoldedLayer;
  moments: { mean: Float32Array; positive: Uint8Array };
}

interface TimeMlpCache {
  emb: tf.Tensor2D;
  embT: tf.Tensor2D | null; // on wasm only
  e1: tf.Tensor2D;
  sg1: tf.Tensor;
  a1: tf.Tensor2D;
}

/**
 * The training loss mean((v̂(x_t, t) − target)²) in training mode (batch statistics, dropout),
 * its gradient for every parameter, and the BatchNorm batch moments. Equal, within float32
 * rounding, to tf.variableGrads over VelocityModel.forward with the same dropout stream; the
 * stream is consumed identically (depth + 1 masks of B·width draws, in order).
 */
export function velocityLossAndGrads(model: VelocityModel, inputs: FastGradInputs): LossAndGrads {
  const params = inputs.params ?? model.params;
  const { xt, target, timesteps, shard } = inputs;
  const { width, depth, dropout, bnEpsilon: eps, timeEmbeddingDim: e } = model.config;
  const B = xt.shape[0];
  // batch statistics and the loss are over the whole batch, of which a shard holds rows
  const total = shard?.total ?? B;
  const reduce = shard?.allReduce ?? ((xs: Float32Array[]) => xs);
  if (xt.rank !== 2 || xt.shape[1] !== 1) throw new Error(`velocityLossAndGrads: x_t must have shape [B, 1], got [${xt.shape}]`);
  if (target.size !== B) throw new Error(`velocityLossAndGrads: target has ${target.size} values for ${B} rows`);
  if (timesteps.length !== B) throw new Error(`velocityLossAndGrads: ${timesteps.length} timesteps for ${B} rows`);
  const useDropout = dropout > 0;
  if (useDropout && !inputs.dropoutRng) throw new Error('velocityLossAndGrads: training with dropout needs a dropoutRng stream');
  // The same draws as forward(): mask i is row-major [total, width], of which we hold rows [start, start + B).
  const start = shard?.start ?? 0;
  const maskValues = useDropout
    ? Array.from({ length: depth + 1 }, () => inputs.dropoutRng!.dropoutMaskPart(total * width, dropout, start * width, (start + B) * width))
    : [];
  const emb = gatherEmbedding(model, timesteps, packsRightOperand());

  const moments: BatchMoments = new Map();
  const grads = new Map<string, tf.Tensor>();
  const loss = tf.tidy(() => {
    const sums: BatchSums = { total, reduce, onesColumn: tf.ones([B, 1]) as tf.Tensor2D, onesRow: tf.ones([1, B]) as tf.Tensor2D };
    const masks = maskValues.map((m) => tf.tensor2d(m, [B, width]));
    const time = timeMlpForward(params, tf.tensor2d(emb.rows, [B, e]), emb.columns && tf.tensor2d(emb.columns, [e, B]));
    const h0 = tf.concat([xt, time.temb], 1) as tf.Tensor2D;

    // Forward.
    const first = bnDenseForward(params, eps, sums, h0, 'bn_in', 'dense_in');
    moments.set('bn_in', first.moments);
    const firstGelu = geluForward(first.z, masks[0] ?? null, null);
    let h = firstGelu.y;
    const blocks: { layer: LayerCache; gelu: GeluCache }[] = [];
    for (let i = 0; i < depth; i++) {
      const { z, cache, moments: m } = bnDenseForward(params, eps, sums, h, `block_${i}/bn`, `block_${i}/dense`);
      moments.set(`block_${i}/bn`, m);
      const gl = geluForward(z, masks[i + 1] ?? null, h);
      blocks.push({ layer: cache, gelu: gl.cache });
      h = gl.y;
    }
    const last = bnDenseForward(params, eps, sums, h, 'bn_out', 'dense_out');
    moments.set('bn_out', last.moments);
    const diff = tf.sub(last.z, target.reshape([B, 1])) as tf.Tensor2D;

    // Backward.
    const layerGrads = (dz: tf.Tensor2D, c: LayerCache, bn: string, dense: string, rest: { residual?: tf.Tensor2D; fromColumn?: number } = {}) =>
      bnDenseBackward(params, grads, sums, dz, c, bn, dense, rest.residual, rest.fromColumn ?? 0);
    let dh = layerGrads(tf.mul(diff, 2 / total) as tf.Tensor2D, last.cache, 'bn_out', 'dense_out');
    for (let i = depth - 1; i >= 0; i--) {
      const dz = geluBackward(dh, blocks[i].gelu);
      dh = layerGrads(dz, blocks[i].layer, `block_${i}/bn`, `block_${i}/dense`, { residual: dh });
    }
    const dtemb = layerGrads(geluBackward(dh, firstGelu.cache), first.cache, 'bn_in', 'dense_in', { fromColumn: 1 }); // [B, e]
    // nothing downstream needs the loss or the time MLP's gradients: they share the last exchange
    const timeGrads = timeMlpBackward(params, sums, dtemb, time.cache);
    const [lossSum, ...timeSums] = sumOnHost(sums, [tf.sum(tf.square(diff)), ...timeGrads.values()]);
    [...timeGrads.keys()].forEach((name, i) => setGrad(grads, params, name, timeSums[i]));
    return tf.scalar(lossSum[0] / total);
  });
  return { loss, grads, moments };
}

/** The most floats one all-reduce exchange of a step carries (to size the shared buffers). */
export function largestExchange(config: VelocityModelConfig): number {
  const { width, timeEmbeddingDim: e } = config;
  const layer = (I: number, O: number) => I * O + O; // backward: Σ h ⊗ dz and Σ dz
  return Math.max(2 * Math.max(1 + e, width), layer(1 + e, width), layer(width, width), layer(width, 1), 1 + 2 * (e * e + e));
}

/**
 * The model's sinusoidal embedding rows of `timesteps`, gathered on the host, as [B, e] and, with
 * `transposed`, also as [e, B].
 */
function gatherEmbedding(model: VelocityModel, timesteps: ArrayLike<number>, transposed: boolean): { rows: Float32Array; columns: Float32Array | null } {
  const { timeEmbeddingDim: e, numTimesteps } = model.config;
  const B = timesteps.length;
  const table = model.embeddingValues;
  const rows = new Float32Array(B * e);
  const columns = transposed ? new Float32Array(e * B) : null;
  for (let b = 0; b < B; b++) {
    const t = timesteps[b];
    if (!Number.isInteger(t) || t < 0 || t >= numTimesteps) throw new Error(`velocityLossAndGrads: timestep ${t} out of [0, ${numTimesteps})`);
    const row = table.subarray(t * e, (t + 1) * e);
    rows.set(row, b * e);
    if (columns) for (let k = 0; k < e; k++) columns[k * B + b] = row[k];
  }
  return { rows, columns };
}

/** Σ over this thread's rows of each feature, from the transposed activations: [F, B] → [F, 1]. */
function rowSum(sums: BatchSums, xT: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(xT, sums.onesColumn);
}

/** xᵀ·y for batch-major x [B, I] and y [B, K]: [I, K], from xT [I, B] where the backend wants it explicit. */
function transposedTimes(x: tf.Tensor2D, xT: tf.Tensor2D | null, y: tf.Tensor2D): tf.Tensor2D {
  if (xT) return tf.matMul(xT, y);
  return packsRightOperand() ? tf.matMul(tf.transpose(x), y) : tf.matMul(x, y, true, false);
}

/** Σ over this thread's rows of each feature: [B, F] → [1, F] (cheap once x is packed as a matMul's `b`). */
function columnSum(sums: BatchSums, x: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(sums.onesRow, x);
}

/** Record d loss / d `name` from its values, shaped as the parameter, kept beyond the enclosing tidy. */
function setGrad(grads: Map<string, tf.Tensor>, params: TensorMap, name: string, values: Float32Array): void {
  grads.set(name, tf.keep(tf.tensor(values, getParameter(params, name).shape)));
}

/** The tensors' values summed over the whole batch (over the workers, in one exchange), on the host. */
function sumOnHost(sums: BatchSums, xs: tf.Tensor[]): Float32Array[] {
  return sums.reduce(xs.map((x) => x.dataSync() as Float32Array));
}

/** FlaxTimestepEmbedding (Dense → SiLU → Dense) on the gathered embedding rows: emb [B, e] → temb [B, e]. */
function timeMlpForward(params: TensorMap, emb: tf.Tensor2D, embT: tf.Tensor2D | null): { temb: tf.Tensor2D; cache: TimeMlpCache } {
  const e1 = affine(emb, getParameter(params, 'time/linear_1/kernel'), getBias(params, 'time/linear_1/bias'));
  const sg1 = tf.sigmoid(e1);
  const a1 = tf.mul(e1, sg1) as tf.Tensor2D;
  const temb = affine(a1, getParameter(params, 'time/linear_2/kernel'), getBias(params, 'time/linear_2/bias'));
  return { temb, cache: { emb, embT, e1, sg1, a1 } };
}

/** The time MLP's parameter gradients over this thread's rows, from d loss / d temb ([B, e]). */
function timeMlpBackward(params: TensorMap, sums: BatchSums, dtemb: tf.Tensor2D, c: TimeMlpCache): Map<string, tf.Tensor> {
  const kernel2 = transposedTimes(c.a1, null, dtemb);
  const bias2 = columnSum(sums, dtemb);
  const da1 = tf.matMul(dtemb, tf.transpose(getParameter(params, 'time/linear_2/kernel')));
  // silu'(x) = σ·(1 + x·(1 − σ))
  const de1 = tf.mul(tf.mul(da1, c.sg1), tf.add(1, tf.mul(c.e1, tf.sub(1, c.sg1)))) as tf.Tensor2D;
  const kernel1 = transposedTimes(c.emb, c.embT, de1);
  return new Map([
    ['time/linear_2/kernel', kernel2],
    ['time/linear_2/bias', bias2],
    ['time/linear_1/kernel', kernel1],
    ['time/linear_1/bias', columnSum(sums, de1)],
  ]);
}

/**
 * BatchNorm `bn` (batch statistics) folded into the Dense `dense` after it: h [B, I] → z [B, O].
 * The batch sums Σh and Σh² come to the host, where the fold is computed (batchnorm-fold.ts). Also
 * returns the batch moments, kept beyond the enclosing tidy.
 */
function bnDenseForward(
  params: TensorMap,
  eps: number,
  sums: BatchSums,
  h: tf.Tensor2D,
  bn: string,
  dense: string,
): { z: tf.Tensor2D; cache: LayerCache; moments: { mean: tf.Tensor; variance: tf.Tensor } } {
  const p = batchNormDenseValues(params, bn, dense);
  const hT = packsRightOperand() ? (tf.transpose(h) as tf.Tensor2D) : null;
  const partial = hT ? [rowSum(sums, hT), rowSum(sums, tf.square(hT) as tf.Tensor2D)] : [columnSum(sums, h), columnSum(sums, tf.square(h) as tf.Tensor2D)];
  const [sumH, sumH2] = sumOnHost(sums, partial);
  const m = batchMoments(sumH, sumH2, sums.total);
  const f = foldBatchNorm(p, m.mean, m.variance, eps);
  const z = affine(h, tf.tensor2d(f.Wp, [p.I, p.O]), tf.tensor1d(f.bp));
  const moments = { mean: tf.keep(tf.tensor1d(m.mean)), variance: tf.keep(tf.tensor1d(m.variance)) };
  return { z, cache: { h, hT, p, f, moments: m }, moments };
}

/**
 * The folded layer's parameter gradients from dz ([B, O]); returns d loss / d h ([B, I], or only
 * columns `fromColumn`… of it), plus `residual` (the gradient reaching h by the skip connection).
 */
function bnDenseBackward(
  params: TensorMap,
  grads: Map<string, tf.Tensor>,
  sums: BatchSums,
  dz: tf.Tensor2D,
  c: LayerCache,
  bn: string,
  dense: string,
  residual: tf.Tensor2D | undefined,
  fromColumn: number,
): tf.Tensor2D {
  const { I, O } = c.p;
  // Σ_b h ⊗ dz: [I, O], then Σ_b dz: [O] (on wasm, dz is packed by then)
  const [G, cz] = sumOnHost(sums, [transposedTimes(c.h, c.hT, dz), columnSum(sums, dz)]);
  const g = foldedLayerGrads(c.p, c.f, c.moments, G, cz, sums.total);
  setGrad(grads, params, `${dense}/kernel`, g.kernel);
  setGrad(grads, params, `${dense}/bias`, g.bias);
  setGrad(grads, params, `${bn}/scale`, g.scale);
  setGrad(grads, params, `${bn}/bias`, g.bnBias);
  // dh = dz·Wpᵀ + β·h + γ, with γ as the product's bias; one addN rather than two adds
  const cols = I - fromColumn;
  const h = fromColumn ? tf.slice(c.h, [0, fromColumn], [c.h.shape[0], cols]) : c.h;
  const WpT = tf.tensor2d(transposeRows(c.f.Wp, I, O, fromColumn), [O, cols]);
  const gamma = tf.tensor1d(g.gamma.subarray(fromColumn));
  const beta = tf.tensor1d(g.beta.subarray(fromColumn));
  // one fused op on native TensorFlow (the same sums in the same order), else three
  const fused = fusedKernels();
  if (fused) return fused.layerInputGrad(tf.matMul(dz, WpT), gamma, h, beta, residual ?? null);
  const terms = [affine(dz, WpT, gamma), tf.mul(h, beta)];
  return tf.addN(residual ? [...terms, residual] : terms) as tf.Tensor2D;
}
