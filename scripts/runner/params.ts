// Parameter overrides: read from ci-params.json and --params, and checked against the
// `let` lines of each notebook's cell tagged `parameters` before its kernel starts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { notebookNames, sourceText, type NotebookJson } from './notebook-file';
import type { Options } from './options';

/** Overrides per notebook: {"04-sampling": {"nSamples": 2000}}. */
export type Params = Record<string, Record<string, unknown>>;

/** Keys that name an object's prototype rather than a notebook or a parameter: refused in a params file. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * `value` with every object rebuilt without a prototype, so that no key of an untrusted file can
 * reach Object.prototype (assigning `merged["__proto__"]` would swap the merged object's prototype).
 * Throws on a key in PROTOTYPE_KEYS; `at` is where `value` sits in the file, for the message.
 */
function prototypeFree(value: unknown, at: string[]): unknown {
  if (Array.isArray(value)) return value.map((v, i) => prototypeFree(v, [...at, String(i)]));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = Object.create(null);
  for (const [k, v] of Object.entries(value)) {
    if (PROTOTYPE_KEYS.has(k)) {
      const where = at.length ? `inside ${at.map((a) => JSON.stringify(a)).join(' > ')}` : 'at the top level';
      throw new Error(
        `key "${k}" ${where} is not allowed (it names an object's prototype, not a notebook or a parameter): remove it`,
      );
    }
    out[k] = prototypeFree(v, [...at, k]);
  }
  return out;
}

