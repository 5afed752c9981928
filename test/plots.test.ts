import test from 'node:test';
import assert from 'node:assert/strict';
import {
  NO_PLOTLY_TEXT,
  PLOTLY_MIME,
  barHistogramTrace,
  escapeScript,
  fallbackId,
  figureHtml,
  figureOutput,
  figureProblems,
  figureScript,
  figureSpec,
  layout,
  lineTrace,
  plotlyBundleSource,
  scriptJson,
} from '../src/notebook/plots';
import { decodeArray, TYPED_ARRAY_MIN_LENGTH } from '../src/notebook/plotly-arrays';
import { showFigure } from '../src/notebook/display';
import {
  externalReferences,
  makeOffline,
  notebookFigures,
  removeExternalScripts,
} from '../scripts/runner/html-offline';
import { timeSliderFigure } from '../src/notebook/figures';

test('showFigure sends one display_data: the Plotly MIME JSON and an HTML fallback without the data, no Plotly bundle', () => {
  // tslab's kernel writer, which display.raw calls while a cell runs, replaced by one that records
  const kernel = require('tslab/dist/jupyter') as { lastWriteDisplayData: unknown };
  const sent: { msg: { data: Record<string, unknown> }; update: boolean }[] = [];
  kernel.lastWriteDisplayData = (msg: { data: Record<string, unknown> }, update: boolean) => sent.push({ msg, update });
  try {
    showFigure({
      data: [lineTrace(new Float32Array([0, 1, 2]), new Float64Array([0.25, NaN, 4]), 'squares')],
      layout: layout({ title: 'x²' }),
      config: { scrollZoom: true },
    });
  } finally {
    kernel.lastWriteDisplayData = null;
  }
  assert.equal(sent.length, 1, 'one output per figure, and no bundle output before it');
  const { data } = sent[0].msg;
  assert.equal(sent[0].update, false);
  assert.deepEqual(Object.keys(data), [PLOTLY_MIME, 'text/html']);
  const spec = data[PLOTLY_MIME] as {
    data: { x: unknown; y: unknown; name: string }[];
    layout: { title: { text: string } };
    config: object;
  };
  assert.deepEqual(
    [spec.data[0].x, spec.data[0].y, spec.data[0].name],
    [[0, 1, 2], [0.25, null, 4], 'squares'],
    'plain JSON arrays, NaN as null',
  );
  assert.equal(spec.layout.title.text, 'x²');
  assert.deepEqual(spec.config, { responsive: true, displaylogo: false, scrollZoom: true });
  assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec, 'survives the JSON of the kernel message unchanged');
  const html = data['text/html'] as string;
  assert.equal(
    html,
    `<div id="${fallbackId(html)}" class="tsd-plotly" style="width:100%;height:360px">${NO_PLOTLY_TEXT}</div>`,
    'the data only once, in the Plotly JSON',
  );
});

