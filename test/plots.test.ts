import test from 'node:test';
import assert from 'node:assert/strict';
import { NO_PLOTLY_TEXT, PLOTLY_MIME, barHistogramTrace, escapeScript, figureHtml, figureProblems, layout, lineTrace, plotlyBundleSource, scriptJson } from '../src/notebook/plots';
import { showFigure } from '../src/notebook/display';
import { externalReferences, makeOffline, removeExternalScripts } from '../scripts/runner/html-offline';
import { timeSliderFigure } from '../src/notebook/figures';

test('showFigure sends one display_data: the Plotly MIME JSON and an HTML fallback, no Plotly bundle', () => {
  // tslab's kernel writer, which display.raw calls while a cell runs, replaced by one that records
  const kernel = require('tslab/dist/jupyter') as { lastWriteDisplayData: unknown };
  const sent: { msg: { data: Record<string, unknown> }; update: boolean }[] = [];
  kernel.lastWriteDisplayData = (msg: { data: Record<string, unknown> }, update: boolean) => sent.push({ msg, update });
  try {
    showFigure({ data: [lineTrace(new Float32Array([0, 1, 2]), new Float64Array([0.25, NaN, 4]), 'squares')], layout: layout({ title: 'x²' }), config: { scrollZoom: true } });
  } finally {
    kernel.lastWriteDisplayData = null;
  }
  assert.equal(sent.length, 1, 'one output per figure, and no bundle output before it');
  const { data } = sent[0].msg;
  assert.equal(sent[0].update, false);
  assert.deepEqual(Object.keys(data), [PLOTLY_MIME, 'text/html']);
  const spec = data[PLOTLY_MIME] as { data: { x: unknown; y: unknown; name: string }[]; layout: { title: { text: string } }; config: object };
  assert.deepEqual([spec.data[0].x, spec.data[0].y, spec.data[0].name], [[0, 1, 2], [0.25, null, 4], 'squares'], 'plain JSON arrays, NaN as null');
  assert.equal(spec.layout.title.text, 'x²');
  assert.deepEqual(spec.config, { responsive: true, displaylogo: false, scrollZoom: true });
  assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec, 'survives the JSON of the kernel message unchanged');
  const html = data['text/html'] as string;
  assert.match(html, /^<div id="[^"]+" class="tsd-plotly" style="width:100%;height:360px">/);
  assert.ok(html.length < 5_000, `the output is ${html.length} characters: no Plotly bundle in it`);
});

test('makeOffline puts the Plotly bundle into <head> once, before the figures, and only where there are figures', () => {
  const figure = figureHtml({ data: [lineTrace([0, 1], [1, 2], 'a')] });
  const page = (body: string) => `<html><head><title>t</title></head><body>${body}</body></html>`;
  const bundle = `<script type="text/javascript">${escapeScript(plotlyBundleSource())}</script>`;
  const out = makeOffline(page(figure + figure), 'MATHJAX');
  assert.equal(out.split(bundle).length, 2, 'the bundle once');
  assert.ok(out.indexOf(bundle) < out.indexOf('</head>'));
  // nbconvert writes the outputs' attributes in another order: still a figure
  assert.ok(makeOffline(page('<div class="tsd-plotly" id="x" style="">'), 'M', 'FAKE_PLOTLY').includes('<script type="text/javascript">FAKE_PLOTLY</script>'));
  assert.doesNotMatch(makeOffline(page('<p>no figure</p>'), 'M', 'FAKE_PLOTLY'), /FAKE_PLOTLY/);
});

test('escapeScript and scriptJson keep </script> inside a script', () => {
  assert.equal(escapeScript('a="</script>"; b="</SCRIPT >"'), 'a="<\\/script>"; b="<\\/SCRIPT >"');
  const json = scriptJson({ t: '</script><!--', a: new Float64Array([1.5, NaN]) });
  assert.doesNotMatch(json, /</);
  assert.deepEqual(JSON.parse(json), { t: '</script><!--', a: [1.5, null] });
});

