// The trained network as a VelocityPredictor (inference mode: running BatchNorm statistics, no
// dropout), for the samplers.
import type { VelocityPredictor } from '../diffusion/predictor';
import { foldedVelocity } from './folded';
import type { TensorMap, VelocityModel } from './model';

/**
 * The fast predictor: BatchNorm folded into the next Dense and the time MLP precomputed
 * (foldedVelocity); equal to model.predict within float32 rounding.
 */
export function modelVelocity(model: VelocityModel, params?: TensorMap): VelocityPredictor & { dispose(): void } {
  return foldedVelocity(model, params);
}

/** model.predict as a predictor: the unfolded reference. */
export function plainModelVelocity(model: VelocityModel, params?: TensorMap): VelocityPredictor {
  return { predict: (xt, t) => model.predict(xt, t, params) };
}
