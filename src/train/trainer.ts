// Training the velocity model: fresh mixture batches, uniform timesteps, v-prediction MSE,
// global-norm clipping + AdamW with a linear schedule, EMA of the parameters.
import * as tf from '@tensorflow/tfjs';
import type { GaussianMixture } from '../math/mixture';
import { velocityLossAndGrads } from '../model/backprop';
import { disposeMoments, VelocityModel, type BatchMoments, type VelocityModelConfig } from '../model/model';
import { assignValues, tensorValues, type NamedValues } from '../model/tensor-values';
import { AdamW, learningRateAt, ParameterEMA, type LinearScheduleOptions } from './optim';
import type { AllReduce } from './parallel/allreduce';
import { runParallel } from './parallel/coordinator';
import { trainingStreams, type TrainingStreams } from '../math/rng';
import type { DDPMScheduler } from '../diffusion/scheduler';

export interface TrainConfig {
  steps: number;
  batchSize: number;
  seed: number;
  /** Peak learning rate. */
  learningRate: number;
  /** Learning rate at the end of the run. */
  endLearningRate: number;
  warmupSteps: number;
  /** Steps held at the peak before the decay starts. */
  holdSteps: number;
  emaDecay: number;
  weightDecay: number;
  clipNorm: number;
  /** Report (and read the loss back from the device) every this many steps. */
  logEvery: number;
  /**
   * How gradients are computed: 'fast' (hand-written backpropagation, src/fast.ts) or 'autograd'
   * (tf.variableGrads over VelocityModel.forward). Same mathematics and the same random streams;
   * results agree within float32 rounding.
   */
  gradients: GradientMode;
  /**
   * Worker threads for data-parallel training (src/parallel-train.ts): each takes a block of every
   * batch, and batch statistics and gradients are summed across them, so the mathematics is that
   * of one thread. 1 trains on this thread. Needs the 'fast' gradients.
   */
  workers: number;
  /**
   * Where the diffusion noise comes from: 'independent' (its own stream), or 'data-draw', the
   * tutorial's key reuse, where the noise is the standard normal that drew x0 (src/key-reuse.ts).
   * Only for demonstrating that bug.
   */
  diffusionNoise: 'independent' | 'data-draw';
}

/** This trainer is one worker of a data-parallel run: it computes rows [start, end) of each batch. */
export interface TrainerShard {
  start: number;
  end: number;
  reducer: AllReduce;
}

export type GradientMode = 'fast' | 'autograd';

/** The tutorial's optimiser settings: 3e-4, held 500 steps, then linear decay; EMA 0.9. */
export const TUTORIAL_TRAINING: TrainConfig = {
  steps: 5000,
  batchSize: 4096,
  seed: 1,
  learningRate: 3e-4,
  endLearningRate: 0,
  warmupSteps: 0,
  holdSteps: 500,
  emaDecay: 0.9,
  weightDecay: 1e-4,
  clipNorm: 1.0,
  logEvery: 50,
  gradients: 'fast',
  workers: 1,
  diffusionNoise: 'independent',
};

export interface TrainLog {
  step: number;
  /** Mean training loss over the steps since the previous log. */
  loss: number;
  learningRate: number;
  /** Seconds since the run started. */
  elapsed: number;
  /** Estimated seconds left at the current pace. */
  remaining: number;
}

export class Trainer {
  readonly config: TrainConfig;
  readonly model: VelocityModel;
  readonly ema: ParameterEMA;
  readonly history: TrainLog[] = [];
  private readonly optimizer: AdamW;
  private readonly streams: TrainingStreams;
  private stepCount = 0;
  private lossSum: tf.Scalar | null = null;
  private lossCount = 0;
  /** Set when a parallel run has replaced the parameters: this thread's optimizer state is stale. */
  private trainedElsewhere = false;

