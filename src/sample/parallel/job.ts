// The work of one sampling worker thread (src/sample/parallel/worker.ts): what the coordinator
// sends, what the worker answers, and the run itself.
import { Rng, type RngState } from '../../math/rng';
import { ddpmSample } from '../ddpm';
import { DDPMScheduler, type DDPMSchedulerConfig } from '../../diffusion/scheduler';
import { predictorFromCopy, type ModelCopy } from './model-copy';

/** What a worker needs to rebuild the model and its block of the run. */
export interface WorkerJob extends ModelCopy {
  schedulerConfig: DDPMSchedulerConfig;
  timesteps: number[];
  n: number;
  start: number;
  end: number;
  rng: RngState;
  snapshotAt: number[];
  progressEvery: number;
  /** Int32 flag the main thread sets to 1 to stop the run. */
  stop: SharedArrayBuffer;
}

export type WorkerMessage =
  | { type: 'progress'; done: number; total: number }
  | { type: 'done'; samples: Float32Array; snapshots: [number, Float32Array][]; rng: RngState }
  | { type: 'error'; message: string };

/** A view of a stream that draws `total` normals per call and returns the block [start, start + m). */
export function rowBlock(rng: Rng, total: number, start: number): Pick<Rng, 'normals'> {
  return {
    normals(m: number) {
      return rng.normals(total).subarray(start, start + m);
    },
  };
}

/** Rebuild the job's model and run its block of rows (called inside the worker). */
export async function runJob(job: WorkerJob, post: (m: WorkerMessage) => void): Promise<void> {
  const predictor = await predictorFromCopy(job);
  const scheduler = new DDPMScheduler(job.schedulerConfig);
  scheduler.timesteps = job.timesteps;
  const rng = Rng.fromState(job.rng);
  const stop = new Int32Array(job.stop);
  const result = await ddpmSample({
    predictor,
    scheduler,
    n: job.end - job.start,
    rng: rowBlock(rng, job.n, job.start),
    snapshotAt: job.snapshotAt,
    progressEvery: job.progressEvery,
    onProgress: (done, total) => post({ type: 'progress', done, total }),
    signal: {
      get aborted() {
        return Atomics.load(stop, 0) === 1;
      },
    },
  });
  post({ type: 'done', samples: result.samples, snapshots: [...result.snapshots], rng: rng.getState() });
}
