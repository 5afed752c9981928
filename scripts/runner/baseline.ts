// Regression baseline: the check values of a configuration on a backend, committed under
// notebooks/baselines/CONFIG.BACKEND.json. Every run of that configuration is compared with it,
// check by check; a value that moved by more than its tolerance (0 unless the baseline says
// otherwise: on wasm and cpu the same seed gives the same numbers) fails the run, and the table
// shows what moved. `--update-baseline` accepts this run's values as the new baseline.
//
// Native TensorFlow picks its kernels by the CPU's instruction sets (oneDNN and Eigen use AVX-512,
// AMX, ... where present), so its numbers repeat on one machine but not across CPUs: a baseline on
// that backend records the instruction sets it was made on, and a machine with others skips the
// comparison and says so (the run's --repeat still checks it against itself).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatNumber, textTable } from '../../src/notebook/tables';

/** What the comparison reads of a run's report. */
interface RunChecks {
  config: string;
  backend?: string;
  notebooks: { name: string; checks: { name: string; value: number }[] }[];
}

export interface BaselineEntry {
  value: number;
  /** Allowed |now − value|; 0 when absent. */
  tolerance?: number;
}

export interface Baseline {
  config: string;
  backend: string;
  /** For native TensorFlow: the CPU instruction sets its kernels were chosen by (cpuFeatures()). */
  cpuFeatures?: string[];
  /** notebook → check name → entry. */
  notebooks: Record<string, Record<string, BaselineEntry>>;
}

export interface BaselineRow {
  notebook: string;
  check: string;
  baseline: number | null;
  now: number | null;
  ok: boolean;
}

export interface BaselineComparison {
  file: string;
  /** Why nothing was compared (the baseline was made on a CPU with other instruction sets). */
  skipped?: string;
  /** Checks compared, and the rows that moved or are new or gone. */
  compared: number;
  moved: BaselineRow[];
}

export function baselineFile(dir: string, config: string, backend: string): string {
  return path.join(dir, `${config.replace(/[^\w+.-]/g, '_')}.${backend}.json`);
}

/** The instruction sets among /proc/cpuinfo's flags that TensorFlow's CPU kernels choose by. */
export function cpuFeatures(cpuinfo = readCpuinfo()): string[] {
  const flags = new Set(/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1].trim().split(/\s+/) ?? []);
  return [...flags].filter((f) => /^(sse4_[12]|avx.*|fma|f16c|amx.*)$/.test(f)).sort();
}

function readCpuinfo(): string {
  try {
    return fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}

function readBaseline(file: string): Baseline | null {
  if (!fs.existsSync(file)) return null;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Baseline;
  } catch (e) {
    throw new Error(`${file}: not a readable baseline (${(e as Error).message})`);
  }
}

/** This run's checks against the baseline, for the notebooks that ran; null when there is none. */
export function compareWithBaseline(report: RunChecks, dir: string): BaselineComparison | null {
  if (!report.backend) return null;
  const file = baselineFile(dir, report.config, report.backend);
  const baseline = readBaseline(file);
  if (!baseline) return null;
  const here = report.backend === 'tensorflow' ? cpuFeatures() : undefined;
  if (baseline.cpuFeatures && here && baseline.cpuFeatures.join(' ') !== here.join(' ')) {
    const only = (a: string[], b: string[]) => a.filter((f) => !b.includes(f)).join(' ') || 'none';
    return {
      file,
      compared: 0,
      moved: [],
      skipped: `it was made on a CPU with other instruction sets (only there: ${only(baseline.cpuFeatures, here)}; only here: ${only(here, baseline.cpuFeatures)}), and native TensorFlow's numbers depend on them`,
    };
  }
  const moved: BaselineRow[] = [];
  let compared = 0;
  for (const n of report.notebooks) {
    const expected = baseline.notebooks[n.name] ?? {};
    for (const c of n.checks) {
      const entry = expected[c.name];
      compared++;
      const ok =
        entry !== undefined &&
        (Object.is(entry.value, c.value) || Math.abs(c.value - entry.value) <= (entry.tolerance ?? 0));
      if (!ok) moved.push({ notebook: n.name, check: c.name, baseline: entry?.value ?? null, now: c.value, ok });
    }
    for (const [check, entry] of Object.entries(expected)) {
      if (!n.checks.some((c) => c.name === check))
        moved.push({ notebook: n.name, check, baseline: entry.value, now: null, ok: false });
    }
  }
  return { file, compared, moved };
}

/** Writes this run's values into the baseline (other notebooks' entries and tolerances are kept). */
export function updateBaseline(report: RunChecks, dir: string): string {
  if (!report.backend) throw new Error('--update-baseline: the run reported no backend');
  const file = baselineFile(dir, report.config, report.backend);
  const baseline: Baseline = readBaseline(file) ?? { config: report.config, backend: report.backend, notebooks: {} };
  if (report.backend === 'tensorflow') baseline.cpuFeatures = cpuFeatures();
  for (const n of report.notebooks) {
    const old = baseline.notebooks[n.name] ?? {};
    baseline.notebooks[n.name] = Object.fromEntries(
      n.checks.map((c) => [
        c.name,
        { value: c.value, ...(old[c.name]?.tolerance ? { tolerance: old[c.name].tolerance } : {}) },
      ]),
    );
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(baseline, null, 1)}\n`);
  return file;
}

/** The comparison for the log: one line when nothing moved, else a table of what did. */
export function formatBaselineComparison(c: BaselineComparison): string {
  if (c.skipped) return `baseline: not compared with ${c.file}: ${c.skipped}`;
  if (c.moved.length === 0) return `baseline: ${c.compared} checks as in ${c.file}`;
  const show = (v: number | null) => (v === null ? '—' : formatNumber(v));
  const rows = c.moved.map((r) => [
    r.notebook,
    r.check,
    show(r.baseline),
    show(r.now),
    r.baseline !== null && r.now !== null ? formatNumber(r.now - r.baseline) : '',
  ]);
  return [
    `BASELINE: ${c.moved.length} of ${c.compared} checks differ from ${c.file} (a deliberate change: run again with --update-baseline)`,
    textTable(['notebook', 'check', 'baseline', 'now', 'change'], rows),
  ].join('\n');
}