  constructor(
    readonly mixture: GaussianMixture,
    readonly scheduler: DDPMScheduler,
    config: Partial<TrainConfig> = {},
    modelConfig: Partial<VelocityModelConfig> = {},
    private readonly shard?: TrainerShard,
  ) {
    this.config = { ...TUTORIAL_TRAINING, ...config };
    validateTrainConfig(this.config);
    // One seed, five streams: the data, the diffusion noise, the timesteps and dropout never share bits.
    this.streams = trainingStreams(this.config.seed);
    this.model = new VelocityModel({ ...modelConfig, numTimesteps: scheduler.numTrainTimesteps }, this.streams.init);
    this.optimizer = new AdamW(this.model.params, { weightDecay: this.config.weightDecay, clipNorm: this.config.clipNorm });
    this.ema = new ParameterEMA(this.model.params, this.config.emaDecay);
  }

  get step(): number {
    return this.stepCount;
  }

  learningRate(step: number): number {
    const c = this.config;
    return learningRateAt(step, {
      peak: c.learningRate,
      end: c.endLearningRate,
      warmupSteps: c.warmupSteps,
      holdSteps: c.holdSteps,
      decaySteps: Math.max(c.steps - c.warmupSteps - c.holdSteps, 0),
    } satisfies LinearScheduleOptions);
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
    if (this.trainedElsewhere) throw new Error('Trainer: trained by worker threads; its optimizer state is not on this thread');
    const { batchSize } = this.config;
    // The whole batch is drawn even by a shard, so every worker's streams stay in step.
    const rows = this.shard ?? { start: 0, end: batchSize };
    const B = rows.end - rows.start;
    const take = <T extends Float32Array | Int32Array>(a: T) => a.subarray(rows.start, rows.end) as T;
    const batch = this.drawBatch();
    const x0 = tf.tensor2d(take(batch.x0), [B, 1]);
    const noise = tf.tensor2d(take(batch.noise), [B, 1]);
    const tHost = take(batch.timesteps);
    const t = tf.tensor1d(tHost, 'int32');
    const lr = this.learningRate(this.stepCount);
    let moments: BatchMoments;
    let value: tf.Scalar;
    let named: Map<string, tf.Tensor>;
    if (this.config.gradients === 'fast') {
      const xt = this.scheduler.addNoise(x0, noise, t) as tf.Tensor2D;
      const target = this.scheduler.getVelocity(x0, noise, t) as tf.Tensor2D;
      const reducer = this.shard?.reducer;
      const shard = reducer && {
        start: rows.start,
        total: batchSize,
        allReduce: (x: tf.Tensor) => tf.tensor(reducer.sum(x.dataSync()), x.shape),
      };
      const r = velocityLossAndGrads(this.model, { xt, target, timesteps: tHost, dropoutRng: this.streams.dropout, shard });
      tf.dispose([xt, target]);
      ({ loss: value, grads: named, moments } = r);
    } else {
      let m: BatchMoments | null = null;
      const vg = tf.variableGrads(() => {
        const xt = this.scheduler.addNoise(x0, noise, t) as tf.Tensor2D;
        const target = this.scheduler.getVelocity(x0, noise, t);
        const out = this.model.forward(xt, t, { training: true, dropoutRng: this.streams.dropout });
        m = out.moments;
        return tf.mean(tf.square(tf.sub(out.output, target))) as tf.Scalar;
      }, [...this.model.params.values()]);
      value = vg.value;
      moments = m!;
      // variableGrads keys gradients by tfjs's internal variable names; map them to ours
      named = new Map([...this.model.params].map(([name, v]) => [name, vg.grads[v.name]]));
    }
    tf.dispose([x0, noise, t]);
    this.model.updateBatchStats(moments);
    disposeMoments(moments);
    const norm = this.optimizer.apply(this.model.params, named, lr);
    tf.dispose([norm, ...named.values()]);
    this.ema.update(this.model.params);
    const prev = this.lossSum;
    this.lossSum = prev ? (tf.add(prev, value) as tf.Scalar) : (tf.clone(value) as tf.Scalar);
    tf.dispose([prev, value].filter((x): x is tf.Scalar => x !== null));
    this.lossCount += 1;
    this.stepCount += 1;
  }

