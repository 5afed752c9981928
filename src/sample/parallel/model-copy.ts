// The trained model as another thread receives it (plain arrays, its backend named) and the
// folded predictor that thread rebuilds from it: shared by the DDPM sampling workers
// (./ddpm-model.ts) and the predictor's helper threads (./predictor.ts).
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../../runtime/backend';
import { VelocityModel } from '../../model/model';
import type { TensorMap } from '../../model/parameters';
import type { VelocityModelConfig } from '../../model/network';
import { assignValues, tensorValues, type NamedValues } from '../../model/tensor-values';
import { modelVelocity, type FoldedPredictor } from '../../model/folded';
import { Rng } from '../../math/rng';

export interface ModelCopy {
  backend: BackendName;
  modelConfig: VelocityModelConfig;
  params: NamedValues;
  batchStats: NamedValues;
}

/** The model with `params` (its own by default) and its BatchNorm statistics, on this thread's backend. */
export function copyModel(model: VelocityModel, params?: TensorMap): ModelCopy {
  return {
    backend: tf.getBackend() as BackendName,
    modelConfig: model.config,
    params: tensorValues(params ?? model.params),
    batchStats: tensorValues(model.batchStats),
  };
}

/** On the receiving thread: its backend started as the sender's, the model rebuilt, in inference mode. */
export async function predictorFromCopy(copy: ModelCopy): Promise<FoldedPredictor> {
  await initBackend(copy.backend);
  const model = new VelocityModel(copy.modelConfig, new Rng(0, 'model copy'));
  assignValues(model.params, copy.params);
  assignValues(model.batchStats, copy.batchStats);
  return modelVelocity(model);
}
