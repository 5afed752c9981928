// Real chapters run from a live JupyterLab and a live Notebook 7 (both from the project's venv),
// clicked through their UI in headless Chromium (scripts/runner/check-live.ts). Needs .venv/
// (scripts/python-env.sh, which npm test runs) and Chromium (installed by npm test as root,
// scripts/system-deps.sh); skipped, saying which is missing, where they are not installed, except
// under CI, where it fails.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromiumPath } from '../scripts/runner/check-html';
import { venvBin } from '../scripts/runner/jupyter-env';
import { assertInstalled, skipUnlessCI } from './helpers';
import { REPO_ROOT } from '../src/runtime/paths';

const missing = [
  !fs.existsSync(venvBin('jupyter-lab')) && 'JupyterLab in .venv/ (sh scripts/python-env.sh)',
  !chromiumPath() && 'Chromium (apt-get install chromium)',
].filter(Boolean);
const missingText = missing.length > 0 && missing.join(', ');

/** Runs check-live.js for `app`; returns its output after asserting it passed. */
function checkLive(app: string, out: string): string {
  const r = spawnSync(process.execPath, ['dist/scripts/runner/check-live.js', '--app', app, '--out', out], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 890_000,
  });
  const log = r.stdout + r.stderr;
  assert.equal(r.status, 0, log);
  assert.deepEqual(
    fs.readdirSync(REPO_ROOT).filter((f) => f.startsWith('.live-')),
    [],
    'the temporary copy is removed',
  );
  const kernels = spawnSync('pgrep', ['-f', 'tslab kernel --config-path .*tsd-'], { encoding: 'utf8' }).stdout.trim();
  assert.equal(kernels, '', 'no tslab kernel of the check is left running');
  return log;
}

/** The lines every chapter's check must have verified. */
function chapterLines(name: string, figures: string): RegExp[] {
  return [
    new RegExp(`verified: ${name}: the kernel is "TypeScript \\(tslab\\)"`),
    new RegExp(`verified: ${name}: Run All Cells ran all \\d+ code cells in order \\(saved execution counts 1, 2, `),
    new RegExp(`verified: ${name}: no error or stderr output`),
    new RegExp(`verified: ${name}: \\d+ published checks: every one passes`),
    new RegExp(
      `verified: ${name}: all ${figures} Plotly figures drawn in the page by jupyterlab-plotly, each with a trace`,
    ),
    new RegExp(`verified: ${name}: after File > Save and reopening in a fresh page, all ${figures} figures draw again`),
  ];
}

test('01-data, 03-training and 04-sampling run from the live JupyterLab UI: kernel, checks, progress line, figures, save and reopen', {
  skip: skipUnlessCI(missingText),
  timeout: 900_000,
}, () => {
  assertInstalled(missingText);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-live-'));
  const log = checkLive('lab', out);
  for (const line of [
    /verified: JupyterLab 4\.\S+ from \.venv on http:\/\/127\.0\.0\.1:\d+ \(token\) offers "TypeScript \(tslab\)" \(kernel spec in \.venv\/share\/jupyter\/kernels\/tslab\)/,
    ...chapterLines('01-data', '\\d+'),
    ...chapterLines('03-training', '\\d+'),
    /verified: 03-training: each progress line is one output updated in place \(1 progress cell\(s\), 1 output each, 1 bar\(s\) on the page\)/,
    ...chapterLines('04-sampling', '\\d+'),
    /verified: 03-training saved its model in the copy's checkpoint\/ folder/,
    /verified: server stopped; no kernel process left/,
    /verified: notebooks\/ and data\/checkpoints\/ unchanged/,
  ]) {
    assert.match(log, line);
  }
  for (const name of ['01-data', '03-training', '04-sampling'])
    assert.ok(fs.statSync(path.join(out, 'screenshots', `lab-${name}.png`)).size > 10_000, name);
  fs.rmSync(out, { recursive: true, force: true });
});

test('01-data runs from the live Notebook 7 UI: kernel, checks, figures, save and reopen', {
  skip: skipUnlessCI(missingText),
  timeout: 400_000,
}, () => {
  assertInstalled(missingText);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-live-'));
  const log = checkLive('notebook', out);
  for (const line of [
    /verified: Notebook 7\.\S+ from \.venv on http:\/\/127\.0\.0\.1:\d+ \(token\) offers "TypeScript \(tslab\)"/,
    ...chapterLines('01-data', '\\d+'),
    /verified: server stopped; no kernel process left/,
  ]) {
    assert.match(log, line);
  }
  assert.ok(fs.statSync(path.join(out, 'screenshots', 'notebook-01-data.png')).size > 10_000);
  fs.rmSync(out, { recursive: true, force: true });
});
