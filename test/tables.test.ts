import test from 'node:test';
import assert from 'node:assert/strict';
import { loadDanfo } from '../src/notebook/danfo';
import { formatCell, formatNumber, tableHtml, tableText, textTable } from '../src/notebook/tables';
import { publishChecks, showTable } from '../src/notebook/display';
import { check } from '../src/notebook/checks';

test('formatCell: integers as is, others to 4 significant digits', () => {
  assert.equal(formatCell(12345), '12,345');
  assert.equal(formatCell(0.123456), '0.1235');
  assert.equal(formatCell(12.19034), '12.19');
  assert.equal(formatCell(1.5e-7), '1.500e-7');
  assert.equal(formatCell(NaN), 'NaN');
  assert.equal(formatCell(null), '');
  assert.equal(formatCell('a'), 'a');
});

test('formatNumber: the one number format; what JSON made of NaN shows as NaN', () => {
  assert.equal(formatNumber(0), '0');
  assert.equal(formatNumber(200), '200');
  assert.equal(formatNumber(0.15), '0.15');
  assert.equal(formatNumber(-Infinity), '−∞');
  assert.equal(formatNumber(123.456, 2), '120');
  assert.equal(formatNumber(null as unknown as number), 'NaN');
});

test('textTable pads each column to its widest cell, numbers on the left', () => {
  assert.equal(textTable(['name', 'n'], [['a', '1'], ['bcdef', '10']], [false, true]), ['name    n', '-----  --', 'a       1', 'bcdef  10'].join('\n'));
});

test('tableHtml renders rows, escapes text, right-aligns numbers', () => {
  const html = tableHtml([{ mode: '<mid>', weight: 0.1033333 }, { mode: 'right', weight: 0.6, extra: 3 }], { caption: 'Modes' });
  assert.match(html, /<caption>Modes<\/caption>/);
  assert.match(html, /<th>mode<\/th><th>weight<\/th><th>extra<\/th>/);
  assert.match(html, /&lt;mid&gt;/);
  assert.match(html, /<td style="text-align:right">0\.1033<\/td>/);
  assert.equal(html.match(/<tr>/g)?.length, 3);
});

test('danfojs-node loads with tfjs standing in for tfjs-node, and its DataFrame renders', () => {
  const dfd = loadDanfo();
  const df = new dfd.DataFrame({ mode: ['left', 'mid', 'right'], weight: [0.3, 0.1, 0.6] });
  assert.deepEqual(df.shape, [3, 2]);
  assert.ok(Math.abs((df['weight'] as any).sum() - 1) < 1e-12);
  const html = tableHtml(df as any);
  assert.match(html, /<th>mode<\/th><th>weight<\/th>/);
  assert.match(html, /<td>mid<\/td><td style="text-align:right">0\.1<\/td>/);
  assert.doesNotMatch(html, /<th><\/th>/, 'the default 0..n-1 index is not shown');
  assert.match(tableText(df as any), /right\s+0\.6/);
});

test('notebook helpers fall back to text outside a kernel', (t) => {
  const lines: string[] = [];
  t.mock.method(console, 'log', (s: string) => lines.push(s));
  showTable([{ a: 1, b: 2.5 }]);
  publishChecks([check('w1', 0.1, '<=', 0.15)]);
  assert.equal(lines[0], ['a    b', '-  ---', '1  2.5'].join('\n'));
  assert.match(lines.join('\n'), /w1.*pass/);
});
