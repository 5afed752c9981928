// DDPM sampling with the trained model on several CPU cores. tfjs's wasm backend runs on one
// thread in Node, but the rows of a sampling run are independent, so worker threads can each
// take a block of rows. Every worker replays the whole noise stream and keeps its own block of
// each draw, so the samples are those of the single-threaded ddpmSample with the same stream,
// whatever the number of workers.
import * as path from 'node:path';
import { defaultWorkers, initBackend } from '../../runtime/backend';
import { runWorkerPool } from '../../runtime/worker-pool';
import type { TensorMap } from '../../model/parameters';
import type { VelocityModel } from '../../model/model';
import type { Rng } from '../../math/rng';
import { modelVelocity } from '../../model/folded';
import { ddpmSample, type DDPMSampleResult } from '../ddpm';
import type { DDPMScheduler } from '../../diffusion/scheduler';
import type { WorkerJob, WorkerMessage } from './job';
import { copyModel } from './model-copy';

export interface ModelSampleOptions {
  model: VelocityModel;
  /** Parameters to sample with (e.g. the EMA copy); the model's own by default. */
  params?: TensorMap;
  scheduler: DDPMScheduler;
  n: number;
  rng: Rng;
  snapshotAt?: number[];
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
  /** Worker threads (default: the number of cores, at most 4). 1 samples on this thread. */
  workers?: number;
}

/** DDPM sampling with the trained model, split over worker threads by rows. */
export async function ddpmSampleModel(o: ModelSampleOptions): Promise<DDPMSampleResult> {
  const workers = Math.max(1, Math.min(o.workers ?? defaultWorkers(4), Math.floor(o.n / 256) || 1));
  if (workers === 1) {
    const predictor = modelVelocity(o.model, o.params);
    try {
      return await ddpmSample({ ...o, predictor });
    } finally {
      predictor.dispose();
    }
  }
  const started = performance.now();
  await initBackend();
  const rngState = o.rng.getState();
  const bounds = Array.from({ length: workers + 1 }, (_, i) => Math.round((i * o.n) / workers));
  const progress = new Array<number>(workers).fill(0);
  const total = o.scheduler.timesteps.length;
  const base = {
    ...copyModel(o.model, o.params),
    schedulerConfig: o.scheduler.config,
    timesteps: o.scheduler.timesteps,
    n: o.n,
    rng: rngState,
    snapshotAt: o.snapshotAt ?? [],
    progressEvery: o.progressEvery ?? 50,
    stop: new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT),
  };
  const jobs = Array.from(
    { length: workers },
    (_, w): WorkerJob => ({ ...base, start: bounds[w], end: bounds[w + 1] }),
  );
  const parts = await runWorkerPool<WorkerMessage>(path.join(__dirname, 'worker.js'), jobs, 'sampling', {
    onMessage: (m, w) => {
      if (m.type !== 'progress') return;
      // report the slowest worker's progress, once per new value
      const before = Math.min(...progress);
      progress[w] = m.done;
      const slowest = Math.min(...progress);
      if (slowest > before) o.onProgress?.(slowest, total);
    },
    stop: () => Atomics.store(new Int32Array(base.stop), 0, 1),
  });
  // Every worker replayed the whole stream: continue the caller's stream from where they ended.
  o.rng.setState(parts[0].rng);
  const samples = new Float32Array(o.n);
  for (const [w, p] of parts.entries()) samples.set(p.samples, bounds[w]);
  const snapshots = new Map<number, Float32Array>();
  for (const t of base.snapshotAt) {
    const full = new Float32Array(o.n);
    for (const [w, p] of parts.entries()) full.set(new Map(p.snapshots).get(t)!, bounds[w]);
    snapshots.set(t, full);
  }
  return { samples, snapshots, seconds: (performance.now() - started) / 1000 };
}
