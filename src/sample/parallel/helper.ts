// Helper thread of src/sample/parallel/predictor.ts: rebuilds the model, then answers requests
// found in shared memory until told to stop. Every failure, loading included, is written to
// shared memory, since the thread waiting for the answer cannot receive messages meanwhile.
import { workerData } from 'node:worker_threads';
import { CONTROL, HelperState, type HelperData } from './helper-protocol';

const data = workerData as HelperData;

function fail(e: unknown): void {
  const text = Buffer.from(e instanceof Error ? (e.stack ?? e.message) : String(e), 'utf8').subarray(
    0,
    data.errorText.length,
  );
  data.errorText.set(text);
  Atomics.store(data.control, CONTROL.errorLength, text.length);
  Atomics.store(data.control, CONTROL.state, HelperState.Failed);
  for (const slot of [CONTROL.state, CONTROL.done]) Atomics.notify(data.control, slot);
}

async function serve(): Promise<void> {
  const { predictorFromCopy } = await import('./model-copy');
  const { predictVelocity } = await import('../../diffusion/predictor');
  const predictor = await predictorFromCopy(data);
  const { control } = data;
  Atomics.store(control, CONTROL.state, HelperState.Ready);
  Atomics.notify(control, CONTROL.state);
  let answered = 0;
  for (;;) {
    Atomics.wait(control, CONTROL.request, answered);
    const request = Atomics.load(control, CONTROL.request);
    if (Atomics.load(control, CONTROL.command) === 1) return;
    const count = Atomics.load(control, CONTROL.count);
    data.output.set(predictVelocity(predictor, data.input.subarray(0, count), Atomics.load(control, CONTROL.timestep)));
    answered = request;
    Atomics.store(control, CONTROL.done, request);
    Atomics.notify(control, CONTROL.done);
  }
}

serve().catch(fail);
