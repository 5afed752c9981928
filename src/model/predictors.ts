// model.predict as a VelocityPredictor: the unfolded reference for the samplers' predictor
// (modelVelocity in folded.ts, which folds BatchNorm and precomputes the time MLP).
import type { VelocityPredictor } from '../diffusion/predictor';
import type { TensorMap } from './parameters';
import type { VelocityModel } from './model';

/** model.predict as a predictor: the unfolded reference. */
export function plainModelVelocity(model: VelocityModel, params?: TensorMap): VelocityPredictor {
  return { predict: (xt, t) => model.predict(xt, t, params) };
}
