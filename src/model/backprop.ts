// Fast paths for the VelocityModel, with the same mathematics as VelocityModel.forward:
//
// 1. velocityLossAndGrads: one training step's loss, its gradient for every parameter and the
//    BatchNorm batch moments, by hand-written backpropagation (what tf.variableGrads of the plain
//    forward gives, within float32 rounding).
// 2. foldedVelocity: an inference-mode predictor with each BatchNorm (running statistics) folded
//    into the Dense layer after it and the time MLP precomputed for every timestep.
//
// Why it is faster, measured on tfjs-wasm (see scripts/bench.ts): the wasm backend's matMul is fast
// (~25 GFLOP/s) only without transposes (transposeA/transposeB fall back to a ~1.3 GFLOP/s loop),
// Tanh/Exp/Pow are ~10 ms per 0.5 M floats while Sigmoid and arithmetic are ~0.1–0.5 ms, Sum/Mean
// over axis 0 transpose internally (~6 ms), GatherV2 is ~60 ns per element. So:
//  - activations are kept feature-major ([features, B]); W^T·hT and hT·dz are untransposed matMuls,
//    and the only big transpose left ([F, B] → [B, F], the fast direction) is one per layer;
//  - GELU(z) = 0.5·z·(1 + tanh(a)) is computed as z·sigmoid(2a) (an identity), no Tanh or Pow;
//  - BatchNorm is folded: BN(h)·W + b = h·(s ⊙ W) + (shift·W + b) with s = scale/√(var + eps),
//    shift = bias − mean·s, so its forward and most of its backward are [F]-sized vector work;
//    the batch sums Σ_b da and Σ_b da·h come from the [I, O] product hT·dz the weight gradient
//    needs anyway;
//  - batch reductions are matMuls with a ones column;
//  - the sinusoidal embedding rows are gathered on the host (the timesteps are host data).
//
// A wasm-backend pitfall this file avoids: matMul caches its packed right-hand operand by tensor
// data id, not by shape, so a tensor and a reshape of it (which share the data id) must never
// both be the `b` of a matMul; the second product silently reads the first's packing (NaNs or
// out-of-bounds reads). Reshaped views are used only as the left operand or in elementwise ops.
import * as tf from '@tensorflow/tfjs';
import { timestepEmbeddingValues } from '../diffusion/embedding';
import type { BatchMoments, TensorMap, VelocityModel } from './model';
import type { Rng } from '../math/rng';
import type { VelocityPredictor } from '../diffusion/predictor';

/** gelu_tanh(z) = z·σ(C2·z + C1·z³): 0.5·(1 + tanh(a)) = σ(2a) with a = √(2/π)·(z + 0.044715·z³). */
const C2 = 2 * Math.sqrt(2 / Math.PI);
const C1 = C2 * 0.044715;

const embeddingCache = new WeakMap<VelocityModel, Float32Array>();

/** The model's sinusoidal table [numTimesteps, e] as host values (the same values as its tensor). */
function embeddingValues(model: VelocityModel): Float32Array {
  let v = embeddingCache.get(model);
  if (!v) {
    const steps = Array.from({ length: model.config.numTimesteps }, (_, t) => t);
    v = timestepEmbeddingValues(steps, model.config.timeEmbeddingDim);
    embeddingCache.set(model, v);
  }
  return v;
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
   * Data-parallel training: these rows are rows [start, start + B) of a batch of `total` rows split
   * over workers, and `allReduce` sums a tensor over the workers. Every batch statistic and every
   * gradient is then that of the whole batch (see src/parallel-train.ts).
   */
  shard?: { start: number; total: number; allReduce: (x: tf.Tensor) => tf.Tensor };
}

export interface FastGradResult {
  /** mean((v̂ − v)²), the training loss. */
  loss: tf.Scalar;
  /** d loss / d parameter, keyed by the model's parameter names. */
  grads: Map<string, tf.Tensor>;
  /** The batch moments each BatchNorm used (as forward's `moments`). */
  moments: BatchMoments;
}

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

/**
 * The training loss mean((v̂(x_t, t) − target)²) in training mode (batch statistics, dropout),
 * its gradient for every parameter, and the BatchNorm batch moments. Equal, within float32
 * rounding, to tf.variableGrads over VelocityModel.forward with the same dropout stream; the
 * stream is consumed identically (depth + 1 masks of B·width draws, in order).
 */