  /**
   * Train for the configured number of steps (or until `signal` aborts), calling `onLog` every
   * `logEvery` steps. Yields to the event loop at each log so notebook displays can update.
   */
  async run(onLog?: (log: TrainLog) => void, signal?: AbortSignal): Promise<TrainLog[]> {
    if (this.config.workers > 1 && !this.shard) {
      await runParallel(this, (log) => {
        this.history.push(log);
        onLog?.(log);
      }, signal);
      return this.history;
    }
    const start = performance.now();
    const startStep = this.stepCount;
    while (this.stepCount < this.config.steps) {
      // workers stop together: any one of them seeing the abort stops all
      const aborted = this.shard ? this.shard.reducer.sum([signal?.aborted ? 1 : 0])[0] > 0 : signal?.aborted;
      if (aborted) break;
      this.trainStep();
      if (this.stepCount % this.config.logEvery === 0 || this.stepCount === this.config.steps) {
        const elapsed = (performance.now() - start) / 1000;
        const done = this.stepCount - startStep;
        const log: TrainLog = {
          step: this.stepCount,
          loss: this.takeMeanLoss(),
          learningRate: this.learningRate(this.stepCount - 1),
          elapsed,
          remaining: (elapsed / done) * (this.config.steps - this.stepCount),
        };
        this.history.push(log);
        onLog?.(log);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return this.history;
  }

  /** Take over the state a parallel run ended with (parameters, EMA, BatchNorm statistics, step). */
  adoptParallelResult(state: TrainedState): void {
    assignValues(this.model.params, state.params);
    assignValues(this.ema.values, state.ema);
    assignValues(this.model.batchStats, state.batchStats);
    this.stepCount = state.step;
    this.trainedElsewhere = true;
  }

  /** Parameters, EMA and BatchNorm statistics as arrays (what a worker hands back). */
  exportState(): TrainedState {
    return { step: this.stepCount, params: tensorValues(this.model.params), ema: tensorValues(this.ema.values), batchStats: tensorValues(this.model.batchStats) };
  }

  private takeMeanLoss(): number {
    if (!this.lossSum) return NaN;
    const mean = this.lossSum.dataSync()[0] / this.lossCount;
    this.lossSum.dispose();
    this.lossSum = null;
    this.lossCount = 0;
    return mean;
  }

  dispose(): void {
    this.lossSum?.dispose();
    this.optimizer.dispose();
    this.ema.dispose();
    this.model.dispose();
  }
}

export interface TrainedState {
  step: number;
  params: NamedValues;
  ema: NamedValues;
  batchStats: NamedValues;
}

function validateTrainConfig(c: TrainConfig): void {
  const positiveInt = ['steps', 'batchSize', 'logEvery'] as const;
  for (const k of positiveInt) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new Error(`TrainConfig: ${k} must be a positive integer, got ${c[k]}`);
  }
  for (const k of ['warmupSteps', 'holdSteps', 'seed'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0) throw new Error(`TrainConfig: ${k} must be an integer ≥ 0, got ${c[k]}`);
  }
  for (const k of ['learningRate', 'endLearningRate', 'weightDecay', 'clipNorm'] as const) {
    if (!(Number.isFinite(c[k]) && c[k] >= 0)) throw new Error(`TrainConfig: ${k} must be a finite number ≥ 0, got ${c[k]}`);
  }
  if (!(c.emaDecay >= 0 && c.emaDecay < 1)) throw new Error(`TrainConfig: emaDecay must be in [0, 1), got ${c.emaDecay}`);
  if (c.gradients !== 'fast' && c.gradients !== 'autograd') throw new Error(`TrainConfig: gradients must be 'fast' or 'autograd', got ${c.gradients}`);
  if (!Number.isInteger(c.workers) || c.workers < 1) throw new Error(`TrainConfig: workers must be a positive integer, got ${c.workers}`);
  if (c.workers > 1 && c.gradients !== 'fast') throw new Error("TrainConfig: workers > 1 needs gradients: 'fast'");
  if (c.diffusionNoise !== 'independent' && c.diffusionNoise !== 'data-draw') {
    throw new Error(`TrainConfig: diffusionNoise must be 'independent' or 'data-draw', got ${c.diffusionNoise}`);
  }
  if (c.workers > c.batchSize) throw new Error(`TrainConfig: ${c.workers} workers for a batch of ${c.batchSize}`);
}