test('figureHtml holds the data, uses unique ids and no external scripts; says why where Plotly is not loaded', () => {
  const fig = { data: [lineTrace([0, 1, 2], [0.25, 1.5, 4], 'squares')], layout: layout({ title: 'x² </script>' }) };
  const a = figureHtml(fig);
  const b = figureHtml(fig);
  const idA = /<div id="([^"]+)"/.exec(a)?.[1];
  const idB = /<div id="([^"]+)"/.exec(b)?.[1];
  assert.ok(idA && idB && idA !== idB);
  assert.ok(a.includes(JSON.stringify(idA)), 'the script draws into its own div');
  assert.ok(a.includes('[0.25,1.5,4]'));
  assert.ok(a.includes('"squares"'));
  assert.match(a, /Plotly\.newPlot/);
  assert.match(a, /"responsive":true/);
  assert.match(a, /"displaylogo":false/);
  assert.equal(a.match(/<\/script/gi)?.length, 1, 'a title with </script> is escaped');
  assert.deepEqual(externalReferences(a), []);
  assert.equal(figureHtml(fig, { id: 'fixed' }).includes('id="fixed"'), true);
  assert.ok(a.includes(`class="tsd-plotly" style="width:100%;height:360px">${NO_PLOTLY_TEXT}</div>`), 'the message until Plotly draws');
  assert.match(figureHtml({ ...fig, layout: { height: 520 } }), /height:520px/);
});

test('barHistogramTrace draws bins as bars at centres with bin widths', () => {
  const h = { edges: [0, 1, 3, 4], counts: [2, 4, 1], density: [2 / 7, 2 / 7, 1 / 7] };
  const t = barHistogramTrace(h, 'samples') as { type: string; x: number[]; y: number[]; width: number[] };
  assert.equal(t.type, 'bar');
  assert.deepEqual(t.x, [0.5, 2, 3.5]);
  assert.deepEqual(t.width, [1, 2, 1]);
  assert.deepEqual(t.y, h.density, 'density is preferred');
  assert.deepEqual((barHistogramTrace(h, 'c', { use: 'counts' }) as { y: number[] }).y, [2, 4, 1]);
  assert.deepEqual((barHistogramTrace({ edges: [0, 1], counts: [3] }, 'c') as { y: number[] }).y, [3]);
  assert.throws(() => barHistogramTrace({ edges: [0, 1, 2], counts: [1] }, 'bad'), /2 bins|1 bins/);
});

test('lineTrace copies typed arrays and checks lengths', () => {
  const t = lineTrace(new Float32Array([0, 1]), new Float64Array([2, 3]), 'pdf', { dash: 'dash', color: 'red' }) as Record<string, any>;
  assert.deepEqual(t.x, [0, 1]);
  assert.deepEqual(t.y, [2, 3]);
  assert.equal(t.line.dash, 'dash');
  assert.throws(() => lineTrace([0], [1, 2], 'bad'));
});

