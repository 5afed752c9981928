// The velocity network's state: its parameters, BatchNorm running statistics and embedding table,
// created for the layers of network.ts; and its forward pass as differentiable tfjs ops (used by
// autograd and as the reference for the fast paths, training-pass.ts and folded.ts).
// Training mode normalises with batch statistics and applies dropout; inference mode uses the
// running statistics and no dropout. Parameters are plain named tensors so the trainer, the EMA
// and checkpoints can treat them as one flat list.
import * as tf from '@tensorflow/tfjs';
import { timestepEmbeddingValues } from '../diffusion/embedding';
import type { Rng } from '../math/rng';
import { denseAutograd } from './dense';
import { DEFAULT_MODEL_CONFIG, velocityNetwork, type Network, type VelocityModelConfig } from './network';
import { normDenseAutograd, type BatchMoments } from './norm-dense';
import type { TensorMap } from './parameters';
import { variableFrom } from './variables';

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
  /** The layers, in order (network.ts). */
  readonly network: Network;
  /** Trainable parameters, in a fixed order. */
  readonly params: Map<string, tf.Variable> = new Map();
  /** BatchNorm running statistics (not trained, not weight-decayed). */
  readonly batchStats: Map<string, tf.Variable> = new Map();
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
    this.network = velocityNetwork(this.config);
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
    for (const layer of this.network.time) if (layer.kind === 'dense') dense(layer.name, layer.inputs, layer.outputs);
    for (const layer of this.network.trunk) {
      batchNorm(layer.bn, layer.inputs);
      dense(layer.dense, layer.inputs, layer.outputs);
    }
    const steps = Array.from({ length: this.config.numTimesteps }, (_, t) => t);
    this.embeddingValues = timestepEmbeddingValues(steps, this.config.timeEmbeddingDim);
    this.embeddingTable = tf.tensor2d(this.embeddingValues, [steps.length, this.config.timeEmbeddingDim]);
  }

  /** Names of the BatchNorm layers, in order. */
  get batchNormNames(): string[] {
    return this.network.trunk.map((l) => l.bn);
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
  forward(
    x: tf.Tensor2D,
    timesteps: tf.Tensor1D,
    options: ForwardOptions,
  ): { output: tf.Tensor2D; moments: BatchMoments } {
    const { training } = options;
    const p = options.params ?? this.params;
    const B = x.shape[0];
    const { dropout } = this.config;
    if (x.rank !== 2 || x.shape[1] !== 1) throw new Error(`VelocityModel: x must have shape [B, 1], got [${x.shape}]`);
    if (timesteps.shape[0] !== B) throw new Error(`VelocityModel: ${timesteps.shape[0]} timesteps for ${B} rows`);
    const useDropout = training && dropout > 0;
    if (useDropout && !options.dropoutRng)
      throw new Error('VelocityModel: training with dropout needs a dropoutRng stream');
    // Draw the masks outside tidy; they are plain data.
    const masks = this.network.trunk.map((layer) =>
      useDropout && layer.dropout ? options.dropoutRng!.dropoutMask(B * layer.outputs, dropout) : null,
    );
    const norm = {
      training,
      runningStats: this.batchStats as Map<string, tf.Tensor>,
      eps: this.config.bnEpsilon,
      moments: new Map() as BatchMoments,
    };
    const output = tf.tidy(() => {
      let temb: tf.Tensor = tf.gather(this.embeddingTable, timesteps);
      for (const layer of this.network.time)
        temb = layer.kind === 'dense' ? denseAutograd(p, layer.name, temb) : layer.activation.autograd(temb);
      let h: tf.Tensor = tf.concat([x, temb], 1);
      this.network.trunk.forEach((layer, i) => {
        let y: tf.Tensor = normDenseAutograd(p, layer, h, norm);
        if (layer.activation) y = layer.activation.autograd(y);
        const mask = masks[i];
        if (mask) y = tf.mul(y, tf.tensor2d(mask, [B, layer.outputs]));
        h = layer.residual ? tf.add(h, y) : y;
      });
      return h as tf.Tensor2D;
    });
    return { output, moments: norm.moments };
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

export function disposeMoments(moments: BatchMoments): void {
  for (const { mean, variance } of moments.values()) tf.dispose([mean, variance]);
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
