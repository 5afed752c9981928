// Training the velocity model: fresh mixture batches, uniform timesteps, v-prediction MSE,
// global-norm clipping + AdamW with a linear schedule, EMA of the parameters. The computation is
// ThreadTrainer's; with workers > 1, run() hands the job to worker threads and adopts their result.
// A run can hand out its state as it goes (run's snapshots) and continue from one (restore):
// ./training-state.ts saves and loads them.
import * as tf from '@tensorflow/tfjs';
import type { GaussianMixture } from '../math/mixture';
import type { DDPMScheduler } from '../diffusion/scheduler';
import type { VelocityModel } from '../model/model';
import type { VelocityModelConfig } from '../model/network';
import { defaultWorkers } from '../runtime/backend';
import { RECOMMENDED_MODEL, RECOMMENDED_TRAINING, type TrainConfig, type TrainLog } from './config';
import type { ParameterEMA } from './optim';
import { trainInParallel } from './parallel/coordinator';
import { ThreadTrainer, type Snapshots, type TrainerState } from './thread-trainer';
import { RecipeMismatch, recipeDifferences, type Recipe, type TrainingState } from './training-state';

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

  /** What this run computes: everything its numbers depend on. */
  recipe(): Recipe {
    const { logEvery: _, ...train } = this.config;
    return {
      backend: tf.getBackend(),
      mixture: this.mixture.toJSON(),
      scheduler: this.scheduler.config,
      model: this.model.config,
      train,
    };
  }

  /** The run's state now, as plain data: what restore() continues from. */
  state(): TrainingState {
    return this.withRecipe(this.thread.exportState());
  }

  /**
   * Continue from `state`, its logs included: the next steps compute what the run that saved it
   * computed. A state of another recipe is refused (RecipeMismatch), naming every difference.
   */
  restore(state: TrainingState): void {
    const differences = recipeDifferences(state.recipe, this.recipe());
    if (differences.length > 0) throw new RecipeMismatch(differences);
    this.thread.importState(state);
    this.history.splice(0, this.history.length, ...state.history);
  }

  /**
   * Train from the current step to the configured number of steps (or until `signal` aborts),
   * calling `onLog` every `logEvery` steps and, with `snapshots`, handing its state to
   * snapshots.take every snapshots.every steps (after that step's log; an error it throws stops the
   * run). Yields to the event loop at each log so notebook displays can update.
   */
  async run(
    onLog?: (log: TrainLog) => void,
    signal?: AbortSignal,
    snapshots?: Snapshots<TrainingState>,
  ): Promise<TrainLog[]> {
    if (snapshots && !(Number.isInteger(snapshots.every) && snapshots.every >= 1))
      throw new Error(`Trainer.run: snapshots.every must be a positive integer, got ${snapshots.every}`);
    const record = (log: TrainLog) => {
      this.history.push(log);
      onLog?.(log);
    };
    const threadSnapshots = snapshots && {
      every: snapshots.every,
      take: (state: TrainerState) => snapshots.take(this.withRecipe(state)),
    };
    if (this.config.workers > 1) {
      const job = {
        mixture: this.mixture.toJSON(),
        scheduler: this.scheduler.config,
        train: this.config,
        model: this.model.config,
        state: this.thread.exportState(),
        snapshotEvery: threadSnapshots?.every ?? null,
      };
      // the workers' final state, optimizer included: this thread can go on from it
      this.thread.importState(await trainInParallel(job, record, signal, threadSnapshots?.take));
    } else {
      await this.thread.run(record, signal, threadSnapshots);
    }
    return this.history;
  }

  dispose(): void {
    this.thread.dispose();
  }

  private withRecipe(state: TrainerState): TrainingState {
    return { ...state, recipe: this.recipe(), history: this.history.slice() };
  }
}
