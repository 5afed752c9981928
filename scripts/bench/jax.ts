// The JAX reference: the tutorial's own jitted training step and a jitted forward pass
// (bench_jax.py), run as a child process with the reference venv's Python (.venv-reference/, made
// by npm run reference) when it exists.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../../src/runtime/paths';
import type { BenchResults } from './measurements';
import type { Options } from './options';
import { runPeerScript, type PeerInferTiming, type PeerReference, type PeerTrainTiming } from './peer';
import { fmt } from './summary';

/** The batch sizes the JAX step is timed at. */
export const JAX_BATCHES = [1024, 4096];

export interface JaxResult {
  jax: string;
  devices: number;
  train: PeerTrainTiming[];
  infer: PeerInferTiming;
}

export type JaxReference = PeerReference<JaxResult>;

export function benchJax(o: Options): JaxReference {
  const py = path.join(REPO_ROOT, '.venv-reference', 'bin', 'python');
  if (!fs.existsSync(py))
    return { note: `JAX not installed (no ${path.relative(REPO_ROOT, py)}; npm run reference makes it)` };
  const script = path.join(REPO_ROOT, 'scripts', 'bench', 'bench_jax.py');
  const batches = o.batches.filter((b) => JAX_BATCHES.includes(b));
  return runPeerScript<JaxResult>(
    py,
    script,
    [`--batches=${batches.join(',')}`, `--seconds=${o.seconds}`],
    { JAX_PLATFORMS: 'cpu' },
    "JAX_PLATFORMS=cpu; the tutorial's jitted update_fn, its data step included",
  );
}

/** JAX's step and forward beside each tfjs backend's fast step and folded forward, as ratios. */
export function printJaxComparison(r: BenchResults, jax: JaxReference): void {
  console.log(`\nJAX (the tutorial's jitted step; ${jax.note})`);
  if (!jax.result) return;
  for (const j of jax.result.train) {
    const tfjs = r.train.filter((x) => x.gradients === 'fast' && x.batch === j.batch);
    const ratios = tfjs.map(
      (x) => `${x.backend} fast ${fmt(x.msPerStep, 1)} ms = ${fmt(x.msPerStep / j.ms_per_step, 2)}× JAX`,
    );
    console.log(
      `  B=${j.batch}: JAX ${fmt(j.ms_per_step, 1)} ms/step (${fmt(j.samples_per_s)} samples/s)` +
        (ratios.length ? `; ${ratios.join('; ')}` : ''),
    );
  }
  const j = jax.result.infer;
  const folded = r.infer.filter((x) => x.predictor === 'folded');
  const ratios = folded.map(
    (x) => `${x.backend} folded ${fmt(x.msPerCall, 1)} ms = ${fmt(x.msPerCall / j.ms, 2)}× JAX`,
  );
  console.log(`  forward over ${j.rows} rows: JAX ${fmt(j.ms, 1)} ms${ratios.length ? `; ${ratios.join('; ')}` : ''}`);
}
