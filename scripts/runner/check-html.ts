// Opens exported notebooks in headless Chromium, offline, and checks they render:
// every Plotly figure drawn, LaTeX typeset by the inlined MathJax, no page errors,
// and no request for anything but the page itself. Saves a full-page screenshot.
//
//   node dist/scripts/runner/check-html.js [--screenshots DIR] build/html/*.html
import { parseArgs } from 'node:util';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { PLOTLY_MIME } from '../../src/notebook/plots';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface HtmlCheck {
  file: string;
  ok: boolean;
  figures: number;
  /** Figures the executed notebook made (its figure outputs), when known. */
  expectedFigures?: number;
  renderedFigures: number;
  /** Rendered figures with at least one trace drawn (a line, marker, bar or heatmap image). */
  figuresWithData: number;
  mathContainers: number;
  problems: string[];
  screenshot?: string;
}

/** Chromium to use: $CHROMIUM_PATH, else /usr/bin/chromium; undefined if absent. */
export function chromiumPath(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p): p is string => !!p && fs.existsSync(p));
}

/** What the page reports about itself (runs in the browser; no DOM types in this tsconfig). */
function pageState() {
  const doc = (globalThis as any).document;
  const win = globalThis as any;
  const figs = Array.from(doc.querySelectorAll('div.tsd-plotly, div.js-plotly-plot')) as any[];
  const unique = Array.from(new Set(figs));
  const rendered = unique.filter((d) => d.querySelector('.main-svg')).length;
  // Plotly draws every trace into a g.trace (scatter lines and markers, bars) or, for
  // heatmaps, a g.hm image; a trace without points gets neither, so a figure whose
  // data came out empty shows only its axes and counts as empty here.
  const empty = unique
    .filter((d) => d.querySelector('.main-svg'))
    .filter(
      (d) =>
        !Array.from(d.querySelectorAll('g.trace path, g.hm image')).some(
          (e: any) => e.getAttribute('d') || e.getAttribute('href'),
        ),
    )
    .map((d) => d.id || '(no id)');
  const mdNodes = Array.from(
    doc.querySelectorAll('.jp-RenderedMarkdown, .jp-MarkdownOutput, .text_cell_render'),
  ) as any[];
  // Text of markdown cells without what MathJax produced (its assistive MathML is text too).
  const mdText = mdNodes
    .map((n) => {
      const c = n.cloneNode(true);
      for (const m of c.querySelectorAll('mjx-container')) m.remove();
      return c.textContent as string;
    })
    .join('\n');
  const rawMath = /\$\$[\s\S]+?\$\$|\\\([\s\S]+?\\\)|\\\[[\s\S]+?\\\]|(^|[^\\$])\$[^$\s][^$\n]*\$/.exec(mdText);
  return {
    figures: unique.length,
    rendered,
    empty,
    mathContainers: doc.querySelectorAll('mjx-container').length,
    // TeX errors: SVG output marks them with data-mjx-error (the noerrors extension
    // shows the source highlighted instead of failing), CHTML with mjx-merror.
    mathErrors: Array.from(
      new Set(
        Array.from(doc.querySelectorAll('[data-mjx-error], mjx-merror')).map(
          (e: any) => e.getAttribute('data-mjx-error') || e.textContent,
        ),
      ),
    ),
    rawMath: rawMath ? rawMath[0].slice(0, 80) : null,
    mathjax: !!win.MathJax?.startup,
  };
}

/** Resolves once MathJax's startup typesetting is done (or at once without MathJax). */
function mathjaxDone() {
  const mj = (globalThis as any).MathJax;
  return mj?.startup?.promise ? mj.startup.promise.then(() => true) : true;
}

function allFiguresDrawn() {
  const doc = (globalThis as any).document;
  const figs = Array.from(doc.querySelectorAll('div.tsd-plotly, div.js-plotly-plot')) as any[];
  return figs.every((d) => d.querySelector('.main-svg'));
}

