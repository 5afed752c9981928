// The trained network as a predictor whose every call is split by rows over this thread and
// helper worker threads. The samplers call a predictor synchronously, once per step, so the
// helpers are driven through shared memory: this thread writes a block of x_t and wakes a helper
// (Atomics.notify), computes its own block meanwhile, then waits (Atomics.wait) for the helper's
// block. A row's prediction does not depend on the rows beside it, so the output equals the
// single-threaded modelVelocity's, whatever the split (test/parallel-predictor.test.ts).
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { defaultWorkers } from '../../runtime/backend';
import type { TensorMap } from '../../model/parameters';
import type { VelocityModel } from '../../model/model';
import { modelVelocity, type FoldedPredictor } from '../../model/folded';
import { predictVelocity } from '../../diffusion/predictor';
import { CONTROL, HelperState, type HelperData } from './helper-protocol';
import { copyModel, type ModelCopy } from './model-copy';

/** Rows each helper can take per call; larger calls are done in pieces. */
const HELPER_CAPACITY = 1 << 18;
/** Below this many rows a call is computed on this thread alone: waking a helper costs more than it saves. */
const MIN_SPLIT_ROWS = 2048;
/** How long a helper may take to start (load the backend, rebuild the model) or to answer one call. */
const HELPER_TIMEOUT_MS = 60_000;

interface Helper {
  worker: Worker;
  control: Int32Array;
  input: Float32Array;
  output: Float32Array;
  errorText: Uint8Array;
}

export interface ParallelPredictorOptions {
  /** Threads in all, this one included (default: one per core, at most 4). 1: no helpers. */
  threads?: number;
}

/**
 * modelVelocity(model, params) computed on several threads. The helpers hold a copy of the
 * parameters and BatchNorm statistics as they are now: a call after either has been reassigned
 * throws (make a new predictor). dispose() stops the helpers; they never keep the process alive.
 */
export function parallelModelVelocity(
  model: VelocityModel,
  params?: TensorMap,
  o: ParallelPredictorOptions = {},
): FoldedPredictor {
  const threads = o.threads ?? defaultWorkers(4);
  if (!(Number.isInteger(threads) && threads >= 1))
    throw new Error(`parallelModelVelocity: threads must be an integer ≥ 1, got ${threads}`);
  const local = modelVelocity(model, params);
  const sources = (): object[] =>
    [...(params ?? model.params).values(), ...model.batchStats.values()].map((s) => s.dataId);
  const snapshot = sources();
  const copy = copyModel(model, params);
  let helpers: Helper[] = Array.from({ length: threads - 1 }, () => startHelper(copy));
  let ready = false;

  const stop = () => {
    for (const h of helpers) {
      Atomics.store(h.control, CONTROL.command, 1);
      Atomics.add(h.control, CONTROL.request, 1);
      Atomics.notify(h.control, CONTROL.request);
      void h.worker.terminate();
    }
    helpers = [];
  };

  const predictRows = (x: Float32Array, t: number): Float32Array => {
    const parts = helpers.length + 1;
    const block = Math.ceil(x.length / parts);
    const started = helpers.map((h, i) => {
      const rows = x.subarray((i + 1) * block, Math.min((i + 2) * block, x.length));
      h.input.set(rows);
      Atomics.store(h.control, CONTROL.timestep, t);
      Atomics.store(h.control, CONTROL.count, rows.length);
      const request = Atomics.add(h.control, CONTROL.request, 1) + 1;
      Atomics.notify(h.control, CONTROL.request);
      return { h, rows: rows.length, request };
    });
    const out = new Float32Array(x.length);
    out.set(predictVelocity(local, x.subarray(0, block), t));
    started.forEach(({ h, rows, request }, i) => {
      awaitHelper(h, CONTROL.done, request);
      out.set(h.output.subarray(0, rows), (i + 1) * block);
    });
    return out;
  };

  return {
    predict(xt: tf.Tensor2D, t: number): tf.Tensor2D {
      const n = xt.shape[0];
      if (helpers.length === 0 || n < MIN_SPLIT_ROWS) return local.predict(xt, t);
      const now = sources();
      if (now.length !== snapshot.length || now.some((s, i) => s !== snapshot[i])) {
        throw new Error(
          'parallelModelVelocity: the parameters or BatchNorm statistics were reassigned after this predictor was made; make a new one',
        );
      }
      if (!Number.isInteger(t) || t < 0 || t >= model.config.numTimesteps) {
        return local.predict(xt, t); // the same error as the single-threaded predictor
      }
      if (!ready) {
        for (const h of helpers) awaitHelper(h, CONTROL.state, HelperState.Ready);
        ready = true;
      }
      const x = xt.dataSync() as Float32Array;
      const piece = HELPER_CAPACITY * (helpers.length + 1);
      const out = new Float32Array(n);
      for (let s = 0; s < n; s += piece) out.set(predictRows(x.subarray(s, Math.min(s + piece, n)), t), s);
      return tf.tensor2d(out, [n, 1]);
    },
    dispose() {
      stop();
      local.dispose();
    },
  };
}

function startHelper(copy: ModelCopy): Helper {
  const control = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * CONTROL.length));
  const input = new Float32Array(new SharedArrayBuffer(Float32Array.BYTES_PER_ELEMENT * HELPER_CAPACITY));
  const output = new Float32Array(new SharedArrayBuffer(Float32Array.BYTES_PER_ELEMENT * HELPER_CAPACITY));
  const errorText = new Uint8Array(new SharedArrayBuffer(4096));
  const workerData: HelperData = { ...copy, control, input, output, errorText };
  const worker = new Worker(path.join(__dirname, 'helper.js'), { workerData });
  worker.unref(); // a predictor nobody disposed must not keep the process alive
  // A helper that fails says so in shared memory (the waiting thread cannot receive events);
  // one that dies without a word is caught by the timeout.
  worker.on('error', () => {});
  return { worker, control, input, output, errorText };
}

/** Blocks until `control[slot]` reaches `value`; throws the helper's error, or after the timeout. */
function awaitHelper(h: Helper, slot: number, value: number): void {
  const deadline = Date.now() + HELPER_TIMEOUT_MS;
  for (;;) {
    const current = Atomics.load(h.control, slot);
    if (current === value) return;
    if (Atomics.load(h.control, CONTROL.state) === HelperState.Failed) {
      const length = Atomics.load(h.control, CONTROL.errorLength);
      throw new Error(
        `parallelModelVelocity: a helper thread failed: ${Buffer.from(h.errorText.slice(0, length)).toString('utf8')}`,
      );
    }
    const left = deadline - Date.now();
    if (left <= 0)
      throw new Error(`parallelModelVelocity: a helper thread did not answer within ${HELPER_TIMEOUT_MS / 1000} s`);
    Atomics.wait(h.control, slot, current, Math.min(left, 1000));
  }
}
