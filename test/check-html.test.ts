// The Chromium check of the HTML exports must be able to fail: pages built here as the export
// step builds them (figures as their text/html fallbacks, drawn from their Plotly JSON by the
// scripts makeOffline adds) where a figure has no data, where a figure's drawing is missing, or
// where the export shows fewer figures than the notebook made.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkHtmlFiles, chromiumPath, countFigureOutputs, parseHtmlCheckArgs } from '../scripts/runner/check-html';
import { parseLiveArgs } from '../scripts/runner/check-live';
import { makeOffline, type NotebookFigure } from '../scripts/runner/html-offline';
import { TYPED_ARRAY_MIN_LENGTH } from '../src/notebook/plotly-arrays';
import { PLOTLY_MIME, type Figure, figureOutput, lineTrace } from '../src/notebook/plots';
import { assertInstalled, skipUnlessCI } from './helpers';

test('countFigureOutputs counts the Plotly MIME outputs, as executed and as JupyterLab saves them', () => {
  const figure = (name: string) => ({
    output_type: 'display_data',
    data: figureOutput({ data: [lineTrace([0], [1], name)] }),
  });
  // jupyterlab-plotly adds a PNG of the drawn figure to the output it renders, and saves it
  const saved = { ...figure('b'), data: { ...figure('b').data, 'image/png': 'iVBORw0KGgo=' } };
  const nb = {
    cells: [
      { outputs: [figure('a'), { data: { 'text/html': '<table></table>' } }, saved] },
      {
        outputs: [
          { data: { [PLOTLY_MIME]: { data: [], layout: {} } } },
          { data: { 'text/plain': '<div id="x" class="tsd-plotly">' } },
        ],
      },
      {},
    ],
  };
  assert.equal(countFigureOutputs(nb), 3);
});

test('HTML check: figures without data and a figure count that differs from the notebook fail', {
  skip: skipUnlessCI(!chromiumPath() && 'Chromium'),
  timeout: 120_000,
}, async () => {
  assertInstalled(!chromiumPath() && 'Chromium');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-html-'));
  // each figure as the export shows it: its fallback <div>, and the script drawing its Plotly JSON
  const figure = (id: string, fig: Figure) => {
    const out = figureOutput(fig, { id });
    return { html: out['text/html'], drawing: { id, spec: out[PLOTLY_MIME] } };
  };
  const page = (name: string, figures: { html: string; drawing?: NotebookFigure }[]) => {
    const file = path.join(dir, `${name}.html`);
    const drawings = figures.flatMap((f) => (f.drawing ? [f.drawing] : []));
    // the real Plotly bundle, as exports get it; no MathJax (these pages have no math)
    fs.writeFileSync(
      file,
      makeOffline(`<!DOCTYPE html><html><head></head><body>${figures.map((f) => f.html).join('\n')}</body></html>`, {
        figures: drawings,
        mathjax: '',
      }),
    );
    return file;
  };
  // long arrays are sent as typed arrays (base64; float32, or integers in as few bytes as hold
  // them), short ones as JSON: all must draw
  const long = Array.from({ length: 2 * TYPED_ARRAY_MIN_LENGTH }, (_, i) => i / 10);
  const line = figure('line', { data: [lineTrace([0, 1, 2], [0, 1, 4], 'x^2')] });
  const longLine = figure('long-line', { data: [lineTrace(long, long.map(Math.sin), 'sin')] });
  const bars = figure('bars', { data: [{ type: 'bar', x: [0, 1, 2], y: [1, 3, 2] }] });
  const longBars = figure('long-bars', {
    data: [{ type: 'bar', x: long.map((_, i) => i), y: long.map((_, i) => 1000 * i) }],
  });
  const heat = figure('heat', {
    data: [
      {
        type: 'heatmap',
        z: [
          [1, 2],
          [3, 4],
        ],
      },
    ],
  });
  const bigHeat = figure('big-heat', {
    data: [{ type: 'heatmap', z: long.map((a) => long.map((b) => Math.round(50 + 50 * Math.cos(a - b)))) }],
  });
  const emptyLine = figure('empty-line', { data: [lineTrace([], [], 'nothing')] });
  const nanLine = figure('nan-line', {
    data: [
      lineTrace(
        long,
        long.map(() => NaN),
        'all gaps',
      ),
    ],
  });
  const noTraces = figure('no-traces', { data: [] });
  const good = page('good', [line, longLine, bars, longBars, heat, bigHeat]);
  const empty = page('empty', [line, emptyLine, nanLine, noTraces]);
  const undrawn = page('undrawn', [line, { html: bars.html }]);
  const [g, e] = await checkHtmlFiles([good, empty], {
    expectedFigures: new Map([
      [good, 6],
      [empty, 4],
    ]),
  });
  assert.deepEqual([g.ok, g.figures, g.renderedFigures, g.figuresWithData, g.problems], [true, 6, 6, 6, []]);
  assert.deepEqual([e.ok, e.renderedFigures, e.figuresWithData], [false, 4, 1]);
  assert.deepEqual(e.problems, [
    'figure empty-line drew no data (axes only)',
    'figure nan-line drew no data (axes only)',
    'figure no-traces drew no data (axes only)',
  ]);
  // a figure whose drawing is missing: the check waits for it as long as it is told to
  const [u] = await checkHtmlFiles([undrawn], { expectedFigures: new Map([[undrawn, 2]]), timeoutMs: 15_000 });
  assert.deepEqual([u.ok, u.renderedFigures, u.problems], [false, 1, ['1 of 2 Plotly figures not rendered']]);
  // The same file checked against a notebook that made 4 figures.
  const [more] = await checkHtmlFiles([good], { expectedFigures: new Map([[good, 4]]) });
  assert.deepEqual(more.problems, ['the notebook made 4 figures, the export has 6']);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('check-html and check-live command lines: both --opt value and --opt=value; unknown options, missing values and bad values refused', () => {
  assert.deepEqual(parseHtmlCheckArgs(['--screenshots', 's', 'a.html', 'b.html']), {
    screenshotDir: 's',
    files: ['a.html', 'b.html'],
  });
  assert.deepEqual(parseHtmlCheckArgs(['a.html', '--screenshots=s']), { screenshotDir: 's', files: ['a.html'] });
  assert.equal(parseHtmlCheckArgs(['a.html']).screenshotDir, 'build/screenshots');
  assert.throws(() => parseHtmlCheckArgs([]), /usage: node dist\/scripts\/runner\/check-html\.js/);
  assert.throws(() => parseHtmlCheckArgs(['--shots', 's', 'a.html']), /Unknown option '--shots'/);
  assert.deepEqual(parseLiveArgs(['--app=notebook', '01-data.ipynb', '--out', 'o', '--timeout', '90']), {
    app: 'notebook',
    chapters: ['01-data'],
    out: 'o',
    timeoutS: 90,
  });
  assert.deepEqual(parseLiveArgs([]), { app: undefined, chapters: [], out: undefined, timeoutS: undefined });
  assert.throws(() => parseLiveArgs(['--app', 'web']), /--app must be lab or notebook, got web/);
  assert.throws(() => parseLiveArgs(['--timeout', '0']), /--timeout needs positive seconds, got 0/);
  assert.throws(() => parseLiveArgs(['--out']), /argument missing/);
  assert.throws(() => parseLiveArgs(['--bogus']), /Unknown option '--bogus'/);
});
