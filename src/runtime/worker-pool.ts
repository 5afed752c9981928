// One worker thread per job, for work that runs to its end (data-parallel training, DDPM sampling
// by blocks of rows), and its rules: each worker answers with { type: 'done' } or { type: 'error',
// message }; the first failure (an error message, an uncaught exception, a worker that exits
// before its answer, an error thrown by onMessage) fails the run; and no worker outlives the run.
// A worker is never terminated while it may be computing: terminate() in the middle of a worker's
// tfjs-node work can kill the whole process with SIGSEGV (a training run stopped by a failed
// snapshot did, about once in 60 under load). So after a failure the pool first asks the workers to stop (`stop`), waits for each to answer or
// exit, and terminates only what is then idle. (A predictor called synchronously cannot wait for
// messages: its helper threads are driven through shared memory instead,
// src/sample/parallel/predictor.ts.)
import { Worker } from 'node:worker_threads';

export type PoolMessage = { type: 'done' } | { type: 'error'; message: string } | { type: string };

export interface PoolOptions<M> {
  /** Every message other than an answer; an error it throws fails the run. */
  onMessage?: (message: M, index: number) => void;
  /**
   * Asks every worker to end soon after a failure (for example by a flag in shared memory that
   * it checks between steps), after which each answers or exits. Without it, workers are
   * terminated at once, which is safe only for workers that run no native code.
   */
  stop?: () => void;
  /** How long to wait for stopped workers before terminating them anyway (ms). */
  stopGraceMs?: number;
}

/**
 * Runs `script` once per job (as its workerData) and resolves with each worker's 'done' message,
 * in job order.
 */
export async function runWorkerPool<M extends PoolMessage>(
  script: string,
  jobs: unknown[],
  label: string,
  { onMessage = () => {}, stop, stopGraceMs = 60_000 }: PoolOptions<M> = {},
): Promise<Extract<M, { type: 'done' }>[]> {
  const workers = jobs.map((job) => new Worker(script, { workerData: job }));
  // each resolves once its worker has answered or exited: from then on it runs nothing of ours
  const ended: Promise<void>[] = [];
  const answers = workers.map((worker, index) => {
    let end = () => {};
    ended.push(new Promise<void>((resolve) => (end = resolve)));
    return new Promise<Extract<M, { type: 'done' }>>((resolve, reject) => {
      worker.on('message', (m: M) => {
        if (m.type === 'done') {
          end();
          resolve(m as Extract<M, { type: 'done' }>);
        } else if (m.type === 'error') {
          end();
          reject(new Error(`${label} worker: ${(m as { message: string }).message}`));
        } else {
          try {
            onMessage(m, index);
          } catch (e) {
            reject(e);
          }
        }
      });
      worker.on('error', (e) => {
        end();
        reject(e);
      });
      // after 'done' this changes nothing; before it, the worker died without answering
      worker.on('exit', (code) => {
        end();
        reject(new Error(`${label} worker exited with code ${code} before it answered`));
      });
    });
  });
  try {
    return await Promise.all(answers);
  } catch (e) {
    if (stop) {
      stop();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(ended), new Promise((resolve) => (timer = setTimeout(resolve, stopGraceMs)))]);
      clearTimeout(timer);
    }
    throw e;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
