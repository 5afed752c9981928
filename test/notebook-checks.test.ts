// The notebooks' checks must be able to fail: run the sampling notebook on a deliberately broken
// (untrained) model and require the runner to flag the trained-model checks, while the oracle
// checks, which do not depend on the model, still pass.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../src/backend';
import { saveCheckpoint } from '../src/checkpoint';
import { VelocityModel } from '../src/model';
import { Rng } from '../src/rng';
import type { Report } from '../src/checks';
import { hasJupyter } from './helpers';

const ROOT = path.resolve(__dirname, '..', '..');


test('notebook 04 fails its checks on an untrained model', { skip: !hasJupyter() && 'no Python with nbclient', timeout: 300_000 }, async () => {
  await initBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-broken-'));
  const model = new VelocityModel({}, new Rng(1).fork('init'));
  saveCheckpoint(path.join(dir, 'ckpt'), model, model.params, { train: { steps: 0, batchSize: 0 }, excessLoss: NaN, bayesOptimalLoss: 12.19 });
  model.dispose();
  const params = path.join(dir, 'params.json');
  fs.writeFileSync(params, JSON.stringify({ '04-sampling': { nSamples: 1000, checkpointDir: path.join(dir, 'ckpt') } }));
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/scripts/run-notebooks.js'), '04', '--params', params, '--out', path.join(dir, 'out'), '--no-browser'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'report.json'), 'utf8')) as Report;
  const nb = report.notebooks[0];
  assert.equal(nb.status, 'checks-failed');
  const byName = new Map(nb.checks.map((c) => [c.name, c.pass]));
  assert.equal(byName.get('trained: W1 to the mixture'), false);
  assert.equal(byName.get('oracle: W1 to the mixture'), true);
  assert.equal(byName.get('oracle: max mode-weight error'), true);
  fs.rmSync(dir, { recursive: true, force: true });
});
