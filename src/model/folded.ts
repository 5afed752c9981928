// The VelocityModel in inference mode (running BatchNorm statistics, no dropout) as a fast
// predictor, with the same mathematics as VelocityModel.predict:
//  - each BatchNorm is folded into the Dense after it: BN(h)·W + b = h·(s ⊙ W) + (shift·W + b)
//    with s = scale/√(var + eps), shift = bias − mean·s;
//  - the time MLP is evaluated once for every timestep, and its contribution to the first Dense
//    is precomputed, so a prediction at timestep t starts from one row of a table;
//  - GELU is computed in its sigmoid form (gelu.ts);
//  - each layer is one product with its bias (products.ts).
// The fold is computed on the host (batchnorm-fold.ts), as in training.
import * as tf from '@tensorflow/tfjs';
import type { VelocityPredictor } from '../diffusion/predictor';
import { geluSigmoid } from './gelu';
import { batchNormDenseValues, foldBatchNorm } from './batchnorm-fold';
import { getBias, getParameter, type TensorMap, type VelocityModel } from './model';
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
  layers: { W: tf.Tensor2D; b: tf.Tensor1D }[];
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
      const { numTimesteps, width } = model.config;
      if (!Number.isInteger(t) || t < 0 || t >= numTimesteps) throw new Error(`predict: timestep must be an integer in [0, ${numTimesteps}), got ${t}`);
      if (xt.rank !== 2 || xt.shape[1] !== 1) throw new Error(`predict: x must have shape [B, 1], got [${xt.shape}]`);
      const f = current();
      return tf.tidy(() => {
        const c = tf.slice(f.timeRows, [t * width], [width]);
        let h = geluSigmoid(affine(xt, f.xRow, c));
        const n = f.layers.length;
        for (let i = 0; i < n - 1; i++) h = geluSigmoid(affine(h as tf.Tensor2D, f.layers[i].W, f.layers[i].b), h);
        return affine(h as tf.Tensor2D, f.layers[n - 1].W, f.layers[n - 1].b);
      }) as tf.Tensor2D;
    },
    dispose: free,
  };
}

/** BatchNorm `bn` (running statistics) folded into the Dense `dense` after it. */
function foldLayer(model: VelocityModel, params: TensorMap, bn: string, dense: string): { W: tf.Tensor2D; b: tf.Tensor1D } {
  const p = batchNormDenseValues(params, bn, dense);
  const stat = (name: string) => model.batchStats.get(`${bn}/${name}`)!.dataSync();
  const f = foldBatchNorm(p, stat('mean'), stat('var'), model.config.bnEpsilon);
  return { W: tf.tensor2d(f.Wp, [p.I, p.O]), b: tf.tensor1d(f.bp) };
}

function foldWeights(model: VelocityModel, params: TensorMap): Omit<Folded, 'keys'> {
  const { depth, timeEmbeddingDim: e, width } = model.config;
  return tf.tidy(() => {
    const e1 = affine(model.embeddingTable, getParameter(params, 'time/linear_1/kernel'), getBias(params, 'time/linear_1/bias'));
    const a1 = tf.mul(e1, tf.sigmoid(e1)) as tf.Tensor2D;
    const temb = affine(a1, getParameter(params, 'time/linear_2/kernel'), getBias(params, 'time/linear_2/bias'));
    const first = foldLayer(model, params, 'bn_in', 'dense_in');
    const xRow = tf.slice(first.W, [0, 0], [1, width]) as tf.Tensor2D;
    const timeRows = affine(temb, tf.slice(first.W, [1, 0], [e, width]), first.b).reshape([-1]) as tf.Tensor1D;
    const layers = [...Array.from({ length: depth }, (_, i) => foldLayer(model, params, `block_${i}/bn`, `block_${i}/dense`)), foldLayer(model, params, 'bn_out', 'dense_out')];
    return { timeRows, xRow, layers };
  });
}
