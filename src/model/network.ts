// What the velocity network is: its configuration and its layers, in order. This is the one place
// that says it; the autograd forward (model.ts), the training pass (training-pass.ts) and the folded
// predictor (folded.ts) walk these lists, and each layer type knows its own forward, backward and
// fold (dense.ts, norm-dense.ts, activations.ts).
//
// The tutorial's network, with Flax's defaults:
//   t → sinusoidal(32) → Dense(32) → SiLU → Dense(32)           (FlaxTimestepEmbedding)
//   h = concat(x, temb) → BatchNorm → Dense(128) → GELU → Dropout
//   3 × { h += Dropout(GELU(Dense(128)(BatchNorm(h)))) }
//   BatchNorm → Dense(1)
import { ACTIVATIONS, silu, type Activation, type ActivationName } from './activations';

export interface VelocityModelConfig {
  /** Hidden width of the residual trunk. */
  width: number;
  /** Number of residual blocks. */
  depth: number;
  /** The trunk's activation. */
  activation: ActivationName;
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
  activation: 'gelu',
  dropout: 0.1,
  timeEmbeddingDim: 32,
  numTimesteps: 1000,
  bnMomentum: 0.99,
  bnEpsilon: 1e-5,
};

/** A Dense layer of the time MLP: x·kernel + bias, kernel [inputs, outputs]. */
export interface DenseLayer {
  kind: 'dense';
  name: string;
  inputs: number;
  outputs: number;
}

/** An activation between the time MLP's Dense layers. */
export interface ActivationLayer {
  kind: 'activation';
  activation: Activation;
}

/**
 * A layer of the trunk: BatchNorm `bn` → Dense `dense` → activation → dropout → + the layer's
 * input (a residual layer has as many outputs as inputs).
 */
export interface NormDenseLayer {
  bn: string;
  dense: string;
  inputs: number;
  outputs: number;
  /** null: the layer's output is the Dense's. */
  activation: Activation | null;
  /** Whether dropout (at the config's rate) follows the activation in training mode. */
  dropout: boolean;
  residual: boolean;
}

export interface Network {
  /** The time MLP on the sinusoidal embedding of t ([numTimesteps, timeEmbeddingDim] table). */
  time: (DenseLayer | ActivationLayer)[];
  /** The trunk on [x, the time MLP's output]; its last layer gives v̂, one column. */
  trunk: NormDenseLayer[];
}

/** The layers of the network `config` describes. */
export function velocityNetwork(config: VelocityModelConfig): Network {
  validateConfig(config);
  const { width, depth, timeEmbeddingDim: e } = config;
  const activation = ACTIVATIONS[config.activation];
  const dense = (name: string, inputs: number, outputs: number): DenseLayer => ({
    kind: 'dense',
    name,
    inputs,
    outputs,
  });
  const block = (i: number): NormDenseLayer => ({
    bn: `block_${i}/bn`,
    dense: `block_${i}/dense`,
    inputs: width,
    outputs: width,
    activation,
    dropout: true,
    residual: true,
  });
  return {
    time: [dense('time/linear_1', e, e), { kind: 'activation', activation: silu }, dense('time/linear_2', e, e)],
    trunk: [
      { bn: 'bn_in', dense: 'dense_in', inputs: 1 + e, outputs: width, activation, dropout: true, residual: false },
      ...Array.from({ length: depth }, (_, i) => block(i)),
      {
        bn: 'bn_out',
        dense: 'dense_out',
        inputs: width,
        outputs: 1,
        activation: null,
        dropout: false,
        residual: false,
      },
    ],
  };
}

/** The time MLP's Dense layers, in order. */
export function timeDenseLayers(network: Network): DenseLayer[] {
  return network.time.filter((l): l is DenseLayer => l.kind === 'dense');
}

export function validateConfig(c: VelocityModelConfig): void {
  const positiveInt = (name: keyof VelocityModelConfig) => {
    const v = c[name];
    if (!Number.isInteger(v) || (v as number) < 1)
      throw new Error(`VelocityModel: ${name} must be a positive integer, got ${v}`);
  };
  positiveInt('width');
  positiveInt('timeEmbeddingDim');
  positiveInt('numTimesteps');
  if (!Number.isInteger(c.depth) || c.depth < 0)
    throw new Error(`VelocityModel: depth must be an integer ≥ 0, got ${c.depth}`);
  if (!Object.hasOwn(ACTIVATIONS, c.activation))
    throw new Error(
      `VelocityModel: activation must be one of ${Object.keys(ACTIVATIONS).join(', ')}, got ${c.activation}`,
    );
  if (c.timeEmbeddingDim % 2 !== 0)
    throw new Error(`VelocityModel: timeEmbeddingDim must be even, got ${c.timeEmbeddingDim}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`VelocityModel: dropout must be in [0, 1), got ${c.dropout}`);
  if (!(c.bnMomentum >= 0 && c.bnMomentum < 1))
    throw new Error(`VelocityModel: bnMomentum must be in [0, 1), got ${c.bnMomentum}`);
  if (!(c.bnEpsilon > 0)) throw new Error(`VelocityModel: bnEpsilon must be > 0, got ${c.bnEpsilon}`);
}
