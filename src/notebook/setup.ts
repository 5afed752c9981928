// The first cell of every chapter: start the compute backend, say which one runs, tell the
// notebook runner (report.json records it).
import * as path from 'node:path';
import { GaussianMixture } from '../math/mixture';
import { describeBackend, initBackend, type BackendInfo } from '../runtime/backend';
import { DATA_DIR } from '../runtime/paths';
import { TUTORIAL_TRAINING } from '../train/config';
import { publishMeta } from './display';
import { formatNumber } from './tables';

export async function setupNotebook(): Promise<BackendInfo> {
  const backend = await initBackend();
  console.log(describeBackend(backend));
  publishMeta({ backend: backend.name });
  return backend;
}

/**
 * The mixture the chapters study, from data/mixture.json (yours to change). GaussianMixture takes
 * any number of components, but the chapters' prose, tables and checks speak of a left, a middle
 * and a right mode, so a file with another number is refused here, before any cell depends on it;
 * so are components out of that order and a mixture the chapters' numbers cannot handle
 * (chapterRangeProblems).
 */
export function chapterMixture(file = path.join(DATA_DIR, 'mixture.json')): GaussianMixture {
  const mixture = GaussianMixture.fromFile(file);
  if (mixture.numComponents !== 3) {
    throw new Error(
      `${file}: the chapters are written for a mixture of 3 components (left, middle, right); this one has ${mixture.numComponents}. ` +
        'Change the weights, means and standard deviations freely, but keep three components.',
    );
  }
  const [left, middle, right] = mixture.means;
  if (!(left < middle && middle < right)) {
    throw new Error(
      `${file}: the chapters name the components left, middle and right in the file's order, so their means must increase; these are ${mixture.means.join(', ')}. ` +
        'List the components (weights, means and stds alike) by increasing mean.',
    );
  }
  const problems = chapterRangeProblems(mixture);
  if (problems.length) throw new Error(problems.map((p) => `${file}: ${p}`).join('\n'));
  return mixture;
}

/** float32's largest finite value. */
const FLOAT32_MAX = 3.4028234663852886e38;
/**
 * The farthest a draw may reach, |μ| + 12σ (the span the quadratures cover): training sums the
 * squares of a batch in float32, and a batch of the tutorial's 2^18 rows overflows to Infinity
 * (a NaN loss) beyond √(FLOAT32_MAX / 2^18) ≈ 3.6e16.
 */
const MAX_REACH = Math.sqrt(FLOAT32_MAX / TUTORIAL_TRAINING.batchSize);
/**
 * The narrowest std, relative to the mixture's scale S (its largest |mean| or std). Samples are
 * float32: each of a sampler's 1,000 steps rounds values of size S by up to 2^-24 ≈ 6e-8 of them,
 * about √1000 · 6e-8 · S ≈ 2e-6 · S in all, which at σ = 1e-4 · S is 2 % of σ (it moves the
 * measured std by 0.02 %, far inside every bar). Narrower, the rounding becomes part of the
 * spread the chapters measure, and the exact per-mode std, E[x²] − E[x]² in float64 (relative
 * error ≈ 1e-16 · (S/σ)²), turns to NaN near σ = 1e-8 · S.
 */
const MIN_RELATIVE_STD = 1e-4;
/**
 * The least share of draws each mode must get: the chapters judge every mode from as few as 500
 * samples (the smallest nSamples their parameters cells allow), and a mode expecting fewer than
 * 10 of them comes out empty, its mean and std NaN, in more than e^-10 ≈ 5e-5 of runs (the rate
 * at which the per-mode bars fail exact samples, eval/sample-bars.ts, is 6e-5).
 */
const MIN_MODE_SHARE = 10 / 500;

/**
 * What makes a valid mixture unusable in the chapters, each naming the field and its allowed
 * range; empty if nothing. Found by experiment: such mixtures gave NaN or Infinity in the tables,
 * the checks or the training loss.
 */
export function chapterRangeProblems(mixture: GaussianMixture): string[] {
  const { weights, means, stds } = mixture;
  const f = (v: number) => formatNumber(v, 3);
  const problems: string[] = [];
  means.forEach((m, k) => {
    const reach = Math.abs(m) + 12 * stds[k];
    if (reach > MAX_REACH) {
      problems.push(
        `means[${k}] = ${f(m)} and stds[${k}] = ${f(stds[k])} reach |mean| + 12·std = ${f(reach)}; the chapters need at most ${f(MAX_REACH)} ` +
          `(training sums the squares of ${f(TUTORIAL_TRAINING.batchSize)} draws in float32, which overflows beyond it)`,
      );
    }
  });
  if (problems.length) return problems;
  const scale = Math.max(...means.map(Math.abs), ...stds);
  stds.forEach((s, k) => {
    if (s < MIN_RELATIVE_STD * scale) {
      problems.push(
        `stds[${k}] = ${f(s)} is too narrow for this mixture: every std must be at least ${MIN_RELATIVE_STD} × its largest |mean| or std (${f(scale)}), so ≥ ${f(MIN_RELATIVE_STD * scale)}; ` +
          'narrower, float32 rounding becomes part of the spread the chapters measure, and the exact per-mode std loses its digits (to NaN)',
      );
    }
  });
  if (problems.length) return problems;
  mixture.assignmentProbabilities().forEach((p, k) => {
    if (p < MIN_MODE_SHARE) {
      problems.push(
        `component ${k + 1} (weights[${k}] = ${f(weights[k])}, means[${k}] = ${f(means[k])}, stds[${k}] = ${f(stds[k])}) is the most likely component for ${f(100 * p)} % of draws; ` +
          `the chapters judge each mode from as few as 500 samples and need at least ${100 * MIN_MODE_SHARE} % in every mode, or its mean and std come out NaN: ` +
          `raise weights[${k}], or move means[${k}] away from the other components`,
      );
    }
  });
  return problems;
}
