// Plotly figures as notebook outputs (pure functions; src/notebook/display.ts sends them).
//
// A figure is one output with two MIME types: `application/vnd.plotly.v1+json` ({data, layout,
// config}), which the jupyterlab-plotly extension (the plotly PyPI package,
// requirements/jupyter.txt) draws in JupyterLab and Notebook 7 with the Plotly it bundles; and a
// small `text/html` fallback without the data, a <div> saying why nothing is drawn where Plotly
// is not loaded. The data is stored once, in the Plotly MIME type, its long numeric arrays in
// Plotly's typed-array form (./plotly-arrays.ts), since nbformat
// writes a JSON array one number per indented line. The HTML export (nbconvert drops the
// Plotly MIME type) draws each fallback <div> from the notebook's Plotly JSON: the export step
// (scripts/runner/html-offline.ts) adds the Plotly bundle once and a figureScript per figure.
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { decodeArray, encodeArrays } from './plotly-arrays';

export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

export interface Figure {
  data: object[];
  layout?: object;
  /** Extra Plotly config, merged over {responsive: true, displaylogo: false}. */
  config?: object;
}

let bundleCache: string | undefined;

/**
 * The Plotly bundle's source. `require('plotly.js-dist-min')` throws in Node
 * ("self is not defined") because the bundle expects a browser, so read it as text.
 */
export function plotlyBundleSource(): string {
  bundleCache ??= fs.readFileSync(require.resolve('plotly.js-dist-min'), 'utf8');
  return bundleCache;
}

/**
 * Makes JavaScript safe to put between <script> and </script>: the HTML parser
 * ends the element at the first `</script`, wherever it is in the code. `<\/` is
 * the same as `</` inside JS strings, regexes and templates. (Plotly 4.1.2 has no
 * `</script` today; this keeps a future bundle from silently breaking the page.)
 */
export function escapeScript(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1');
}

/** JSON text with typed arrays written as arrays (JSON.stringify writes them as {"0":..} objects); NaN/Infinity become null. */
function jsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>) : v,
  );
}

/**
 * JSON that can sit inside a <script>: `<`, U+2028 and U+2029 escaped, typed
 * arrays written as arrays. NaN/Infinity become null, which Plotly draws as a gap.
 */
export function scriptJson(value: unknown): string {
  return jsonText(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** A figure as Plotly takes it (and as the Plotly MIME type holds it). */
export interface FigureSpec {
  data: object[];
  layout: object;
  config: object;
}

/** The figure as Plotly takes it, JSON with long numeric arrays as typed-array specs: {data, layout, config}. */
export function figureSpec(fig: Figure): FigureSpec {
  const config = { responsive: true, displaylogo: false, ...(fig.config ?? {}) };
  const json = JSON.parse(jsonText({ data: fig.data, layout: fig.layout ?? {} }));
  return {
    data: encodeArrays(json.data) as object[],
    layout: encodeArrays(json.layout) as object,
    config: JSON.parse(jsonText(config)),
  };
}

let figureCounter = 0;

/** A fresh element id: a counter for readability, random bytes so that ids stay unique across kernels. */
export function uniqueId(prefix = 'tsd-plot'): string {
  figureCounter += 1;
  return `${prefix}-${figureCounter}-${randomBytes(4).toString('hex')}`;
}

export interface FigureOptions {
  id?: string;
  /** CSS height of the fallback's div (default: the layout's height, else 360px as jupyterlab-plotly draws it). */
  height?: string;
}

/** What the fallback shows where Plotly is not loaded (its script does not run, or no bundle is there). */
export const NO_PLOTLY_TEXT =
  'This figure is drawn by Plotly, which this page does not load. Open the notebook in JupyterLab or Notebook 7 ' +
  'with the jupyterlab-plotly extension (npm run lab), or read its HTML export (npm run notebooks).';

/**
 * The text/html fallback: a <div> showing NO_PLOTLY_TEXT, without the figure's data. The HTML
 * export draws the figure into it (figureScript).
 */
export function figureHtml(fig: Figure, opts: FigureOptions = {}): string {
  const id = opts.id ?? uniqueId();
  const layoutHeight = (fig.layout as { height?: unknown } | undefined)?.height;
  const height = opts.height ?? (typeof layoutHeight === 'number' ? `${layoutHeight}px` : '360px');
  return `<div id="${id}" class="tsd-plotly" style="width:100%;height:${height}">${NO_PLOTLY_TEXT}</div>`;
}

/** The id of a figure's fallback <div> in its text/html (figureHtml's); undefined for other HTML. */
export function fallbackId(html: string): string | undefined {
  return /^<div id="([^"]+)" class="tsd-plotly"/.exec(html)?.[1];
}