export function velocityLossAndGrads(model: VelocityModel, inputs: FastGradInputs): FastGradResult {
  const p = inputs.params ?? model.params;
  const get = (name: string) => {
    const v = p.get(name);
    if (!v) throw new Error(`velocityLossAndGrads: missing parameter '${name}'`);
    return v as tf.Tensor2D;
  };
  const { xt, target, timesteps, shard } = inputs;
  const { width, depth, dropout, bnEpsilon: eps, timeEmbeddingDim: e, numTimesteps } = model.config;
  const B = xt.shape[0];
  // batch statistics and the loss are over the whole batch, of which a shard holds rows
  const total = shard?.total ?? B;
  const reduce = shard?.allReduce ?? ((x: tf.Tensor) => x);
  if (xt.rank !== 2 || xt.shape[1] !== 1) throw new Error(`velocityLossAndGrads: x_t must have shape [B, 1], got [${xt.shape}]`);
  if (target.size !== B) throw new Error(`velocityLossAndGrads: target has ${target.size} values for ${B} rows`);
  if (timesteps.length !== B) throw new Error(`velocityLossAndGrads: ${timesteps.length} timesteps for ${B} rows`);
  const useDropout = dropout > 0;
  if (useDropout && !inputs.dropoutRng) throw new Error('velocityLossAndGrads: training with dropout needs a dropoutRng stream');
  // The same draws as forward(): mask i is row-major [B, width]; we want it as [width, B].
  const maskValues = useDropout
    ? Array.from({ length: depth + 1 }, () => columns(inputs.dropoutRng!.dropoutMaskTransposed(total, width, dropout), width, total, shard?.start ?? 0, B))
    : [];
  // Embedding rows gathered on the host, laid out [e, B].
  const table = embeddingValues(model);
  const embValues = new Float32Array(e * B);
  for (let b = 0; b < B; b++) {
    const t = timesteps[b];
    if (!Number.isInteger(t) || t < 0 || t >= numTimesteps) throw new Error(`velocityLossAndGrads: timestep ${t} out of [0, ${numTimesteps})`);
    const row = t * e;
    for (let k = 0; k < e; k++) embValues[k * B + b] = table[row + k];
  }

  const moments: BatchMoments = new Map();
  const grads = new Map<string, tf.Tensor>();
  const loss = tf.tidy(() => {
    const onesB = tf.ones([B, 1]) as tf.Tensor2D;
    const colSum = (xT: tf.Tensor2D) => tf.matMul(xT, onesB); // [F, B] → [F, 1]
    const setGrad = (name: string, g: tf.Tensor) => grads.set(name, tf.keep(g.reshape(get(name).shape)));

    // BatchNorm (batch statistics) folded into the Dense after it. hT: [I, B] → zT: [O, B].
    const bnDenseForward = (hT: tf.Tensor2D, bn: string, dense: string): { zT: tf.Tensor2D; cache: LayerCache } => {
      const I = hT.shape[0];
      const mean = tf.div(reduce(colSum(hT)), total) as tf.Tensor2D;
      const preVar = tf.sub(tf.div(reduce(colSum(tf.square(hT) as tf.Tensor2D)), total), tf.square(mean));
      const variance = tf.relu(preVar) as tf.Tensor2D;
      moments.set(bn, { mean: tf.keep(mean.reshape([I])), variance: tf.keep(variance.reshape([I])) });
      const r = tf.rsqrt(tf.add(variance, eps)) as tf.Tensor2D;
      const s = tf.mul(r, get(`${bn}/scale`).reshape([I, 1])) as tf.Tensor2D;
      const shift = tf.sub(get(`${bn}/bias`).reshape([I, 1]), tf.mul(mean, s)) as tf.Tensor2D;
      const W = get(`${dense}/kernel`);
      const Wp = tf.mul(W, s) as tf.Tensor2D;
      const O = W.shape[1];
      const bp = tf.add(tf.matMul(shift.reshape([1, I]), W), get(`${dense}/bias`).reshape([1, O])); // [1, O]
      const zT = tf.add(tf.matMul(tf.transpose(Wp), hT), bp.reshape([O, 1])) as tf.Tensor2D;
      return { zT, cache: { hT, W, Wp, s, r, shift, mean, varMask: tf.step(preVar) as tf.Tensor2D } };
    };

    // Gradients of the folded layer's parameters from dzT: [O, B]; returns d loss / d hT ([I, B],
    // or only rows `fromRow`… of it).
    const bnDenseBackward = (dzT: tf.Tensor2D, c: LayerCache, bn: string, dense: string, fromRow = 0): tf.Tensor2D => {
      const [I, O] = c.W.shape;
      // (a fresh tensor for O = 1: see the note on matMul's weight cache at the top of the file)
      const dz = (O === 1 ? tf.mul(dzT, 1).reshape([B, 1]) : tf.transpose(dzT)) as tf.Tensor2D; // [B, O]
      const G = reduce(tf.matMul(c.hT, dz)); // Σ_b h ⊗ dz: [I, O]
      const cz = reduce(colSum(dzT)); // Σ_b dz: [O, 1]
      setGrad(`${dense}/kernel`, tf.add(tf.mul(G, c.s), tf.mul(c.shift, cz.reshape([1, O]))));
      setGrad(`${dense}/bias`, cz);
      // da = dz·Wᵀ is the gradient at the BatchNorm's output; its batch sums without forming it:
      const sumDa = tf.matMul(c.W, cz); // Σ_b da: [I, 1]
      const sumDaH = tf.sum(tf.mul(G, c.W), 1).reshape([I, 1]); // Σ_b da·h
      const S = tf.sub(sumDaH, tf.mul(c.mean, sumDa)); // Σ_b da·(h − mean)
      setGrad(`${bn}/scale`, tf.mul(c.r, S));
      setGrad(`${bn}/bias`, sumDa);
      // dh = s·da + β·h + γ: β from the variance path, γ from both means
      const beta = tf.mul(tf.mul(tf.mul(c.s, tf.square(c.r)), tf.mul(S, c.varMask)), -1 / total);
      const gamma = tf.sub(tf.mul(c.s, tf.div(sumDa, -total)), tf.mul(beta, c.mean));
      const rows = I - fromRow;
      const part = <T extends tf.Tensor2D>(x: T) => (fromRow ? (tf.slice(x, [fromRow, 0], [rows, x.shape[1]]) as T) : x);
      const hT = part(c.hT);
      const daS = tf.matMul(part(c.Wp), dzT); // (dz·Wpᵀ)ᵀ = s·da, [rows, B]
      return tf.add(tf.add(daS, tf.mul(hT, part(beta as tf.Tensor2D))), part(gamma as tf.Tensor2D)) as tf.Tensor2D;
    };

    const geluForward = (zT: tf.Tensor2D, mask: tf.Tensor | null): { y: tf.Tensor2D; cache: GeluCache } => {
      const q = tf.square(zT);
      const sg = tf.sigmoid(tf.mul(tf.add(tf.mul(q, C1), C2), zT));
      const g = tf.mul(zT, sg);
      return { y: (mask ? tf.mul(g, mask) : g) as tf.Tensor2D, cache: { q, sg, g, mask } };
    };
    // d/dz [z·σ(u)] = σ + z·σ·(1 − σ)·(C2 + 3·C1·z²)
    const geluBackward = (dy: tf.Tensor2D, c: GeluCache): tf.Tensor2D => {
      const dg = c.mask ? tf.mul(dy, c.mask) : dy;
      const slope = tf.add(c.sg, tf.mul(tf.mul(c.g, tf.sub(1, c.sg)), tf.add(tf.mul(c.q, 3 * C1), C2)));
      return tf.mul(dg, slope) as tf.Tensor2D;
    };

    const masks = maskValues.map((m) => tf.tensor2d(m, [width, B]));
    // Time MLP on the gathered embedding rows, feature-major.
    const embT = tf.tensor2d(embValues, [e, B]);
    const W1 = get('time/linear_1/kernel');
    const W2 = get('time/linear_2/kernel');
    const e1T = tf.add(tf.matMul(tf.transpose(W1), embT), get('time/linear_1/bias').reshape([e, 1])) as tf.Tensor2D;
    const sg1 = tf.sigmoid(e1T);
    const a1T = tf.mul(e1T, sg1) as tf.Tensor2D;
    const tembT = tf.add(tf.matMul(tf.transpose(W2), a1T), get('time/linear_2/bias').reshape([e, 1])) as tf.Tensor2D;
    const h0T = tf.concat([xt.reshape([1, B]), tembT], 0) as tf.Tensor2D;

    // Forward.
    const first = bnDenseForward(h0T, 'bn_in', 'dense_in');
    const firstGelu = geluForward(first.zT, masks[0] ?? null);
    let hT = firstGelu.y;
    const blocks: { layer: LayerCache; gelu: GeluCache }[] = [];
    for (let i = 0; i < depth; i++) {
      const { zT, cache } = bnDenseForward(hT, `block_${i}/bn`, `block_${i}/dense`);
      const gl = geluForward(zT, masks[i + 1] ?? null);
      blocks.push({ layer: cache, gelu: gl.cache });
      hT = tf.add(hT, gl.y) as tf.Tensor2D;
    }
    const last = bnDenseForward(hT, 'bn_out', 'dense_out');
    const diff = tf.sub(last.zT, target.reshape([1, B])) as tf.Tensor2D;
    const value = tf.div(reduce(tf.sum(tf.square(diff))), total) as tf.Scalar;

    // Backward.
    let dh = bnDenseBackward(tf.mul(diff, 2 / total) as tf.Tensor2D, last.cache, 'bn_out', 'dense_out');
    for (let i = depth - 1; i >= 0; i--) {
      const dz = geluBackward(dh, blocks[i].gelu);
      dh = tf.add(dh, bnDenseBackward(dz, blocks[i].layer, `block_${i}/bn`, `block_${i}/dense`)) as tf.Tensor2D;
    }
    const dtembT = bnDenseBackward(geluBackward(dh, firstGelu.cache), first.cache, 'bn_in', 'dense_in', 1); // [e, B]
    const dtemb = tf.transpose(dtembT) as tf.Tensor2D;
    setGrad('time/linear_2/kernel', reduce(tf.matMul(a1T, dtemb)));
    setGrad('time/linear_2/bias', reduce(colSum(dtembT)));
    const da1T = tf.matMul(W2, dtembT);
    // silu'(x) = σ·(1 + x·(1 − σ))
    const de1T = tf.mul(tf.mul(da1T, sg1), tf.add(1, tf.mul(e1T, tf.sub(1, sg1)))) as tf.Tensor2D;
    setGrad('time/linear_1/kernel', reduce(tf.matMul(embT, tf.transpose(de1T))));
    setGrad('time/linear_1/bias', reduce(colSum(de1T)));
    return value;
  });
  return { loss, grads, moments };
}

