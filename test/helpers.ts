import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DDPMScheduler, TUTORIAL_SCHEDULER } from '../src/diffusion/scheduler';
import { compareWithMixture } from '../src/eval/metrics';
import { GaussianMixture } from '../src/math/mixture';
import { Rng } from '../src/math/rng';
import { initBackend } from '../src/runtime/backend';
import type { SamplerKind, SamplerRow } from '../src/sample/compare';
import { findPython } from '../scripts/runner/jupyter-env';
import { REPO_ROOT } from '../src/runtime/paths';

export const RUNNER = path.join(REPO_ROOT, 'dist/scripts/runner/run-notebooks.js');

/**
 * The notebook runner with `args`, run from the repository and waited for (at most `timeout` ms):
 * its exit status, all it printed, and its stderr alone.
 */
export function runNotebooks(args: string[], timeout?: number): { status: number | null; log: string; stderr: string } {
  const r = spawnSync(process.execPath, [RUNNER, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout,
  });
  return { status: r.status, log: r.stdout + r.stderr, stderr: r.stderr };
}

/**
 * The runner's command line (node's arguments) for the fixture notebooks `names` into `out`, with
 * `params` written to OUT/params.json as their overrides, then `extra`.
 */
export function fixtureRunnerArgs(out: string, names: string[], params: object, extra: string[] = []): string[] {
  const file = path.join(out, 'params.json');
  fs.writeFileSync(file, JSON.stringify(params));
  return [
    RUNNER,
    ...names,
    '--notebooks',
    'test/fixtures/notebooks',
    '--params',
    file,
    '--out',
    out,
    '--no-browser',
    ...extra,
  ];
}

/** Every test file runs on the default backend choice (native TensorFlow where it is built, else wasm; TSDIFFUSION_BACKEND overrides it). */
export async function useBackend(): Promise<string> {
  return (await initBackend()).name;
}

/** The tutorial's problem: the mixture of data/mixture.json and its scheduler (fresh objects each call). */
export function tutorialProblem(): { mixture: GaussianMixture; scheduler: DDPMScheduler } {
  return { mixture: GaussianMixture.default(), scheduler: new DDPMScheduler(TUTORIAL_SCHEDULER) };
}

/**
 * A training batch of the tutorial's problem: x_t [B, 1], the v-target [B, 1] and the timesteps (as
 * a tensor and as host data), all from `seed`.
 */
export function trainingBatch(
  B: number,
  seed: number,
): { xt: tf.Tensor2D; target: tf.Tensor2D; t: tf.Tensor1D; tHost: Int32Array } {
  const { mixture, scheduler } = tutorialProblem();
  const r = new Rng(seed).fork('batch');
  const x0 = tf.tensor2d(mixture.sample(B, r.fork('data')), [B, 1]);
  const noise = tf.tensor2d(r.fork('noise').normals(B), [B, 1]);
  const tHost = r.fork('t').ints(B, scheduler.numTrainTimesteps);
  const t = tf.tensor1d(tHost, 'int32');
  const xt = scheduler.addNoise(x0, noise, t) as tf.Tensor2D;
  const target = scheduler.getVelocity(x0, noise, t) as tf.Tensor2D;
  tf.dispose([x0, noise]);
  return { xt, target, t, tHost };
}

export function toArray(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

/** max |a_i − b_i| */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The mixture's quantiles at (i + ½)/count, by bisection on its CDF: a stratified stand-in for count draws. */
export function mixtureQuantiles(m: GaussianMixture, count: number): Float64Array {
  return Float64Array.from({ length: count }, (_, i) => {
    let [lo, hi] = m.span(12);
    for (let it = 0; it < 60; it++) {
      const mid = 0.5 * (lo + hi);
      if (m.cdf(mid) < (i + 0.5) / count) lo = mid;
      else hi = mid;
    }
    return 0.5 * (lo + hi);
  });
}

/**
 * A row of chapter 8's sampler table made from given samples (as compareSamplers would report
 * them against `mixture`), named `${kind} ${evaluations}`; `reference` for a deterministic sampler.
 */
export function samplerRow(
  mixture: GaussianMixture,
  kind: SamplerKind,
  score: string,
  samples: Float32Array,
  evaluations = 1000,
  reference?: Float32Array,
): SamplerRow {
  const finite = samples.filter(Number.isFinite);
  const report = finite.length * 2 >= samples.length ? compareWithMixture(finite, mixture) : null;
  return {
    kind,
    sampler: `${kind} ${evaluations}`,
    score,
    n: samples.length,
    evaluations,
    seconds: 0,
    nonFinite: samples.length - finite.length,
    report,
    samples,
    ...(reference ? { reference } : {}),
  };
}

/** Whether a Python with nbclient is installed (the notebook tests need one; CI installs it). */
export function hasJupyter(): boolean {
  try {
    findPython({ allowInstall: false });
    return true;
  } catch {
    return false;
  }
}

/**
 * The `skip` option of a test that needs something not installed here: the reason, so the test
 * is skipped saying what is missing; but under CI (CI set) false, so the test runs and fails:
 * a skipped test there would hide a missing install step.
 */
export function skipUnlessCI(missing: string | false): string | false {
  return process.env.CI ? false : missing;
}

/** First line of such a test: under CI, fail at once naming what is missing. */
export function assertInstalled(missing: string | false): void {
  if (missing)
    throw new Error(
      `not installed: ${missing} (npm test installs it as root with apt-get, see scripts/system-deps.sh)`,
    );
}

/**
 * A small filesystem (tmpfs of `size`, e.g. '600k') to fill up, for full-disk tests; needs root
 * (mount). Null where it cannot be made, except under CI, where that is an error.
 */
export function smallDisk(size: string): string | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'full-disk-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status === 0) return dir;
  if (process.env.CI)
    throw new Error(`cannot mount a small tmpfs for a full-disk test: ${r.stderr || r.error?.message}`);
  return null;
}

export function releaseDisk(dir: string): void {
  spawnSync('umount', [dir]);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** A read-only filesystem (a small tmpfs remounted ro), for tests of unwritable outputs; like smallDisk, needs root. */
export function readOnlyDisk(): string | null {
  const dir = smallDisk('64k');
  if (!dir) return null;
  const r = spawnSync('mount', ['-o', 'remount,ro', dir], { encoding: 'utf8' });
  if (r.status === 0) return dir;
  releaseDisk(dir);
  if (process.env.CI) throw new Error(`cannot remount a tmpfs read-only: ${r.stderr || r.error?.message}`);
  return null;
}

/** Whether process `pid` still runs: a zombie (exited, not yet reaped by its parent) does not. */
export function processAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
