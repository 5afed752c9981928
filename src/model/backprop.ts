// One training step's loss, its gradient for every parameter and the BatchNorm batch moments, by
// hand-written backpropagation through the VelocityModel (the same mathematics as
// tf.variableGrads over VelocityModel.forward, within float32 rounding).
//
// Why it is faster, measured on tfjs-wasm (see scripts/bench/bench.ts): the wasm backend's matMul
// is fast (~25 GFLOP/s) only without transposes (transposeA/transposeB fall back to a
// ~1.3 GFLOP/s loop), Tanh/Exp/Pow are ~10 ms per 0.5 M floats while Sigmoid and arithmetic are
// ~0.1–0.5 ms, Sum/Mean over axis 0 transpose internally (~6 ms), GatherV2 is ~60 ns per element.
// So:
//  - activations are kept feature-major ([features, B]); W^T·hT and hT·dz are untransposed matMuls,
//    and the only big transpose left ([F, B] → [B, F], the fast direction) is one per layer;
//  - GELU is computed in its sigmoid form (gelu.ts), no Tanh or Pow;
//  - BatchNorm is folded: BN(h)·W + b = h·(s ⊙ W) + (shift·W + b) with s = scale/√(var + eps),
//    shift = bias − mean·s, so its forward and most of its backward are [F]-sized vector work;
//    the batch sums Σ_b da and Σ_b da·h come from the [I, O] product hT·dz the weight gradient
//    needs anyway;
//  - batch reductions are matMuls with a ones column;
//  - on worker threads, every batch sum a step needs at one point is added across the workers in
//    one exchange (each exchange is a barrier): one per BatchNorm forward ([Σh, Σh²]), one per
//    layer backward ([Σ h ⊗ dz, Σ dz]) and one at the end (the loss and the time MLP's gradients);
//  - the sinusoidal embedding rows are gathered on the host (the timesteps are host data).
//
// A wasm-backend pitfall this file avoids: matMul caches its packed right-hand operand by tensor
// data id, not by shape, so a tensor and a reshape of it (which share the data id) must never
// both be the `b` of a matMul; the second product silently reads the first's packing (NaNs or
// out-of-bounds reads). Reshaped views are used only as the left operand or in elementwise ops.
import * as tf from '@tensorflow/tfjs';
import { GELU_SIGMOID_CUBIC as C1, GELU_SIGMOID_LINEAR as C2 } from './gelu';
import { getParameter, type BatchMoments, type TensorMap, type VelocityModel, type VelocityModelConfig } from './model';
import type { Rng } from '../math/rng';

/** Data-parallel training: which rows of the whole batch this thread holds, and how to sum over threads. */
export interface BatchShard {
  /** These rows are rows [start, start + B) of the whole batch. */
  start: number;
  /** Rows of the whole batch. */
  total: number;
  /** Each tensor summed over the workers, all in one exchange. */
  allReduce: (xs: tf.Tensor[]) => tf.Tensor[];
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
  reduce: (xs: tf.Tensor[]) => tf.Tensor[];
  /** [B, 1] of ones: a batch sum as a matMul. */
  ones: tf.Tensor2D;
}

/** What the folded BatchNorm + Dense layer's backward needs from its forward. */
interface LayerCache {
  hT: tf.Tensor2D;
  W: tf.Tensor2D;
  Wp: tf.Tensor2D;
  s: tf.Tensor2D; // [I, 1]
  r: tf.Tensor2D; // [I, 1]
  shift: tf.Tensor2D; // [I, 1]
  mean: tf.Tensor2D; // [I, 1]
  varMask: tf.Tensor2D; // [I, 1]: relu'(E[h²] − E[h]²)
}

interface GeluCache {
  q: tf.Tensor; // z²
  sg: tf.Tensor; // σ(u)
  g: tf.Tensor; // z·σ(u), before dropout
  mask: tf.Tensor | null;
}

interface TimeMlpCache {
  embT: tf.Tensor2D;
  e1T: tf.Tensor2D;
  sg1: tf.Tensor;
  a1T: tf.Tensor2D;
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
  const reduce = shard?.allReduce ?? ((xs: tf.Tensor[]) => xs);
  if (xt.rank !== 2 || xt.shape[1] !== 1) throw new Error(`velocityLossAndGrads: x_t must have shape [B, 1], got [${xt.shape}]`);
  if (target.size !== B) throw new Error(`velocityLossAndGrads: target has ${target.size} values for ${B} rows`);
  if (timesteps.length !== B) throw new Error(`velocityLossAndGrads: ${timesteps.length} timesteps for ${B} rows`);
  const useDropout = dropout > 0;
  if (useDropout && !inputs.dropoutRng) throw new Error('velocityLossAndGrads: training with dropout needs a dropoutRng stream');
  // The same draws as forward(): mask i is row-major [total, width]; we want our rows as [width, B].
  const start = shard?.start ?? 0;
  const maskValues = useDropout
    ? Array.from({ length: depth + 1 }, () => inputs.dropoutRng!.dropoutMaskTransposed(total, width, dropout, start, start + B))
    : [];
  const embValues = gatherEmbeddingT(model, timesteps);

