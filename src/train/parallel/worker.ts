// Worker thread entry of coordinator.ts: trains one block of rows of every batch.
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../../runtime/backend';
import { GaussianMixture } from '../../math/mixture';
import { DDPMScheduler } from '../../diffusion/scheduler';
import { ThreadTrainer, TrainingDiverged, type TrainerState } from '../thread-trainer';
import { AllReduce } from './allreduce';
import type { TrainWorkerMessage, WorkerTrainJob } from './job';

const job = workerData as WorkerTrainJob;
const post = (m: TrainWorkerMessage) => parentPort!.postMessage(m);

async function main() {
  await initBackend(job.backend);
  const reducer = new AllReduce(job.shared, job.index);
  const trainer = new ThreadTrainer(
    new GaussianMixture(job.mixture),
    new DDPMScheduler(job.scheduler),
    job.train,
    job.model,
    {
      start: job.start,
      end: job.end,
      reducer,
    },
  );
  trainer.importState(job.state);
  const abort = new Int32Array(job.abort);
  const signal = {
    get aborted() {
      return Atomics.load(abort, 0) === 1;
    },
  } as AbortSignal;
  // every worker holds the same state; the first one reports it
  const first = job.index === 0;
  const snapshots =
    first && job.snapshotEvery !== null
      ? { every: job.snapshotEvery, take: (state: TrainerState) => post({ type: 'snapshot', state }) }
      : undefined;
  await trainer.run(
    (log) => {
      if (first) post({ type: 'log', log });
    },
    signal,
    snapshots,
  );
  post({ type: 'done', state: first ? trainer.exportState() : null });
}

main().catch((e: unknown) => {
  if (e instanceof TrainingDiverged) post({ type: 'diverged', message: e.message });
  else post({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
});