/** Columns [start, start + n) of a row-major [rows, cols] array. */
function columns(values: Float32Array, rows: number, cols: number, start: number, n: number): Float32Array {
  if (start === 0 && n === cols) return values;
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) out.set(values.subarray(r * cols + start, r * cols + start + n), r * n);
  return out;
}

/** An inference-mode predictor whose folded weights the caller may free. */
export interface FoldedPredictor extends VelocityPredictor {
  /** Free the folded weights (they are rebuilt if predict is called again). */
  dispose(): void;
}

interface Folded {
  keys: object[];
  /** Per timestep: the time embedding's contribution to the first Dense plus its folded bias, [N·width]. */
  timeRows: tf.Tensor1D;
  /** Folded first-Dense row of x: [1, width]. */
  xRow: tf.Tensor2D;
  layers: { W: tf.Tensor2D; b: tf.Tensor1D }[];
}

/**
 * The model in inference mode (running BatchNorm statistics, no dropout), equal to
 * model.predict(x, t, params) within float32 rounding: each BatchNorm folded into the next
 * Dense, the time MLP evaluated once for all timesteps, one fused matMul + bias per layer.
 * The folding is redone whenever a parameter or running statistic has been reassigned.
 */
export function foldedVelocity(model: VelocityModel, params?: TensorMap): FoldedPredictor {
  let folded: Folded | null = null;
  const sources = (): tf.Tensor[] => [...(params ?? model.params).values(), ...model.batchStats.values()];
  const free = () => {
    if (folded) tf.dispose([folded.timeRows, folded.xRow, ...folded.layers.flatMap((l) => [l.W, l.b])]);
    folded = null;
  };
  const current = (): Folded => {
    const keys = sources().map((s) => s.dataId);
    if (folded && folded.keys.length === keys.length && folded.keys.every((k, i) => k === keys[i])) return folded;
    free();
    folded = { keys, ...foldWeights(model, params) };
    return folded;
  };
  return {
    predict(xt: tf.Tensor2D, t: number): tf.Tensor2D {
      const { numTimesteps, width } = model.config;
      if (!Number.isInteger(t) || t < 0 || t >= numTimesteps) throw new Error(`predict: timestep must be an integer in [0, ${numTimesteps}), got ${t}`);
      if (xt.rank !== 2 || xt.shape[1] !== 1) throw new Error(`predict: x must have shape [B, 1], got [${xt.shape}]`);
      const f = current();
      return tf.tidy(() => {
        const c = tf.slice(f.timeRows, [t * width], [width]);
        let h = geluInference(tf.fused.matMul({ a: xt, b: f.xRow, bias: c }));
        const n = f.layers.length;
        for (let i = 0; i < n - 1; i++) {
          h = tf.add(h, geluInference(tf.fused.matMul({ a: h as tf.Tensor2D, b: f.layers[i].W, bias: f.layers[i].b })));
        }
        return tf.fused.matMul({ a: h as tf.Tensor2D, b: f.layers[n - 1].W, bias: f.layers[n - 1].b });
      }) as tf.Tensor2D;
    },
    dispose: free,
  };
}

