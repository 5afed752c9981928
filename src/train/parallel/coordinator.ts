// Data-parallel training on worker threads. tfjs's wasm backend uses one thread in Node, so a
// second core is only reachable through a second tfjs instance. Each worker draws the whole batch
// from the run's random streams and keeps its block of rows; every batch sum (BatchNorm
// statistics, the loss, gradients) is added across workers (src/allreduce.ts) before it is used.
// Every worker therefore computes the statistics and gradients of the whole batch and applies the
// same update to its own copy of the parameters: the mathematics of a single-threaded step, with
// float32 sums taken in a different order.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { initBackend, type BackendName } from '../../runtime/backend';
import { createAllReduce, type AllReduceShared } from './allreduce';
import type { MixtureSpec } from '../../math/mixture';
import type { VelocityModelConfig } from '../../model/model';
import type { DDPMSchedulerConfig } from '../../diffusion/scheduler';
import type { TrainConfig, TrainedState, Trainer, TrainLog } from '../trainer';

export interface TrainJob {
  backend: BackendName;
  mixture: MixtureSpec;
  scheduler: DDPMSchedulerConfig;
  train: TrainConfig;
  model: VelocityModelConfig;
  shared: AllReduceShared;
  /** Int32 flag the main thread sets to 1 to stop the run. */
  abort: SharedArrayBuffer;
  index: number;
  start: number;
  end: number;
}

export type TrainWorkerMessage =
  | { type: 'log'; log: TrainLog }
  | { type: 'done'; state: TrainedState | null }
  | { type: 'error'; message: string };

/** Run `trainer`'s configuration on trainer.config.workers threads, then adopt the result. */
export async function runParallel(trainer: Trainer, onLog: (log: TrainLog) => void, signal?: AbortSignal): Promise<void> {
  if (trainer.step !== 0) throw new Error('parallel training starts from step 0');
  const count = trainer.config.workers;
  const { width, timeEmbeddingDim: e } = trainer.model.config;
  // the largest sum: a [width, width] weight gradient, or the first Dense's [1 + e, width]
  const shared = createAllReduce(count, Math.max(width * width, (1 + e) * width, e * e));
  const abort = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  const onAbort = () => Atomics.store(new Int32Array(abort), 0, 1);
  signal?.addEventListener('abort', onAbort);
  const B = trainer.config.batchSize;
  const base = {
    backend: (await initBackend()).name,
    mixture: trainer.mixture.toJSON(),
    scheduler: trainer.scheduler.config,
    train: { ...trainer.config, workers: 1 },
    model: trainer.model.config,
    shared,
    abort,
  };
  const workers = Array.from({ length: count }, (_, index) => {
    const job: TrainJob = { ...base, index, start: Math.round((index * B) / count), end: Math.round(((index + 1) * B) / count) };
    return new Worker(path.join(__dirname, 'worker.js'), { workerData: job });
  });
  try {
    const states = await Promise.all(
      workers.map(
        (w) =>
          new Promise<TrainedState | null>((resolve, reject) => {
            w.on('message', (m: TrainWorkerMessage) => {
              if (m.type === 'log') onLog(m.log);
              else if (m.type === 'done') resolve(m.state);
              else reject(new Error(`training worker: ${m.message}`));
            });
            w.on('error', reject);
            w.on('exit', (code) => reject(new Error(`training worker exited with code ${code}`)));
          }),
      ),
    );
    trainer.adoptParallelResult(states[0]!);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // a worker that failed leaves the others waiting at a barrier: end them all
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
