// Training the velocity model: fresh mixture batches, uniform timesteps, v-prediction MSE,
// global-norm clipping + AdamW with a linear schedule, EMA of the parameters. The computation is
// ThreadTrainer's; with workers > 1, run() hands the job to worker threads and adopts their result.
import type { GaussianMixture } from '../math/mixture';
import type { DDPMScheduler } from '../diffusion/scheduler';
import type { VelocityModel } from '../model/model';
import type { VelocityModelConfig } from '../model/network';
import { defaultWorkers } from '../runtime/backend';
import { RECOMMENDED_MODEL, RECOMMENDED_TRAINING, type TrainConfig, type TrainLog } from './config';
import type { ParameterEMA } from './optim';
import { trainInParallel } from './parallel/coordinator';
import { ThreadTrainer } from './thread-trainer';

export class Trainer {
  readonly config: TrainConfig;
  readonly model: VelocityModel;
  readonly ema: ParameterEMA;
  readonly history: TrainLog[] = [];
  private readonly thread: ThreadTrainer;

  /**
   * `config` and `modelConfig` override fields of RECOMMENDED_TRAINING and RECOMMENDED_MODEL;
   * without `workers`, defaultWorkers() (one per core, up to 2).
   */
  constructor(
    readonly mixture: GaussianMixture,
    readonly scheduler: DDPMScheduler,
    config: Partial<TrainConfig> = {},
    modelConfig: Partial<VelocityModelConfig> = {},
  ) {
    this.config = { ...RECOMMENDED_TRAINING, workers: defaultWorkers(), ...config };
    this.thread = new ThreadTrainer(mixture, scheduler, this.config, { ...RECOMMENDED_MODEL, ...modelConfig });
    this.model = this.thread.model;
    this.ema = this.thread.ema;
  }

  get step(): number {
    return this.thread.step;
  }

  learningRate(step: number): number {
    return this.thread.learningRate(step);
  }

  /** The next batch's data, diffusion noise and timesteps. */
  drawBatch(): { x0: Float32Array; noise: Float32Array; timesteps: Int32Array } {
    return this.thread.drawBatch();
  }

  /** One optimisation step on this thread. The loss stays on the device (summed for the next log). */
  trainStep(): void {
    this.thread.trainStep();
  }

  /**
   * Train for the configured number of steps (or until `signal` aborts), calling `onLog` every
   * `logEvery` steps. Yields to the event loop at each log so notebook displays can update.
   */
  async run(onLog?: (log: TrainLog) => void, signal?: AbortSignal): Promise<TrainLog[]> {
    const record = (log: TrainLog) => {
      this.history.push(log);
      onLog?.(log);
    };
    if (this.config.workers > 1) {
      if (this.step !== 0) throw new Error('parallel training starts from step 0');
      const job = { mixture: this.mixture.toJSON(), scheduler: this.scheduler.config, train: this.config, model: this.model.config };
      this.thread.importState(await trainInParallel(job, record, signal));
    } else {
      await this.thread.run(record, signal);
    }
    return this.history;
  }

  dispose(): void {
    this.thread.dispose();
  }
}
