// A real project notebook run from a live classic Jupyter Notebook server, clicked through
// its UI in headless Chromium (scripts/runner/check-live.ts). Needs jupyter-notebook and Chromium,
// which npm test installs as root (scripts/system-deps.sh); skipped, saying which is missing, where
// they are not installed, except under CI, where it fails.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromiumPath } from '../scripts/runner/check-html';
import { jupyterNotebookPath } from '../scripts/runner/check-live';
import { assertInstalled, hasJupyter, skipUnlessCI } from './helpers';
import { REPO_ROOT } from '../src/runtime/paths';

const missing = [
  !jupyterNotebookPath() && 'jupyter-notebook (apt-get install jupyter-notebook)',
  !chromiumPath() && 'Chromium (apt-get install chromium)',
  !hasJupyter() && 'a Python with nbclient',
].filter(Boolean);

const missingText = missing.length > 0 && missing.join(', ');

test('01-data runs from the live classic Notebook UI: kernel answers, checks pass, figures draw', { skip: skipUnlessCI(missingText), timeout: 400_000 }, () => {
  assertInstalled(missingText);
  const notebook = path.join(REPO_ROOT, 'notebooks', '01-data.ipynb');
  const digest = () => crypto.createHash('sha256').update(fs.readFileSync(notebook)).digest('hex');
  const before = digest();
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-live-'));
  const r = spawnSync(process.execPath, ['dist/scripts/runner/check-live.js', '01-data', '--out', out], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 390_000 });
  const log = r.stdout + r.stderr;
  assert.equal(r.status, 0, log);
  for (const line of [
    /verified: classic Notebook server 6\.\S+ on http:\/\/127\.0\.0\.1:\d+ \(token\) offers the tslab kernel/,
    /verified: the page's kernel is "TypeScript \(tslab\)"/,
    /verified: Cell > Run All ran all \d+ code cells \(execution counts 1, 2, /,
    /verified: the kernel printed "tfjs \S+ backend: \w+"/,
    /verified: no error or stderr output/,
    /verified: all 3 published checks pass/,
    /verified: 1 inline Plotly figure\(s\) drawn in the live page, each with data/,
    /verified: server stopped; no kernel left running/,
  ]) {
    assert.match(log, line);
  }
  assert.ok(fs.statSync(path.join(out, 'screenshots', 'live-01-data.png')).size > 10_000);
  assert.equal(digest(), before, 'the repository notebook is untouched');
  assert.deepEqual(fs.readdirSync(REPO_ROOT).filter((f) => f.startsWith('.live-')), [], 'the temporary copy is removed');
  fs.rmSync(out, { recursive: true, force: true });
});
