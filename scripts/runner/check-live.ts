// Runs a project notebook the way a reader does: in a live classic Jupyter Notebook server,
// opened in headless Chromium, with every cell run from the UI (menu Cell > Run All). Checks
// that the tslab kernel answered every cell (execution counts, the backend line on stdout, no
// error output), that the checks the notebook published pass, and that its Plotly figures drew
// in the live page. Saves a screenshot.
//
//   node dist/scripts/runner/check-live.js [NOTEBOOK] [--out DIR] [--timeout S]
//
// NOTEBOOK defaults to 01-data. The server runs on 127.0.0.1 with a random free port and a
// token, on a copy of the notebook in a temporary folder directly under the repository root
// (so its `../dist/src/index` import resolves), with its own Jupyter config and runtime dirs.
// It is stopped on every path out, and the notebook in notebooks/ is never opened or saved.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { CHECKS_MIME, checksFromPayload, type CheckResult } from '../../src/notebook/checks';
import { REPO_ROOT } from '../../src/runtime/paths';
import { CHROMIUM_ARGS, chromiumPath } from './check-html';
import { childEnv, ensureJupyter, KERNEL_NAME, type JupyterEnv } from './jupyter-env';

export interface LiveCheck {
  ok: boolean;
  notebook: string;
  /** What was checked and held, one line each. */
  verified: string[];
  problems: string[];
  screenshot?: string;
}

/** The classic Notebook server's command, if installed (Debian: jupyter-notebook). */
export function jupyterNotebookPath(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v jupyter-notebook'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls the server's API until it answers (or the server exits, or time runs out). */
async function waitForServer(base: string, token: string, server: ChildProcess, log: () => string, timeoutMs: number): Promise<{ kernelspecs: Record<string, unknown> }> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (server.exitCode !== null) throw new Error(`jupyter-notebook exited with ${server.exitCode}:\n${log()}`);
    try {
      const r = await fetch(`${base}/api/kernelspecs`, { headers: { Authorization: `token ${token}` } });
      if (r.ok) return (await r.json()) as { kernelspecs: Record<string, unknown> };
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  throw new Error(`jupyter-notebook did not answer within ${timeoutMs / 1000} s:\n${log()}`);
}

/** SIGTERM (the server then shuts its kernels down), SIGKILL if it lingers. */
async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Processes whose command line names `dir`: kernels started by our server carry its connection file there. */
function processesUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) pids.push(Number(p));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

interface LiveState {
  kernelName: string;
  /** Execution counts of the code cells, null for a cell not run. */
  counts: (number | null)[];
  stdout: string;
  errors: string[];
  /** Check payloads the cells published under CHECKS_MIME. */
  checks: unknown[];
  figures: number;
  rendered: number;
  withData: number;
}

/** What the live page shows (runs in the browser; no DOM types in this tsconfig). */
function liveState(mime: string): LiveState {
  const win = globalThis as any;
  const doc = win.document;
  const cells = win.Jupyter.notebook.get_cells().filter((c: any) => c.cell_type === 'code');
  const figs = Array.from(doc.querySelectorAll('.output_area div.tsd-plotly')) as any[];
  return {
    kernelName: (doc.querySelector('.kernel_indicator_name')?.textContent ?? '').trim(),
    counts: cells.map((c: any) => c.input_prompt_number ?? null),
    stdout: Array.from(doc.querySelectorAll('.output_stdout')).map((e: any) => e.textContent).join(''),
    errors: Array.from(doc.querySelectorAll('.output_stderr, .output_error')).map((e: any) => e.textContent.slice(0, 300)),
    checks: cells.flatMap((c: any) => c.output_area.outputs.filter((o: any) => o.data && o.data[mime]).map((o: any) => o.data[mime])),
    figures: figs.length,
    rendered: figs.filter((d) => d.querySelector('.main-svg')).length,
    // as in check-html: a drawn trace is a g.trace path with a shape or a heatmap image
    withData: figs.filter((d) => Array.from(d.querySelectorAll('g.trace path, g.hm image')).some((e: any) => e.getAttribute('d') || e.getAttribute('href'))).length,
  };
}

function allCellsDone() {
  const doc = (globalThis as any).document;
  const prompts = Array.from(doc.querySelectorAll('.code_cell .input_prompt')).map((p: any) => p.textContent as string);
  return prompts.length > 0 && prompts.every((t) => /\[\d+\]/.test(t)) && !!doc.querySelector('#kernel_indicator_icon.kernel_idle_icon');
}

function figuresDrawn() {
  const figs = Array.from((globalThis as any).document.querySelectorAll('.output_area div.tsd-plotly')) as any[];
  return figs.every((d) => d.querySelector('.main-svg'));
}

