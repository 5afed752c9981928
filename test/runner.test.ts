// Integration test of the notebook runner on tiny fixture notebooks
// (test/fixtures/notebooks): a passing one with overridden parameters and a
// published check, one whose cell throws, one with failing checks.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findPython, writeKernelSpec } from '../scripts/jupyter-env';
import { hasJupyter } from './helpers';
import { chromiumPath } from '../scripts/check-html';
import { parseArgs, selectNotebooks } from '../scripts/run-notebooks';
import type { Report } from '../src/checks';

const ROOT = path.resolve(__dirname, '..', '..');

test('selectNotebooks matches names and number prefixes, in name order', () => {
  const all = ['04-sampling', '01-data', '02-forward', '10-extra'];
  assert.deepEqual(selectNotebooks(all, []), ['01-data', '02-forward', '04-sampling', '10-extra']);
  assert.deepEqual(selectNotebooks(all, ['04', '01-data']), ['01-data', '04-sampling']);
  assert.throws(() => selectNotebooks(all, ['1']), /no notebook matches/, 'a prefix must end at a dash');
  assert.throws(() => selectNotebooks(all, ['05']), /no notebook matches "05"/);
});

test('parseArgs', () => {
  const o = parseArgs(['04', '--ci', '--params', 'p.json', '--timeout', '120', '--out', 'o', '--no-browser']);
  assert.deepEqual([o.names, o.ci, o.paramsFile, o.timeout, o.out, o.browser], [['04'], true, 'p.json', 120, 'o', false]);
  assert.throws(() => parseArgs(['--frobnicate']), /unknown option/);
  assert.throws(() => parseArgs(['--timeout', 'x']), /positive/);
});

test('jupyter-env: kernel spec as tslab writes it, and a clear error without nbclient', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-kernel-'));
  const spec = JSON.parse(fs.readFileSync(writeKernelSpec(dir), 'utf8'));
  assert.deepEqual(spec, {
    argv: [path.join(ROOT, 'node_modules', '.bin', 'tslab'), 'kernel', '--config-path', '{connection_file}'],
    display_name: 'TypeScript (tslab)',
    language: 'typescript',
  });
  assert.ok(fs.existsSync(path.join(dir, 'kernels', 'tslab', 'kernel.json')));
  fs.rmSync(dir, { recursive: true, force: true });
  assert.throws(
    () => findPython({ candidates: ['/nonexistent/python3'], allowInstall: false }),
    /apt-get install jupyter-nbconvert python3-nbclient jupyter-client[\s\S]*pip install nbclient nbconvert/,
  );
});


test('runner executes fixtures, reports the failing cell and failing checks', { skip: !hasJupyter() && 'no Python with nbclient', timeout: 120_000 }, () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-runner-'));
  const r = spawnSync(
    process.execPath,
    ['dist/scripts/run-notebooks.js', '--notebooks', 'test/fixtures/notebooks', '--params', 'test/fixtures/params.json', '--out', out, '--timeout', '60'],
    { cwd: ROOT, encoding: 'utf8', timeout: 110_000 },
  );
  const log = r.stdout + r.stderr;
  assert.equal(r.status, 1, log);

  const report: Report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
  assert.equal(report.config, 'params.json');
  const byName = Object.fromEntries(report.notebooks.map((n) => [n.name, n]));
  assert.deepEqual(Object.keys(byName), ['01-pass', '02-error', '03-check-fails']);

  // 01: the check passes only if the parameters cell was overridden (steps 1000 -> 200).
  const ok = byName['01-pass'];
  assert.equal(ok.status, 'ok', log);
  assert.deepEqual(ok.checks.map((c) => [c.name, c.value, c.pass]), [['steps overridden', 200, true]]);
  const nb1 = JSON.parse(fs.readFileSync(path.join(out, 'notebooks', '01-pass.ipynb'), 'utf8'));
  const injected = nb1.cells[2];
  assert.deepEqual(injected.metadata.tags, ['injected-parameters']);
  assert.match(injected.source.join(''), /steps = 200;\nlabel = "fixture run";/);
  assert.deepEqual(nb1.cells[1].metadata.tags, ['parameters'], 'injected right after the parameters cell');

  // 02: the failing cell, its source and tslab's error text, from stderr.
  const failed = byName['02-error'];
  assert.equal(failed.status, 'failed');
  assert.equal(failed.failedCell?.index, 3);
  assert.equal(failed.failedCell?.codeCellNumber, 3);
  assert.match(failed.failedCell?.source ?? '', /explode\(n\)/);
  assert.match(failed.error ?? '', /Error: fixture boom at k=5/);
  assert.match(log, /--- 02-error: failed\ncode cell 3/);
  assert.match(log, /fixture boom at k=5/);
  // ... and the executed notebook is written anyway, with the error in the cell.
  const nb2 = JSON.parse(fs.readFileSync(path.join(out, 'notebooks', '02-error.ipynb'), 'utf8'));
  assert.match(JSON.stringify(nb2.cells[3].outputs), /fixture boom/);
  assert.deepEqual(nb2.cells[4].outputs, [], 'cells after the failure do not run');

  // 03: the runner re-evaluates checks; a NaN claiming pass:true fails.
  const bad = byName['03-check-fails'];
  assert.equal(bad.status, 'checks-failed');
  assert.deepEqual(bad.checks.map((c) => [c.name, c.pass]), [['ok', true], ['too big', false], ['nan', false]]);
  assert.match(log, /03-check-fails\s+checks-failed\s+[\d.]+\s+1\/3/);

  // Offline HTML exports for all three, checked in Chromium when present.
  for (const n of report.notebooks) {
    const html = fs.readFileSync(path.join(out, 'html', `${n.name}.html`), 'utf8');
    assert.doesNotMatch(html, /<script[^>]*\bsrc=/i, n.name);
  }
  if (chromiumPath()) {
    assert.deepEqual(ok.htmlCheck, { ok: true, figures: 1, problems: [] }, log);
    assert.ok(fs.existsSync(path.join(out, 'screenshots', '01-pass.png')));
  }
  fs.rmSync(out, { recursive: true, force: true });
});