  const moments: BatchMoments = new Map();
  const grads = new Map<string, tf.Tensor>();
  const loss = tf.tidy(() => {
    const sums: BatchSums = { total, reduce, ones: tf.ones([B, 1]) as tf.Tensor2D };
    const masks = maskValues.map((m) => tf.tensor2d(m, [width, B]));
    const time = timeMlpForward(params, tf.tensor2d(embValues, [e, B]));
    const h0T = tf.concat([xt.reshape([1, B]), time.tembT], 0) as tf.Tensor2D;

    // Forward.
    const first = bnDenseForward(params, eps, sums, h0T, 'bn_in', 'dense_in');
    moments.set('bn_in', first.moments);
    const firstGelu = geluForward(first.zT, masks[0] ?? null);
    let hT = firstGelu.y;
    const blocks: { layer: LayerCache; gelu: GeluCache }[] = [];
    for (let i = 0; i < depth; i++) {
      const { zT, cache, moments: m } = bnDenseForward(params, eps, sums, hT, `block_${i}/bn`, `block_${i}/dense`);
      moments.set(`block_${i}/bn`, m);
      const gl = geluForward(zT, masks[i + 1] ?? null);
      blocks.push({ layer: cache, gelu: gl.cache });
      hT = tf.add(hT, gl.y) as tf.Tensor2D;
    }
    const last = bnDenseForward(params, eps, sums, hT, 'bn_out', 'dense_out');
    moments.set('bn_out', last.moments);
    const diff = tf.sub(last.zT, target.reshape([1, B])) as tf.Tensor2D;

    // Backward.
    const layerGrads = (dzT: tf.Tensor2D, c: LayerCache, bn: string, dense: string, fromRow = 0) =>
      bnDenseBackward(params, grads, sums, dzT, c, bn, dense, fromRow);
    let dh = layerGrads(tf.mul(diff, 2 / total) as tf.Tensor2D, last.cache, 'bn_out', 'dense_out');
    for (let i = depth - 1; i >= 0; i--) {
      const dz = geluBackward(dh, blocks[i].gelu);
      dh = tf.add(dh, layerGrads(dz, blocks[i].layer, `block_${i}/bn`, `block_${i}/dense`)) as tf.Tensor2D;
    }
    const dtembT = layerGrads(geluBackward(dh, firstGelu.cache), first.cache, 'bn_in', 'dense_in', 1); // [e, B]
    // nothing downstream needs the loss or the time MLP's gradients: they share the last exchange
    const timeGrads = timeMlpBackward(params, sums, dtembT, time.cache);
    const [lossSum, ...timeSums] = reduce([tf.sum(tf.square(diff)), ...timeGrads.values()]);
    [...timeGrads.keys()].forEach((name, i) => setGrad(grads, params, name, timeSums[i]));
    return tf.div(lossSum, total) as tf.Scalar;
  });
  return { loss, grads, moments };
}

/** The most floats one all-reduce exchange of a step carries (to size the shared buffers). */
export function largestExchange(config: VelocityModelConfig): number {
  const { width, timeEmbeddingDim: e } = config;
  const layer = (I: number, O: number) => I * O + O; // backward: Σ h ⊗ dz and Σ dz
  return Math.max(2 * Math.max(1 + e, width), layer(1 + e, width), layer(width, width), layer(width, 1), 1 + 2 * (e * e + e));
}

/** The model's sinusoidal embedding rows of `timesteps`, gathered on the host and laid out [e, B]. */
function gatherEmbeddingT(model: VelocityModel, timesteps: ArrayLike<number>): Float32Array {
  const { timeEmbeddingDim: e, numTimesteps } = model.config;
  const B = timesteps.length;
  const table = model.embeddingValues;
  const out = new Float32Array(e * B);
  for (let b = 0; b < B; b++) {
    const t = timesteps[b];
    if (!Number.isInteger(t) || t < 0 || t >= numTimesteps) throw new Error(`velocityLossAndGrads: timestep ${t} out of [0, ${numTimesteps})`);
    const row = t * e;
    for (let k = 0; k < e; k++) out[k * B + b] = table[row + k];
  }
  return out;
}

