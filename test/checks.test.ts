import test from 'node:test';
import assert from 'node:assert/strict';
import {
  CHECKS_MIME,
  Check,
  check,
  checksFromPayload,
  evaluateCheck,
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
  const payload = JSON.parse(JSON.stringify([
    { name: 'ok', value: 1, op: '<=', threshold: 2 },
    { name: 'lying', value: 5, op: '<', threshold: 2, pass: true },
    { name: 'nan', value: NaN, op: '>=', threshold: 0, pass: true },
  ]));
  const r = checksFromPayload(payload);
  assert.deepEqual(r.map((c) => [c.name, c.pass]), [['ok', true], ['lying', false], ['nan', false]]);
  assert.ok(Number.isNaN(r[2].value));
});

test('a single check object and malformed checks', () => {
  assert.equal(checksFromPayload({ name: 'one', value: 0, op: '>=', threshold: 0 })[0].pass, true);
  const bad = checksFromPayload([{ value: 1 }, 'x', { name: 'op', value: 1, op: '=', threshold: 1 }]);
  assert.equal(bad.length, 3);
  assert.ok(bad.every((c) => !c.pass));
  assert.match(bad[2].detail ?? '', /unknown op/);
});
