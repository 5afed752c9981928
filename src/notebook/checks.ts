// Numeric checks that notebooks publish and the notebook runner asserts (its report
// is scripts/runner/report.ts).
//
// A notebook computes a value (a loss, a Wasserstein distance, ...) and publishes
// {name, value, op, threshold}. The runner decides pass/fail itself from these
// four fields, so a notebook cannot claim success it did not earn.

// display.ts shows check values with the tables' number format, importing it from here.

/** Mime type under which notebooks publish their checks (tslab.display.raw). */
export const CHECKS_MIME = 'application/vnd.tsdiffusion.checks+json';

/** Mime type for run facts a notebook reports (e.g. {backend: tf.getBackend()}). */
export const META_MIME = 'application/vnd.tsdiffusion.meta+json';

export type CheckOp = '<=' | '>=' | '<' | '>';
export const CHECK_OPS: readonly CheckOp[] = ['<=', '>=', '<', '>'];

export interface Check {
  name: string;
  value: number;
  op: CheckOp;
  threshold: number;
  /** Free text shown next to the check (e.g. what the threshold is based on). */
  detail?: string;
}

export interface CheckResult extends Check {
  pass: boolean;
}

/** Builds a check; a convenience for notebooks. */
export function check(name: string, value: number, op: CheckOp, threshold: number, detail?: string): Check {
  const c: Check = { name, value, op, threshold };
  if (detail !== undefined) c.detail = detail;
  return c;
}

/**
 * True when the check holds. NaN, infinities compared the wrong way, a
 * non-number value (e.g. null after JSON round-tripping NaN) or an unknown
 * operator all fail: a broken computation must never pass.
 */
export function evaluateCheck(c: Check): boolean {
  const { value, threshold } = c;
  if (typeof value !== 'number' || typeof threshold !== 'number') return false;
  if (Number.isNaN(value) || Number.isNaN(threshold)) return false;
  switch (c.op) {
    case '<=': return value <= threshold;
    case '>=': return value >= threshold;
    case '<': return value < threshold;
    case '>': return value > threshold;
    default: return false;
  }
}

/**
 * Normalises something parsed from a notebook output into a Check, or returns an
 * error message. JSON has no NaN, so JSON.stringify writes NaN as null: a null
 * value is kept as NaN so that it fails rather than disappears.
 */
export function parseCheck(raw: unknown): Check | string {
  if (raw === null || typeof raw !== 'object') return `check is not an object: ${JSON.stringify(raw)}`;
  const o = raw as Record<string, unknown>;
  if (typeof o.name !== 'string') return `check without a name: ${JSON.stringify(raw)}`;
  if (!CHECK_OPS.includes(o.op as CheckOp)) return `check "${o.name}" has unknown op ${JSON.stringify(o.op)}`;
  const num = (v: unknown) => (typeof v === 'number' ? v : NaN);
  const c = check(o.name, num(o.value), o.op as CheckOp, num(o.threshold));
  if (typeof o.detail === 'string') c.detail = o.detail;
  return c;
}

/** Checks found in one published payload: a single check or an array of them. */
export function checksFromPayload(payload: unknown): CheckResult[] {
  const items = Array.isArray(payload) ? payload : [payload];
  return items.map((item, i) => {
    const c = parseCheck(item);
    if (typeof c === 'string') {
      // A malformed check is reported as a failing check, never silently dropped.
      return { name: `malformed check #${i}`, value: NaN, op: '<=', threshold: NaN, detail: c, pass: false };
    }
    return { ...c, pass: evaluateCheck(c) };
  });
}
