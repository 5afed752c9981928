// Makes nbconvert's HTML export self-contained, so it works offline.
//
// nbconvert's lab template loads require.js and MathJax 2 with <script src> tags
// (Debian points them at file:///usr/share/javascript/..., otherwise a CDN), and
// configures MathJax 2 in a text/x-mathjax-config block. We drop all of that and
// inline MathJax 3 (npm `mathjax`, es5/tex-svg-full.js: one self-contained file,
// all TeX extensions built in, SVG output so no web fonts are fetched) with a
// config for the usual $...$ and $$...$$ delimiters. Nothing is hidden: the
// export keeps every input and output. The notebook's figures reach the export as their
// text/html fallbacks (nbconvert drops the Plotly MIME type), which draw with window.Plotly:
// the Plotly bundle (npm `plotly.js-dist-min`) goes into <head> once, before them.
import * as fs from 'node:fs';
import { escapeScript, plotlyBundleSource } from '../../src/notebook/plots';

/** MathJax 3 configuration; must be set before the MathJax script runs. */
export const MATHJAX_CONFIG = {
  tex: {
    inlineMath: [['$', '$'], ['\\(', '\\)']],
    displayMath: [['$$', '$$'], ['\\[', '\\]']],
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

/** The offline export: no external scripts, MathJax 3 and (if the page has figures) Plotly inlined into <head>. */
export function makeOffline(html: string, mathjax: string = mathjaxSource(), plotly?: string): string {
  let out = removeMathjax2Config(removeExternalScripts(html));
  // nbconvert rewrites the outputs' tags (attributes reordered), so look for the class alone
  const hasFigures = /<div\b[^>]*\bclass="tsd-plotly"/.test(out);
  const inject =
    `<script type="text/javascript">window.MathJax = ${JSON.stringify(MATHJAX_CONFIG)};</script>\n` +
    `<script type="text/javascript">${escapeScript(mathjax)}</script>\n` +
    (hasFigures ? `<script type="text/javascript">${escapeScript(plotly ?? plotlyBundleSource())}</script>\n` : '');
  // A function replacer: the MathJax and Plotly sources contain `$&`-like sequences that a
  // replacement string would interpret.
  out = /<\/head>/i.test(out) ? out.replace(/<\/head>/i, () => `${inject}</head>`) : inject + out;
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
