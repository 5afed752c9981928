// DDPM sampling with the trained network, on every core: the samples of ddpmSample with the
// single-threaded modelVelocity, bit for bit, since each call is only split by rows.
import type { TensorMap, VelocityModel } from '../model/model';
import type { DDPMScheduler } from '../diffusion/scheduler';
import type { Rng } from '../math/rng';
import { ddpmSample, type DDPMSampleResult } from './ddpm';
import { parallelModelVelocity } from './parallel/predictor';

export interface ModelSampleOptions {
  model: VelocityModel;
  /** Parameters to sample with (e.g. the EMA copy); the model's own by default. */
  params?: TensorMap;
  scheduler: DDPMScheduler;
  n: number;
  rng: Pick<Rng, 'normals'>;
  snapshotAt?: number[];
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
  /** Threads, this one included (default: one per core, at most 4). 1 samples on this thread alone. */
  threads?: number;
}

/** DDPM sampling with the model in inference mode (folded BatchNorm, no dropout). */
export async function ddpmSampleModel(o: ModelSampleOptions): Promise<DDPMSampleResult> {
  const predictor = parallelModelVelocity(o.model, o.params, { threads: o.threads });
  try {
    return await ddpmSample({ ...o, predictor });
  } finally {
    predictor.dispose();
  }
}
