// The tutorial's "velocity" network, with Flax's defaults:
//   t → sinusoidal(32) → Dense(32) → SiLU → Dense(32)           (FlaxTimestepEmbedding)
//   h = concat(x, emb) → BatchNorm → Dense(128) → GELU → Dropout
//   3 × { h += Dropout(GELU(Dense(128)(BatchNorm(h)))) }
//   BatchNorm → Dense(1)
// Training mode normalises with batch statistics and applies dropout; inference mode uses the
// running statistics and no dropout. Parameters are plain named tensors so the trainer, the EMA
// and checkpoints can treat them as one flat list.
import * as tf from '@tensorflow/tfjs';
import { timestepEmbeddingValues } from '../diffusion/embedding';
import type { Rng } from '../math/rng';
import { geluTanh } from './gelu';
import { variableFrom } from './variables';

export interface VelocityModelConfig {
  /** Hidden width of the residual trunk. */
  width: number;
  /** Number of residual blocks. */
  depth: number;
  /** Dropout rate in training mode. */
  dropout: number;
  /** Size of the sinusoidal embedding and of the time MLP. */
  timeEmbeddingDim: number;
  /** Timesteps the embedding table covers (the scheduler's numTrainTimesteps). */
  numTimesteps: number;
  bnMomentum: number;
  bnEpsilon: number;
}

export const DEFAULT_MODEL_CONFIG: VelocityModelConfig = {
  width: 128,
  depth: 3,
  dropout: 0.1,
  timeEmbeddingDim: 32,
  numTimesteps: 1000,
  bnMomentum: 0.99,
  bnEpsilon: 1e-5,
};

export type TensorMap = Map<string, tf.Tensor>;

/** Batch mean and (biased) variance of each BatchNorm, from a training-mode pass. */
export type BatchMoments = Map<string, { mean: tf.Tensor; variance: tf.Tensor }>;

export interface ForwardOptions {
  training: boolean;
  /** Dropout stream; required in training mode when dropout > 0. */
  dropoutRng?: Rng;
  /** Parameters to use instead of the model's own (e.g. the EMA copy). */
  params?: TensorMap;
}

/** std of a standard normal truncated to [−2, 2]: JAX's lecun_normal divides by it. */
const TRUNCATED_NORMAL_STD = 0.8796256610342398;

export class VelocityModel {
  readonly config: VelocityModelConfig;
  /** Trainable parameters, in a fixed order. */
  readonly params: Map<string, tf.Variable> = new Map();
  /** BatchNorm running statistics (not trained, not weight-decayed). */
  readonly batchStats: Map<string, tf.Variable> = new Map();
  /** Names of the BatchNorm layers, in order. */
  readonly batchNormNames: string[];
  /**
   * The sinusoidal embedding of every integer timestep, [numTimesteps, timeEmbeddingDim] row-major:
   * as host values (the fast paths gather rows on the host) and as a tensor (forward gathers on
   * the device).
   */
  readonly embeddingValues: Float32Array;
  readonly embeddingTable: tf.Tensor2D;

