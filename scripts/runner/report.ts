// The runner's report: what it records per notebook (report.json), its verdict, and the
// text it prints at the end of a run.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CheckResult } from '../../src/notebook/checks';
import { formatNumber, textTable } from '../../src/notebook/tables';
import { formatBaselineComparison, type BaselineComparison } from './baseline';
import { saveFile } from '../../src/runtime/files';

/**
 * ok; failed (a cell raised or did not compile); timeout (a cell ran too long);
 * error (kernel died or the runner could not run it); checks-failed; html-failed
 * (the offline export could not be written, or did not render in Chromium); too-large (the
 * executed notebook is over MAX_NOTEBOOK_BYTES); interrupted
 * (SIGINT or SIGTERM stopped it).
 */
export type NotebookStatus =
  | 'ok'
  | 'failed'
  | 'checks-failed'
  | 'timeout'
  | 'error'
  | 'html-failed'
  | 'too-large'
  | 'interrupted';

/** The most bytes an executed notebook may take: JupyterLab opens and saves every byte of it. */
export const MAX_NOTEBOOK_BYTES = 1_000_000;

export interface FailedCell {
  /** 0-based index of the cell in the executed notebook (after parameter injection). */
  index: number;
  /** 1-based number among code cells, as a reader counts them. */
  codeCellNumber?: number;
  source: string;
}

export interface NotebookReport {
  name: string;
  status: NotebookStatus;
  seconds: number;
  failedCell?: FailedCell;
  error?: string;
  checks: CheckResult[];
  /** Wall seconds per cell of the executed notebook; null for cells not run. */
  cellSeconds?: (number | null)[];
  html?: string;
  htmlCheck?: { ok: boolean; figures: number; problems: string[] };
}

/** --repeat's comparison of two runs (see ./repeat). */
export interface RepeatComparison {
  compared: number;
  differences: string[];
}

export interface Report {
  backend?: string;
  config: string;
  startedAt?: string;
  notebooks: NotebookReport[];
  repeat?: RepeatComparison;
  /** The signal that stopped the run; notebooks after the interrupted one did not run. */
  interrupted?: string;
  /** The comparison with the regression baseline of this configuration and backend, if it has one. */
  baseline?: BaselineComparison;
}

/** The notebook's final status: an execution failure wins, then any failing check. */
export function notebookStatus(executed: NotebookStatus, checks: CheckResult[]): NotebookStatus {
  if (executed !== 'ok') return executed;
  return checks.every((c) => c.pass) ? 'ok' : 'checks-failed';
}

/** Every notebook ran clean with every check passing, and --repeat (if run) found no difference. */
export function reportPassed(r: Report): boolean {
  const ran =
    !r.interrupted &&
    r.notebooks.length > 0 &&
    r.notebooks.every((n) => n.status === 'ok' && n.checks.every((c) => c.pass));
  return (
    ran &&
    (r.repeat === undefined || r.repeat.differences.length === 0) &&
    (r.baseline === undefined || r.baseline.moved.length === 0)
  );
}

/** The summary printed by the runner: one row per notebook, then every failing check. */
export function formatSummary(r: Report): string {
  const rows = r.notebooks.map((n) => {
    const passed = n.checks.filter((c) => c.pass).length;
    return [n.name, n.status, n.seconds.toFixed(1), `${passed}/${n.checks.length}`];
  });
  const out = [textTable(['notebook', 'status', 'seconds', 'checks'], rows, [false, false, true, true])];
  for (const n of r.notebooks) {
    for (const c of n.checks.filter((x) => !x.pass)) {
      const detail = c.detail ? ` (${c.detail})` : '';
      out.push(
        `FAILED CHECK ${n.name}: ${c.name}: ${formatNumber(c.value)} ${c.op} ${formatNumber(c.threshold)} is false${detail}`,
      );
    }
  }
  return out.join('\n');
}

