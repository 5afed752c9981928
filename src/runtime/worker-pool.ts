// One worker thread per job, for work that runs to its end (data-parallel training, DDPM sampling
// by blocks of rows), and its rules: each worker answers with { type: 'done' } or { type: 'error',
// message }; the first failure (an error message, an uncaught exception, a worker that exits
// before its answer) fails the run; and every worker is terminated when the run ends, so none is left computing for nobody or waiting at a
// barrier for a worker that died. (A predictor called synchronously cannot wait for messages: its
// helper threads are driven through shared memory instead, src/sample/parallel/predictor.ts.)
import { Worker } from 'node:worker_threads';

export type PoolMessage = { type: 'done' } | { type: 'error'; message: string } | { type: string };

/**
 * Runs `script` once per job (as its workerData) and resolves with each worker's 'done' message,
 * in job order. Other messages go to `onMessage`, which may return an Error to fail the run.
 */
export async function runWorkerPool<M extends PoolMessage>(
  script: string,
  jobs: unknown[],
  label: string,
  // biome-ignore lint/suspicious/noConfusingVoidType: a handler that only records the message returns nothing
  onMessage: (message: M, index: number) => Error | void = () => {},
): Promise<Extract<M, { type: 'done' }>[]> {
  const workers = jobs.map((job) => new Worker(script, { workerData: job }));
  try {
    return await Promise.all(
      workers.map(
        (worker, index) =>
          new Promise<Extract<M, { type: 'done' }>>((resolve, reject) => {
            worker.on('message', (m: M) => {
              if (m.type === 'done') resolve(m as Extract<M, { type: 'done' }>);
              else if (m.type === 'error') reject(new Error(`${label} worker: ${(m as { message: string }).message}`));
              else {
                const failure = onMessage(m, index);
                if (failure) reject(failure);
              }
            });
            worker.on('error', reject);
            // after 'done' this changes nothing; before it, the worker died without answering
            worker.on('exit', (code) =>
              reject(new Error(`${label} worker exited with code ${code} before it answered`)),
            );
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
