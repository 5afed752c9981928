// The JAX reference: the tutorial's own jitted training step and a jitted forward pass
// (bench_jax.py), run as a child process with the reference venv's Python (.venv-reference/, made
// by npm run reference) when it exists.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../../src/runtime/paths';
import type { BenchResults } from './measurements';
import type { Options } from './options';
import { fmt } from './summary';

/** The batch sizes the JAX step is timed at: the tutorial's step is slow on 2 cores beyond these. */
export const JAX_BATCHES = [1024, 4096];

export interface JaxResult {
  jax: string;
  devices: number;
  train: { batch: number; steps: number; ms_per_step: number; samples_per_s: number }[];
  infer: { rows: number; ms: number; rows_per_s: number };
}

/** The reference's measurements, if it ran, and a note on how it ran or why not. */
export interface JaxReference {
  result?: JaxResult;
  note: string;
}

export function benchJax(o: Options): JaxReference {
  const py = path.join(REPO_ROOT, '.venv-reference', 'bin', 'python');
  if (!fs.existsSync(py)) return { note: `JAX not installed (no ${path.relative(REPO_ROOT, py)}; npm run reference makes it)` };
  const script = path.join(REPO_ROOT, 'scripts', 'bench', 'bench_jax.py');
  const batches = o.batches.filter((b) => JAX_BATCHES.includes(b));
  const r = spawnSync(py, [script, `--batches=${batches.join(',')}`, `--seconds=${o.seconds}`], {
    encoding: 'utf8',
    env: { ...process.env, JAX_PLATFORMS: 'cpu' },
    timeout: 300_000,
  });
  if (r.status !== 0) return { note: `bench_jax.py failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}` };
  return { result: JSON.parse(r.stdout.trim().split('\n').pop()!) as JaxResult, note: 'JAX_PLATFORMS=cpu, the tutorial\'s jitted update_fn with its data step' };
}

/** JAX's step and forward beside each tfjs backend's fast step and folded forward, as ratios. */
export function printJaxComparison(r: BenchResults, jax: JaxReference): void {
  console.log(`\nJAX (the tutorial's jitted step; ${jax.note})`);
  if (!jax.result) return;
  for (const j of jax.result.train) {
    const tfjs = r.train.filter((x) => x.gradients === 'fast' && x.batch === j.batch);
    const ratios = tfjs.map((x) => `${x.backend} fast ${fmt(x.msPerStep, 1)} ms = ${fmt(x.msPerStep / j.ms_per_step, 2)}× JAX`);
    console.log(`  B=${j.batch}: JAX ${fmt(j.ms_per_step, 1)} ms/step (${fmt(j.samples_per_s)} samples/s)` + (ratios.length ? `; ${ratios.join('; ')}` : ''));
  }
  const j = jax.result.infer;
  const folded = r.infer.filter((x) => x.predictor === 'folded');
  const ratios = folded.map((x) => `${x.backend} folded ${fmt(x.msPerCall, 1)} ms = ${fmt(x.msPerCall / j.ms, 2)}× JAX`);
  console.log(`  forward over ${j.rows} rows: JAX ${fmt(j.ms, 1)} ms` + (ratios.length ? `; ${ratios.join('; ')}` : ''));
}
