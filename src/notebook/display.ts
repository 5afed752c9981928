// Display helpers for the tslab notebooks.
//
// tslab is required lazily, inside each function: its display functions throw
// "Not ready" outside a kernel, and requiring it at the top would make this module
// (and everything importing it) unusable from plain Node and the tests. Outside a
// kernel the helpers fall back to printing text, so notebook code also runs as a script.
import { barUsed, CHECKS_MIME, type Check, evaluateCheck, groupChecks, META_MIME } from './checks';
import { formatNumber } from './tables';
import { type Figure, type FigureOptions, PLOTLY_MIME, figureOutput, figureProblems } from './plots';
import { type Row, type TableOptions, escapeHtml, tableHtml, tableText } from './tables';

type Tslab = typeof import('tslab');
type Display = Tslab['display'];

function tslab(): Tslab {
  return require('tslab');
}

/** Runs `show` on tslab's display; outside a kernel prints `fallback` instead. */
function withDisplay(show: (d: Display) => void, fallback: () => string, target?: Display): void {
  try {
    show(target ?? tslab().display);
  } catch (e) {
    if ((e as Error).message !== 'Not ready') throw e;
    const text = fallback();
    if (text) console.log(text);
  }
}

/**
 * Sends one display_data output with several MIME types. tslab's display sends one type per
 * output, so this calls the kernel's writer that display.raw itself calls (tslab/dist/jupyter,
 * set while a cell runs); like display.raw it throws "Not ready" outside a kernel.
 */
function displayData(data: Record<string, unknown>): void {
  const kernel = require('tslab/dist/jupyter') as {
    lastWriteDisplayData:
      | ((msg: { data: Record<string, unknown>; metadata: object; transient: object }, update: boolean) => void)
      | null;
  };
  if (!kernel.lastWriteDisplayData) throw new Error('Not ready');
  kernel.lastWriteDisplayData({ data, metadata: {}, transient: {} }, false);
}

/**
 * Draws a Plotly figure ({data, layout}): JupyterLab and Notebook 7 draw it with jupyterlab-plotly,
 * the HTML export into its fallback <div>. The data is judged as it is sent.
 */
export function showFigure(fig: Figure, opts: FigureOptions = {}): void {
  const output = figureOutput(fig, opts);
  const problems = figureProblems(output[PLOTLY_MIME]);
  if (problems.length) throw new Error(`showFigure: this figure would not show its data: ${problems.join('; ')}`);
  withDisplay(
    () => displayData(output),
    () => `[figure: ${fig.data.length} trace(s)]`,
  );
}

/** An HTML table of rows (array of objects). */
export function showTable(data: Row[], opts?: TableOptions): void {
  withDisplay(
    (d) => d.html(tableHtml(data, opts)),
    () => tableText(data, opts),
  );
}

/**
 * Markdown (LaTeX included) as an output, rendered like a markdown cell by JupyterLab and the
 * HTML export: for prose whose numbers come from the run (./prose.ts).
 */
export function showMarkdown(text: string): void {
  withDisplay(
    (d) => d.markdown(text),
    () => text,
  );
}

export interface Progress {
  /** Replaces the line; `done` of `total` steps adds a bar and a percentage. */
  update(message: string, done?: number): void;
  /** Final update, always shown (never throttled). */
  finish(message: string): void;
}

/**
 * A status line that updates ONE output in place (tslab.newDisplay), e.g. for a
 * training loop. Updates are throttled (default every 0.5 s) because each one is a
 * message to the frontend and a rewrite of the stored output.
 */
