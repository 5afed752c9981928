// Parameter overrides: read from ci-params.json and --params, and checked against the
// `let` lines of each notebook's cell tagged `parameters` before its kernel starts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { notebookNames, sourceText, type NotebookJson } from './notebook-file';
import type { Options } from './options';

/** Overrides per notebook: {"04-sampling": {"nSamples": 2000}}. */
export type Params = Record<string, Record<string, unknown>>;

function readParams(file: string): Params {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'));
  const isObject = (v: unknown) => !!v && typeof v === 'object' && !Array.isArray(v);
  if (!isObject(p)) throw new Error(`${file}: expected {"notebook": {"name": value}}`);
  for (const [nb, values] of Object.entries(p)) {
    if (!isObject(values)) throw new Error(`${file}: "${nb}" must map to {"name": value}, got ${JSON.stringify(values)}`);
  }
  return p;
}

/** Overrides per notebook: ci-params.json (with --ci), then --params on top. Creates ci-params.json if absent. */
export function loadParams(o: Options, notebooks: string[]): { params: Params; config: string } {
  const merged: Params = {};
  const configs: string[] = [];
  const add = (p: Params) => {
    for (const [nb, values] of Object.entries(p)) merged[nb] = { ...(merged[nb] ?? {}), ...values };
  };
  if (o.ci) {
    const file = path.join(o.notebooksDir, 'ci-params.json');
    if (!fs.existsSync(file)) {
      const placeholder = Object.fromEntries(notebooks.map((n) => [n, {}]));
      fs.writeFileSync(file, JSON.stringify(placeholder, null, 2) + '\n');
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

/** One `let name = default;` line of a parameters cell. */
export interface DeclaredParameter {
  name: string;
  /** The line as written, for messages. */
  source: string;
  /** JSON types an override may have; null when the default is an expression we cannot type. */
  types: JsonType[] | null;
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
    const expr = m[3].replace(/;\s*(\/\/.*)?$/, '');
    const literal = literalType(expr);
    const types = m[2] !== undefined ? annotationTypes(m[2]) : literal ? [literal] : null;
    found.set(m[1], { name: m[1], source: line.trim(), types });
  }
  return found;
}

/** Problems with a notebook's overrides (unknown names, wrong JSON types); empty if none. */
export function overrideProblems(notebook: string, declared: Map<string, DeclaredParameter> | undefined, overrides: Record<string, unknown>): string[] {
  const given = Object.keys(overrides);
  if (given.length === 0) return [];
  if (!declared) return [`${notebook}: parameter overrides given (${given.join(', ')}) but no code cell is tagged "parameters"`];
  const problems: string[] = [];
  for (const [name, value] of Object.entries(overrides)) {
    const d = declared.get(name);
    if (!d) {
      problems.push(`${notebook}: unknown parameter "${name}"; its parameters cell declares ${[...declared.keys()].join(', ') || 'none'}`);
    } else if (d.types && !d.types.includes(jsonType(value))) {
      problems.push(`${notebook}: parameter "${name}" must be ${d.types.join(' or ')} (declared \`${d.source}\`), got ${JSON.stringify(value)} (${jsonType(value)})`);
    }
  }
  return problems;
}
