import test from 'node:test';
import assert from 'node:assert/strict';
import {
  barUsed,
  CHECKS_MIME,
  type Check,
  check,
  checksFromPayload,
  evaluateCheck,
  groupChecks,
} from '../src/notebook/checks';

test('mime type is the one notebooks publish under', () => {
  assert.equal(CHECKS_MIME, 'application/vnd.tsdiffusion.checks+json');
});

test('evaluateCheck applies each operator', () => {
  assert.equal(evaluateCheck(check('a', 1, '<=', 1)), true);
  assert.equal(evaluateCheck(check('a', 1.0001, '<=', 1)), false);
  assert.equal(evaluateCheck(check('a', 1, '<', 1)), false);
  assert.equal(evaluateCheck(check('a', 0.5, '<', 1)), true);
  assert.equal(evaluateCheck(check('a', 1, '>=', 1)), true);
  assert.equal(evaluateCheck(check('a', 1, '>', 1)), false);
  assert.equal(evaluateCheck(check('a', 2, '>', 1)), true);
});

test('NaN, non-numbers and unknown operators fail', () => {
  for (const op of ['<=', '>=', '<', '>'] as const) {
    assert.equal(evaluateCheck(check('nan value', NaN, op, 1)), false, op);
    assert.equal(evaluateCheck(check('nan threshold', 1, op, NaN)), false, op);
  }
  assert.equal(evaluateCheck({ name: 'null', value: null as unknown as number, op: '<=', threshold: 1 }), false);
  assert.equal(evaluateCheck({ name: 'bad op', value: 0, op: '==' as Check['op'], threshold: 1 }), false);
  assert.equal(evaluateCheck(check('inf', Infinity, '<=', 1)), false);
  assert.equal(evaluateCheck(check('-inf', -Infinity, '<=', 1)), true);
});

test('check() keeps detail only when given', () => {
  assert.deepEqual(check('w1', 0.1, '<=', 0.15), { name: 'w1', value: 0.1, op: '<=', threshold: 0.15 });
  assert.equal(check('w1', 0.1, '<=', 0.15, 'why').detail, 'why');
});

test('checksFromPayload recomputes pass and never trusts a pass field', () => {
  // What a notebook sends after JSON.stringify: NaN became null.
  const payload = JSON.parse(
    JSON.stringify([
      { name: 'ok', value: 1, op: '<=', threshold: 2 },
      { name: 'lying', value: 5, op: '<', threshold: 2, pass: true },
      { name: 'nan', value: NaN, op: '>=', threshold: 0, pass: true },
    ]),
  );
  const r = checksFromPayload(payload);
  assert.deepEqual(
    r.map((c) => [c.name, c.pass]),
    [
      ['ok', true],
      ['lying', false],
      ['nan', false],
    ],
  );
  assert.ok(Number.isNaN(r[2].value));
});

test('a single check object and malformed checks', () => {
  assert.equal(checksFromPayload({ name: 'one', value: 0, op: '>=', threshold: 0 })[0].pass, true);
  const bad = checksFromPayload([{ value: 1 }, 'x', { name: 'op', value: 1, op: '=', threshold: 1 }]);
  assert.equal(bad.length, 3);
  assert.ok(bad.every((c) => !c.pass));
  assert.match(bad[2].detail ?? '', /unknown op/);
});

test('barUsed: the share of its bar a check uses, 1 at the bar, null where the ratio means nothing', () => {
  assert.equal(barUsed(check('a', 0.05, '<=', 0.2)), 0.25);
  assert.equal(barUsed(check('a', 0.3, '<', 0.25)), 1.2);
  assert.equal(barUsed(check('a', 4, '>=', 2)), 0.5);
  assert.equal(barUsed(check('a', 2, '>', 2)), 1);
  assert.equal(barUsed(check('non-finite', 0, '<=', 0)), null);
  assert.equal(barUsed(check('below', -0.3, '<=', 0)), null);
  assert.equal(barUsed(check('nan', NaN, '<=', 1)), null);
  assert.equal(barUsed(check('zero', 0, '>=', 1)), null);
});

test('groupChecks: one group per thing checked, in order, with its failures and the check closest to its bar', () => {
  const checks = [
    check('exact: DDPM: mode 1 weight', 0.01, '<=', 0.04),
    check('exact: DDPM: mode 1 std', 0.09, '<=', 0.1),
    check('exact: DDPM: KS statistic', 0.02, '<=', 0.05),
    check('trained: DDPM: mode 1 weight', 0.05, '<=', 0.04),
    check('trained: DDPM: mode 3 std', 0.3, '<=', 0.1),
    check('trained: DDPM: non-finite samples', 0, '<=', 0),
    check('a check without a colon', 3, '>=', 1),
    check('trained: DDPM: mode 2 mean', NaN, '<=', 0.1),
  ];
  const groups = groupChecks(checks);
  assert.deepEqual(
    groups.map((g) => [g.subject, g.checks.length, g.failed]),
    [
      ['exact: DDPM', 3, 0],
      ['trained: DDPM', 4, 3],
      ['a check without a colon', 1, 0],
    ],
  );
  assert.equal(groups[0].closest.name, 'exact: DDPM: mode 1 std');
  // a NaN fails without a ratio: it counts as the furthest past its bar
  assert.equal(groups[1].closest.name, 'trained: DDPM: mode 2 mean');
  assert.equal(groupChecks(checks.slice(3, 6))[0].closest.name, 'trained: DDPM: mode 3 std');
});
