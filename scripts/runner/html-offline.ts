// Makes nbconvert's HTML export self-contained, so it works offline.
//
// nbconvert's lab template loads require.js and MathJax 2 with <script src> tags
// (Debian points them at file:///usr/share/javascript/..., otherwise a CDN), and
// configures MathJax 2 in a text/x-mathjax-config block. We drop all of that and
// inline MathJax 3 (npm `mathjax`, es5/tex-svg-full.js: one self-contained file,
// all TeX extensions built in, SVG output so no web fonts are fetched) with a
// config for the usual $...$ and $$...$$ delimiters. Nothing is hidden: the
// export keeps every input and output. The notebook's figures reach the export as their
// text/html fallbacks, empty <div>s (nbconvert drops the Plotly MIME type, which holds the data):
// the Plotly bundle (npm `plotly.js-dist-min`) goes into <head> once, and after the last output
// one script per figure draws it from the executed notebook's Plotly JSON (notebookFigures).
import * as fs from 'node:fs';
import {
  type FigureSpec,
  PLOTLY_MIME,
  escapeScript,
  fallbackId,
  figureScript,
  plotlyBundleSource,
} from '../../src/notebook/plots';
import { sourceText, type NotebookJson } from './notebook-file';

/** MathJax 3 configuration; must be set before the MathJax script runs. */
export const MATHJAX_CONFIG = {
  tex: {
    inlineMath: [
      ['$', '$'],
      ['\\(', '\\)'],
    ],
    displayMath: [
      ['$$', '$$'],
      ['\\[', '\\]'],
    ],
    processEscapes: true,
    processEnvironments: true,
    tags: 'ams',
  },
  svg: { fontCache: 'global' },
  options: {
    // Plotly figures are SVG drawn by Plotly; MathJax must not rewrite their text.
    ignoreHtmlClass: 'tex2jax_ignore|tsd-plotly',
  },
};

let mathjaxCache: string | undefined;

export function mathjaxSource(): string {
  mathjaxCache ??= fs.readFileSync(require.resolve('mathjax/es5/tex-svg-full.js'), 'utf8');
  return mathjaxCache;
}

/** Removes every <script ...src=...>...</script> (require.js, MathJax 2, any CDN). */
export function removeExternalScripts(html: string): string {
  return html.replace(/<script\b[^>]*\bsrc\s*=[^>]*>[\s\S]*?<\/script\s*>/gi, '');
}

/** Removes MathJax 2 configuration blocks, which MathJax 3 does not read. */
export function removeMathjax2Config(html: string): string {
  return html.replace(/<script\b[^>]*type\s*=\s*["']text\/x-mathjax-config["'][^>]*>[\s\S]*?<\/script\s*>/gi, '');
}

/** A figure of an executed notebook: the id of its fallback <div> and its Plotly JSON. */
export interface NotebookFigure {
  id: string;
  spec: FigureSpec;
}

/** The figures of an executed notebook (parsed .ipynb JSON): its Plotly MIME outputs whose text/html is a fallback <div>. */
export function notebookFigures(nb: NotebookJson): NotebookFigure[] {
  return nb.cells
    .flatMap((cell) => cell.outputs ?? [])
    .flatMap((out) => {
      const html = out.data?.['text/html'];
      const id =
        out.data?.[PLOTLY_MIME] !== undefined && html !== undefined
          ? fallbackId(sourceText(html as string | string[]))
          : undefined;
      return id ? [{ id, spec: out.data![PLOTLY_MIME] as FigureSpec }] : [];
    });
}

/**
 * The offline export: no external scripts, MathJax 3 inlined into <head>, and where the page
 * shows some of `figures`, the Plotly bundle into <head> and their drawing scripts before </body>.
 */
export function makeOffline(
  html: string,
  opts: { figures?: NotebookFigure[]; mathjax?: string; plotly?: string } = {},
): string {
  let out = removeMathjax2Config(removeExternalScripts(html));
  // nbconvert rewrites the outputs' tags (attributes reordered), so look for the id alone
  const shown = (opts.figures ?? []).filter((f) => out.includes(`id="${f.id}"`));
  const head =
    `<script type="text/javascript">window.MathJax = ${JSON.stringify(MATHJAX_CONFIG)};</script>\n` +
    `<script type="text/javascript">${escapeScript(opts.mathjax ?? mathjaxSource())}</script>\n` +
    (shown.length
      ? `<script type="text/javascript">${escapeScript(opts.plotly ?? plotlyBundleSource())}</script>\n`
      : '');
  const drawings = shown.map((f) => figureScript(f.id, f.spec)).join('\n');
  // Function replacers: the MathJax and Plotly sources and the figures' JSON contain `$&`-like
  // sequences that a replacement string would interpret.
  out = /<\/head>/i.test(out) ? out.replace(/<\/head>/i, () => `${head}</head>`) : head + out;
  if (drawings) {
    const end = out.toLowerCase().lastIndexOf('</body>');
    out = end < 0 ? `${out}\n${drawings}\n` : `${out.slice(0, end)}${drawings}\n${out.slice(end)}`;
  }
  return out;
}

/** src and href values that would make the browser fetch something from outside the file. */
export function externalReferences(html: string): string[] {
  const found: string[] = [];
  for (const m of html.matchAll(/<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']([^"']+)["']/gi)) {
    if (!/^(data:|#)/i.test(m[3])) found.push(`<${m[1]} ${m[2]}="${m[3]}">`);
  }
  return found;
}
