// Executes the notebooks, exports them to offline HTML, asserts their checks.
//
//   node dist/scripts/runner/run-notebooks.js [NAME...] [--ci] [--params FILE] [--timeout S]
//        [--out DIR] [--notebooks DIR] [--no-browser] [--no-html] [--repeat]
//
// NAME is a notebook's base name or a prefix of it (`04` finds `04-sampling`).
// Outputs: OUT/notebooks/NAME.ipynb (executed, even when a cell failed),
// OUT/html/NAME.html (self-contained), OUT/screenshots/NAME.png, OUT/report.json; notebooks,
// exports and report are saved whole or not at all. One run at a time per OUT: OUT/run-notebooks.lock names the run holding
// it. An OUT whose notebooks/ is the notebooks' folder is refused before anything is written.
// Exit status 1 if any notebook failed, any check failed, any export did not render, or
// (--repeat) a second run gave a different check value.
// Every notebook is run even after a failure, so one run reports everything; an
// unreadable notebook or a wrong parameter override fails that notebook before its
// kernel starts.
import * as os from 'node:os';
import * as path from 'node:path';
import { chromiumPath, checkHtmlFiles, formatHtmlCheck } from './check-html';
import { executeNotebook, interruptActiveNotebook, outputFiles, type ExecutedNotebook } from './execute';
import { ensureJupyter, type JupyterEnv } from './jupyter-env';
import { notebookNames } from './notebook-file';
import { parseArgs, selectNotebooks, type Options } from './options';
import { claimOutputFolder, overwrittenSources } from './out-folder';
import { loadParams, type Params } from './params';
import { compareWithBaseline, updateBaseline } from './baseline';
import { chapterOf, writeSite } from './site';
import { compareRuns } from './repeat';
import { formatRunEnd, reportPassed, writeReport, type Report } from './report';

/** The signal that interrupted this run, once one has. */
let interruption: NodeJS.Signals | null = null;

/**
 * SIGINT and SIGTERM stop the run cleanly instead of killing the runner alone: the notebook
 * being executed is interrupted (its kernel, and the worker threads in it, shut down), no
 * further notebook starts, and the report is written, marked interrupted.
 */
function stopOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interruption) return;
      interruption = signal;
      console.error(`[run-notebooks] ${signal}: stopping the notebook being executed and its kernel`);
      interruptActiveNotebook(signal);
    });
  }
}

/** How one sequence of notebooks runs beside another: a label for its lines, what each notebook waits for, what follows it. */
interface Lane {
  label?: string;
  before?: (name: string) => Promise<unknown>;
  after?: (name: string) => void;
}

/** Runs the notebooks one after another into `out`; the report has no HTML check yet. */
async function runAll(
  names: string[],
  o: Options,
  out: string,
  env: JupyterEnv,
  params: Params,
  config: string,
  exportHtml: boolean,
  lane: Lane = {},
): Promise<Report> {
  const report: Report = { config, startedAt: new Date().toISOString(), notebooks: [] };
  const tag = `[run-notebooks] ${lane.label ?? ''}`;
  for (const name of names) {
    await lane.before?.(name);
    if (interruption) break;
    const p = params[name] ?? {};
    const shown = Object.keys(p).length ? ` with ${JSON.stringify(p)}` : '';
    console.log(`${tag}${name}${shown} ...`);
    const started = Date.now();
    // whatever goes wrong with one notebook (a full disk, ...) is its error; the others still run
    const n = await executeNotebook(name, o, out, env, p, exportHtml).catch(
      (e): ExecutedNotebook => ({
        name,
        status: 'error',
        seconds: (Date.now() - started) / 1000,
        checks: [],
        error: (e as Error).message,
      }),
    );
    if (n.backend && !report.backend) report.backend = n.backend;
    delete n.backend;
    console.log(`${tag}${name}: ${n.status} in ${n.seconds.toFixed(1)} s`);
    report.notebooks.push(n);
    lane.after?.(name);
  }
  return report;
}

/**
 * --repeat: the first run, and a second one into OUT/repeat alongside it. A repeated notebook
 * waits for the first run of each notebook that is not repeated and comes before it (that one
 * may write what it reads: 03 saves the model 04 loads); otherwise the two go side by side, so
 * the second run's numbers must come out the same on a machine busy with the first.
 */
async function runTwice(
  names: string[],
  o: Options,
  env: JupyterEnv,
  params: Params,
  config: string,
): Promise<{ first: Report; second: Report; again: string[] }> {
  const skipped = names.filter((n) => o.repeatSkip.some((s) => n === s || n.startsWith(`${s}-`)));
  const again = names.filter((n) => !skipped.includes(n));
  console.log(
    `[run-notebooks] --repeat: a second run beside the first, same parameters, into ${path.join(o.out, 'repeat')}${skipped.length ? ` (not again: ${skipped.join(', ')})` : ''}`,
  );
  const finished = new Map<string, () => void>();
  const done = new Map(names.map((n) => [n, new Promise<void>((resolve) => finished.set(n, resolve))]));
  const releaseAll = () => {
    for (const resolve of finished.values()) resolve();
  };
  const earlierSkipped = (name: string) => skipped.filter((s) => names.indexOf(s) < names.indexOf(name));
  const [first, second] = await Promise.all([
    // (an interrupted or failed first run releases every waiter)
    runAll(names, o, o.out, env, params, config, o.html, { after: (n) => finished.get(n)!() }).finally(releaseAll),
    runAll(again, o, path.join(o.out, 'repeat'), env, params, config, false, {
      label: 'repeat: ',
      before: (name) => Promise.all(earlierSkipped(name).map((s) => done.get(s))),
    }),
  ]);
  return { first, second, again };
}

