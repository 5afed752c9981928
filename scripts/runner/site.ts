// The exports as a small offline site for readers: OUT/site/index.html lists the chapters in
// order (title, a one-line summary, status and checks of the last run), and every export gets
// previous / contents / next links. All links are relative, so the folder can be copied anywhere.
import * as path from 'node:path';
import { escapeHtml } from '../../src/notebook/tables';
import { readNotebook, sourceText } from './notebook-file';
import { saveFile } from '../../src/runtime/files';
import type { Report } from './report';

export interface Chapter {
  name: string;
  title: string;
  summary: string;
}

/** Title (the first `# ` heading) and summary (the first sentence after it) of a notebook. */
export function chapterOf(file: string): Chapter {
  const name = path.basename(file, '.ipynb');
  const nb = readNotebook(file);
  const first =
    typeof nb === 'string' ? '' : sourceText(nb.cells.find((c) => c.cell_type === 'markdown')?.source ?? '');
  const title = /^#\s+(.+)$/m.exec(first)?.[1].trim() ?? name;
  const prose = first
    .replace(/^#.*$/gm, '')
    .split(/\n\s*\n/)
    .map((p) =>
      p
        .replace(/\$\$[\s\S]*?\$\$/g, '')
        .replace(/\s+/g, ' ')
        .trim(),
    )
    .find((p) => p && !p.startsWith('|') && !p.startsWith('$'));
  const sentence = prose ? (/^.*?[.!?](\s|$)/.exec(prose)?.[0] ?? prose).trim() : '';
  return { name, title, summary: sentence.replace(/\*\*|\*|`/g, '').replace(/[,:;]$/, ' …') };
}

/** Previous / contents / next links for export `name` among `names` (in reading order). */
export function navigationHtml(names: string[], name: string): string {
  const i = names.indexOf(name);
  const link = (n: string | undefined, label: string) =>
    n ? `<a href="${encodeURI(n)}.html">${label}</a>` : `<span style="color:#bbb">${label}</span>`;
  return (
    '<nav class="tsd-nav" style="font-family:sans-serif;margin:1em 2em;display:flex;justify-content:space-between">' +
    `${link(names[i - 1], `← ${escapeHtml(names[i - 1] ?? 'previous')}`)}<a href="../site/index.html">contents</a>${link(names[i + 1], `${escapeHtml(names[i + 1] ?? 'next')} →`)}</nav>`
  );
}

/** The export with navigation at its top and bottom. */
export function withNavigation(html: string, names: string[], name: string): string {
  const nav = navigationHtml(names, name);
  const top = /<body[^>]*>/i.test(html) ? html.replace(/<body[^>]*>/i, (b) => `${b}\n${nav}`) : nav + html;
  return /<\/body>/i.test(top) ? top.replace(/<\/body>/i, () => `${nav}\n</body>`) : top + nav;
}

/** OUT/site/index.html from the chapters and the report of the last run of each. */
export function writeSite(out: string, chapters: Chapter[], report: Report): string {
  const rows = chapters.map((c) => {
    const n = report.notebooks.find((x) => x.name === c.name);
    const passed = n ? n.checks.filter((k) => k.pass).length : 0;
    const status = n ? `${n.status}${n.checks.length ? `, ${passed}/${n.checks.length} checks` : ''}` : 'not run';
    const color = n?.status === 'ok' ? '#2a7' : n ? '#c33' : '#999';
    const title = n?.html
      ? `<a href="../html/${encodeURI(c.name)}.html">${escapeHtml(c.title)}</a>`
      : escapeHtml(c.title);
    return `<tr><td>${title}<div class="summary">${escapeHtml(c.summary)}</div></td><td style="color:${color}">${escapeHtml(status)}</td><td>${n ? `${n.seconds.toFixed(0)} s` : ''}</td></tr>`;
  });
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tsdiffusion notebooks</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}td{padding:.6em;vertical-align:top;border-bottom:1px solid #eee}.summary{color:#555;font-size:.9em;margin-top:.3em}</style>
</head><body>
<h1>tsdiffusion notebooks</h1>
<p>Diffusion models end to end on a one-dimensional mixture of three normals. Configuration: ${escapeHtml(report.config)}; backend: ${escapeHtml(report.backend ?? 'unknown')}.</p>
<table>${rows.join('\n')}</table>
</body></html>
`;
  const file = path.join(out, 'site', 'index.html');
  saveFile(file, html);
  return file;
}