/** A script that draws `spec` (figureSpec's) into the fallback <div> `id` where window.Plotly exists, as the HTML export does. */
export function figureScript(id: string, spec: FigureSpec): string {
  const script =
    `(function () {\n` +
    `  var el = document.getElementById(${scriptJson(id)}), spec = ${scriptJson(spec)};\n` +
    `  if (!el || !window.Plotly) return;\n` +
    `  el.textContent = '';\n` +
    `  window.Plotly.newPlot(el, spec.data, spec.layout, spec.config);\n` +
    `})();`;
  return `<script type="text/javascript">${escapeScript(script)}</script>`;
}

/**
 * What a reader would see as a broken figure: a line trace with fewer than two points Plotly can
 * draw, a marker or bar trace with none, a heatmap without a finite value. A point is drawable
 * when its coordinates are finite, and positive on a log axis. Hidden traces are not judged. Reads
 * data arrays in either form, JSON or typed-array spec (a figure as built, or figureSpec's).
 */
export function figureProblems(fig: Figure): string[] {
  const layout = (fig.layout ?? {}) as Record<string, { type?: string } | undefined>;
  const isLog = (axis: unknown, letter: 'x' | 'y') =>
    layout[`${letter}axis${String(axis ?? letter).slice(1)}`]?.type === 'log';
  const problems: string[] = [];
  fig.data.forEach((trace, i) => {
    const t = trace as {
      type?: string;
      mode?: string;
      name?: string;
      visible?: unknown;
      x?: unknown;
      y?: unknown;
      z?: unknown;
      xaxis?: string;
      yaxis?: string;
    };
    if (t.visible === false || t.visible === 'legendonly') return;
    const [x, y, z] = [t.x, t.y, t.z].map(decodeArray) as [
      ArrayLike<unknown> | undefined,
      ArrayLike<unknown> | undefined,
      ArrayLike<ArrayLike<unknown>> | undefined,
    ];
    const label = `trace ${i + 1}${t.name ? ` "${t.name}"` : ''}`;
    if (t.type === 'heatmap') {
      if (!Array.from(z ?? []).some((row) => Array.from(row).some((v) => Number.isFinite(v))))
        problems.push(`${label}: a heatmap without a finite value`);
      return;
    }
    if (!y) return;
    const ok = (v: unknown, log: boolean) => typeof v === 'number' && Number.isFinite(v) && (!log || v > 0);
    const [logX, logY] = [isLog(t.xaxis, 'x'), isLog(t.yaxis, 'y')];
    const ys = Array.from(y);
    const drawable = ys.filter(
      (v, k) => ok(v, logY) && (x === undefined || ok(x[k], logX) || typeof x[k] === 'string'),
    ).length;
    const line = t.type !== 'bar' && (t.mode ?? 'lines').includes('lines') && !(t.mode ?? '').includes('markers');
    const needed = line ? 2 : 1;
    if (drawable < needed)
      problems.push(
        `${label}: ${drawable} of ${ys.length} points can be drawn${logY || logX ? ' on its log axis' : ''} (a ${line ? 'line needs 2' : 'trace needs 1'})`,
      );
  });
  return problems;
}