/** Σ over this thread's rows of each feature: [F, B] → [F, 1]. */
function rowSum(sums: BatchSums, xT: tf.Tensor2D): tf.Tensor {
  return tf.matMul(xT, sums.ones);
}

/** Record d loss / d `name`, shaped as the parameter, kept beyond the enclosing tidy. */
function setGrad(grads: Map<string, tf.Tensor>, params: TensorMap, name: string, g: tf.Tensor): void {
  grads.set(name, tf.keep(g.reshape(getParameter(params, name).shape)));
}

/**
 * FlaxTimestepEmbedding (Dense → SiLU → Dense) on the gathered embedding rows, feature-major:
 * embT [e, B] → tembT [e, B].
 */
function timeMlpForward(params: TensorMap, embT: tf.Tensor2D): { tembT: tf.Tensor2D; cache: TimeMlpCache } {
  const e = embT.shape[0];
  const W1 = getParameter(params, 'time/linear_1/kernel');
  const W2 = getParameter(params, 'time/linear_2/kernel');
  const e1T = tf.add(tf.matMul(tf.transpose(W1), embT), getParameter(params, 'time/linear_1/bias').reshape([e, 1])) as tf.Tensor2D;
  const sg1 = tf.sigmoid(e1T);
  const a1T = tf.mul(e1T, sg1) as tf.Tensor2D;
  const tembT = tf.add(tf.matMul(tf.transpose(W2), a1T), getParameter(params, 'time/linear_2/bias').reshape([e, 1])) as tf.Tensor2D;
  return { tembT, cache: { embT, e1T, sg1, a1T } };
}

/** The time MLP's parameter gradients over this thread's rows, from d loss / d tembT ([e, B]). */
function timeMlpBackward(params: TensorMap, sums: BatchSums, dtembT: tf.Tensor2D, c: TimeMlpCache): Map<string, tf.Tensor> {
  const dtemb = tf.transpose(dtembT) as tf.Tensor2D;
  const da1T = tf.matMul(getParameter(params, 'time/linear_2/kernel'), dtembT);
  // silu'(x) = σ·(1 + x·(1 − σ))
  const de1T = tf.mul(tf.mul(da1T, c.sg1), tf.add(1, tf.mul(c.e1T, tf.sub(1, c.sg1)))) as tf.Tensor2D;
  return new Map([
    ['time/linear_2/kernel', tf.matMul(c.a1T, dtemb)],
    ['time/linear_2/bias', rowSum(sums, dtembT)],
    ['time/linear_1/kernel', tf.matMul(c.embT, tf.transpose(de1T))],
    ['time/linear_1/bias', rowSum(sums, de1T)],
  ]);
}

/**
 * BatchNorm `bn` (batch statistics) folded into the Dense `dense` after it: hT [I, B] → zT [O, B].
 * Also returns the batch moments, kept beyond the enclosing tidy.
 */
function bnDenseForward(
  params: TensorMap,
  eps: number,
  sums: BatchSums,
  hT: tf.Tensor2D,
  bn: string,
  dense: string,
): { zT: tf.Tensor2D; cache: LayerCache; moments: { mean: tf.Tensor; variance: tf.Tensor } } {
  const I = hT.shape[0];
  const [sumH, sumH2] = sums.reduce([rowSum(sums, hT), rowSum(sums, tf.square(hT) as tf.Tensor2D)]);
  const mean = tf.div(sumH, sums.total) as tf.Tensor2D;
  const preVar = tf.sub(tf.div(sumH2, sums.total), tf.square(mean));
  const variance = tf.relu(preVar) as tf.Tensor2D;
  const moments = { mean: tf.keep(mean.reshape([I])), variance: tf.keep(variance.reshape([I])) };
  const r = tf.rsqrt(tf.add(variance, eps)) as tf.Tensor2D;
  const s = tf.mul(r, getParameter(params, `${bn}/scale`).reshape([I, 1])) as tf.Tensor2D;
  const shift = tf.sub(getParameter(params, `${bn}/bias`).reshape([I, 1]), tf.mul(mean, s)) as tf.Tensor2D;
  const W = getParameter(params, `${dense}/kernel`);
  const Wp = tf.mul(W, s) as tf.Tensor2D;
  const O = W.shape[1];
  const bp = tf.add(tf.matMul(shift.reshape([1, I]), W), getParameter(params, `${dense}/bias`).reshape([1, O])); // [1, O]
  const zT = tf.add(tf.matMul(tf.transpose(Wp), hT), bp.reshape([O, 1])) as tf.Tensor2D;
  return { zT, cache: { hT, W, Wp, s, r, shift, mean, varMask: tf.step(preVar) as tf.Tensor2D }, moments };
}

