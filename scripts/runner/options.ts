// The runner's command line: its options, and which notebooks they select.
import { parseArgs as parse } from 'node:util';

export const USAGE = `usage: node dist/scripts/runner/run-notebooks.js [NAME...] [options]
  NAME               notebook base name or number prefix (04 -> 04-sampling); default: all
  --ci               parameter overrides from NOTEBOOKS/ci-params.json (created if absent)
  --params FILE      more overrides, {"01-data": {"nSamples": 2000}}, applied after --ci
  --timeout S        seconds per cell (default 1800)
  --startup-timeout S  seconds for the kernel to start (default 60)
  --out DIR          output folder (default build, with --ci build/ci); one run at a time
  --notebooks DIR    notebook folder (default notebooks)
  --no-browser       do not check the HTML exports in Chromium
  --no-html          do not export HTML (the executed notebooks and the report only)
  --repeat           run the notebooks a second time, beside the first (into OUT/repeat, no
                     HTML), and fail unless every check value and the backend are identical
  --repeat-skip NAMES  notebooks (comma-separated names or prefixes) the second run leaves
                     out, e.g. a long training whose reproducibility the unit tests cover
  --baselines DIR    regression baselines (default NOTEBOOKS/baselines): a run whose
                     configuration and backend have one fails on any check that moved
  --update-baseline  accept this run's check values as the baseline`;

export interface Options {
  names: string[];
  ci: boolean;
  paramsFile?: string;
  timeout: number;
  startupTimeout: number;
  out: string;
  notebooksDir: string;
  browser: boolean;
  /** Export each executed notebook to offline HTML. */
  html: boolean;
  repeat: boolean;
  /** Notebooks (names or prefixes) that --repeat does not run again. */
  repeatSkip: string[];
  baselines: string;
  updateBaseline: boolean;
}

export function parseArgs(argv: string[]): Options {
  const { values: v, positionals } = parse({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      ci: { type: 'boolean' },
      params: { type: 'string' },
      timeout: { type: 'string' },
      'startup-timeout': { type: 'string' },
      out: { type: 'string' },
      notebooks: { type: 'string' },
      'no-browser': { type: 'boolean' },
      'no-html': { type: 'boolean' },
      repeat: { type: 'boolean' },
      'repeat-skip': { type: 'string', multiple: true },
      baselines: { type: 'string' },
      'update-baseline': { type: 'boolean' },
    },
  });
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const notebooksDir = v.notebooks ?? 'notebooks';
  const o: Options = {
    names: positionals.map((a) => a.replace(/\.ipynb$/, '')),
    ci: v.ci ?? false,
    paramsFile: v.params,
    timeout: Number(v.timeout ?? 1800),
    startupTimeout: Number(v['startup-timeout'] ?? 60),
    // each configuration keeps its own outputs: a CI run never replaces the full run's
    out: v.out || (v.ci ? 'build/ci' : 'build'),
    notebooksDir,
    browser: !v['no-browser'],
    html: !v['no-html'],
    repeat: v.repeat ?? false,
    repeatSkip: (v['repeat-skip'] ?? []).flatMap((s) => s.split(',')).filter(Boolean),
    baselines: v.baselines || `${notebooksDir}/baselines`,
    updateBaseline: v['update-baseline'] ?? false,
  };
  if (!(o.timeout > 0) || !(o.startupTimeout > 0))
    throw new Error('--timeout and --startup-timeout need positive seconds');
  return o;
}

/** Notebook base names in name order, filtered by exact names or prefixes (`04` -> `04-sampling`). */
export function selectNotebooks(all: string[], names: string[]): string[] {
  const sorted = [...all].sort();
  if (names.length === 0) return sorted;
  const chosen = new Set<string>();
  for (const n of names) {
    const hits = sorted.filter((b) => b === n || b.startsWith(`${n}-`));
    if (hits.length === 0) throw new Error(`no notebook matches "${n}" (have: ${sorted.join(', ') || 'none'})`);
    for (const h of hits) chosen.add(h);
  }
  return sorted.filter((b) => chosen.has(b));
}
