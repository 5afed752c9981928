// The Chromium check of the HTML exports must be able to fail: pages built here as the export
// step builds them (figures as their text/html fallbacks, made offline by makeOffline) where a
// figure has no data, or where the export shows fewer figures than the notebook made.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkHtmlFiles, chromiumPath, countFigureOutputs, parseHtmlCheckArgs } from '../scripts/runner/check-html';
import { parseLiveArgs } from '../scripts/runner/check-live';
import { makeOffline } from '../scripts/runner/html-offline';
import { PLOTLY_MIME, figureHtml, figureOutput, lineTrace } from '../src/notebook/plots';
import { assertInstalled, skipUnlessCI } from './helpers';

test('countFigureOutputs counts the Plotly MIME outputs, as executed and as JupyterLab saves them', () => {
  const figure = (name: string) => ({ output_type: 'display_data', data: figureOutput({ data: [lineTrace([0], [1], name)] }) });
  // jupyterlab-plotly adds a PNG of the drawn figure to the output it renders, and saves it
  const saved = { ...figure('b'), data: { ...figure('b').data, 'image/png': 'iVBORw0KGgo=' } };
  const nb = {
    cells: [
      { outputs: [figure('a'), { data: { 'text/html': '<table></table>' } }, saved] },
      { outputs: [{ data: { [PLOTLY_MIME]: { data: [], layout: {} } } }, { data: { 'text/plain': '<div id="x" class="tsd-plotly">' } }] },
      {},
    ],
  };
  assert.equal(countFigureOutputs(nb), 3);
});

test('HTML check: figures without data and a figure count that differs from the notebook fail', { skip: skipUnlessCI(!chromiumPath() && 'Chromium'), timeout: 120_000 }, async () => {
  assertInstalled(!chromiumPath() && 'Chromium');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-html-'));
  const page = (name: string, figures: string[]) => {
    const file = path.join(dir, `${name}.html`);
    // the real Plotly bundle, as exports get it; no MathJax (these pages have no math)
    fs.writeFileSync(file, makeOffline(`<!DOCTYPE html><html><head></head><body>${figures.join('\n')}</body></html>`, ''));
    return file;
  };
  const line = figureHtml({ data: [lineTrace([0, 1, 2], [0, 1, 4], 'x^2')] }, { id: 'line' });
  const bars = figureHtml({ data: [{ type: 'bar', x: [0, 1, 2], y: [1, 3, 2] }] }, { id: 'bars' });
  const heat = figureHtml({ data: [{ type: 'heatmap', z: [[1, 2], [3, 4]] }] }, { id: 'heat' });
  const emptyLine = figureHtml({ data: [lineTrace([], [], 'nothing')] }, { id: 'empty-line' });
  const noTraces = figureHtml({ data: [] }, { id: 'no-traces' });
  const good = page('good', [line, bars, heat]);
  const empty = page('empty', [line, emptyLine, noTraces]);
  const [g, e] = await checkHtmlFiles([good, empty], { expectedFigures: new Map([[good, 3], [empty, 3]]) });
  assert.deepEqual([g.ok, g.figures, g.renderedFigures, g.figuresWithData, g.problems], [true, 3, 3, 3, []]);
  assert.deepEqual([e.ok, e.renderedFigures, e.figuresWithData], [false, 3, 1]);
  assert.deepEqual(e.problems, ['figure empty-line drew no data (axes only)', 'figure no-traces drew no data (axes only)']);
  // The same file checked against a notebook that made 4 figures.
  const [more] = await checkHtmlFiles([good], { expectedFigures: new Map([[good, 4]]) });
  assert.deepEqual(more.problems, ['the notebook made 4 figures, the export has 3']);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('check-html and check-live command lines: both --opt value and --opt=value; unknown options, missing values and bad values refused', () => {
  assert.deepEqual(parseHtmlCheckArgs(['--screenshots', 's', 'a.html', 'b.html']), { screenshotDir: 's', files: ['a.html', 'b.html'] });
  assert.deepEqual(parseHtmlCheckArgs(['a.html', '--screenshots=s']), { screenshotDir: 's', files: ['a.html'] });
  assert.equal(parseHtmlCheckArgs(['a.html']).screenshotDir, 'build/screenshots');
  assert.throws(() => parseHtmlCheckArgs([]), /usage: node dist\/scripts\/runner\/check-html\.js/);
  assert.throws(() => parseHtmlCheckArgs(['--shots', 's', 'a.html']), /Unknown option '--shots'/);
  assert.deepEqual(parseLiveArgs(['--app=notebook', '01-data.ipynb', '--out', 'o', '--timeout', '90']), { app: 'notebook', chapters: ['01-data'], out: 'o', timeoutS: 90 });
  assert.deepEqual(parseLiveArgs([]), { app: undefined, chapters: [], out: undefined, timeoutS: undefined });
  assert.throws(() => parseLiveArgs(['--app', 'web']), /--app must be lab or notebook, got web/);
  assert.throws(() => parseLiveArgs(['--timeout', '0']), /--timeout needs positive seconds, got 0/);
  assert.throws(() => parseLiveArgs(['--out']), /argument missing/);
  assert.throws(() => parseLiveArgs(['--bogus']), /Unknown option '--bogus'/);
});
