// Tables for notebooks: rows of objects rendered as an HTML table, or as plain
// text outside a kernel (pure, so it is unit-tested); and the one number format and
// text-table layout that the checks, the runner and the bench print with too.

export type Cell = string | number | boolean | null | undefined | bigint;
export type Row = Record<string, Cell>;

export interface TableOptions {
  /** Significant digits for non-integers (default 4). */
  digits?: number;
  caption?: string;
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * The one number format of tables, checks and the runner's summary: integers as they are (with
 * thousands separators), others to `digits` significant digits, exponential when very small or
 * large. A non-number (a NaN that JSON turned into null) shows as NaN.
 */
export function formatNumber(v: number, digits = 4): string {
  if (typeof v !== 'number' || Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a < 1e-4 || a >= 1e9) return v.toExponential(digits - 1);
  return String(Number(v.toPrecision(digits)));
}

/** One value per mode as "a / b / c", to `digits` decimals (mode weights, means, σ). */
export function perMode(values: readonly number[], digits = 3): string {
  return values.map((v) => v.toFixed(digits)).join(' / ');
}

/** A table cell as text: numbers by formatNumber, nothing for null or undefined. */
export function formatCell(v: unknown, digits = 4): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'number' ? formatNumber(v, digits) : String(v);
}

/**
 * A fixed-width text table: the header, a rule, the rows. Columns flagged in `alignRight`
 * (numbers) are padded on the left, the others on the right.
 */
export function textTable(header: string[], rows: string[][], alignRight: boolean[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const pad = (c: string, i: number) => (alignRight[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]));
  const line = (cells: string[]) =>
    widths
      .map((_, i) => pad(cells[i] ?? '', i))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Rows (array of objects) -> header (every key, in order of appearance) + cells. */
function toGrid(data: Row[]): { header: string[]; rows: unknown[][] } {
  const header: string[] = [];
  for (const row of data) for (const k of Object.keys(row)) if (!header.includes(k)) header.push(k);
  return { header, rows: data.map((r) => header.map((k) => r[k])) };
}

/** An HTML table; numbers right-aligned and formatted. */
export function tableHtml(data: Row[], opts: TableOptions = {}): string {
  const digits = opts.digits ?? 4;
  const { header, rows } = toGrid(data);
  const td = (v: unknown) => {
    const align = typeof v === 'number' ? ' style="text-align:right"' : '';
    return `<td${align}>${escapeHtml(formatCell(v, digits))}</td>`;
  };
  const caption = opts.caption ? `<caption>${escapeHtml(opts.caption)}</caption>` : '';
  const head = `<thead><tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>`;
  const body = `<tbody>${rows.map((r) => `<tr>${r.map(td).join('')}</tr>`).join('')}</tbody>`;
  return `<table class="tsd-table">${caption}${head}${body}</table>`;
}

/** Plain-text rendering of the same table (for use outside a kernel); number columns right-aligned. */
export function tableText(data: Row[], opts: TableOptions = {}): string {
  const { header, rows } = toGrid(data);
  const cells = rows.map((r) => r.map((v) => formatCell(v, opts.digits ?? 4)));
  const numeric = header.map((_, i) => rows.some((r) => typeof r[i] === 'number'));
  return textTable(header, cells, numeric);
}
