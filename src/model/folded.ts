// The VelocityModel in inference mode (running BatchNorm statistics, no dropout) as a fast
// predictor, with the same mathematics as VelocityModel.predict, walking the layers of network.ts:
//  - each trunk layer's BatchNorm is folded into its Dense (norm-dense.ts);
//  - the time MLP is evaluated once for every timestep, and its contribution to the first Dense
//    is precomputed, so a prediction at timestep t starts from one row of a table;
//  - activations run in the training pass's form without a mask (activations.ts);
//  - each layer is one product with its bias (products.ts).
import * as tf from '@tensorflow/tfjs';
import type { VelocityPredictor } from '../diffusion/predictor';
import { activate, type Activation } from './activations';
import { denseForward } from './dense';
import type { VelocityModel } from './model';
import { foldNormDense } from './norm-dense';
import type { TensorMap } from './parameters';
import { affine } from './products';

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
  /** Every trunk layer, folded (the first one is applied through timeRows and xRow). */
  layers: { W: tf.Tensor2D; b: tf.Tensor1D; activation: Activation | null; residual: boolean }[];
}

/**
 * The trained network as the samplers' predictor: the model in inference mode, equal to
 * model.predict(x, t, params) within float32 rounding. The folding is redone whenever a
 * parameter or running statistic has been reassigned.
 */
export function modelVelocity(model: VelocityModel, params?: TensorMap): FoldedPredictor {
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
    folded = { keys, ...foldWeights(model, params ?? model.params) };
    return folded;
  };
  return {
    predict(xt: tf.Tensor2D, t: number): tf.Tensor2D {
      const { numTimesteps } = model.config;
      if (!Number.isInteger(t) || t < 0 || t >= numTimesteps)
        throw new Error(`predict: timestep must be an integer in [0, ${numTimesteps}), got ${t}`);
      if (xt.rank !== 2 || xt.shape[1] !== 1) throw new Error(`predict: x must have shape [B, 1], got [${xt.shape}]`);
      const f = current();
      return tf.tidy(() => {
        const width = f.xRow.shape[1];
        let h = xt;
        f.layers.forEach((layer, i) => {
          const z =
            i === 0 ? affine(h, f.xRow, tf.slice(f.timeRows, [t * width], [width])) : affine(h, layer.W, layer.b);
          const residual = layer.residual ? h : null;
          h = layer.activation
            ? activate(layer.activation, z, residual)
            : residual
              ? (tf.add(residual, z) as tf.Tensor2D)
              : z;
        });
        return h;
      });
    },
    dispose: free,
  };
}

function foldWeights(model: VelocityModel, params: TensorMap): Omit<Folded, 'keys'> {
  const { network } = model;
  const { timeEmbeddingDim: e } = model.config;
  const { timeRows, xRow, weights } = tf.tidy(() => {
    let temb = model.embeddingTable;
    for (const layer of network.time)
      temb = layer.kind === 'dense' ? denseForward(params, layer.name, temb) : activate(layer.activation, temb);
    const weights = network.trunk.map((layer) =>
      foldNormDense(params, model.batchStats, model.config.bnEpsilon, layer),
    );
    // the first layer's input is [x, temb]: its x row, and its temb rows applied to every timestep's temb
    const first = weights[0];
    const width = first.W.shape[1];
    const xRow = tf.slice(first.W, [0, 0], [1, width]) as tf.Tensor2D;
    const timeRows = affine(temb, tf.slice(first.W, [1, 0], [e, width]), first.b).reshape([-1]) as tf.Tensor1D;
    return { timeRows, xRow, weights };
  });
  return {
    timeRows,
    xRow,
    layers: weights.map((w, i) => ({
      ...w,
      activation: network.trunk[i].activation,
      residual: network.trunk[i].residual,
    })),
  };
}
