// Data-parallel training on worker threads. tfjs's wasm backend uses one thread in Node, so a
// second core is only reachable through a second tfjs instance. Each worker draws the whole batch
// from the run's random streams and keeps its block of rows; every batch sum (BatchNorm
// statistics, the loss, gradients) is added across workers (allreduce.ts) before it is used.
// Every worker therefore computes the statistics and gradients of the whole batch and applies the
// same update to its own copy of the parameters: the mathematics of a single-threaded step, with
// float32 sums taken in a different order.
import * as path from 'node:path';
import { initBackend } from '../../runtime/backend';
import { runWorkerPool } from '../../runtime/worker-pool';
import { largestExchange } from '../gradients';
import type { TrainLog } from '../config';
import { TrainingDiverged, type TrainerState } from '../thread-trainer';
import { createAllReduce, stopAllReduce } from './allreduce';
import type { TrainJob, TrainWorkerMessage, WorkerTrainJob } from './job';

/**
 * Run `job` from job.state on job.train.workers threads, reporting the first worker's logs and
 * handing its snapshots (every job.snapshotEvery steps) to `onSnapshot`; returns the state the run
 * ended with (every worker ends with the same one). An error thrown by `onSnapshot` stops the run.
 */
export async function trainInParallel(
  job: TrainJob,
  onLog: (log: TrainLog) => void,
  signal?: AbortSignal,
  onSnapshot?: (state: TrainerState) => void,
): Promise<TrainerState> {
  const count = job.train.workers;
  const shared = createAllReduce(count, largestExchange(job.model));
  const abort = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  const onAbort = () => Atomics.store(new Int32Array(abort), 0, 1);
  signal?.addEventListener('abort', onAbort);
  const B = job.train.batchSize;
  const backend = (await initBackend()).name;
  const jobs = Array.from(
    { length: count },
    (_, index): WorkerTrainJob => ({
      ...job,
      train: { ...job.train, workers: 1 },
      backend,
      shared,
      abort,
      index,
      start: Math.round((index * B) / count),
      end: Math.round(((index + 1) * B) / count),
    }),
  );
  try {
    const answers = await runWorkerPool<TrainWorkerMessage>(path.join(__dirname, 'worker.js'), jobs, 'training', {
      onMessage: (m) => {
        if (m.type === 'log') onLog(m.log);
        else if (m.type === 'snapshot') onSnapshot?.(m.state);
        // every worker sees the same (all-reduced) loss, so each reports the divergence alike
        else if (m.type === 'diverged') throw new TrainingDiverged(m.message);
      },
      stop: () => stopAllReduce(shared),
    });
    return answers[0].state!;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