/** Opens each HTML export in Chromium and records the result; a notebook that was ok but whose export failed becomes html-failed. */
async function checkHtmlExports(report: Report, o: Options): Promise<void> {
  if (!o.html) return;
  const htmlFiles = report.notebooks.filter((n) => n.html).map((n) => n.html as string);
  if (!o.browser) {
    console.log('[run-notebooks] --no-browser: HTML exports not checked');
    return;
  }
  if (!chromiumPath()) {
    console.warn('[run-notebooks] WARNING: Chromium not found (set CHROMIUM_PATH): HTML exports not checked');
    return;
  }
  if (!htmlFiles.length) return;
  const made = new Map(report.notebooks.map((n) => [n.html as string, (n as ExecutedNotebook).figuresMade as number]));
  const results = await checkHtmlFiles(htmlFiles, {
    screenshotDir: path.join(o.out, 'screenshots'),
    expectedFigures: made,
  });
  for (const r of results) {
    console.log(formatHtmlCheck(r));
    const n = report.notebooks.find((x) => x.html === r.file);
    if (!n) continue;
    n.htmlCheck = { ok: r.ok, figures: r.figures, problems: r.problems };
    if (!r.ok && n.status === 'ok') n.status = 'html-failed';
  }
}

/** Refuses, before anything is removed or written, outputs that would land on source notebooks. */
function assertSourcesSafe(o: Options, names: string[]): void {
  const outs = o.repeat ? [o.out, path.join(o.out, 'repeat')] : [o.out];
  const clashes = overwrittenSources(
    o.notebooksDir,
    outs.flatMap((out) => names.flatMap((n) => Object.values(outputFiles(n, out)))),
  );
  if (clashes.length) {
    throw new Error(
      `--out ${o.out} would write over the source notebooks ${clashes.join(', ')}. Nothing was run or removed. ` +
        `Choose another --out (the default is build): OUT/notebooks must not be the notebooks' folder ${o.notebooksDir}.`,
    );
  }
}

export async function run(o: Options): Promise<{ report: Report; passed: boolean; reportWhere: string }> {
  const names = selectNotebooks(notebookNames(o.notebooksDir), o.names);
  if (names.length === 0) throw new Error(`no notebooks in ${o.notebooksDir}`);
  assertSourcesSafe(o, names);
  const { params, config } = loadParams(o, names);
  const release = claimOutputFolder(o.out);
  try {
    return await runIn(o, names, params, config);
  } finally {
    release();
  }
}

/** The run, in an output folder it holds. */
async function runIn(
  o: Options,
  names: string[],
  params: Params,
  config: string,
): Promise<{ report: Report; passed: boolean; reportWhere: string }> {
  const env = ensureJupyter(o.out);
  console.log(`[run-notebooks] python ${env.python}, kernel spec ${env.kernelJson}, config ${config}`);

  let report: Report;
  if (o.repeat) {
    const { first, second, again } = await runTwice(names, o, env, params, config);
    report = first;
    if (!interruption)
      report.repeat = compareRuns(
        { ...report, notebooks: report.notebooks.filter((n) => again.includes(n.name)) },
        second,
      );
  } else {
    report = await runAll(names, o, o.out, env, params, config, o.html);
  }
  if (!interruption) await checkHtmlExports(report, o);
  if (interruption) report.interrupted = interruption;
  else if (o.updateBaseline) console.log(`[run-notebooks] baseline updated: ${updateBaseline(report, o.baselines)}`);
  else report.baseline = compareWithBaseline(report, o.baselines) ?? undefined;
  // what cannot be saved (a full disk) is said once, and the summary is still printed
  let written: ReturnType<typeof writeReport>;
  try {
    written = writeReport(report, o.out);
  } catch (e) {
    return { report, passed: false, reportWhere: `NOT WRITTEN (${(e as Error).message})` };
  }
  if (written.kept.length)
    console.log(
      `[run-notebooks] ${written.file} also keeps the earlier results of ${written.kept.join(', ')} (same configuration)`,
    );
  if (written.warning) console.warn(`[run-notebooks] WARNING: ${written.warning}`);
  if (!o.html) return { report, passed: reportPassed(report), reportWhere: written.file };
  const chapters = notebookNames(o.notebooksDir)
    .sort()
    .map((n) => chapterOf(path.join(o.notebooksDir, `${n}.ipynb`)));
  try {
    console.log(`[run-notebooks] contents: ${writeSite(o.out, chapters, written.written)}`);
  } catch (e) {
    console.error(`[run-notebooks] ${(e as Error).message}`);
  }
  return { report, passed: reportPassed(report), reportWhere: written.file };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  stopOnSignals();
  const { report, passed, reportWhere } = await run(o);
  console.log(formatRunEnd(report, reportWhere));
  if (interruption) return 128 + os.constants.signals[interruption];
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
