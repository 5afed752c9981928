// Executes the notebooks, exports them to offline HTML, asserts their checks.
//
//   node dist/scripts/runner/run-notebooks.js [NAME...] [--ci] [--params FILE] [--timeout S]
//        [--out DIR] [--notebooks DIR] [--no-browser] [--repeat]
//
// NAME is a notebook's base name or a prefix of it (`04` finds `04-sampling`).
// Outputs: OUT/notebooks/NAME.ipynb (executed, even when a cell failed),
// OUT/html/NAME.html (self-contained), OUT/screenshots/NAME.png, OUT/report.json.
// Exit status 1 if any notebook failed, any check failed, any export did not render, or
// (--repeat) a second run gave a different check value.
// Every notebook is run even after a failure, so one run reports everything; an
// unreadable notebook or a wrong parameter override fails that notebook before its
// kernel starts.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CheckResult,
  NotebookReport,
  NotebookStatus,
  Report,
  checksFromPayload,
  formatSummary,
  notebookStatus,
  reportPassed,
} from '../../src/notebook/checks';
import { REPO_ROOT } from '../../src/runtime/paths';
import { childEnv, ensureJupyter, JupyterEnv } from './jupyter-env';
import { makeOffline } from './html-offline';
import { chromiumPath, checkHtmlFiles, countFigureOutputs, formatHtmlCheck } from './check-html';

type Params = Record<string, Record<string, unknown>>;

const USAGE = `usage: node dist/scripts/runner/run-notebooks.js [NAME...] [options]
  NAME               notebook base name or number prefix (04 -> 04-sampling); default: all
  --ci               parameter overrides from NOTEBOOKS/ci-params.json (created if absent)
  --params FILE      more overrides, {"01-data": {"nSamples": 2000}}, applied after --ci
  --timeout S        seconds per cell (default 1800)
  --startup-timeout S  seconds for the kernel to start (default 60)
  --out DIR          output folder (default build)
  --notebooks DIR    notebook folder (default notebooks)
  --no-browser       do not check the HTML exports in Chromium
  --repeat           run the notebooks a second time (into OUT/repeat, no HTML) and fail
                     unless every check value and the backend are identical`;

export interface Options {
  names: string[];
  ci: boolean;
  paramsFile?: string;
  timeout: number;
  startupTimeout: number;
  out: string;
  notebooksDir: string;
  browser: boolean;
  repeat: boolean;
}

export function parseArgs(argv: string[]): Options {
  const o: Options = {
    names: [], ci: false, timeout: 1800, startupTimeout: 60, out: 'build', notebooksDir: 'notebooks', browser: true, repeat: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (a === '--ci') o.ci = true;
    else if (a === '--params') o.paramsFile = value();
    else if (a === '--timeout') o.timeout = Number(value());
    else if (a === '--startup-timeout') o.startupTimeout = Number(value());
    else if (a === '--out') o.out = value();
    else if (a === '--notebooks') o.notebooksDir = value();
    else if (a === '--no-browser') o.browser = false;
    else if (a === '--repeat') o.repeat = true;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else o.names.push(a.replace(/\.ipynb$/, ''));
  }
  if (!(o.timeout > 0) || !(o.startupTimeout > 0)) throw new Error('--timeout and --startup-timeout need positive seconds');
  return o;
}

/** Notebook base names in name order, filtered by exact names or prefixes (`04` -> `04-sampling`). */
export function selectNotebooks(all: string[], names: string[]): string[] {
  const sorted = [...all].sort();
  if (names.length === 0) return sorted;
  const chosen = new Set<string>();
  for (const n of names) {
    const hits = sorted.filter((b) => b === n || b.startsWith(`${n}-`));
    if (hits.length === 0) throw new Error(`no notebook matches "${n}" (have: ${sorted.join(', ') || 'none'})`);
    hits.forEach((h) => chosen.add(h));
  }
  return sorted.filter((b) => chosen.has(b));
}

