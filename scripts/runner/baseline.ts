// Regression baseline: the check values of a configuration on a backend, committed under
// notebooks/baselines/CONFIG.BACKEND.json. Every run of that configuration is compared with it,
// check by check; a value that moved by more than its tolerance fails the run, and the table shows
// what moved. `--update-baseline` accepts this run's values as the new baseline.
//
// Each tolerance comes from the check's own sampling noise, one standard error at its n (Check.se):
// half of one for a check of exact or oracle sampling, which only another CPU's rounding can move
// (far less than that); three for a check of a trained network, since native TensorFlow picks its
// kernels by the CPU's instruction sets (oneDNN and Eigen use AVX-512, AMX, ... where present), so
// another CPU trains another network, about as good, whose statistics differ by about a standard
// error. A check without a standard error must repeat exactly; one of a trained network is then
// not compared on a CPU with other instruction sets than the baseline's, or with oneDNN switched by
// TF_ENABLE_ONEDNN_OPTS (the baseline records both), and the comparison says how many it left out. A planted 5 % wider middle mode moves chapter 1's σ check
// by 1.4 standard errors at its CI n: the chapter's own bar (4) lets it pass, the baseline does not.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatNumber, textTable } from '../../src/notebook/tables';

/** What the comparison reads of a run's report. */
interface RunChecks {
  config: string;
  backend?: string;
  notebooks: { name: string; checks: { name: string; value: number; se?: number; trained?: boolean }[] }[];
}

/** A check's allowed move, in its standard errors: of exact or oracle sampling, and of a trained network. */
export const TOLERANCE_IN_STANDARD_ERRORS = { sampling: 0.5, trained: 3 };

export interface BaselineEntry {
  value: number;
  /** Allowed |now − value|; 0 when absent. */
  tolerance?: number;
  /** The value comes from a trained network. */
  trained?: boolean;
}

export interface Baseline {
  config: string;
  backend: string;
  /** For native TensorFlow: what its kernels were chosen by (cpuFeatures()). */
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
  /** Checks compared, and the rows that moved or are new or gone. */
  compared: number;
  moved: BaselineRow[];
  /** Where TensorFlow chooses other kernels than the baseline's (cpuFeatures()): how they differ, and the trained checks without a standard error, not compared. */
  otherCpu?: { difference: string; notCompared: string[] };
}

export function baselineFile(dir: string, config: string, backend: string): string {
  return path.join(dir, `${config.replace(/[^\w+.-]/g, '_')}.${backend}.json`);
}

/**
 * What TensorFlow's CPU kernels are chosen by: the instruction sets among /proc/cpuinfo's flags,
 * and TF_ENABLE_ONEDNN_OPTS where it is set (it turns oneDNN's kernels on or off whatever the CPU).
 */
export function cpuFeatures(cpuinfo = readCpuinfo(), env: NodeJS.ProcessEnv = process.env): string[] {
  const flags = new Set(/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1].trim().split(/\s+/) ?? []);
  const sets = [...flags].filter((f) => /^(sse4_[12]|avx.*|fma|f16c|amx.*)$/.test(f)).sort();
  const onednn = env.TF_ENABLE_ONEDNN_OPTS;
  return onednn === undefined ? sets : [...sets, `TF_ENABLE_ONEDNN_OPTS=${onednn}`];
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
  let otherCpu: BaselineComparison['otherCpu'];
  if (baseline.cpuFeatures && here && baseline.cpuFeatures.join(' ') !== here.join(' ')) {
    const only = (a: string[], b: string[]) => a.filter((f) => !b.includes(f)).join(' ') || 'none';
    otherCpu = {
      difference: `only there: ${only(baseline.cpuFeatures, here)}; only here: ${only(here, baseline.cpuFeatures)}`,
      notCompared: [],
    };
  }
  const moved: BaselineRow[] = [];
  let compared = 0;
  for (const n of report.notebooks) {
    const expected = baseline.notebooks[n.name] ?? {};
    for (const c of n.checks) {
      const entry = expected[c.name];
      if (otherCpu && entry?.trained && entry.tolerance === undefined) {
        otherCpu.notCompared.push(`${n.name}: ${c.name}`);
        continue;
      }
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
  return { file, compared, moved, ...(otherCpu ? { otherCpu } : {}) };
}

/** The entry a check gets: its value, and the tolerance its standard error gives (else `kept`, one written by hand). */
function baselineEntry(c: RunChecks['notebooks'][number]['checks'][number], kept?: number): BaselineEntry {
  const k = c.trained ? TOLERANCE_IN_STANDARD_ERRORS.trained : TOLERANCE_IN_STANDARD_ERRORS.sampling;
  const tolerance = c.se !== undefined && c.se > 0 ? k * c.se : kept;
  return { value: c.value, ...(tolerance ? { tolerance } : {}), ...(c.trained ? { trained: true } : {}) };
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
      n.checks.map((c) => [c.name, baselineEntry(c, old[c.name]?.tolerance)]),
    );
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(baseline, null, 1)}\n`);
  return file;
}

/** The comparison for the log: one line when nothing moved, else a table of what did. */
export function formatBaselineComparison(c: BaselineComparison): string {
  const cpu = c.otherCpu
    ? ` (made where TensorFlow chose other kernels, ${c.otherCpu.difference}: ${c.otherCpu.notCompared.length} checks of a trained network without a standard error not compared)`
    : '';
  if (c.moved.length === 0) return `baseline: ${c.compared} checks as in ${c.file}, within their tolerances${cpu}`;
  const show = (v: number | null) => (v === null ? '—' : formatNumber(v));
  const rows = c.moved.map((r) => [
    r.notebook,
    r.check,
    show(r.baseline),
    show(r.now),
    r.baseline !== null && r.now !== null ? formatNumber(r.now - r.baseline) : '',
  ]);
  return [
    `BASELINE: ${c.moved.length} of ${c.compared} checks differ from ${c.file} by more than their tolerances${cpu} (a deliberate change: run again with --update-baseline)`,
    textTable(['notebook', 'check', 'baseline', 'now', 'change'], rows),
  ].join('\n');
}