test('makeOffline puts the Plotly bundle into <head> once and a drawing script per figure the page shows before </body>; no bundle without figures', () => {
  const [a, b, absent] = [
    figureOutput({ data: [lineTrace([0, 1], [1, 2], 'a')] }),
    figureOutput({ data: [lineTrace([0, 1], [3, 4], 'b')] }),
    figureOutput({ data: [lineTrace([0, 1], [5, 6], 'c')] }),
  ];
  const nb = {
    cells: [
      { cell_type: 'code', source: '', outputs: [{ data: a }, { data: { 'text/html': '<p>not a figure</p>' } }] },
      { cell_type: 'code', source: '', outputs: [{ data: b }, { data: absent }] },
    ],
  };
  const figures = notebookFigures(nb);
  assert.deepEqual(
    figures.map((f) => f.id),
    [a, b, absent].map((d) => fallbackId(d['text/html'])),
  );
  assert.deepEqual(figures[1].spec, b[PLOTLY_MIME]);
  // nbconvert writes the outputs' attributes in another order; the third figure is not in the page
  const page = (body: string) => `<html><head><title>t</title></head><body>${body}</body></html>`;
  const reordered = (html: string) =>
    html.replace(/^<div id="([^"]+)" class="tsd-plotly"/, '<div class="tsd-plotly" id="$1"');
  const out = makeOffline(page(reordered(a['text/html']) + reordered(b['text/html'])), { figures, mathjax: 'MATHJAX' });
  const bundle = `<script type="text/javascript">${escapeScript(plotlyBundleSource())}</script>`;
  assert.equal(out.split(bundle).length, 2, 'the bundle once');
  assert.ok(out.indexOf(bundle) < out.indexOf('</head>'));
  const drawings = figures.slice(0, 2).map((f) => figureScript(f.id, f.spec));
  assert.ok(
    out.endsWith(`${drawings.join('\n')}\n</body></html>`),
    'the two figures shown are drawn, after their <div>s',
  );
  assert.ok(!out.includes(JSON.stringify(figures[2].id)), 'no script for a figure the page does not show');
  assert.doesNotMatch(
    makeOffline(page('<p>no figure</p>'), { figures, mathjax: 'M', plotly: 'FAKE_PLOTLY' }),
    /FAKE_PLOTLY|newPlot/,
  );
});

test('escapeScript and scriptJson keep </script> inside a script', () => {
  assert.equal(escapeScript('a="</script>"; b="</SCRIPT >"'), 'a="<\\/script>"; b="<\\/SCRIPT >"');
  const json = scriptJson({ t: '</script><!--', a: new Float64Array([1.5, NaN]) });
  assert.doesNotMatch(json, /</);
  assert.deepEqual(JSON.parse(json), { t: '</script><!--', a: [1.5, null] });
});

test('figureHtml is a <div> with a unique id and the reason where Plotly is not loaded; figureScript draws the data into it', () => {
  const fig = { data: [lineTrace([0, 1, 2], [0.25, 1.5, 4], 'squares')], layout: layout({ title: 'x² </script>' }) };
  const a = figureHtml(fig);
  const b = figureHtml(fig);
  const [idA, idB] = [fallbackId(a), fallbackId(b)];
  assert.ok(idA && idB && idA !== idB);
  assert.equal(a, `<div id="${idA}" class="tsd-plotly" style="width:100%;height:360px">${NO_PLOTLY_TEXT}</div>`);
  assert.equal(fallbackId(figureHtml(fig, { id: 'fixed' })), 'fixed');
  assert.equal(fallbackId('<div id="x" class="other">'), undefined);
  assert.match(figureHtml({ ...fig, layout: { height: 520 } }), /height:520px/);
  const script = figureScript(idA, figureSpec(fig));
  assert.ok(script.includes(JSON.stringify(idA)), 'the script draws into its own div');
  assert.ok(script.includes('[0.25,1.5,4]'));
  assert.ok(script.includes('"squares"'));
  assert.match(script, /Plotly\.newPlot/);
  assert.match(script, /"responsive":true/);
  assert.match(script, /"displaylogo":false/);
  assert.equal(script.match(/<\/script/gi)?.length, 1, 'a title with </script> is escaped');
  assert.deepEqual(externalReferences(script), []);
});