function readParams(file: string): Params {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'));
  const isObject = (v: unknown) => !!v && typeof v === 'object' && !Array.isArray(v);
  if (!isObject(p)) throw new Error(`${file}: expected {"notebook": {"name": value}}`);
  for (const [nb, values] of Object.entries(p)) {
    if (!isObject(values)) throw new Error(`${file}: "${nb}" must map to {"name": value}, got ${JSON.stringify(values)}`);
  }
  return p;
}

/** Overrides per notebook: ci-params.json (with --ci), then --params on top. Creates ci-params.json if absent. */
export function loadParams(o: Options, notebooks: string[]): { params: Params; config: string } {
  const merged: Params = {};
  const configs: string[] = [];
  const add = (p: Params) => {
    for (const [nb, values] of Object.entries(p)) merged[nb] = { ...(merged[nb] ?? {}), ...values };
  };
  if (o.ci) {
    const file = path.join(o.notebooksDir, 'ci-params.json');
    if (!fs.existsSync(file)) {
      const placeholder = Object.fromEntries(notebooks.map((n) => [n, {}]));
      fs.writeFileSync(file, JSON.stringify(placeholder, null, 2) + '\n');
      console.warn(`[run-notebooks] created ${file} with empty placeholders: fill in the CI parameters`);
    }
    add(readParams(file));
    configs.push('ci');
  }
  if (o.paramsFile) {
    add(readParams(o.paramsFile));
    configs.push(path.basename(o.paramsFile));
  }
  const known = new Set(fs.readdirSync(o.notebooksDir).filter((f) => f.endsWith('.ipynb')).map((f) => f.slice(0, -6)));
  for (const nb of Object.keys(merged)) {
    if (!known.has(nb)) console.warn(`[run-notebooks] parameters given for unknown notebook "${nb}"`);
  }
  return { params: merged, config: configs.length ? configs.join('+') : 'full' };
}

// ---------------------------------------------------------------- parameters

type JsonType = 'number' | 'string' | 'boolean' | 'null' | 'array' | 'object';

/** One `let name = default;` line of a parameters cell. */
export interface DeclaredParameter {
  name: string;
  /** The line as written, for messages. */
  source: string;
  /** JSON types an override may have; null when the default is an expression we cannot type. */
  types: JsonType[] | null;
}

function jsonType(v: unknown): JsonType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v as JsonType;
}