  /** Initialise with Flax's defaults: lecun-normal kernels, zero biases, BN scale 1 and bias 0. */
  constructor(config: Partial<VelocityModelConfig>, initRng: Rng) {
    this.config = { ...DEFAULT_MODEL_CONFIG, ...config };
    validateConfig(this.config);
    const { width, depth, timeEmbeddingDim: e } = this.config;
    const dense = (name: string, fanIn: number, fanOut: number) => {
      this.params.set(`${name}/kernel`, variableFrom(lecunNormal(fanIn, fanOut, initRng), true));
      this.params.set(`${name}/bias`, variableFrom(tf.zeros([fanOut]), true));
    };
    const batchNorm = (name: string, features: number) => {
      this.params.set(`${name}/scale`, variableFrom(tf.ones([features]), true));
      this.params.set(`${name}/bias`, variableFrom(tf.zeros([features]), true));
      this.batchStats.set(`${name}/mean`, variableFrom(tf.zeros([features]), false));
      this.batchStats.set(`${name}/var`, variableFrom(tf.ones([features]), false));
    };
    dense('time/linear_1', e, e);
    dense('time/linear_2', e, e);
    batchNorm('bn_in', 1 + e);
    dense('dense_in', 1 + e, width);
    for (let i = 0; i < depth; i++) {
      batchNorm(`block_${i}/bn`, width);
      dense(`block_${i}/dense`, width, width);
    }
    batchNorm('bn_out', width);
    dense('dense_out', width, 1);
    this.batchNormNames = ['bn_in', ...Array.from({ length: depth }, (_, i) => `block_${i}/bn`), 'bn_out'];
    const steps = Array.from({ length: this.config.numTimesteps }, (_, t) => t);
    this.embeddingValues = timestepEmbeddingValues(steps, e);
    this.embeddingTable = tf.tensor2d(this.embeddingValues, [steps.length, e]);
  }

  /** Number of trainable parameters (the tutorial's network: 57,219). */
  get parameterCount(): number {
    let n = 0;
    for (const p of this.params.values()) n += p.size;
    return n;
  }

  /**
   * v̂(x_t, t). x: [B, 1]; timesteps: B integers in [0, numTimesteps). Returns [B, 1] and, in
   * training mode, the batch moments each BatchNorm used (the caller updates running statistics).
   */
  forward(x: tf.Tensor2D, timesteps: tf.Tensor1D, options: ForwardOptions): { output: tf.Tensor2D; moments: BatchMoments } {
    const { training } = options;
    const p = options.params ?? this.params;
    const B = x.shape[0];
    const { width, depth, dropout } = this.config;
    if (x.rank !== 2 || x.shape[1] !== 1) throw new Error(`VelocityModel: x must have shape [B, 1], got [${x.shape}]`);
    if (timesteps.shape[0] !== B) throw new Error(`VelocityModel: ${timesteps.shape[0]} timesteps for ${B} rows`);
    const useDropout = training && dropout > 0;
    if (useDropout && !options.dropoutRng) throw new Error('VelocityModel: training with dropout needs a dropoutRng stream');
    // Draw the masks outside tidy; they are plain data.
    const masks = useDropout
      ? Array.from({ length: depth + 1 }, () => options.dropoutRng!.dropoutMask(B * width, dropout))
      : [];
    const moments: BatchMoments = new Map();
    const output = tf.tidy(() => {
      const denseLayer = (h: tf.Tensor, name: string) => tf.add(tf.matMul(h as tf.Tensor2D, getParameter(p, `${name}/kernel`)), getParameter(p, `${name}/bias`));
      const batchNorm = (h: tf.Tensor, name: string) => {
        let mean: tf.Tensor;
        let variance: tf.Tensor;
        if (training) {
          // Flax's fast variance: E[h²] − E[h]², clamped at 0
          mean = tf.mean(h, 0);
          variance = tf.relu(tf.sub(tf.mean(tf.square(h), 0), tf.square(mean)));
          moments.set(name, { mean: tf.keep(mean), variance: tf.keep(variance) });
        } else {
          mean = this.batchStats.get(`${name}/mean`)!;
          variance = this.batchStats.get(`${name}/var`)!;
        }
        const inv = tf.mul(tf.rsqrt(tf.add(variance, this.config.bnEpsilon)), getParameter(p, `${name}/scale`));
        return tf.add(tf.mul(tf.sub(h, mean), inv), getParameter(p, `${name}/bias`));
      };
      const drop = (h: tf.Tensor, i: number) => (useDropout ? tf.mul(h, tf.tensor2d(masks[i], [B, width])) : h);

      const emb = tf.gather(this.embeddingTable, timesteps);
      const temb = denseLayer(silu(denseLayer(emb, 'time/linear_1')), 'time/linear_2');
      let h: tf.Tensor = tf.concat([x, temb], 1);
      h = drop(geluTanh(denseLayer(batchNorm(h, 'bn_in'), 'dense_in')), 0);
      for (let i = 0; i < depth; i++) {
        h = tf.add(h, drop(geluTanh(denseLayer(batchNorm(h, `block_${i}/bn`), `block_${i}/dense`)), i + 1));
      }
      return denseLayer(batchNorm(h, 'bn_out'), 'dense_out') as tf.Tensor2D;
    });
    return { output, moments };
  }