export async function checkHtmlFile(
  context: BrowserContext,
  file: string,
  opts: { screenshotDir?: string; timeoutMs?: number; expectedFigures?: number } = {},
): Promise<HtmlCheck> {
  const timeout = opts.timeoutMs ?? 60_000;
  const url = pathToFileURL(path.resolve(file)).href;
  const problems: string[] = [];
  const page = await context.newPage();
  // Offline means offline: only the page itself may be loaded (data:/blob: are
  // not network requests). Anything else is aborted and counted as a problem,
  // file:// included, since another machine would not have that file.
  await page.route('**/*', (route) => {
    const u = route.request().url();
    if (u === url || u.startsWith('data:') || u.startsWith('blob:')) return route.continue();
    problems.push(`external request: ${u}`);
    return route.abort();
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  const result: HtmlCheck = {
    file,
    ok: false,
    figures: 0,
    renderedFigures: 0,
    figuresWithData: 0,
    mathContainers: 0,
    problems,
  };
  if (opts.expectedFigures !== undefined) result.expectedFigures = opts.expectedFigures;
  try {
    await page.goto(url, { waitUntil: 'load', timeout });
    await page.evaluate(mathjaxDone);
    await page.waitForFunction(allFiguresDrawn, undefined, { timeout }).catch(() => undefined);
    const s = await page.evaluate(pageState);
    result.figures = s.figures;
    result.renderedFigures = s.rendered;
    result.figuresWithData = s.rendered - s.empty.length;
    result.mathContainers = s.mathContainers;
    if (opts.expectedFigures !== undefined && s.figures !== opts.expectedFigures) {
      problems.push(`the notebook made ${opts.expectedFigures} figures, the export has ${s.figures}`);
    }
    if (s.rendered < s.figures) problems.push(`${s.figures - s.rendered} of ${s.figures} Plotly figures not rendered`);
    for (const id of s.empty) problems.push(`figure ${id} drew no data (axes only)`);
    if (s.rawMath)
      problems.push(`raw TeX left in markdown (MathJax ${s.mathjax ? 'present' : 'missing'}): ${s.rawMath}`);
    for (const e of s.mathErrors) problems.push(`MathJax error: ${e}`);
    if (opts.screenshotDir) {
      fs.mkdirSync(opts.screenshotDir, { recursive: true });
      const shot = path.join(opts.screenshotDir, `${path.basename(file).replace(/\.html?$/i, '')}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      result.screenshot = shot;
    }
  } catch (e) {
    problems.push(`check failed: ${(e as Error).message.split('\n')[0]}`);
  } finally {
    await page.close();
  }
  result.ok = problems.length === 0;
  return result;
}

/**
 * Figures a notebook made: its outputs with the Plotly MIME type (showFigure's, one per figure),
 * in parsed .ipynb JSON. The export must show exactly these, each as its text/html fallback.
 */
export function countFigureOutputs(nb: { cells?: { outputs?: { data?: Record<string, unknown> }[] }[] }): number {
  return (nb.cells ?? []).flatMap((cell) => cell.outputs ?? []).filter((out) => out.data?.[PLOTLY_MIME] !== undefined)
    .length;
}

const HTML_CHECKS_AT_ONCE = 2;

/** Checks each file; `expectedFigures` maps a file to the number of figures its notebook made. */
export async function checkHtmlFiles(
  files: string[],
  opts: {
    screenshotDir?: string;
    timeoutMs?: number;
    executablePath?: string;
    expectedFigures?: Map<string, number>;
  } = {},
): Promise<HtmlCheck[]> {
  const executablePath = opts.executablePath ?? chromiumPath();
  if (!executablePath) throw new Error('Chromium not found (set CHROMIUM_PATH)');
  const { chromium } = await import('playwright-core');
  // A fresh profile each run: nothing cached or remembered between checks.
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    args: CHROMIUM_ARGS,
    viewport: { width: 1200, height: 900 },
  });
  try {
    // Two pages at a time: loading a page is mostly parsing its inlined Plotly and MathJax, one core each.
    const results: HtmlCheck[] = new Array(files.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < files.length; i = next++) {
        results[i] = await checkHtmlFile(context, files[i], {
          ...opts,
          expectedFigures: opts.expectedFigures?.get(files[i]),
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(HTML_CHECKS_AT_ONCE, files.length) }, worker));
    return results;
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

export function formatHtmlCheck(r: HtmlCheck): string {
  const made = r.expectedFigures !== undefined ? ` (notebook made ${r.expectedFigures})` : '';
  const head = `${r.ok ? 'ok  ' : 'FAIL'} ${r.file}: ${r.figures} figures${made}, ${r.renderedFigures} rendered, ${r.figuresWithData} with data, ${r.mathContainers} math`;
  return [head + (r.screenshot ? `, screenshot ${r.screenshot}` : ''), ...r.problems.map((p) => `     - ${p}`)].join(
    '\n',
  );
}

const USAGE = 'usage: node dist/scripts/runner/check-html.js [--screenshots DIR] FILE.html...';

/** The command line's options; throws on an unknown option, a missing value or no file. */
export function parseHtmlCheckArgs(argv: string[]): { screenshotDir: string; files: string[] } {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { screenshots: { type: 'string' } },
  });
  if (positionals.length === 0) throw new Error(USAGE);
  return { screenshotDir: v.screenshots ?? 'build/screenshots', files: positionals };
}

async function main(argv: string[]) {
  const { screenshotDir, files } = parseHtmlCheckArgs(argv);
  const results = await checkHtmlFiles(files, { screenshotDir });
  for (const r of results) console.log(formatHtmlCheck(r));
  return results.every((r) => r.ok) ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`[check-html] ${(e as Error).message}`);
      process.exit(2);
    },
  );
}