test('figureSpec writes long numeric arrays as Plotly typed arrays (the smallest integer type, else float32, float64 where float32 would lose a value; a rectangular z as 2-D); decodeArray reads them back', () => {
  const n = TYPED_ARRAY_MIN_LENGTH;
  const x = Array.from({ length: n }, (_, i) => i / 10);
  const y = x.map((v) => (v === 0.5 ? NaN : v * v));
  const z = [x.slice(0, n / 2), x.slice(n / 2)];
  const tiny = x.map((v) => v * 1e-40);
  const spec = figureSpec({
    data: [
      lineTrace(x, y, 'long'),
      lineTrace([1, 2], [3, 4], 'short'),
      { type: 'heatmap', z },
      { type: 'heatmap', z: [x, [1]] },
      lineTrace(x, tiny, 'tiny'),
    ],
    layout: { sliders: [{ steps: [{ method: 'restyle', args: [{ y: [y, [1, 2]] }, [0, 1]] }] }] },
  });
  const [long, short, heat, ragged, small] = spec.data as Record<string, any>[];
  assert.equal(long.x.dtype, 'f4');
  assert.equal(Buffer.from(long.x.bdata, 'base64').length, 4 * n);
  assert.deepEqual(Array.from(decodeArray(long.x) as Float32Array), x.map(Math.fround));
  const ys = Array.from(decodeArray(long.y) as Float32Array);
  assert.ok(Number.isNaN(ys[5]), 'NaN (null in JSON) stays a gap');
  assert.deepEqual(
    ys.filter((_, i) => i !== 5),
    y.filter((_, i) => i !== 5).map(Math.fround),
  );
  assert.deepEqual(
    [short.x, short.y],
    [
      [1, 2],
      [3, 4],
    ],
    'short arrays stay JSON',
  );
  assert.equal(heat.z.shape, `2,${n / 2}`);
  assert.deepEqual(
    (decodeArray(heat.z) as Float32Array[]).map((row) => Array.from(row)),
    z.map((row) => row.map(Math.fround)),
  );
  assert.deepEqual(ragged.z, [x, [1]], 'a ragged z stays JSON');
  assert.equal(small.y.dtype, 'f8');
  assert.deepEqual(Array.from(decodeArray(small.y) as Float64Array), tiny);
  const integers = (values: number[]) =>
    (figureSpec({ data: [{ type: 'bar', y: values }] }).data[0] as { y: { dtype: string; bdata: string } }).y;
  for (const [values, dtype] of [
    [[0, 255], 'u1'],
    [[-128, 127], 'i1'],
    [[0, 65_535], 'u2'],
    [[-1, 300], 'i2'],
    [[0, 70_000], 'u4'],
    [[-1, 70_000], 'i4'],
    [[0, 2 ** 32], 'f4'],
    [[0, 0.5], 'f4'],
  ] as [number[], string][]) {
    const y = Array.from({ length: n }, (_, i) => values[i % 2]);
    const encoded = integers(y);
    assert.equal(encoded.dtype, dtype, String(values));
    assert.deepEqual(Array.from(decodeArray(encoded) as ArrayLike<number>), y);
  }
  assert.equal(integers(Array.from({ length: n }, (_, i) => (i ? i : NaN))).dtype, 'f4', 'a gap needs a float');
  const step = (spec.layout as any).sliders[0].steps[0].args[0].y;
  assert.deepEqual([step[0].dtype, step[1]], ['f4', [1, 2]], 'restyle arguments too');
  assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec, 'plain JSON');
  assert.throws(
    () => decodeArray({ dtype: 'f4', bdata: long.x.bdata, shape: '3,7' }),
    /shape "3,7" does not fit 64 values/,
  );
  assert.throws(() => decodeArray({ dtype: 'c8', bdata: '' }), /dtype "c8"/);
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
  const t = lineTrace(new Float32Array([0, 1]), new Float64Array([2, 3]), 'pdf', {
    dash: 'dash',
    color: 'red',
  }) as Record<string, any>;
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
  const out = makeOffline(page, { mathjax: 'window.FAKE_MATHJAX = "$& </script>";' });
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
  const frames = [0, 1, 2].map((k) => ({
    label: `t${k}`,
    values: Float32Array.from({ length: 200 }, (_, i) => (i / 100 - 1) * (k + 1)),
    pdf: (x: number) => Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI),
  }));
  const fig = timeSliderFigure(frames, { range: [-3, 3], bins: 12, title: 'slider' });
  assert.equal(fig.data.length, 2);
  const layoutOf = fig.layout as {
    sliders: { steps: { label: string; method: string; args: [{ y: number[][] }, number[]] }[] }[];
    yaxis: { range: number[] };
  };
  const steps = layoutOf.sliders[0].steps;
  assert.deepEqual(
    steps.map((s) => s.label),
    ['t0', 't1', 't2'],
  );
  assert.ok(
    steps.every(
      (s) =>
        s.method === 'restyle' &&
        s.args[0].y.length === 2 &&
        s.args[0].y[0].length === 12 &&
        s.args[1].join() === '0,1',
    ),
  );
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
  assert.deepEqual(figureProblems({ data: [good, onePoint] }), [
    'trace 2 "one point": 1 of 3 points can be drawn (a line needs 2)',
  ]);
  // on a log axis only positive values are drawn: a loss minus its optimum that went negative
  const excess = lineTrace([1, 2, 3, 4], [0.5, -0.1, -0.2, -0.05], 'excess');
  assert.deepEqual(figureProblems({ data: [excess], layout: layout({ logY: true }) }), [
    'trace 1 "excess": 1 of 4 points can be drawn on its log axis (a line needs 2)',
  ]);
  assert.deepEqual(figureProblems({ data: [excess], layout: layout() }), [], 'the same values on a linear axis');
  // a trace on the second y axis follows that axis
  const right = lineTrace([1, 2], [-1, -2], 'right', { extra: { yaxis: 'y2' } });
  assert.equal(figureProblems({ data: [right], layout: { yaxis2: { type: 'log' } } }).length, 1);
  assert.deepEqual(figureProblems({ data: [right], layout: { yaxis2: { type: 'linear' } } }), []);
  assert.deepEqual(figureProblems({ data: [lineTrace([1], [2], 'one marker', { mode: 'markers' })] }), []);
  assert.deepEqual(figureProblems({ data: [{ type: 'bar', x: ['a', 'b'], y: [NaN, NaN], name: 'bars' }] }), [
    'trace 1 "bars": 0 of 2 points can be drawn (a trace needs 1)',
  ]);
  assert.deepEqual(
    figureProblems({
      data: [
        {
          type: 'heatmap',
          z: [
            [NaN, NaN],
            [NaN, NaN],
          ],
        },
      ],
    }),
    ['trace 1: a heatmap without a finite value'],
  );
  assert.deepEqual(
    figureProblems({
      data: [
        {
          type: 'heatmap',
          z: [
            [NaN, 1],
            [NaN, NaN],
          ],
        },
      ],
    }),
    [],
  );
  assert.deepEqual(
    figureProblems({ data: [{ ...onePoint, visible: 'legendonly' }] }),
    [],
    'a hidden trace is not judged',
  );
  // the same judgement on typed arrays, as figureSpec writes long ones
  const long = (f: (i: number) => number) => Array.from({ length: TYPED_ARRAY_MIN_LENGTH }, (_, i) => f(i));
  const sent = (fig: { data: object[]; layout?: object }) => figureSpec(fig);
  assert.deepEqual(
    figureProblems(
      sent({
        data: [
          lineTrace(
            long((i) => i),
            long((i) => (i < 2 ? i + 1 : NaN)),
            'two',
          ),
        ],
        layout: layout(),
      }),
    ),
    [],
  );
  assert.deepEqual(
    figureProblems(
      sent({
        data: [
          lineTrace(
            long((i) => i),
            long((i) => (i === 0 ? 1 : -1)),
            'one',
          ),
        ],
        layout: layout({ logY: true }),
      }),
    ),
    [`trace 1 "one": 1 of ${TYPED_ARRAY_MIN_LENGTH} points can be drawn on its log axis (a line needs 2)`],
  );
  assert.deepEqual(figureProblems(sent({ data: [{ type: 'heatmap', z: [long(() => NaN), long(() => NaN)] }] })), [
    'trace 1: a heatmap without a finite value',
  ]);
  assert.deepEqual(
    figureProblems(sent({ data: [{ type: 'heatmap', z: [long(() => NaN), long((i) => (i === 3 ? 1 : NaN))] }] })),
    [],
  );
  assert.throws(
    () => showFigure({ data: [onePoint] }),
    /showFigure: this figure would not show its data: trace 1 "one point": 1 of 3 points/,
  );
});

