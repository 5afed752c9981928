import test from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { runWorkerPool } from '../src/runtime/worker-pool';
import { createAllReduce, stopAllReduce } from '../src/train/parallel/allreduce';

const script = path.join(__dirname, 'fixtures', 'pool-worker.js');

test("runWorkerPool: each worker's answer in job order; other messages go to onMessage", async () => {
  const seen: number[] = [];
  const answers = await runWorkerPool<{ type: 'done'; value: number } | { type: 'progress' }>(
    script,
    ['done', 'done'],
    'test',
    { onMessage: (_m, i) => void seen.push(i) },
  );
  assert.deepEqual(
    answers.map((a) => a.value),
    [1, 1],
  );
  assert.deepEqual(seen.sort(), [0, 1]);
});

test('runWorkerPool: an error message, a worker that exits without answering, or an error thrown by onMessage fails the run, and the others are terminated', async () => {
  // the hanging workers would keep this test file alive if they were not terminated
  await assert.rejects(runWorkerPool(script, ['hang', 'error'], 'test'), /^Error: test worker: it went wrong$/);
  await assert.rejects(
    runWorkerPool(script, ['hang', 'silent-exit'], 'test'),
    /test worker exited with code 0 before it answered/,
  );
  await assert.rejects(
    runWorkerPool(script, ['hang', 'done'], 'test', {
      onMessage: () => {
        throw new RangeError('stop');
      },
    }),
    RangeError,
  );
});

test('runWorkerPool with stop: after a failure the others are asked to stop and end by themselves before the run fails; one that does not is terminated after the grace period', async () => {
  const flag = new SharedArrayBuffer(4);
  const seen: object[] = [];
  await assert.rejects(
    runWorkerPool(script, [{ kind: 'until-stopped', flag }, 'error'], 'test', {
      onMessage: (m) => void seen.push(m),
      stop: () => Atomics.store(new Int32Array(flag), 0, 1),
    }),
    /^Error: test worker: it went wrong$/,
  );
  // terminated at once, the first worker could not have said it stopped
  assert.deepEqual(seen, [{ type: 'progress', stopped: true }]);

  const started = performance.now();
  await assert.rejects(
    runWorkerPool(script, ['hang', 'error'], 'test', { stop: () => {}, stopGraceMs: 300 }),
    /it went wrong/,
  );
  assert.ok(performance.now() - started >= 300);
});

test('stopAllReduce: a worker waiting at the exchange for a peer that is gone throws and can answer', async () => {
  const shared = createAllReduce(2, 4);
  const seen: object[] = [];
  setTimeout(() => stopAllReduce(shared), 100);
  await assert.rejects(
    runWorkerPool(script, [{ kind: 'exchange', shared }], 'test', { onMessage: (m) => void seen.push(m) }),
    /^Error: test worker: AllReduce: the run was stopped \(another worker failed\)$/,
  );
  assert.deepEqual(seen, [{ type: 'progress', stopped: true }]);
});