function geluInference(z: tf.Tensor): tf.Tensor {
  return tf.mul(z, tf.sigmoid(tf.mul(tf.add(tf.mul(tf.square(z), C1), C2), z)));
}

function foldWeights(model: VelocityModel, params?: TensorMap): Omit<Folded, 'keys'> {
  const p = params ?? model.params;
  const get = (name: string) => {
    const v = p.get(name);
    if (!v) throw new Error(`foldedVelocity: missing parameter '${name}'`);
    return v as tf.Tensor2D;
  };
  const { depth, bnEpsilon: eps, timeEmbeddingDim: e, numTimesteps, width } = model.config;
  return tf.tidy(() => {
    // BN(h)·W + b = h·(s ⊙ W) + (shift·W + b), s = scale/√(var + eps), shift = bias − mean·s
    const fold = (bn: string, dense: string) => {
      const W = get(`${dense}/kernel`);
      const [I, O] = W.shape;
      const s = tf.mul(tf.rsqrt(tf.add(model.batchStats.get(`${bn}/var`)!, eps)), get(`${bn}/scale`));
      const shift = tf.sub(get(`${bn}/bias`), tf.mul(model.batchStats.get(`${bn}/mean`)!, s));
      const Wp = tf.mul(W, s.reshape([I, 1])) as tf.Tensor2D;
      // (the fused bias must be created rank 1: the wasm kernel checks the data's original shape)
      const b = tf.add(tf.matMul(shift.reshape([1, I]), W).reshape([O]), get(`${dense}/bias`)) as tf.Tensor1D;
      return { W: Wp, b };
    };
    const steps = Array.from({ length: numTimesteps }, (_, t) => t);
    const emb = tf.tensor2d(embeddingValues(model).subarray(0, numTimesteps * e), [steps.length, e]);
    const e1 = tf.fused.matMul({ a: emb, b: get('time/linear_1/kernel'), bias: get('time/linear_1/bias') });
    const a1 = tf.mul(e1, tf.sigmoid(e1)) as tf.Tensor2D;
    const temb = tf.fused.matMul({ a: a1, b: get('time/linear_2/kernel'), bias: get('time/linear_2/bias') });
    const first = fold('bn_in', 'dense_in');
    const xRow = tf.slice(first.W, [0, 0], [1, width]) as tf.Tensor2D;
    const timeRows = tf.fused.matMul({ a: temb, b: tf.slice(first.W, [1, 0], [e, width]), bias: first.b }).reshape([-1]) as tf.Tensor1D;
    const layers = [...Array.from({ length: depth }, (_, i) => fold(`block_${i}/bn`, `block_${i}/dense`)), fold('bn_out', 'dense_out')];
    return { timeRows, xRow, layers };
  });
}