function literalType(expr: string): JsonType | undefined {
  const e = expr.trim();
  if (/^[+-]?(\d[\d_]*(\.[\d_]*)?|\.\d[\d_]*)(e[+-]?\d+)?$/i.test(e)) return 'number';
  if (/^(['"`]).*\1$/.test(e)) return 'string';
  if (e === 'true' || e === 'false') return 'boolean';
  if (e === 'null') return 'null';
  if (/^\[.*\]$/.test(e)) return 'array';
  if (/^\{.*\}$/.test(e)) return 'object';
  return undefined;
}

/** Types allowed by an annotation such as `number | null`; null if any part is beyond JSON's types. */
function annotationTypes(annotation: string): JsonType[] | null {
  const types: JsonType[] = [];
  for (const part of annotation.split('|').map((x) => x.trim())) {
    if (['number', 'string', 'boolean', 'null'].includes(part)) types.push(part as JsonType);
    else if (/\[\]$|^Array</.test(part)) types.push('array');
    else return null;
  }
  return types;
}

/**
 * The parameters a notebook declares: the `let` lines of its code cell tagged `parameters`,
 * typed by their annotation or else by their literal default (as TypeScript would infer it).
 * Undefined if no cell is tagged `parameters`.
 */
export function declaredParameters(nb: NotebookJson): Map<string, DeclaredParameter> | undefined {
  const cell = nb.cells.find((c) => c.cell_type === 'code' && (c.metadata?.tags ?? []).includes('parameters'));
  if (!cell) return undefined;
  const found = new Map<string, DeclaredParameter>();
  for (const line of sourceText(cell.source).split('\n')) {
    const m = /^\s*let\s+([A-Za-z_$][\w$]*)\s*(?::\s*([^=]+?)\s*)?=\s*(.*)$/.exec(line);
    if (!m) continue;
    const expr = m[3].replace(/;\s*(\/\/.*)?$/, '');
    const literal = literalType(expr);
    const types = m[2] !== undefined ? annotationTypes(m[2]) : literal ? [literal] : null;
    found.set(m[1], { name: m[1], source: line.trim(), types });
  }
  return found;
}

/** Problems with a notebook's overrides (unknown names, wrong JSON types); empty if none. */
export function overrideProblems(notebook: string, declared: Map<string, DeclaredParameter> | undefined, overrides: Record<string, unknown>): string[] {
  const given = Object.keys(overrides);
  if (given.length === 0) return [];
  if (!declared) return [`${notebook}: parameter overrides given (${given.join(', ')}) but no code cell is tagged "parameters"`];
  const problems: string[] = [];
  for (const [name, value] of Object.entries(overrides)) {
    const d = declared.get(name);
    if (!d) {
      problems.push(`${notebook}: unknown parameter "${name}"; its parameters cell declares ${[...declared.keys()].join(', ') || 'none'}`);
    } else if (d.types && !d.types.includes(jsonType(value))) {
      problems.push(`${notebook}: parameter "${name}" must be ${d.types.join(' or ')} (declared \`${d.source}\`), got ${JSON.stringify(value)} (${jsonType(value)})`);
    }
  }
  return problems;
}

interface NotebookJson {
  cells: { cell_type: string; metadata?: { tags?: string[] }; source: string | string[]; outputs?: { data?: Record<string, unknown> }[] }[];
}

function sourceText(src: string | string[]): string {
  return Array.isArray(src) ? src.join('') : src;
}

/** The notebook's JSON, or an error message saying why it cannot be run. */
function readNotebook(file: string): NotebookJson | string {
  let nb: unknown;
  try {
    nb = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    return `${file} is not a readable notebook: ${(e as Error).message}`;
  }
  if (!nb || typeof nb !== 'object' || !Array.isArray((nb as NotebookJson).cells)) return `${file} is not a notebook: it has no "cells" array`;
  return nb as NotebookJson;
}

// ---------------------------------------------------------------- execution

interface PyResult {
  status: NotebookStatus | 'kernel-died';
  seconds: number;
  failedCell: { index: number; codeCellNumber: number; injected?: boolean; source: string } | null;
  error: string | null;
  cellSeconds: (number | null)[];
  checks: { cell: number; payload: unknown }[];
  meta: { cell: number; payload: Record<string, unknown> }[];
  htmlError?: string;
}

function runPython(env: JupyterEnv, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(env.python, args, { env: childEnv(env), stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
      process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

type RunNotebook = NotebookReport & { backend?: string; figuresMade?: number };
/** The report, with --repeat's comparison of the two runs. */
export type RunReport = Report & { repeat?: { compared: number; differences: string[] } };

/** Executes one notebook into `out`; with `exportHtml`, also writes its offline HTML export. */
async function runOne(name: string, o: Options, out: string, env: JupyterEnv, params: Record<string, unknown>, exportHtml: boolean): Promise<RunNotebook> {
  const input = path.join(o.notebooksDir, `${name}.ipynb`);
  const executed = path.join(out, 'notebooks', `${name}.ipynb`);
  const html = path.join(out, 'html', `${name}.html`);
  const rawHtml = path.join(out, 'html', `.${name}.nbconvert.html`);
  const resultFile = path.join(out, 'notebooks', `.${name}.result.json`);
  for (const d of [path.dirname(executed), path.dirname(html)]) fs.mkdirSync(d, { recursive: true });
  // Stale outputs of an earlier run must not pass for this run's.
  for (const f of [resultFile, executed, html, rawHtml]) fs.rmSync(f, { force: true });
  const started = Date.now();
  // Checked before a kernel starts: a broken file or a mistyped override fails in
  // milliseconds with a message naming it, instead of as a TypeScript error in a cell.
  const nb = readNotebook(input);
  const problems = typeof nb === 'string' ? [nb] : overrideProblems(name, declaredParameters(nb), params);
  if (problems.length) return { name, status: 'error', seconds: (Date.now() - started) / 1000, checks: [], error: problems.join('\n') };
  const script = path.join(REPO_ROOT, 'scripts', 'runner', 'execute_notebook.py');
  const { code, stderr } = await runPython(env, [
    script, input, '--output', executed, '--result', resultFile, ...(exportHtml ? ['--html', rawHtml] : []),
    '--params', JSON.stringify(params), '--timeout', String(Math.ceil(o.timeout)),
    '--startup-timeout', String(Math.ceil(o.startupTimeout)),
  ]);
  if (!fs.existsSync(resultFile)) {
    // The Python side itself crashed (bad install, unreadable notebook, ...).
    return {
      name, status: 'error', seconds: (Date.now() - started) / 1000, checks: [],
      error: `execute_notebook.py exited ${code} without a result:\n${stderr.trim().split('\n').slice(-15).join('\n')}`,
    };
  }
  const r: PyResult = JSON.parse(fs.readFileSync(resultFile, 'utf8'));
  fs.rmSync(resultFile, { force: true });
  const checks: CheckResult[] = r.checks.flatMap((c) => checksFromPayload(c.payload));
  const executedStatus: NotebookStatus = r.status === 'ok' ? 'ok' : r.status === 'timeout' ? 'timeout' : r.status === 'failed' ? 'failed' : 'error';
  const report: RunNotebook = {
    name,
    status: notebookStatus(executedStatus, checks),
    seconds: r.seconds,
    checks,
    cellSeconds: r.cellSeconds,
  };
  if (r.failedCell) report.failedCell = r.failedCell;
  if (r.error) report.error = r.error;
  const backend = r.meta.map((m) => m.payload.backend).find((b) => typeof b === 'string');
  if (backend) report.backend = backend as string;
  if (fs.existsSync(executed)) report.figuresMade = countFigureOutputs(JSON.parse(fs.readFileSync(executed, 'utf8')));
  if (fs.existsSync(rawHtml)) {
    fs.writeFileSync(html, makeOffline(fs.readFileSync(rawHtml, 'utf8')));
    fs.rmSync(rawHtml);
    report.html = html;
  } else if (r.htmlError) {
    report.error = [report.error, `HTML export failed: ${r.htmlError}`].filter(Boolean).join('\n');
  }
  return report;
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

/** Runs the notebooks one after another into `out`; the report has no HTML check yet. */
async function runAll(names: string[], o: Options, out: string, env: JupyterEnv, params: Params, config: string, exportHtml: boolean): Promise<Report> {
  const report: Report = { config, startedAt: new Date().toISOString(), notebooks: [] };
  for (const name of names) {
    const p = params[name] ?? {};
    const shown = Object.keys(p).length ? ` with ${JSON.stringify(p)}` : '';
    console.log(`[run-notebooks] ${name}${shown} ...`);
    const n = await runOne(name, o, out, env, p, exportHtml);
    if (n.backend && !report.backend) report.backend = n.backend;
    delete n.backend;
    console.log(`[run-notebooks] ${name}: ${n.status} in ${n.seconds.toFixed(1)} s`);
    report.notebooks.push(n);
  }
  return report;
}

/**
 * Differences between two runs of the same notebooks: the backend, each notebook's status,
 * and every check's value, compared exactly (same seed, same backend: the numbers must not move).
 */
export function compareRuns(a: Report, b: Report): { compared: number; differences: string[] } {
  const differences: string[] = [];
  let compared = 0;
  if (a.backend !== b.backend) differences.push(`backend: ${a.backend} vs ${b.backend}`);
  for (const first of a.notebooks) {
    const second = b.notebooks.find((n) => n.name === first.name);
    if (!second) {
      differences.push(`${first.name}: missing from the second run`);
      continue;
    }
    if (first.status !== second.status) differences.push(`${first.name}: status ${first.status} vs ${second.status}`);
    const names = (n: NotebookReport) => n.checks.map((c) => c.name).join(', ');
    if (names(first) !== names(second)) {
      differences.push(`${first.name}: checks [${names(first)}] vs [${names(second)}]`);
      continue;
    }
    first.checks.forEach((c, i) => {
      compared++;
      const v = second.checks[i].value;
      if (!Object.is(c.value, v)) differences.push(`${first.name}: ${c.name}: ${c.value} vs ${v}`);
    });
  }
  return { compared, differences };
}

export async function run(o: Options): Promise<{ report: RunReport; passed: boolean }> {
  const all = fs.readdirSync(o.notebooksDir).filter((f) => f.endsWith('.ipynb')).map((f) => f.slice(0, -6));
  const names = selectNotebooks(all, o.names);
  if (names.length === 0) throw new Error(`no notebooks in ${o.notebooksDir}`);
  const { params, config } = loadParams(o, names);
  const env = ensureJupyter(o.out);
  console.log(`[run-notebooks] python ${env.python}, kernel spec ${env.kernelJson}, config ${config}`);

  const report: RunReport = await runAll(names, o, o.out, env, params, config, true);

  const htmlFiles = report.notebooks.filter((n) => n.html).map((n) => n.html as string);
  if (!o.browser) {
    console.log('[run-notebooks] --no-browser: HTML exports not checked');
  } else if (!chromiumPath()) {
    console.warn('[run-notebooks] WARNING: Chromium not found (set CHROMIUM_PATH): HTML exports not checked');
  } else if (htmlFiles.length) {
    const made = new Map(report.notebooks.map((n) => [n.html as string, (n as RunNotebook).figuresMade as number]));
    const results = await checkHtmlFiles(htmlFiles, { screenshotDir: path.join(o.out, 'screenshots'), expectedFigures: made });
    for (const r of results) {
      console.log(formatHtmlCheck(r));
      const n = report.notebooks.find((x) => x.html === r.file);
      if (!n) continue;
      n.htmlCheck = { ok: r.ok, figures: r.figures, problems: r.problems };
      if (!r.ok && n.status === 'ok') n.status = 'html-failed';
    }
  }

  let reproducible = true;
  if (o.repeat) {
    console.log('[run-notebooks] --repeat: second run, same parameters, into ' + path.join(o.out, 'repeat'));
    const second = await runAll(names, o, path.join(o.out, 'repeat'), env, params, config, false);
    report.repeat = compareRuns(report, second);
    reproducible = report.repeat.differences.length === 0;
  }

  fs.writeFileSync(path.join(o.out, 'report.json'), JSON.stringify(report, jsonNumbers, 2) + '\n');
  return { report, passed: reportPassed(report) && reproducible };
}

/** JSON has no NaN: write it as the string "NaN" so the report says what happened. */
function jsonNumbers(_k: string, v: unknown) {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const { report, passed } = await run(o);
  console.log('');
  for (const n of report.notebooks.filter((x) => x.status !== 'ok' && (x.failedCell || x.error))) {
    console.log(formatFailure(n) + '\n');
  }
  console.log(formatSummary(report));
  const repeat = report.repeat;
  if (repeat && repeat.differences.length === 0) console.log(`reproducible: ${repeat.compared} checks identical across 2 runs`);
  else if (repeat) console.log([`NOT reproducible (${repeat.compared} checks compared):`, ...repeat.differences.map((d) => `  ${d}`)].join('\n'));
  console.log(`\nreport: ${path.join(o.out, 'report.json')}  (${passed ? 'PASSED' : 'FAILED'})`);
  // a closing line CI can count: notebooks that ran clean with every check passing
  const ok = report.notebooks.filter((n) => n.status === 'ok').length;
  console.log(`notebooks: ${ok} passed, ${report.notebooks.length - ok} failed`);
  return passed ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(`[run-notebooks] ${(e as Error).message}`);
      process.exit(2);
    },
  );
}
