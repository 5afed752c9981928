// Worker thread entry of src/sample/parallel/ddpm-model.ts: samples one block of rows.
import { parentPort, workerData } from 'node:worker_threads';
import { runJob, type WorkerJob, type WorkerMessage } from './job';

const post = (m: WorkerMessage) => parentPort!.postMessage(m);
runJob(workerData as WorkerJob, post).catch((e: unknown) =>
  post({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
);
