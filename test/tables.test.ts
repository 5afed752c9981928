import test from 'node:test';
import assert from 'node:assert/strict';
import { formatCell, formatNumber, tableHtml, textTable } from '../src/notebook/tables';
import { publishChecks, publishedChecksHtml, showTable } from '../src/notebook/display';
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
  assert.equal(
    textTable(
      ['name', 'n'],
      [
        ['a', '1'],
        ['bcdef', '10'],
      ],
      [false, true],
    ),
    ['name    n', '-----  --', 'a       1', 'bcdef  10'].join('\n'),
  );
});

test('tableHtml renders rows, escapes text, right-aligns numbers', () => {
  const html = tableHtml(
    [
      { mode: '<mid>', weight: 0.1033333 },
      { mode: 'right', weight: 0.6, extra: 3 },
    ],
    { caption: 'Modes' },
  );
  assert.match(html, /<caption>Modes<\/caption>/);
  assert.match(html, /<th>mode<\/th><th>weight<\/th><th>extra<\/th>/);
  assert.match(html, /&lt;mid&gt;/);
  assert.match(html, /<td style="text-align:right">0\.1033<\/td>/);
  assert.equal(html.match(/<tr>/g)?.length, 3);
});

test('notebook helpers fall back to text outside a kernel', (t) => {
  const lines: string[] = [];
  t.mock.method(console, 'log', (s: string) => lines.push(s));
  showTable([{ a: 1, b: 2.5 }]);
  publishChecks([check('w1', 0.1, '<=', 0.15)]);
  assert.equal(lines[0], ['a    b', '-  ---', '1  2.5'].join('\n'));
  assert.match(lines.join('\n'), /w1.*pass/);
});

test('published checks: one summary row per thing checked, and every check in a collapsed table captioned Checks', () => {
  const html = publishedChecksHtml([
    check('exact: KS statistic', 0.01, '<=', 0.05),
    check('exact: mode 1 std', 0.04, '<=', 0.05),
    check('trained: mode 1 std', 0.09, '<=', 0.05),
    check('plain Langevin: worst |error| ÷ bar', 2.5, '>', 1),
  ]);
  const [summary, details] = html.split('<details>');
  assert.match(
    summary,
    /<td>exact<\/td><td[^>]*>2<\/td><td>all pass<\/td><td>mode 1 std: 0\.04 &lt;= 0\.05 \(80 % of the bar\)<\/td>/,
  );
  assert.match(
    summary,
    /<td>trained<\/td><td[^>]*>1<\/td><td>1 failed<\/td><td>mode 1 std: 0\.09 &lt;= 0\.05 \(180 % of the bar\)<\/td>/,
  );
  assert.match(
    summary,
    /<td>plain Langevin<\/td><td[^>]*>1<\/td><td>all pass<\/td><td>worst \|error\| ÷ bar: 2\.5 &gt; 1 \(2\.5× the bar\)<\/td>/,
  );
  assert.doesNotMatch(
    summary,
    /Checks/,
    'the live check counts pass and FAIL cells in the table captioned Checks only',
  );
  assert.match(details, /^<summary>All 4 checks<\/summary><table[^>]*><caption>Checks<\/caption>/);
  assert.equal((details.match(/<td>pass<\/td>/g) ?? []).length, 3);
  assert.equal((details.match(/<td>FAIL<\/td>/g) ?? []).length, 1);
});
