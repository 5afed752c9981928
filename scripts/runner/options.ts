// The runner's command line: its options, and which notebooks they select.
export const USAGE = `usage: node dist/scripts/runner/run-notebooks.js [NAME...] [options]
  NAME               notebook base name or number prefix (04 -> 04-sampling); default: all
  --ci               parameter overrides from NOTEBOOKS/ci-params.json (created if absent)
  --params FILE      more overrides, {"01-data": {"nSamples": 2000}}, applied after --ci
  --timeout S        seconds per cell (default 1800)
  --startup-timeout S  seconds for the kernel to start (default 60)
  --out DIR          output folder (default build, with --ci build/ci); one run at a time
  --notebooks DIR    notebook folder (default notebooks)
  --no-browser       do not check the HTML exports in Chromium
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
  repeat: boolean;
  /** Notebooks (names or prefixes) that --repeat does not run again. */
  repeatSkip: string[];
  baselines: string;
  updateBaseline: boolean;
}

export function parseArgs(argv: string[]): Options {
  const o: Options = {
    names: [], ci: false, timeout: 1800, startupTimeout: 60, out: '', notebooksDir: 'notebooks', browser: true, repeat: false, repeatSkip: [],
    baselines: '', updateBaseline: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value${v === undefined ? '' : `, not the option ${v}`}`);
      return v;
    };
    if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (a === '--ci') o.ci = true;
    else if (a === '--params') o.paramsFile = value();
    else if (a === '--timeout') o.timeout = Number(value());
    else if (a === '--startup-timeout') o.startupTimeout = Number(value());
    else if (a === '--out') o.out = value();
    else if (a === '--notebooks') o.notebooksDir = value();
    else if (a === '--no-browser') o.browser = false;
    else if (a === '--repeat') o.repeat = true;
    else if (a === '--repeat-skip') o.repeatSkip.push(...value().split(',').filter(Boolean));
    else if (a === '--baselines') o.baselines = value();
    else if (a === '--update-baseline') o.updateBaseline = true;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else o.names.push(a.replace(/\.ipynb$/, ''));
  }
  if (!(o.timeout > 0) || !(o.startupTimeout > 0)) throw new Error('--timeout and --startup-timeout need positive seconds');
  // each configuration keeps its own outputs: a CI run never replaces the full run's
  o.out ||= o.ci ? 'build/ci' : 'build';
  o.baselines ||= `${o.notebooksDir}/baselines`;
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
    hits.forEach((h) => chosen.add(h));
  }
  return sorted.filter((b) => chosen.has(b));
}
