// Numeric checks that notebooks publish and the notebook runner asserts (its report
// is scripts/runner/report.ts).
//
// A notebook computes a value (a loss, a Wasserstein distance, ...) and publishes
// {name, value, op, threshold}. The runner decides pass/fail itself from these
// four fields, so a notebook cannot claim success it did not earn.

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
  /** How far sampling noise moves the value: one standard error at this n (the regression baseline's unit). */
  se?: number;
  /** The value comes from a trained network, so another CPU, which trains another network, gives another one. */
  trained?: boolean;
}

/** What a check knows of its own noise (see Check). */
export interface CheckNoise {
  se?: number;
  trained?: boolean;
}

export interface CheckResult extends Check {
  pass: boolean;
}

/** Builds a check; a convenience for notebooks. */
export function check(
  name: string,
  value: number,
  op: CheckOp,
  threshold: number,
  detail?: string,
  noise: CheckNoise = {},
): Check {
  const c: Check = { name, value, op, threshold };
  if (detail !== undefined) c.detail = detail;
  if (noise.se !== undefined) c.se = noise.se;
  if (noise.trained) c.trained = true;
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
    case '<=':
      return value <= threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '>':
      return value > threshold;
    default:
      return false;
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
  if (typeof o.se === 'number' && o.se >= 0) c.se = o.se;
  if (o.trained === true) c.trained = true;
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

/**
 * How much of its bar a check uses: value/threshold for an upper bar, threshold/value for a lower
 * one, so that up to 1 passes. null where that ratio says nothing (a bar at or below 0, a value of
 * the other sign, NaN).
 */
export function barUsed(c: Check): number | null {
  const { value, threshold } = c;
  if (!(threshold > 0) || !(value >= 0) || !Number.isFinite(threshold)) return null;
  if (c.op === '<=' || c.op === '<') return value / threshold;
  return value > 0 ? threshold / value : null;
}

/** The checks of one thing checked (a sample set, a comparison): how many, how many failed, and the one closest to its bar. */
export interface CheckGroup {
  /** The checks' common name: everything before the last ': ' of their names. */
  subject: string;
  checks: Check[];
  failed: number;
  /** A failing check if any (the one furthest past its bar), else the passing one that uses most of its bar. */
  closest: Check;
}

/** The checks grouped by what they check, in their order: one row per sampler or sample set. */
export function groupChecks(checks: Check[]): CheckGroup[] {
  const groups = new Map<string, Check[]>();
  for (const c of checks) {
    const cut = c.name.lastIndexOf(': ');
    const subject = cut > 0 ? c.name.slice(0, cut) : c.name;
    const members = groups.get(subject);
    if (members) members.push(c);
    else groups.set(subject, [c]);
  }
  // passing checks rank by the share of their bar they use (at most 1); failing ones above them all
  const rank = (c: Check): number => (evaluateCheck(c) ? (barUsed(c) ?? 0) : 2 + (barUsed(c) ?? Infinity));
  return [...groups].map(([subject, members]) => {
    const failed = members.filter((c) => !evaluateCheck(c)).length;
    const closest = members.reduce((a, b) => (rank(b) > rank(a) ? b : a));
    return { subject, checks: members, failed, closest };
  });
}
