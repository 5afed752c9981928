// Runs one notebook: checks the file and its overrides, has execute_notebook.py run it in a
// tslab kernel (nbclient), and turns that script's result into the notebook's report.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checksFromPayload, type CheckResult } from '../../src/notebook/checks';
import { REPO_ROOT } from '../../src/runtime/paths';
import { countFigureOutputs } from './check-html';
import { makeOffline, notebookFigures } from './html-offline';
import { saveFile } from '../../src/runtime/files';
import { withNavigation } from './site';
import { childEnv, type JupyterEnv } from './jupyter-env';
import { notebookNames, readNotebook, type NotebookJson } from './notebook-file';
import type { Options } from './options';
import { declaredParameters, overrideProblems } from './params';
import { MAX_NOTEBOOK_BYTES, notebookStatus, type NotebookReport, type NotebookStatus } from './report';

/** A notebook's report, with what the run learnt beyond it: the backend it ran on, the figures it made. */
export type ExecutedNotebook = NotebookReport & { backend?: string; figuresMade?: number };

/** The JSON execute_notebook.py writes to --result. */
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

/** What one run of notebook `name` writes under `out`. */
export function outputFiles(name: string, out: string) {
  return {
    executed: path.join(out, 'notebooks', `${name}.ipynb`),
    html: path.join(out, 'html', `${name}.html`),
    rawHtml: path.join(out, 'html', `.${name}.nbconvert.html`),
    result: path.join(out, 'notebooks', `.${name}.result.json`),
    log: path.join(out, 'logs', `${name}.stderr.log`),
  };
}

/** The execute_notebook.py processes running now (two with --repeat), and the signal passed on to them. */
const active = new Set<ChildProcess>();
let interruptedBy: NodeJS.Signals | null = null;

/**
 * Passes SIGINT or SIGTERM on to the notebooks being executed: nbclient's handlers in
 * execute_notebook.py shut its kernel down (with the worker threads in it), and the script still
 * writes the executed notebook and its result, which the report marks interrupted.
 */
export function interruptActiveNotebook(signal: NodeJS.Signals): void {
  interruptedBy = signal;
  for (const child of active) child.kill('SIGTERM');
}

function runPython(env: JupyterEnv, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(env.python, args, { env: childEnv(env), stdio: ['ignore', 'inherit', 'pipe'] });
    active.add(child);
    child.on('exit', () => active.delete(child));
    // Kept, not echoed: the kernel's own noise (tslab's socket messages at start-up and shutdown
    // under load) would bury the runner's lines; executeNotebook shows it when the notebook fails.
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** The report of a finished execution, from the script's result. */
function reportFromResult(name: string, r: PyResult): ExecutedNotebook {
  const checks: CheckResult[] = r.checks.flatMap((c) => checksFromPayload(c.payload));
  const executedStatus: NotebookStatus = r.status === 'kernel-died' ? 'error' : r.status;
  const report: ExecutedNotebook = {
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
  return report;
}

/** Executes one notebook into `out`; with `exportHtml`, also writes its offline HTML export. */
export async function executeNotebook(
  name: string,
  o: Options,
  out: string,
  env: JupyterEnv,
  params: Record<string, unknown>,
  exportHtml: boolean,
): Promise<ExecutedNotebook> {
  const input = path.join(o.notebooksDir, `${name}.ipynb`);
  const files = outputFiles(name, out);
  for (const d of [path.dirname(files.executed), path.dirname(files.html)]) fs.mkdirSync(d, { recursive: true });
  // Stale outputs of an earlier run must not pass for this run's.
  for (const f of Object.values(files)) fs.rmSync(f, { force: true });
  const started = Date.now();
  // Checked before a kernel starts: a broken file or a mistyped override fails in
  // milliseconds with a message naming it, instead of as a TypeScript error in a cell.
  const nb = readNotebook(input);
  const problems = typeof nb === 'string' ? [nb] : overrideProblems(name, declaredParameters(nb), params);
  if (problems.length)
    return { name, status: 'error', seconds: (Date.now() - started) / 1000, checks: [], error: problems.join('\n') };
  const script = path.join(REPO_ROOT, 'scripts', 'runner', 'execute_notebook.py');
  const { code, stderr } = await runPython(env, [
    script,
    input,
    '--output',
    files.executed,
    '--result',
    files.result,
    ...(exportHtml ? ['--html', files.rawHtml] : []),
    '--params',
    JSON.stringify(params),
    '--timeout',
    String(Math.ceil(o.timeout)),
    '--startup-timeout',
    String(Math.ceil(o.startupTimeout)),
    '--parent-pid',
    String(process.pid),
  ]);
  // the notebook's stderr (the Python script's and its kernel's) goes to a log file (best effort:
  // on a full disk the report still says what failed), and to the console when the notebook failed
  try {
    if (stderr.trim()) saveFile(files.log, stderr);
  } catch {
    // the log is a convenience; the failure it would explain is reported anyway
  }
  if (!fs.existsSync(files.result)) {
    // The Python side itself crashed (bad install, unreadable notebook, ...).
    return {
      name,
      status: 'error',
      seconds: (Date.now() - started) / 1000,
      checks: [],
      error: `execute_notebook.py exited ${code} without a result:\n${stderr.trim().split('\n').slice(-15).join('\n')}`,
    };
  }
  const r: PyResult = JSON.parse(fs.readFileSync(files.result, 'utf8'));
  fs.rmSync(files.result, { force: true });
  const report = reportFromResult(name, r);
  if (report.status !== 'ok' && stderr.trim()) process.stderr.write(stderr);
  if (interruptedBy) {
    report.status = 'interrupted';
    report.error = `interrupted by ${interruptedBy}; the kernel was shut down${r.error ? `\n${r.error}` : ''}`;
  }
  const executed: NotebookJson | undefined = fs.existsSync(files.executed)
    ? JSON.parse(fs.readFileSync(files.executed, 'utf8'))
    : undefined;
  if (executed) report.figuresMade = countFigureOutputs(executed);
  const bytes = executed ? fs.statSync(files.executed).size : 0;
  if (bytes > MAX_NOTEBOOK_BYTES) {
    const why = `the executed notebook is ${(bytes / 1e6).toFixed(2)} MB, over the ${MAX_NOTEBOOK_BYTES / 1e6} MB a chapter may take (JupyterLab opens and saves all of it): an output holds too much data`;
    report.error = [report.error, why].filter(Boolean).join('\n');
    if (report.status === 'ok') report.status = 'too-large';
  }
  let htmlError = r.htmlError;
  if (fs.existsSync(files.rawHtml)) {
    const chapters = notebookNames(o.notebooksDir).sort();
    try {
      const figures = executed ? notebookFigures(executed) : [];
      saveFile(
        files.html,
        withNavigation(makeOffline(fs.readFileSync(files.rawHtml, 'utf8'), { figures }), chapters, name),
      );
      report.html = files.html;
    } catch (e) {
      htmlError = (e as Error).message;
    } finally {
      fs.rmSync(files.rawHtml, { force: true });
    }
  }
  if (htmlError) {
    report.error = [report.error, `HTML export failed: ${htmlError}`].filter(Boolean).join('\n');
    if (report.status === 'ok') report.status = 'html-failed';
  }
  return report;
}
