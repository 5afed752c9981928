// The training computation of one thread: the model, its optimiser and EMA, the random streams, the
// step and the run loop. A Trainer on one thread runs it over whole batches; each worker of a
// data-parallel run (parallel/worker.ts) runs it over its block of rows, with every batch sum added
// across the workers. Its state (exportState) is everything the next steps depend on, so a run
// continued from it (importState) computes what the uninterrupted run would have.
import * as tf from '@tensorflow/tfjs';
import type { GaussianMixture } from '../math/mixture';
import { trainingStreams, type RngState, type TrainingStreams } from '../math/rng';
import type { DDPMScheduler } from '../diffusion/scheduler';
import { disposeMoments, VelocityModel } from '../model/model';
import type { VelocityModelConfig } from '../model/network';
import { tensorValues, type NamedValues } from '../model/tensor-values';
import { learningRateSchedule, validateTrainConfig, type TrainConfig, type TrainLog } from './config';
import { GRADIENT_FUNCTIONS, type BatchShard } from './gradients';
import { targetFunction } from './targets';
import { FlatLayout } from './flat-layout';
import { AdamW, learningRateAt, ParameterEMA, type AdamWState } from './optim';
import type { AllReduce } from './parallel/allreduce';

/** Training reached a non-finite loss: a problem with the configuration or the data, not a bug. */
export class TrainingDiverged extends Error {}

/**
 * Everything the next steps of a run depend on besides its configuration, as plain data (to hand to
 * a worker thread, or to save: ./training-state.ts). The learning rate is a function of the step.
 */
export interface TrainerState {
  step: number;
  params: NamedValues;
  ema: NamedValues;
  batchStats: NamedValues;
  optimizer: AdamWState;
  /** Every random stream's position. */
  streams: Record<keyof TrainingStreams, RngState>;
  /** The loss summed (in float32, as on the device) over the steps since the last log, and their count. */
  loss: { sum: number | null; steps: number };
}

/** Every `every` steps (after that step's log), a run hands its state to `take`. */
export interface Snapshots<S> {
  every: number;
  take: (state: S) => void;
}

/** One worker of a data-parallel run: it computes rows [start, end) of each batch. */
export interface TrainingShard {
  start: number;
  end: number;
  reducer: AllReduce;
}

export class ThreadTrainer {
  readonly model: VelocityModel;
  readonly ema: ParameterEMA;
  private readonly optimizer: AdamW;
  private readonly streams: TrainingStreams;
  /** The shard as the gradient computation sees it. */
  private readonly batchShard?: BatchShard;
  private stepCount = 0;
  private lossSum: tf.Scalar | null = null;
  private lossCount = 0;

  constructor(
    readonly mixture: GaussianMixture,
    readonly scheduler: DDPMScheduler,
    readonly config: TrainConfig,
    modelConfig: Partial<VelocityModelConfig>,
    private readonly shard?: TrainingShard,
  ) {
    validateTrainConfig(config);
    // One seed, five streams: the data, the diffusion noise, the timesteps and dropout never share bits.
    this.streams = trainingStreams(config.seed);
    this.model = new VelocityModel({ ...modelConfig, numTimesteps: scheduler.numTrainTimesteps }, this.streams.init);
    this.optimizer = new AdamW(this.model.params, { weightDecay: config.weightDecay, clipNorm: config.clipNorm });
    this.ema = new ParameterEMA(this.model.params, config.emaDecay);
    if (shard) {
      const { reducer } = shard;
      const allReduce = (xs: Float32Array[]) => {
        const sums = reducer.sumConcatenated(xs);
        let at = 0;
        return xs.map((x) => {
          const part = sums.subarray(at, at + x.length);
          at += x.length;
          return part;
        });
      };
      this.batchShard = { start: shard.start, total: config.batchSize, allReduce };
    }
  }

  get step(): number {
    return this.stepCount;
  }

  learningRate(step: number): number {
    return learningRateAt(step, learningRateSchedule(this.config));
  }

  /** The next batch's data, diffusion noise and timesteps (all rows, also for a shard). */
  drawBatch(): { x0: Float32Array; noise: Float32Array; timesteps: Int32Array } {
    const { batchSize } = this.config;
    const draws = this.config.diffusionNoise === 'data-draw' ? new Float32Array(batchSize) : undefined;
    const x0 = this.mixture.sample(batchSize, this.streams.data, draws);
    const noise = draws ?? this.streams.noise.normals(batchSize);
    return { x0, noise, timesteps: this.streams.timesteps.ints(batchSize, this.scheduler.numTrainTimesteps) };
  }