function readParams(file: string): Params {
  let p: Params;
  try {
    p = prototypeFree(JSON.parse(fs.readFileSync(file, 'utf8')), []) as Params;
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  const isObject = (v: unknown) => !!v && typeof v === 'object' && !Array.isArray(v);
  if (!isObject(p)) throw new Error(`${file}: expected {"notebook": {"name": value}}`);
  for (const [nb, values] of Object.entries(p)) {
    if (!isObject(values))
      throw new Error(`${file}: "${nb}" must map to {"name": value}, got ${JSON.stringify(values)}`);
  }
  return p;
}

/** Overrides per notebook: ci-params.json (with --ci), then --params on top. Creates ci-params.json if absent. */
export function loadParams(o: Options, notebooks: string[]): { params: Params; config: string } {
  const merged: Params = Object.create(null);
  const configs: string[] = [];
  const add = (p: Params) => {
    for (const [nb, values] of Object.entries(p)) merged[nb] = Object.assign(Object.create(null), merged[nb], values);
  };
  if (o.ci) {
    const file = path.join(o.notebooksDir, 'ci-params.json');
    if (!fs.existsSync(file)) {
      const placeholder = Object.fromEntries(notebooks.map((n) => [n, {}]));
      fs.writeFileSync(file, `${JSON.stringify(placeholder, null, 2)}\n`);
      console.warn(`[run-notebooks] created ${file} with empty placeholders: fill in the CI parameters`);
    }
    add(readParams(file));
    configs.push('ci');
  }
  if (o.paramsFile) {
    add(readParams(o.paramsFile));
    configs.push(path.basename(o.paramsFile));
  }
  const known = new Set(notebookNames(o.notebooksDir));
  for (const nb of Object.keys(merged)) {
    if (!known.has(nb)) console.warn(`[run-notebooks] parameters given for unknown notebook "${nb}"`);
  }
  return { params: merged, config: configs.length ? configs.join('+') : 'full' };
}

type JsonType = 'number' | 'string' | 'boolean' | 'null' | 'array' | 'object';

/**
 * The values a number parameter (or each number of an array parameter) may take, from a trailing
 * comment on its line: `// integer >= 1`, `// > 0`, `// in [0, 1)`, `// integer in [0, 2^32)`, and
 * a bound by another parameter of the cell: `// integer in [1, 16] and <= batchSize`.
 */
export interface NumberRange {
  /** As written in the comment. */
  text: string;
  integer: boolean;
  low?: { value: number; inclusive: boolean };
  high?: { value: number; inclusive: boolean };
  /** The parameter whose value this one may not exceed. */
  atMost?: string;
}

/** One `let name = default;` line of a parameters cell. */
export interface DeclaredParameter {
  name: string;
  /** The line as written, for messages. */
  source: string;
  /** JSON types an override may have; null when the default is an expression we cannot type. */
  types: JsonType[] | null;
  range?: NumberRange;
  /** The strings a string parameter takes, from a comment such as `// one of 'plain', 'exact'`. */
  choices?: string[];
  /** The default when it is a number literal (for the bounds other parameters take from it). */
  numberDefault?: number;
}

// a number literal, or a power of two written 2^k
const NUMBER = String.raw`(?:2\^\d+|[+-]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:e[+-]?\d+)?)`;

function parseRange(comment: string): NumberRange | undefined {
  const num = (s: string) => (s.startsWith('2^') ? 2 ** Number(s.slice(2)) : Number(s.replace(/_/g, '')));
  const m = new RegExp(
    String.raw`^(integer)?\s*(?:(>=|>|<=|<)\s*(${NUMBER})|in\s*([[(])\s*(${NUMBER})\s*,\s*(${NUMBER})\s*([\])]))?(?:\s+and\s+<=\s*([A-Za-z_$][\w$]*))?\s*$`,
    'i',
  ).exec(comment.trim());
  if (!m || (!m[1] && !m[2] && !m[4])) return undefined;
  const range: NumberRange = { text: comment.trim(), integer: !!m[1], ...(m[8] ? { atMost: m[8] } : {}) };
  if (m[2]) {
    const bound = { value: num(m[3]), inclusive: m[2].endsWith('=') };
    if (m[2].startsWith('>')) range.low = bound;
    else range.high = bound;
  } else if (m[4]) {
    range.low = { value: num(m[5]), inclusive: m[4] === '[' };
    range.high = { value: num(m[6]), inclusive: m[7] === ']' };
  }
  return range;
}

/** `one of 'a', 'b'` → ['a', 'b']; undefined for any other comment. */
function parseChoices(comment: string): string[] | undefined {
  const m = /^\s*one of\s+((?:'[^']*'\s*,?\s*(?:or\s+)?)+)$/.exec(comment);
  return m ? [...m[1].matchAll(/'([^']*)'/g)].map((x) => x[1]) : undefined;
}

/** Why `v` is outside `range` (every number must be finite), or null when it is inside. */
function rangeProblem(v: number, range: NumberRange | undefined): string | null {
  if (!Number.isFinite(v)) return 'must be a finite number';
  if (!range) return null;
  const { low, high } = range;
  const outside =
    (range.integer && !Number.isInteger(v)) ||
    (low && (low.inclusive ? v < low.value : v <= low.value)) ||
    (high && (high.inclusive ? v > high.value : v >= high.value));
  return outside ? `must be ${range.text}` : null;
}

function jsonType(v: unknown): JsonType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v as JsonType;
}

function literalType(expr: string): JsonType | undefined {
  const e = expr.trim();
  if (/^[+-]?(\d[\d_]*(\.[\d_]*)?|\.\d[\d_]*)(e[+-]?\d+)?$/i.test(e)) return 'number';
  if (/^(['"`]).*\1$/.test(e)) return 'string';
  if (e === 'true' || e === 'false') return 'boolean';
  if (e === 'null') return 'null';
  if (/^\[.*\]$/.test(e)) return 'array';
  if (/^\{.*\}$/.test(e)) return 'object';
  return undefined;
}

/** Types allowed by an annotation such as `number | null`; null if any part is beyond JSON's types. */
function annotationTypes(annotation: string): JsonType[] | null {
  const types: JsonType[] = [];
  for (const part of annotation.split('|').map((x) => x.trim())) {
    if (['number', 'string', 'boolean', 'null'].includes(part)) types.push(part as JsonType);
    else if (/\[\]$|^Array</.test(part)) types.push('array');
    else return null;
  }
  return types;
}

/**
 * The parameters a notebook declares: the `let` lines of its code cell tagged `parameters`,
 * typed by their annotation or else by their literal default (as TypeScript would infer it).
 * Undefined if no cell is tagged `parameters`.
 */
export function declaredParameters(nb: NotebookJson): Map<string, DeclaredParameter> | undefined {
  const cell = nb.cells.find((c) => c.cell_type === 'code' && (c.metadata?.tags ?? []).includes('parameters'));
  if (!cell) return undefined;
  const found = new Map<string, DeclaredParameter>();
  for (const line of sourceText(cell.source).split('\n')) {
    const m = /^\s*let\s+([A-Za-z_$][\w$]*)\s*(?::\s*([^=]+?)\s*)?=\s*(.*)$/.exec(line);
    if (!m) continue;
    const comment = /;\s*\/\/(.*)$/.exec(m[3])?.[1];
    const expr = m[3].replace(/;\s*(\/\/.*)?$/, '');
    const literal = literalType(expr);
    const types = m[2] !== undefined ? annotationTypes(m[2]) : literal ? [literal] : null;
    const range = comment === undefined ? undefined : parseRange(comment);
    const choices = comment === undefined ? undefined : parseChoices(comment);
    const numberDefault = literal === 'number' ? Number(expr.trim().replace(/_/g, '')) : undefined;
    found.set(m[1], {
      name: m[1],
      source: line.trim(),
      types,
      ...(range ? { range } : {}),
      ...(choices ? { choices } : {}),
      ...(numberDefault !== undefined ? { numberDefault } : {}),
    });
  }
  return found;
}

/** Problems with a notebook's overrides (unknown names, wrong JSON types); empty if none. */
export function overrideProblems(
  notebook: string,
  declared: Map<string, DeclaredParameter> | undefined,
  overrides: Record<string, unknown>,
): string[] {
  const given = Object.keys(overrides);
  if (given.length === 0) return [];
  if (!declared)
    return [`${notebook}: parameter overrides given (${given.join(', ')}) but no code cell is tagged "parameters"`];
  const problems: string[] = [];
  for (const [name, value] of Object.entries(overrides)) {
    const d = declared.get(name);
    if (!d) {
      problems.push(
        `${notebook}: unknown parameter "${name}"; its parameters cell declares ${[...declared.keys()].join(', ') || 'none'}`,
      );
    } else if (d.types && !d.types.includes(jsonType(value))) {
      problems.push(
        `${notebook}: parameter "${name}" must be ${d.types.join(' or ')} (declared \`${d.source}\`), got ${JSON.stringify(value)} (${jsonType(value)})`,
      );
    } else if (typeof value === 'string' && d.choices && !d.choices.includes(value)) {
      problems.push(
        `${notebook}: parameter "${name}" = ${JSON.stringify(value)} must be one of ${d.choices.map((c) => `'${c}'`).join(', ')} (declared \`${d.source}\`)`,
      );
    } else {
      const numbers =
        typeof value === 'number'
          ? [value]
          : Array.isArray(value)
            ? value.filter((x): x is number => typeof x === 'number')
            : [];
      for (const v of numbers) {
        const why = rangeProblem(v, d.range);
        // JSON.stringify writes an infinite number as null: show it as the parser read it
        if (why)
          problems.push(
            `${notebook}: parameter "${name}" = ${Number.isFinite(v) ? v : String(v)} ${why} (declared \`${d.source}\`)`,
          );
      }
    }
  }
  // bounds by another parameter (`and <= batchSize`), on the values the run will have
  const runValue = (name: string) => (name in overrides ? overrides[name] : declared.get(name)?.numberDefault);
  for (const d of declared.values()) {
    const other = d.range?.atMost;
    if (!other || !(d.name in overrides || other in overrides)) continue;
    const [v, bound] = [runValue(d.name), runValue(other)];
    if (typeof v === 'number' && typeof bound === 'number' && v > bound) {
      problems.push(
        `${notebook}: parameter "${d.name}" = ${v} must be at most ${other} = ${bound} (declared \`${d.source}\`)`,
      );
    }
  }
  return problems;
}

/**
 * The notebook with new defaults written into its parameters cell (`let steps = 8000; // integer >= 1`
 * becomes `let steps = 200; // integer >= 1`), for a copy that a reader's client runs as it is.
 * The values are checked as overrides are; a problem is thrown.
 */
export function withParameterDefaults(name: string, nb: NotebookJson, values: Record<string, unknown>): NotebookJson {
  const problems = overrideProblems(name, declaredParameters(nb), values);
  if (problems.length) throw new Error(problems.join('\n'));
  const copy: NotebookJson = JSON.parse(JSON.stringify(nb));
  const cell = copy.cells.find((c) => c.cell_type === 'code' && (c.metadata?.tags ?? []).includes('parameters'));
  if (!cell) return copy;
  const lines = sourceText(cell.source)
    .split('\n')
    .map((line) => {
      const m = /^(\s*let\s+([A-Za-z_$][\w$]*)\s*(?::\s*[^=]+?\s*)?=\s*)(.*?)(;.*)$/.exec(line);
      return m && m[2] in values ? `${m[1]}${JSON.stringify(values[m[2]])}${m[4]}` : line;
    });
  cell.source = lines.join('\n');
  return copy;
}