/**
 * The folded layer's parameter gradients from dzT ([O, B]); returns d loss / d hT ([I, B], or only
 * rows `fromRow`… of it).
 */
function bnDenseBackward(
  params: TensorMap,
  grads: Map<string, tf.Tensor>,
  sums: BatchSums,
  dzT: tf.Tensor2D,
  c: LayerCache,
  bn: string,
  dense: string,
  fromRow: number,
): tf.Tensor2D {
  const [I, O] = c.W.shape;
  const { total, reduce } = sums;
  // Σ_b h ⊗ dz: [I, O], and Σ_b dz: [O, 1]
  const [G, cz] = reduce([outerSum(c.hT, dzT), rowSum(sums, dzT)]);
  setGrad(grads, params, `${dense}/kernel`, tf.add(tf.mul(G, c.s), tf.mul(c.shift, cz.reshape([1, O]))));
  setGrad(grads, params, `${dense}/bias`, cz);
  // da = dz·Wᵀ is the gradient at the BatchNorm's output; its batch sums without forming it:
  const sumDa = tf.matMul(c.W, cz); // Σ_b da: [I, 1]
  const sumDaH = tf.sum(tf.mul(G, c.W), 1).reshape([I, 1]); // Σ_b da·h
  const S = tf.sub(sumDaH, tf.mul(c.mean, sumDa)); // Σ_b da·(h − mean)
  setGrad(grads, params, `${bn}/scale`, tf.mul(c.r, S));
  setGrad(grads, params, `${bn}/bias`, sumDa);
  // dh = s·da + β·h + γ: β from the variance path, γ from both means
  const beta = tf.mul(tf.mul(tf.mul(c.s, tf.square(c.r)), tf.mul(S, c.varMask)), -1 / total);
  const gamma = tf.sub(tf.mul(c.s, tf.div(sumDa, -total)), tf.mul(beta, c.mean));
  const rows = I - fromRow;
  const part = <T extends tf.Tensor2D>(x: T) => (fromRow ? (tf.slice(x, [fromRow, 0], [rows, x.shape[1]]) as T) : x);
  const hT = part(c.hT);
  const daS = tf.matMul(part(c.Wp), dzT); // (dz·Wpᵀ)ᵀ = s·da, [rows, B]
  return tf.add(tf.add(daS, tf.mul(hT, part(beta as tf.Tensor2D))), part(gamma as tf.Tensor2D)) as tf.Tensor2D;
}

/**
 * Σ_b h ⊗ dz = hT·dzᵀ ([I, B], [O, B] → [I, O]) with one transpose (matMul's own transposes are
 * slow), of the smaller operand: hT·dz, or (dzT·h)ᵀ when I < O (the first Dense, 1 + e inputs).
 */
function outerSum(hT: tf.Tensor2D, dzT: tf.Tensor2D): tf.Tensor2D {
  const [I, B] = hT.shape;
  const O = dzT.shape[0];
  // (a fresh tensor for O = 1: see the note on matMul's weight cache at the top of the file)
  if (O === 1) return tf.matMul(hT, tf.mul(dzT, 1).reshape([B, 1]));
  if (I < O) return tf.transpose(tf.matMul(dzT, tf.transpose(hT))) as tf.Tensor2D;
  return tf.matMul(hT, tf.transpose(dzT));
}

/** GELU in its sigmoid form (gelu.ts), then the dropout mask if any. */
function geluForward(zT: tf.Tensor2D, mask: tf.Tensor | null): { y: tf.Tensor2D; cache: GeluCache } {
  const q = tf.square(zT);
  const sg = tf.sigmoid(tf.mul(tf.add(tf.mul(q, C1), C2), zT));
  const g = tf.mul(zT, sg);
  return { y: (mask ? tf.mul(g, mask) : g) as tf.Tensor2D, cache: { q, sg, g, mask } };
}

/** d/dz [z·σ(u)] = σ + z·σ·(1 − σ)·(C2 + 3·C1·z²), with u = C2·z + C1·z³. */
function geluBackward(dy: tf.Tensor2D, c: GeluCache): tf.Tensor2D {
  const dg = c.mask ? tf.mul(dy, c.mask) : dy;
  const slope = tf.add(c.sg, tf.mul(tf.mul(c.g, tf.sub(1, c.sg)), tf.add(tf.mul(c.q, 3 * C1), C2)));
  return tf.mul(dg, slope) as tf.Tensor2D;
}