  /** Inference-mode prediction at one timestep for the whole batch (running stats, no dropout). */
  predict(x: tf.Tensor2D, t: number, params?: TensorMap): tf.Tensor2D {
    const timesteps = tf.fill([x.shape[0]], t, 'int32') as tf.Tensor1D;
    try {
      return this.forward(x, timesteps, { training: false, params }).output;
    } finally {
      timesteps.dispose();
    }
  }

  /** Fold one training batch's moments into the running statistics: ra ← m·ra + (1 − m)·batch. */
  updateBatchStats(moments: BatchMoments): void {
    const m = this.config.bnMomentum;
    tf.tidy(() => {
      for (const [name, { mean, variance }] of moments) {
        const ra = this.batchStats.get(`${name}/mean`)!;
        const rv = this.batchStats.get(`${name}/var`)!;
        ra.assign(tf.add(tf.mul(m, ra), tf.mul(1 - m, mean)));
        rv.assign(tf.add(tf.mul(m, rv), tf.mul(1 - m, variance)));
      }
    });
  }

  dispose(): void {
    tf.dispose([...this.params.values(), ...this.batchStats.values(), this.embeddingTable]);
  }
}

/** The parameter `name` of a parameter map (the model's own, or a copy such as the EMA). */
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

export function disposeMoments(moments: BatchMoments): void {
  for (const { mean, variance } of moments.values()) tf.dispose([mean, variance]);
}

function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/**
 * JAX's lecun_normal: a standard normal truncated to [−2, 2], scaled by √(1/fanIn)/0.8796…,
 * so the weights' std is exactly √(1/fanIn). (tfjs's own leCunNormal omits the correction.)
 */
export function lecunNormal(fanIn: number, fanOut: number, rng: Rng): tf.Tensor2D {
  const scale = Math.sqrt(1 / fanIn) / TRUNCATED_NORMAL_STD;
  const values = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < values.length; i++) {
    let z: number;
    do z = rng.normal();
    while (z < -2 || z > 2);
    values[i] = z * scale;
  }
  return tf.tensor2d(values, [fanIn, fanOut]);
}

function validateConfig(c: VelocityModelConfig): void {
  const positiveInt = (name: keyof VelocityModelConfig) => {
    const v = c[name];
    if (!Number.isInteger(v) || (v as number) < 1) throw new Error(`VelocityModel: ${name} must be a positive integer, got ${v}`);
  };
  positiveInt('width');
  positiveInt('timeEmbeddingDim');
  positiveInt('numTimesteps');
  if (!Number.isInteger(c.depth) || c.depth < 0) throw new Error(`VelocityModel: depth must be an integer ≥ 0, got ${c.depth}`);
  if (c.timeEmbeddingDim % 2 !== 0) throw new Error(`VelocityModel: timeEmbeddingDim must be even, got ${c.timeEmbeddingDim}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`VelocityModel: dropout must be in [0, 1), got ${c.dropout}`);
  if (!(c.bnMomentum >= 0 && c.bnMomentum < 1)) throw new Error(`VelocityModel: bnMomentum must be in [0, 1), got ${c.bnMomentum}`);
  if (!(c.bnEpsilon > 0)) throw new Error(`VelocityModel: bnEpsilon must be > 0, got ${c.bnEpsilon}`);
}
