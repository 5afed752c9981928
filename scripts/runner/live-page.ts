// Drives one notebook in a live JupyterLab or Notebook 7 page, as a reader does: opens it, runs
// every cell from the Run menu, saves it from the File menu; and reads what the page shows. Both
// clients are built from JupyterLab's components, so the same menus and DOM classes serve both.
import type { Browser, Page } from 'playwright-core';
import type { JupyterServer } from './jupyter-server';

/** What the notebook's page shows (collected in the browser). */
export interface PageState {
  kernelName: string;
  /** The code cells' input prompts: `[3]:` once run, `[*]:` while queued or running. */
  prompts: string[];
  /** Figure outputs jupyterlab-plotly renders, those drawn (an SVG), and those with a trace drawn. */
  figures: number;
  rendered: number;
  withData: number;
  /** Figures showing the PNG that jupyterlab-plotly saved with them (a reopened notebook shows it until the mouse enters). */
  images: number;
  /** Figures shown as their text/html fallback: the extension did not take them. */
  fallbacks: number;
  /** `<progress>` bars in the outputs (td.progress draws one per progress line). */
  progressBars: number;
  /** Cells of the reader's checks table saying pass / FAIL. */
  passCells: number;
  failCells: number;
  /** stderr and error outputs, as the page renders them. */
  errors: string[];
}

/** Runs in the browser (no DOM types in this tsconfig). */
function pageState(): PageState {
  const doc = (globalThis as any).document;
  const panel = doc.querySelector('.jp-NotebookPanel') ?? doc;
  const all = (sel: string, root: any = panel) => Array.from(root.querySelectorAll(sel)) as any[];
  const figs = all('.jp-OutputArea .jp-RenderedPlotly');
  const tables = all('table.tsd-table').filter((t) => /Checks/.test(t.querySelector('caption')?.textContent ?? ''));
  const results = tables.flatMap((t) => all('td', t).map((td) => (td.textContent as string).trim()));
  return {
    kernelName: (doc.querySelector('[data-jp-item-name="kernelName"]')?.textContent ?? '').trim(),
    prompts: all('.jp-CodeCell .jp-InputPrompt').map((p) => (p.textContent as string).trim()),
    figures: figs.length,
    rendered: figs.filter((d) => d.querySelector('.main-svg')).length,
    // as in check-html: a drawn trace is a g.trace path with a shape, or a heatmap image
    withData: figs.filter((d) =>
      all('g.trace path, g.hm image', d).some((e) => e.getAttribute('d') || e.getAttribute('href')),
    ).length,
    images: figs.filter((d) =>
      all('img.plot-img', d).some(
        (i) =>
          i.style.display !== 'none' &&
          /^data:image\/png;base64,./.test(i.getAttribute('src') ?? '') &&
          i.naturalWidth > 0,
      ),
    ).length,
    fallbacks: all('.jp-OutputArea .tsd-plotly').length,
    progressBars: all('.jp-OutputArea progress').length,
    passCells: results.filter((t) => t === 'pass').length,
    failCells: results.filter((t) => t === 'FAIL').length,
    errors: all(
      '[data-mime-type="application/vnd.jupyter.stderr"], .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]',
    ).map((e) => (e.textContent as string).slice(0, 300)),
  };
}

/** Run All is over: no cell queued or running (`[*]`), and the first has run. A failing cell ends it early: the cells after it are not run. */
function runAllOver(): boolean {
  const prompts = (
    Array.from((globalThis as any).document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')) as any[]
  ).map((p) => (p.textContent as string).trim());
  return prompts.length > 0 && /^\[\d+\]/.test(prompts[0]) && !prompts.some((p) => p.startsWith('[*]'));
}

/** At least `expected` figure outputs, and every one drawn (jupyterlab-plotly loads its Plotly on the first figure, so drawing lags the outputs). */
function figuresDrawn(expected: number): boolean {
  const figs = Array.from(
    (globalThis as any).document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea .jp-RenderedPlotly'),
  ) as any[];
  return figs.length >= expected && figs.every((d) => d.querySelector('.main-svg'));
}

function figuresShown(expected: number): boolean {
  return (
    (globalThis as any).document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea .jp-RenderedPlotly').length >=
    expected
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Page errors of a client itself, not of the project: Notebook 7.6.5 throws this one on opening
 * any notebook, also with an empty settings dir and no cell run. Reported as notes, not problems.
 */
function isClientError(e: Error): boolean {
  return (
    e.message === "Cannot read properties of undefined (reading 'schema')" &&
    /\/static\/notebook\/notebook_core\./.test(e.stack ?? '')
  );
}

/** The server's URL of notebook `file`; JupyterLab gets a workspace of its own, so no earlier tab is restored beside it. */
function notebookUrl(server: JupyterServer, file: string, workspace: string): string {
  const route = server.app === 'lab' ? `lab/workspaces/${workspace}/tree/${file}` : `notebooks/${file}`;
  return `${server.base}/${route}?token=${server.token}`;
}

/** Waits until the server's session for `file` has a kernel in state idle. */
async function kernelIdle(server: JupyterServer, file: string, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const sessions = await server
      .api<{ path: string; kernel: { execution_state: string } }[]>('/api/sessions')
      .catch(() => []);
    if (sessions.some((s) => s.path === file && s.kernel.execution_state === 'idle')) return true;
    await sleep(500);
  }
  return false;
}

/**
 * Opens `file` in a fresh browser context (no cookies or storage from earlier pages) that may load
 * nothing but the server's own URLs; waits for its kernel. A request elsewhere, or a page error, is a problem.
 */
export async function openNotebook(
  browser: Browser,
  server: JupyterServer,
  file: string,
  workspace: string,
  found: { problems: string[]; notes: string[] },
): Promise<Page> {
  const { problems, notes } = found;
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  await page.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(server.base) || u.startsWith('data:') || u.startsWith('blob:')) return route.continue();
    problems.push(`request outside the server: ${u}`);
    return route.abort();
  });
  page.on('pageerror', (e) => {
    const line = `page error in ${file}: ${e.message}`;
    if (!isClientError(e)) problems.push(line);
    else if (!notes.includes(`${line} (${server.version}'s own)`)) notes.push(`${line} (${server.version}'s own)`);
  });
  await page.goto(notebookUrl(server, file, workspace), { waitUntil: 'load', timeout: 90_000 });
  await page.waitForSelector('.jp-NotebookPanel .jp-CodeCell', { timeout: 90_000 });
  if (!(await kernelIdle(server, file, 90_000)))
    problems.push(`${file}: the kernel did not become idle within 90 s of opening`);
  return page;
}