/** The data of a figure's display_data output: the Plotly MIME type and its HTML fallback. */
export function figureOutput(
  fig: Figure,
  opts: FigureOptions = {},
): { [PLOTLY_MIME]: FigureSpec; 'text/html': string } {
  return { [PLOTLY_MIME]: figureSpec(fig), 'text/html': figureHtml(fig, opts) };
}

// ---------------------------------------------------------------- traces

export interface TraceOptions {
  color?: string;
  opacity?: number;
  /** Any further Plotly trace attributes, merged last. */
  extra?: Record<string, unknown>;
}

export interface BinnedHistogram {
  edges: ArrayLike<number>;
  density?: ArrayLike<number>;
  counts?: ArrayLike<number>;
}

/**
 * A pre-binned histogram as a bar trace: one bar per bin at the bin's centre,
 * as wide as the bin. Uses `density` when present (comparable across sample
 * sizes and with a pdf line), else `counts`; `opts.use` chooses explicitly.
 * Overlaid histograms need layout {barmode: 'overlay', bargap: 0} (see layout()).
 */
export function barHistogramTrace(
  h: BinnedHistogram,
  name: string,
  opts: TraceOptions & { use?: 'density' | 'counts' } = {},
): Record<string, unknown> {
  const use = opts.use ?? (h.density ? 'density' : 'counts');
  const heights = h[use];
  if (!heights) throw new Error(`barHistogramTrace: histogram has no ${use}`);
  const edges = Array.from(h.edges);
  if (edges.length !== heights.length + 1) {
    throw new Error(`barHistogramTrace: ${edges.length} edges for ${heights.length} bins`);
  }
  const x: number[] = [];
  const width: number[] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    x.push((edges[i] + edges[i + 1]) / 2);
    width.push(edges[i + 1] - edges[i]);
  }
  return {
    type: 'bar',
    name,
    x,
    y: Array.from(heights),
    width,
    opacity: opts.opacity ?? 0.6,
    marker: { color: opts.color, line: { width: 0 } },
    hovertemplate: `${name}<br>x=%{x:.3g}<br>${use}=%{y:.4g}<extra></extra>`,
    ...(opts.extra ?? {}),
  };
}

/** A line (scatter trace with mode 'lines'). */
export function lineTrace(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  name: string,
  opts: TraceOptions & { dash?: 'solid' | 'dash' | 'dot' | 'dashdot'; width?: number; mode?: string } = {},
): Record<string, unknown> {
  if (x.length !== y.length) throw new Error(`lineTrace: x has ${x.length} points, y has ${y.length}`);
  return {
    type: 'scatter',
    mode: opts.mode ?? 'lines',
    name,
    x: Array.from(x),
    y: Array.from(y),
    opacity: opts.opacity,
    line: { color: opts.color, dash: opts.dash ?? 'solid', width: opts.width ?? 2 },
    ...(opts.extra ?? {}),
  };
}

/**
 * A subplot's title, just above its top edge, as a layout annotation; `axes` is the subplot's axis
 * suffix ('' for the first subplot, '2' for the second, ...).
 */
export function panelTitle(
  text: string,
  axes: string,
  at: { x: number; xanchor: 'left' | 'center' },
): Record<string, unknown> {
  return {
    text,
    xref: `x${axes} domain`,
    yref: `y${axes} domain`,
    x: at.x,
    y: 1,
    showarrow: false,
    xanchor: at.xanchor,
    yanchor: 'bottom',
  };
}

/** A plain layout with axis titles; overlaid bars touch (histograms). */
export function layout(
  opts: { title?: string; xTitle?: string; yTitle?: string; logY?: boolean; extra?: Record<string, unknown> } = {},
): Record<string, unknown> {
  return {
    title: opts.title ? { text: opts.title } : undefined,
    xaxis: { title: { text: opts.xTitle ?? '' } },
    yaxis: { title: { text: opts.yTitle ?? '' }, type: opts.logY ? 'log' : 'linear' },
    barmode: 'overlay',
    bargap: 0,
    margin: { l: 60, r: 20, t: opts.title ? 50 : 20, b: 50 },
    ...(opts.extra ?? {}),
  };
}