/** Chromium and the classic Notebook server; throws saying how to install what is missing. */
function liveTools(source: string): { executablePath: string; jupyter: string } {
  const executablePath = chromiumPath();
  const jupyter = jupyterNotebookPath();
  if (!executablePath) throw new Error('Chromium not found (Debian: apt-get install chromium; or set CHROMIUM_PATH)');
  if (!jupyter) throw new Error('jupyter-notebook not found (Debian: apt-get install jupyter-notebook)');
  if (!fs.existsSync(source)) throw new Error(`no notebook ${source}`);
  return { executablePath, jupyter };
}

interface NotebookServer {
  base: string;
  token: string;
  /** Waits until the server answers; returns its kernel specs. */
  ready(): Promise<{ kernelspecs: Record<string, unknown> }>;
  stop(): Promise<void>;
}

/** Starts jupyter-notebook on a free port with a token, serving `notebookDir`, with its config and runtime dirs under `jupyterDirs`. */
async function startServer(jupyter: string, env: JupyterEnv, notebookDir: string, jupyterDirs: string): Promise<NotebookServer> {
  const token = crypto.randomBytes(24).toString('hex');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let serverLog = '';
  const args = ['--no-browser', '--ip=127.0.0.1', `--port=${port}`, '--port-retries=0', `--NotebookApp.token=${token}`, `--notebook-dir=${notebookDir}`];
  // CI containers run as root, which the server refuses without this flag.
  if (process.getuid?.() === 0) args.push('--allow-root');
  const server = spawn(
    jupyter,
    args,
    // Own config and runtime dirs: no user config applies, and a kernel left behind is findable.
    { env: { ...childEnv(env), JUPYTER_CONFIG_DIR: path.join(jupyterDirs, 'config'), JUPYTER_RUNTIME_DIR: path.join(jupyterDirs, 'runtime') }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const collect = (d: Buffer) => (serverLog += d);
  server.stdout?.on('data', collect);
  server.stderr?.on('data', collect);
  // Even if this process dies of an exception, the server must not outlive it.
  const killOnExit = () => server.kill('SIGKILL');
  process.on('exit', killOnExit);
  return {
    base,
    token,
    ready: () => waitForServer(base, token, server, () => serverLog.slice(-2000), 60_000),
    async stop() {
      await stopServer(server);
      process.off('exit', killOnExit);
    },
  };
}

/** Opens the notebook in a new page that may load nothing but the server's own URLs. */
async function openNotebook(browser: Browser, server: NotebookServer, name: string, problems: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  // Everything the page needs comes from the local server; nothing may go elsewhere.
  await page.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(server.base) || u.startsWith('data:') || u.startsWith('blob:')) return route.continue();
    problems.push(`request outside the server: ${u}`);
    return route.abort();
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`${server.base}/notebooks/${name}.ipynb?token=${server.token}`, { waitUntil: 'load', timeout: 60_000 });
  await page.waitForSelector('#kernel_indicator_icon.kernel_idle_icon', { timeout: 60_000 });
  return page;
}

/** Cell > Run All through the menu, as a reader would; then what the page shows. */
async function runAllCells(page: Page, timeoutMs: number, problems: string[]): Promise<LiveState> {
  await page.click('#celllink');
  await page.click('#run_all_cells > a');
  // On a timeout, go on: the page's state says which cells ran and what they printed.
  const done = await page.waitForFunction(allCellsDone, undefined, { timeout: timeoutMs, polling: 500 }).then(() => true, () => false);
  if (!done) problems.push(`not every cell finished within ${timeoutMs / 1000} s`);
  await page.waitForFunction(figuresDrawn, undefined, { timeout: 30_000 }).catch(() => undefined);
  return page.evaluate(liveState, CHECKS_MIME);
}

/** What the page's state shows: the kernel, every cell run in order, the backend line, no errors, passing checks, drawn figures. */
function judgeLiveState(s: LiveState, verified: string[], problems: string[]): void {
  if (s.kernelName === 'TypeScript (tslab)') verified.push(`the page's kernel is "${s.kernelName}"`);
  else problems.push(`the page's kernel is "${s.kernelName}", expected "TypeScript (tslab)"`);
  const increasing = s.counts.every((c: number | null, i: number) => c !== null && (i === 0 || c > (s.counts[i - 1] as number)));
  if (increasing) verified.push(`Cell > Run All ran all ${s.counts.length} code cells (execution counts ${s.counts.join(', ')})`);
  else problems.push(`execution counts after Run All: ${s.counts.join(', ')}`);
  const backend = /tfjs \S+ backend: \w+/.exec(s.stdout);
  if (backend) verified.push(`the kernel printed "${backend[0]}"`);
  else problems.push(`no backend line on stdout; stdout was: ${s.stdout.slice(0, 300)}`);
  if (s.errors.length === 0) verified.push('no error or stderr output');
  else problems.push(...s.errors.map((e: string) => `error output: ${e}`));
  const checks: CheckResult[] = s.checks.flatMap((p: unknown) => checksFromPayload(typeof p === 'string' ? JSON.parse(p) : p));
  const failed = checks.filter((c) => !c.pass);
  if (checks.length > 0 && failed.length === 0) verified.push(`all ${checks.length} published checks pass (${checks.map((c) => c.name).join('; ')})`);
  else problems.push(checks.length ? `failed checks: ${failed.map((c) => `${c.name} = ${c.value}`).join('; ')}` : 'the notebook published no checks');
  if (s.figures > 0 && s.rendered === s.figures && s.withData === s.figures) {
    verified.push(`${s.figures} inline Plotly figure(s) drawn in the live page, each with data`);
  } else {
    problems.push(`${s.figures} figures in the outputs, ${s.rendered} rendered, ${s.withData} with data`);
  }
}

