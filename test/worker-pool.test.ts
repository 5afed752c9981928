import test from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { runWorkerPool } from '../src/runtime/worker-pool';

const script = path.join(__dirname, 'fixtures', 'pool-worker.js');

test("runWorkerPool: each worker's answer in job order; other messages go to onMessage", async () => {
  const seen: number[] = [];
  const answers = await runWorkerPool<{ type: 'done'; value: number } | { type: 'progress' }>(
    script,
    ['done', 'done'],
    'test',
    (_m, i) => void seen.push(i),
  );
  assert.deepEqual(
    answers.map((a) => a.value),
    [1, 1],
  );
  assert.deepEqual(seen.sort(), [0, 1]);
});

test('runWorkerPool: an error message, a worker that exits without answering, or an Error from onMessage fails the run, and the others are terminated', async () => {
  // the hanging workers would keep this test file alive if they were not terminated
  await assert.rejects(runWorkerPool(script, ['hang', 'error'], 'test'), /^Error: test worker: it went wrong$/);
  await assert.rejects(
    runWorkerPool(script, ['hang', 'silent-exit'], 'test'),
    /test worker exited with code 0 before it answered/,
  );
  await assert.rejects(
    runWorkerPool(script, ['hang', 'done'], 'test', () => new RangeError('stop')),
    RangeError,
  );
});