/** What is printed for a failed notebook: where it failed and the TS/JS error text. */
export function formatFailure(n: NotebookReport): string {
  const lines = [`--- ${n.name}: ${n.status}`];
  if (n.failedCell) {
    const c = n.failedCell;
    const which = c.index !== undefined ? ` (index ${c.index} in the executed notebook)` : '';
    lines.push(`code cell ${c.codeCellNumber ?? '?'}${which}:`);
    const src = c.source.split('\n');
    lines.push(...src.slice(0, 12).map((l) => `  | ${l}`));
    if (src.length > 12) lines.push(`  | ... (${src.length - 12} more lines)`);
  }
  if (n.error) lines.push('error:', ...n.error.split('\n').map((l) => `  ${l}`));
  return lines.join('\n');
}

/** The end of a run's output: each failure, the summary, the --repeat verdict and the totals; `reportWhere` is report.json's path, or why it was not written. */
export function formatRunEnd(report: Report, reportWhere: string): string {
  const out: string[] = [''];
  for (const n of report.notebooks.filter((x) => x.status !== 'ok' && (x.failedCell || x.error))) {
    out.push(`${formatFailure(n)}\n`);
  }
  out.push(formatSummary(report));
  const repeat = report.repeat;
  if (repeat && repeat.differences.length === 0)
    out.push(`reproducible: ${repeat.compared} checks identical across 2 runs`);
  else if (repeat)
    out.push(
      [`NOT reproducible (${repeat.compared} checks compared):`, ...repeat.differences.map((d) => `  ${d}`)].join('\n'),
    );
  if (report.baseline) out.push(formatBaselineComparison(report.baseline));
  if (report.interrupted)
    out.push(`INTERRUPTED by ${report.interrupted}: the notebooks after the last one listed did not run`);
  out.push(`\nreport: ${reportWhere}  (${reportPassed(report) ? 'PASSED' : 'FAILED'})`);
  // a closing line CI can count: notebooks that ran clean with every check passing
  const ok = report.notebooks.filter((n) => n.status === 'ok').length;
  out.push(`notebooks: ${ok} passed, ${report.notebooks.length - ok} failed`);
  return out.join('\n');
}

/**
 * Writes OUT/report.json. A run of some notebooks updates their entries in a report of the same
 * configuration and keeps the others; a report of another configuration is not mixed in: the
 * new report lists this run alone, and the warning says so. Saved atomically (./save-file), so a
 * full disk leaves the previous report, and the error names the file.
 */
export function writeReport(
  report: Report,
  out: string,
): { file: string; written: Report; kept: string[]; warning?: string } {
  const file = path.join(out, 'report.json');
  const previous = readReport(file);
  let merged = report;
  let kept: string[] = [];
  let warning: string | undefined;
  if (previous && previous.config === report.config) {
    const ran = new Set(report.notebooks.map((n) => n.name));
    const others = previous.notebooks.filter((n) => !ran.has(n.name));
    kept = others.map((n) => n.name);
    merged = { ...report, notebooks: [...others, ...report.notebooks].sort((a, b) => a.name.localeCompare(b.name)) };
  } else if (previous) {
    warning = `${file} was for configuration '${previous.config}'; it now lists only this '${report.config}' run. Other notebooks' files in ${out} are from the earlier run.`;
  }
  saveFile(file, `${JSON.stringify(merged, jsonNumbers, 2)}\n`);
  return { file, written: merged, kept, warning };
}

/** The report already in `file`, or null when there is none or it does not parse. */
function readReport(file: string): Report | null {
  try {
    const r = JSON.parse(fs.readFileSync(file, 'utf8')) as Report;
    return typeof r.config === 'string' && Array.isArray(r.notebooks) ? r : null;
  } catch {
    return null;
  }
}

/** JSON has no NaN: write it as the string "NaN" so the report says what happened. */
function jsonNumbers(_k: string, v: unknown) {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
}