/** Kills kernels that outlived the server (found by their connection files under `runtime`). */
function killLeftoverKernels(runtime: string, verified: string[], problems: string[]): void {
  const left = processesUsing(runtime);
  if (left.length) {
    problems.push(`kernel process(es) ${left.join(', ')} outlived the server; killed`);
    left.forEach((pid) => process.kill(pid, 'SIGKILL'));
  } else {
    verified.push('server stopped; no kernel left running');
  }
}

export async function checkLive(opts: { notebook?: string; out?: string; timeoutS?: number } = {}): Promise<LiveCheck> {
  const name = opts.notebook ?? '01-data';
  const out = path.resolve(opts.out ?? 'build');
  const timeout = (opts.timeoutS ?? 300) * 1000;
  const source = path.join(REPO_ROOT, 'notebooks', `${name}.ipynb`);
  const { executablePath, jupyter } = liveTools(source);

  const result: LiveCheck = { ok: false, notebook: name, verified: [], problems: [] };
  const { verified, problems } = result;
  const digest = () => crypto.createHash('sha256').update(fs.readFileSync(source)).digest('hex');
  const before = digest();
  const env = ensureJupyter(out);
  const work = fs.mkdtempSync(path.join(REPO_ROOT, '.live-'));
  const jupyterDirs = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-live-jupyter-'));
  fs.copyFileSync(source, path.join(work, `${name}.ipynb`));
  const server = await startServer(jupyter, env, work, jupyterDirs);

  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  try {
    const specs = await server.ready();
    if (!specs.kernelspecs[KERNEL_NAME]) throw new Error(`the server does not offer the ${KERNEL_NAME} kernel (has ${Object.keys(specs.kernelspecs).join(', ')})`);
    verified.push(`classic Notebook server ${spawnSync(jupyter, ['--version'], { encoding: 'utf8' }).stdout.trim()} on ${server.base} (token) offers the ${KERNEL_NAME} kernel`);
    const page = await openNotebook(browser, server, name, problems);
    judgeLiveState(await runAllCells(page, timeout, problems), verified, problems);
    fs.mkdirSync(path.join(out, 'screenshots'), { recursive: true });
    result.screenshot = path.join(out, 'screenshots', `live-${name}.png`);
    await page.screenshot({ path: result.screenshot, fullPage: true });
  } catch (e) {
    problems.push(`check failed: ${(e as Error).message.split('\n').slice(0, 8).join('\n')}`);
  } finally {
    await browser.close();
    await server.stop();
    killLeftoverKernels(path.join(jupyterDirs, 'runtime'), verified, problems);
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(jupyterDirs, { recursive: true, force: true });
  }
  if (digest() === before) verified.push(`notebooks/${name}.ipynb unchanged (the server only saw a temporary copy)`);
  else problems.push(`notebooks/${name}.ipynb changed during the check`);
  result.ok = problems.length === 0;
  return result;
}

export function formatLiveCheck(r: LiveCheck): string {
  return [
    `${r.ok ? 'ok  ' : 'FAIL'} live classic Notebook, ${r.notebook}${r.screenshot ? `, screenshot ${r.screenshot}` : ''}`,
    ...r.verified.map((v) => `     verified: ${v}`),
    ...r.problems.map((p) => `     - ${p}`),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const opts: { notebook?: string; out?: string; timeoutS?: number } = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') opts.out = argv[++i];
    else if (argv[i] === '--timeout') opts.timeoutS = Number(argv[++i]);
    else if (argv[i].startsWith('--')) throw new Error(`unknown option ${argv[i]}\nusage: node dist/scripts/runner/check-live.js [NOTEBOOK] [--out DIR] [--timeout S]`);
    else opts.notebook = argv[i].replace(/\.ipynb$/, '');
  }
  const r = await checkLive(opts);
  console.log(formatLiveCheck(r));
  return r.ok ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`[check-live] ${(e as Error).message}`);
      process.exit(2);
    },
  );
}