  /** One optimisation step. The loss stays on the device (summed for the next log). */
  trainStep(): void {
    // The whole batch is drawn even by a shard, so every worker's streams stay in step.
    const { start, end } = this.shard ?? { start: 0, end: this.config.batchSize };
    const B = end - start;
    const batch = this.drawBatch();
    const x0 = tf.tensor2d(batch.x0.subarray(start, end), [B, 1]);
    const noise = tf.tensor2d(batch.noise.subarray(start, end), [B, 1]);
    const timesteps = batch.timesteps.subarray(start, end);
    const target = targetFunction(
      this.config.target,
      { mixture: this.mixture, scheduler: this.scheduler, referenceSize: this.config.referenceSize },
      batch,
      start,
      end,
    );
    const lr = this.learningRate(this.stepCount);
    const gradients = GRADIENT_FUNCTIONS[this.config.gradients];
    const { loss, grads, moments } = gradients(
      this.model,
      this.scheduler,
      { x0, noise, timesteps, target },
      this.streams.dropout,
      this.batchShard,
    );
    tf.dispose([x0, noise]);
    // A non-finite loss poisons every parameter at this update: stop here rather than run the
    // remaining steps on NaN. (The fast gradients' loss is already on the host; reading it is free.)
    const value = loss.dataSync()[0];
    if (!Number.isFinite(value)) {
      tf.dispose([loss, ...grads.values()]);
      disposeMoments(moments);
      throw new TrainingDiverged(this.divergedMessage(value));
    }
    this.model.updateBatchStats(moments);
    disposeMoments(moments);
    this.optimizer.apply(this.model.params, grads, lr);
    tf.dispose([...grads.values()]);
    this.ema.update(this.model.params);
    const prev = this.lossSum;
    this.lossSum = prev ? (tf.add(prev, loss) as tf.Scalar) : (tf.clone(loss) as tf.Scalar);
    tf.dispose([prev, loss].filter((x): x is tf.Scalar => x !== null));
    this.lossCount += 1;
    this.stepCount += 1;
  }

  /**
   * Train to the configured number of steps (or until `signal` aborts), calling `onLog` every
   * `logEvery` steps and snapshots.take every snapshots.every steps. Yields to the event loop at
   * each log so notebook displays can update.
   */
  async run(onLog: (log: TrainLog) => void, signal?: AbortSignal, snapshots?: Snapshots<TrainerState>): Promise<void> {
    const start = performance.now();
    const startStep = this.stepCount;
    while (this.stepCount < this.config.steps) {
      if (this.aborted(signal)) break;
      this.trainStep();
      if (this.stepCount % this.config.logEvery === 0 || this.stepCount === this.config.steps) {
        const elapsed = (performance.now() - start) / 1000;
        const done = this.stepCount - startStep;
        onLog({
          step: this.stepCount,
          loss: this.takeMeanLoss(),
          learningRate: this.learningRate(this.stepCount - 1),
          elapsed,
          remaining: (elapsed / done) * (this.config.steps - this.stepCount),
        });
        await new Promise((resolve) => setImmediate(resolve));
      }
      // after the log, so that the state's loss sum and the logs handed out meet at its step
      if (snapshots && this.stepCount % snapshots.every === 0) snapshots.take(this.exportState());
    }
  }

  /** The state this run's next steps depend on (TrainerState). */
  exportState(): TrainerState {
    const streams = Object.fromEntries(Object.entries(this.streams).map(([name, rng]) => [name, rng.getState()]));
    return {
      step: this.stepCount,
      params: tensorValues(this.model.params),
      ema: tensorValues(this.ema.values),
      batchStats: tensorValues(this.model.batchStats),
      optimizer: this.optimizer.exportState(),
      streams: streams as TrainerState['streams'],
      loss: { sum: this.lossSum ? this.lossSum.dataSync()[0] : null, steps: this.lossCount },
    };
  }

  /** Continue from a state taken with exportState by a trainer of the same configuration (here or on another thread). */
  importState(state: TrainerState): void {
    restoreValues(this.model.params, state.params);
    restoreValues(this.ema.values, state.ema);
    restoreValues(this.model.batchStats, state.batchStats);
    this.optimizer.importState(state.optimizer);
    // (Rng.setState refuses the state of another stream, or of another seed)
    for (const [name, rng] of Object.entries(this.streams)) {
      const saved = state.streams[name as keyof TrainingStreams];
      if (!saved) throw new Error(`ThreadTrainer.importState: the state has no position of the ${name} stream`);
      rng.setState(saved);
    }
    this.lossSum?.dispose();
    this.lossSum = state.loss.sum === null ? null : tf.scalar(state.loss.sum);
    this.lossCount = state.loss.steps;
    this.stepCount = state.step;
  }

  dispose(): void {
    this.lossSum?.dispose();
    this.ema.dispose();
    this.model.dispose();
  }

  /** Whether to stop: workers vote, so that any one of them seeing the abort stops all. */
  private aborted(signal?: AbortSignal): boolean {
    if (this.shard) return this.shard.reducer.sum([signal?.aborted ? 1 : 0])[0] > 0;
    return signal?.aborted ?? false;
  }

  /** Why training stopped at this step, and what to change. */
  private divergedMessage(loss: number): string {
    const c = this.config;
    return (
      `Training stopped at step ${this.stepCount + 1} of ${c.steps}: the loss is ${loss}, so the parameters have diverged ` +
      `(learning rate ${this.learningRate(this.stepCount).toExponential(2)} at this step, peak learningRate ${c.learningRate}). ` +
      'The usual cause is a learning rate too high (the recipes use 3e-3 or less): lower learningRate, or give it more warmupSteps. ' +
      'If a small learning rate diverges too, check the data: a mixture with means or stds of extreme size overflows float32.'
    );
  }

  private takeMeanLoss(): number {
    if (!this.lossSum) return NaN;
    const mean = this.lossSum.dataSync()[0] / this.lossCount;
    this.lossSum.dispose();
    this.lossSum = null;
    this.lossCount = 0;
    return mean;
  }
}

/** Give `variables` the values of `values`, which must have exactly their names and sizes. */
function restoreValues(variables: Map<string, tf.Variable>, values: NamedValues): void {
  const layout = new FlatLayout(variables);
  layout.write(layout.join(values), variables);
}