export function progress(opts: { total?: number; label?: string; minIntervalMs?: number } = {}): Progress {
  let target: Display | undefined;
  try {
    target = tslab().newDisplay();
  } catch {
    target = undefined; // outside a kernel: withDisplay prints instead
  }
  const minInterval = opts.minIntervalMs ?? 500;
  const label = opts.label ? `${opts.label}: ` : '';
  const started = Date.now();
  let last = -Infinity;
  const render = (message: string, done?: number) => {
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    let bar = '';
    if (opts.total && done !== undefined) {
      const pct = Math.min(100, (100 * done) / opts.total);
      bar = `<progress value="${done}" max="${opts.total}" style="width:12em;vertical-align:middle"></progress> ${pct.toFixed(0)}% `;
    }
    const html = `<div style="font-family:monospace">${bar}${escapeHtml(label + message)} <span style="color:#888">(${secs} s)</span></div>`;
    withDisplay(
      (d) => d.html(html),
      () => `${label}${message} (${secs} s)`,
      target,
    );
  };
  return {
    update(message, done) {
      const now = Date.now();
      if (now - last < minInterval) return;
      last = now;
      render(message, done);
    },
    finish(message) {
      render(message, opts.total);
    },
  };
}

/**
 * Publishes checks for the notebook runner (raw CHECKS_MIME JSON, which the
 * runner re-evaluates) and shows them as a table for the reader. JSON has no
 * NaN: a NaN value is written as null, which the runner counts as a failure.
 */
export function publishChecks(checks: Check[]): void {
  // the text form is made only where there is no kernel to show the HTML
  withDisplay(
    (d) => d.html(publishedChecksHtml(checks)),
    () => {
      const tables = checkTables(checks);
      return `${tableText(tables.summary, tables.summaryOptions)}\n${tableText(tables.all, tables.allOptions)}`;
    },
  );
  withDisplay(
    (d) => d.raw(CHECKS_MIME, JSON.stringify(checks)),
    () => '',
  );
}

/** What publishChecks shows: a summary table, then every check in a collapsed table captioned 'Checks'. */
export function publishedChecksHtml(checks: Check[]): string {
  const tables = checkTables(checks);
  return `${tableHtml(tables.summary, tables.summaryOptions)}<details><summary>All ${checks.length} checks</summary>${tableHtml(tables.all, tables.allOptions)}</details>`;
}

/** How close a check is to its bar: the share of an upper bar its value uses, or how many times a lower bar it reaches. */
function margin(c: Check, used: number | null): string {
  if (used === null) return '';
  return c.op === '<=' || c.op === '<'
    ? ` (${formatNumber(100 * used, 3)} % of the bar)`
    : ` (${formatNumber(1 / used, 3)}× the bar)`;
}

/**
 * The reader sees one row per thing checked, with its check closest to its bar (a failing one
 * first); every check is one click away, and in report.json. The live check counts the 'pass' and
 * 'FAIL' cells of the table captioned 'Checks' only.
 */
function checkTables(checks: Check[]) {
  const all = checks.map((c) => ({
    check: c.name,
    value: formatNumber(c.value),
    condition: `${c.op} ${formatNumber(c.threshold)}`,
    result: evaluateCheck(c) ? 'pass' : 'FAIL',
    detail: c.detail ?? '',
  }));
  const summary = groupChecks(checks).map((g) => {
    const c = g.closest;
    const used = barUsed(c);
    const item = c.name === g.subject ? c.name : c.name.slice(g.subject.length + 2);
    return {
      checked: g.subject,
      checks: g.checks.length,
      result: g.failed ? `${g.failed} failed` : 'all pass',
      'closest to its bar (a failing one first)': `${item}: ${formatNumber(c.value)} ${c.op} ${formatNumber(c.threshold)}${margin(c, used)}`,
    };
  });
  return {
    summary,
    summaryOptions: { caption: 'What was checked: one row per sample set or comparison' },
    all,
    allOptions: { caption: 'Checks' },
  };
}

/**
 * Reports facts about the run to the notebook runner (report.json), e.g.
 * publishMeta({backend: tf.getBackend()}): tfjs can silently fall back to the cpu
 * backend, so the report should say which backend actually ran.
 */
export function publishMeta(meta: Record<string, unknown>): void {
  withDisplay(
    (d) => d.raw(META_MIME, JSON.stringify(meta)),
    () => '',
  );
}