test('scoreSdeFigure: paths at evenly spaced positions of the axis shown (x0, dx; no x array), through the path itself; the heat map in whole percent', () => {
  const { GaussianMixture } = require('../src/math/mixture') as typeof import('../src/math/mixture');
  const { DDPMScheduler, TUTORIAL_SCHEDULER } =
    require('../src/diffusion/scheduler') as typeof import('../src/diffusion/scheduler');
  const { VPSDE } = require('../src/diffusion/sde') as typeof import('../src/diffusion/sde');
  const { scoreSdeFigure } = require('../src/notebook/sde-figures') as typeof import('../src/notebook/sde-figures');
  const { evenlySpaced } = require('../src/math/grid') as typeof import('../src/math/grid');
  // a reverse run: times descending; along x = 3 − 2s, so its value at any position is known
  const reversed = evenlySpaced([1, 0.75, 0.5, 0], [1, 1.5, 2, 3], 5);
  assert.deepEqual(reversed, { x0: 0, dx: 0.25, y: [3, 2.5, 2, 1.5, 1] });
  assert.deepEqual(
    evenlySpaced([0, 0.1, 1], [0, 1, 10], 3),
    { x0: 0, dx: 0.5, y: [0, 5, 10] },
    'between uneven points, on the straight line drawn',
  );
  const mixture = new GaussianMixture({ weights: [0.3, 0.4, 0.3], means: [-2, 0, 2], stds: [0.3, 0.5, 0.3] });
  const sde = new VPSDE(new DDPMScheduler(TUTORIAL_SCHEDULER));
  const times = Array.from({ length: 1001 }, (_, i) => 1 - i / 1000);
  const trajectory = { times, x: times.map((s) => Float32Array.from([s, -s])) };
  for (const timeAxis of ['time', 'noise'] as const) {
    const fig = scoreSdeFigure(mixture, sde, [{ title: 'reverse', trajectory }], { timeAxis, pathPoints: 100 });
    const paths = fig.data.filter((t) => (t as { name?: string }).name === 'reverse') as {
      x?: unknown;
      x0: number;
      dx: number;
      y: number[];
    }[];
    assert.equal(paths.length, 2);
    const end = timeAxis === 'time' ? 1 : Math.sqrt(1 - sde.alphaBar(1)); // the axis position of s = 1
    assert.ok(
      paths.every(
        (p) => p.x === undefined && p.y.length === 100 && p.x0 === 0 && Math.abs(p.x0 + 99 * p.dx - end) < 1e-12,
      ),
      timeAxis,
    );
    assert.deepEqual([paths[0].y[0], paths[0].y[99], paths[1].y[99]], [0, 1, -1], `${timeAxis}: the path's own ends`);
    if (timeAxis === 'time')
      assert.ok(
        paths[0].y.every((y, m) => Math.abs(y - m / 99) < 1e-6),
        'on the time axis the path x = s itself',
      );
    const heat = fig.data.find((t) => (t as { type?: string }).type === 'heatmap') as { z: number[][] };
    const z = heat.z.flat();
    assert.ok(z.every((v) => Number.isInteger(v) && v >= 0 && v <= 100) && heat.z[0].length === 120 && z.includes(100));
    assert.equal(
      (figureSpec(fig).data.find((t) => (t as { type?: string }).type === 'heatmap') as { z: { dtype: string } }).z
        .dtype,
      'u1',
      'one byte a value',
    );
  }
});