test('makeOffline drops external scripts and inlines MathJax 3 with $ delimiters', () => {
  const page =
    '<html><head><script src="file:///usr/share/javascript/requirejs/require.min.js"></script>\n' +
    '<script src="https://cdn.example/MathJax.js?config=TeX"> </script>\n' +
    '<script type="text/x-mathjax-config">MathJax.Hub.Config({})</script></head><body><p>$x$</p></body></html>';
  assert.equal(externalReferences(page).length, 2);
  const out = makeOffline(page, 'window.FAKE_MATHJAX = "$& </script>";');
  assert.deepEqual(externalReferences(out), []);
  assert.doesNotMatch(out, /x-mathjax-config/);
  assert.match(out, /window\.MathJax = \{"tex":\{"inlineMath":\[\["\$","\$"\]/);
  assert.ok(out.includes('window.FAKE_MATHJAX = "$& <\\/script>";'), 'inserted verbatim, script end escaped');
  assert.ok(out.indexOf('window.MathJax =') < out.indexOf('FAKE_MATHJAX'), 'config before MathJax');
  assert.equal(removeExternalScripts('<p>keep</p><script>inline()</script>'), '<p>keep</p><script>inline()</script>');
});

test('barHistogramTrace takes histogram() from metrics as is', () => {
  // Imported lazily so the other plot tests do not depend on metrics.ts.
  const { histogram } = require('../src/eval/metrics') as typeof import('../src/eval/metrics');
  const h = histogram([0.5, 1.5, 1.6, 3.9], { bins: 4, range: [0, 4] });
  const t = barHistogramTrace(h, 'samples') as { x: number[]; y: number[]; width: number[] };
  assert.deepEqual(t.x, [0.5, 1.5, 2.5, 3.5]);
  assert.deepEqual(t.width, [1, 1, 1, 1]);
  assert.deepEqual(t.y, Array.from(h.density));
  const area = t.y.reduce((s, y, i) => s + y * t.width[i], 0);
  assert.ok(Math.abs(area - 1) < 1e-12, 'density integrates to 1');
});

test('timeSliderFigure: one restyle step per frame, shared bins and y range', () => {
  const frames = [0, 1, 2].map((k) => ({ label: `t${k}`, values: Float32Array.from({ length: 200 }, (_, i) => (i / 100 - 1) * (k + 1)), pdf: (x: number) => Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI) }));
  const fig = timeSliderFigure(frames, { range: [-3, 3], bins: 12, title: 'slider' });
  assert.equal(fig.data.length, 2);
  const layoutOf = fig.layout as { sliders: { steps: { label: string; method: string; args: [{ y: number[][] }, number[]] }[] }[]; yaxis: { range: number[] } };
  const steps = layoutOf.sliders[0].steps;
  assert.deepEqual(steps.map((s) => s.label), ['t0', 't1', 't2']);
  assert.ok(steps.every((s) => s.method === 'restyle' && s.args[0].y.length === 2 && s.args[0].y[0].length === 12 && s.args[1].join() === '0,1'));
  const tallest = Math.max(...steps.flatMap((s) => s.args[0].y.flat()));
  assert.ok(layoutOf.yaxis.range[1] >= tallest, 'the y range holds every frame');
  // density-only frames restyle the one line
  const onlyPdf = timeSliderFigure([{ label: 'a', pdf: () => 1 }], { range: [0, 1] });
  assert.equal(onlyPdf.data.length, 1);
  assert.throws(() => timeSliderFigure([], { range: [0, 1] }), /no frames/);
});

test('figureProblems: a line needs two drawable points, a marker or bar one, a heatmap a finite value; showFigure refuses such a figure', () => {
  const good = lineTrace([1, 2, 3], [1, NaN, 3], 'two finite points');
  assert.deepEqual(figureProblems({ data: [good], layout: layout() }), []);
  const onePoint = lineTrace([1, 2, 3], [NaN, 5, NaN], 'one point');
  assert.deepEqual(figureProblems({ data: [good, onePoint] }), ['trace 2 "one point": 1 of 3 points can be drawn (a line needs 2)']);
  // on a log axis only positive values are drawn: a loss minus its optimum that went negative
  const excess = lineTrace([1, 2, 3, 4], [0.5, -0.1, -0.2, -0.05], 'excess');
  assert.deepEqual(figureProblems({ data: [excess], layout: layout({ logY: true }) }), ['trace 1 "excess": 1 of 4 points can be drawn on its log axis (a line needs 2)']);
  assert.deepEqual(figureProblems({ data: [excess], layout: layout() }), [], 'the same values on a linear axis');
  // a trace on the second y axis follows that axis
  const right = lineTrace([1, 2], [-1, -2], 'right', { extra: { yaxis: 'y2' } });
  assert.equal(figureProblems({ data: [right], layout: { yaxis2: { type: 'log' } } }).length, 1);
  assert.deepEqual(figureProblems({ data: [right], layout: { yaxis2: { type: 'linear' } } }), []);
  assert.deepEqual(figureProblems({ data: [lineTrace([1], [2], 'one marker', { mode: 'markers' })] }), []);
  assert.deepEqual(figureProblems({ data: [{ type: 'bar', x: ['a', 'b'], y: [NaN, NaN], name: 'bars' }] }), ['trace 1 "bars": 0 of 2 points can be drawn (a trace needs 1)']);
  assert.deepEqual(figureProblems({ data: [{ type: 'heatmap', z: [[NaN, NaN], [NaN, NaN]] }] }), ['trace 1: a heatmap without a finite value']);
  assert.deepEqual(figureProblems({ data: [{ type: 'heatmap', z: [[NaN, 1], [NaN, NaN]] }] }), []);
  assert.deepEqual(figureProblems({ data: [{ ...onePoint, visible: 'legendonly' }] }), [], 'a hidden trace is not judged');
  assert.throws(() => showFigure({ data: [onePoint] }), /showFigure: this figure would not show its data: trace 1 "one point": 1 of 3 points/);
});