/** Clicks a top menu (`Run`) and then its item labelled `item` (the same labels in JupyterLab and Notebook 7). */
async function menuCommand(page: Page, menu: string, item: RegExp): Promise<void> {
  await page
    .locator('.lm-MenuBar-itemLabel', { hasText: new RegExp(`^${menu}$`) })
    .first()
    .click();
  await page.locator('.lm-Menu-item:not(.lm-mod-disabled) .lm-Menu-itemLabel', { hasText: item }).first().click();
}

/** Run > Run All Cells; waits until no cell is queued or running and the kernel is idle. */
export async function runAllCells(
  page: Page,
  server: JupyterServer,
  file: string,
  timeoutMs: number,
  problems: string[],
): Promise<PageState> {
  await menuCommand(page, 'Run', /^Run All Cells$/);
  // On a timeout, go on: the page's state says which cells ran and what they printed.
  const end = Date.now() + timeoutMs;
  const ran = await page.waitForFunction(runAllOver, undefined, { timeout: timeoutMs, polling: 500 }).then(
    () => true,
    () => false,
  );
  if (!ran || !(await kernelIdle(server, file, Math.max(1000, end - Date.now()))))
    problems.push(`${file}: not every cell finished within ${timeoutMs / 1000} s`);
  return drawnState(page, 0);
}

/** The page's state once its figures have drawn (at least `expected` of them), or after 60 s. */
export async function drawnState(page: Page, expected: number): Promise<PageState> {
  await page.waitForFunction(figuresDrawn, expected, { timeout: 60_000, polling: 500 }).catch(() => undefined);
  return page.evaluate(pageState);
}

/**
 * A notebook reopened from its file: jupyterlab-plotly shows each figure as the PNG it saved with
 * it, and draws the figure when the mouse enters it. Resolves with the state before (`shown`, once
 * `expected` figure outputs are there, or after 60 s) and after the mouse entered every undrawn figure.
 */
export async function reopenedState(page: Page, expected: number): Promise<{ shown: PageState; drawn: PageState }> {
  await page.waitForFunction(figuresShown, expected, { timeout: 60_000, polling: 500 }).catch(() => undefined);
  const shown = await page.evaluate(pageState);
  const figs = page.locator('.jp-NotebookPanel .jp-OutputArea .jp-RenderedPlotly');
  for (let i = 0; i < (await figs.count()); i++) {
    if ((await figs.nth(i).locator('.main-svg').count()) === 0)
      await figs
        .nth(i)
        .hover({ timeout: 10_000 })
        .catch(() => undefined);
  }
  return { shown, drawn: await drawnState(page, expected) };
}

/**
 * File > Save Notebook; resolves with the notebook as the server stored it. Reads it only after
 * the page's save request has been answered: a read while the server writes the file makes
 * jupyter_server take the half-written file for a broken one and restore its backup, which fails
 * the save ("No such file or directory").
 */
export async function saveNotebook<T>(page: Page, server: JupyterServer, file: string): Promise<T> {
  const saved = page.waitForResponse(
    (r) => r.request().method() === 'PUT' && r.url().includes(`/api/contents/${encodeURIComponent(file)}`),
    { timeout: 60_000 },
  );
  await menuCommand(page, 'File', /^Save( Notebook)?$/);
  const response = await saved;
  if (!response.ok()) throw new Error(`${file}: File > Save Notebook failed: HTTP ${response.status()}`);
  return (await server.api<{ content: T }>(`/api/contents/${encodeURIComponent(file)}?content=1`)).content;
}

/** Screenshot of the page with its first figure in view (the notebook scrolls inside the page), or its HTML fallback where the extension did not take it. */
export async function screenshot(page: Page, file: string): Promise<void> {
  await page
    .locator('.jp-OutputArea .jp-RenderedPlotly, .jp-OutputArea .tsd-plotly')
    .first()
    .scrollIntoViewIfNeeded({ timeout: 5_000 })
    .catch(() => undefined);
  await page.screenshot({ path: file });
}
