// A BatchNorm folded into the Dense after it, as host arithmetic on [features]-sized vectors and
// the small [I, O] kernel:
//   BN(h)·W + b = h·(s ⊙ W) + (shift·W + b),  s = scale/√(var + eps),  shift = bias − mean·s
// (the transform of Ioffe & Szegedy 2015, "Batch Normalization", Algorithm 1). The big [B, ·]
// products stay on the tfjs backend; everything here is O(I·O) per step, so it costs less on the
// host than the dozens of tiny tfjs ops it replaces (each ~10–20 µs of dispatch on tfjs-node).
// Used by the training step's backpropagation (batch statistics) and by the inference predictor
// (running statistics).
import { getParameter, type TensorMap } from './parameters';

/** One BatchNorm + Dense pair's parameters, as host values. W is row-major [I, O]. */
export interface BatchNormDense {
  W: Float32Array;
  b: Float32Array;
  scale: Float32Array;
  bnBias: Float32Array;
  I: number;
  O: number;
}

/** The parameters of BatchNorm `bn` and the Dense `dense` after it, as host values. */
export function batchNormDenseValues(params: TensorMap, bn: string, dense: string): BatchNormDense {
  const kernel = getParameter(params, `${dense}/kernel`);
  const values = (name: string) => getParameter(params, name).dataSync() as Float32Array;
  return {
    W: values(`${dense}/kernel`),
    b: values(`${dense}/bias`),
    scale: values(`${bn}/scale`),
    bnBias: values(`${bn}/bias`),
    I: kernel.shape[0],
    O: kernel.shape[1],
  };
}

/** The folded layer: z = h·Wp + bp, and what the backward pass needs. */
export interface FoldedLayer {
  /** s ⊙ W, row-major [I, O]. */
  Wp: Float32Array;
  /** shift·W + b, [O]. */
  bp: Float32Array;
  /** 1/√(var + eps), [I]. */
  r: Float32Array;
  /** scale·r, [I]. */
  s: Float32Array;
  /** bnBias − mean·s, [I]. */
  shift: Float32Array;
}

/** Fold normalisation by (mean, variance) into the Dense. */
export function foldBatchNorm(
  p: BatchNormDense,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  eps: number,
): FoldedLayer {
  const { I, O, W } = p;
  const r = new Float32Array(I);
  const s = new Float32Array(I);
  const shift = new Float32Array(I);
  const Wp = new Float32Array(I * O);
  const bp = Float64Array.from(p.b);
  for (let i = 0; i < I; i++) {
    r[i] = 1 / Math.sqrt(variance[i] + eps);
    s[i] = r[i] * p.scale[i];
    shift[i] = p.bnBias[i] - mean[i] * s[i];
    for (let o = 0; o < O; o++) {
      Wp[i * O + o] = W[i * O + o] * s[i];
      bp[o] += shift[i] * W[i * O + o];
    }
  }
  return { Wp, bp: Float32Array.from(bp), r, s, shift };
}

/** Batch mean and biased variance from Σh and Σh² over n rows, and where the variance was clamped at 0. */
export function batchMoments(
  sumH: ArrayLike<number>,
  sumH2: ArrayLike<number>,
  n: number,
): { mean: Float32Array; variance: Float32Array; positive: Uint8Array } {
  const I = sumH.length;
  const mean = new Float32Array(I);
  const variance = new Float32Array(I);
  const positive = new Uint8Array(I);
  for (let i = 0; i < I; i++) {
    mean[i] = sumH[i] / n;
    // E[h²] − E[h]² can round below 0 for a constant feature
    const v = sumH2[i] / n - mean[i] * mean[i];
    variance[i] = Math.max(v, 0);
    positive[i] = v > 0 ? 1 : 0;
  }
  return { mean, variance, positive };
}

/** The gradients of one folded layer trained with batch statistics, and the terms of d loss / d h. */
export interface FoldedLayerGrads {
  kernel: Float32Array;
  bias: Float32Array;
  scale: Float32Array;
  bnBias: Float32Array;
  /** d loss / d h = dz·Wpᵀ + β ⊙ h + γ: β [I] from the variance path, γ [I] from both means. */
  beta: Float32Array;
  gamma: Float32Array;
}

/**
 * Backward through BN(batch statistics) + Dense from the batch sums G = Σ_b h ⊗ dz ([I, O]) and
 * cz = Σ_b dz ([O]) over all n rows. da = dz·Wᵀ, the gradient at the BatchNorm's output, is never
 * formed: Σ_b da = W·cz and Σ_b da·h = Σ_o G ⊙ W.
 */
export function foldedLayerGrads(
  p: BatchNormDense,
  f: FoldedLayer,
  moments: { mean: ArrayLike<number>; positive: ArrayLike<number> },
  G: ArrayLike<number>,
  cz: ArrayLike<number>,
  n: number,
): FoldedLayerGrads {
  const { I, O, W } = p;
  const kernel = new Float32Array(I * O);
  const scale = new Float32Array(I);
  const bnBias = new Float32Array(I);
  const beta = new Float32Array(I);
  const gamma = new Float32Array(I);
  for (let i = 0; i < I; i++) {
    let sumDa = 0;
    let sumDaH = 0;
    for (let o = 0; o < O; o++) {
      const k = i * O + o;
      kernel[k] = G[k] * f.s[i] + f.shift[i] * cz[o];
      sumDa += W[k] * cz[o];
      sumDaH += G[k] * W[k];
    }
    const S = sumDaH - moments.mean[i] * sumDa; // Σ_b da·(h − mean)
    scale[i] = f.r[i] * S;
    bnBias[i] = sumDa;
    beta[i] = moments.positive[i] ? (-f.s[i] * f.r[i] * f.r[i] * S) / n : 0;
    gamma[i] = (-f.s[i] * sumDa) / n - beta[i] * moments.mean[i];
  }
  return { kernel, bias: Float32Array.from(cz), scale, bnBias, beta, gamma };
}

/** The transpose of row-major [rows, cols] values, keeping only rows [from, rows). */
export function transposeRows(values: ArrayLike<number>, rows: number, cols: number, from = 0): Float32Array {
  const n = rows - from;
  const out = new Float32Array(cols * n);
  for (let i = from; i < rows; i++) for (let o = 0; o < cols; o++) out[o * n + (i - from)] = values[i * cols + o];
  return out;
}
