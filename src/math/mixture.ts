// A one-dimensional mixture of normals with everything in closed form: density, score,
// CDF, the DDPM-noised marginal, and the exact posterior quantities a denoiser learns.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { normCdf, normCdfIntegral, normSurvivalIntegral } from './normal';
import { DATA_DIR } from '../runtime/paths';
import type { Rng } from './rng';

export interface MixtureSpec {
  weights: number[];
  means: number[];
  stds: number[];
}

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

export class GaussianMixture {
  readonly weights: readonly number[];
  readonly means: readonly number[];
  readonly stds: readonly number[];
  private readonly logWeights: number[];
  private readonly cumulativeWeights: number[];

  constructor(spec: MixtureSpec) {
    validateSpec(spec);
    this.weights = [...spec.weights];
    this.means = [...spec.means];
    this.stds = [...spec.stds];
    this.logWeights = this.weights.map(Math.log);
    let acc = 0;
    this.cumulativeWeights = this.weights.map((w) => (acc += w));
  }

  /** The tutorial's mixture, read from data/mixture.json. */
  static default(): GaussianMixture {
    return GaussianMixture.fromFile(path.join(DATA_DIR, 'mixture.json'));
  }

  /** Reads {weights, means, stds} from a JSON file; every error names the file. */
  static fromFile(file: string): GaussianMixture {
    try {
      return new GaussianMixture(JSON.parse(fs.readFileSync(file, 'utf8')) as MixtureSpec);
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`);
    }
  }

  get numComponents(): number {
    return this.weights.length;
  }

  /** [min_k μ_k − k·σ_k, max_k μ_k + k·σ_k]: where every component lies within `k` of its stds. */
  span(k: number): [number, number] {
    return [
      Math.min(...this.means.map((m, i) => m - k * this.stds[i])),
      Math.max(...this.means.map((m, i) => m + k * this.stds[i])),
    ];
  }

  /** Mean of the mixture. */
  get mean(): number {
    return this.weights.reduce((s, w, k) => s + w * this.means[k], 0);
  }

  /** Variance of the mixture. */
  get variance(): number {
    const m = this.mean;
    return this.weights.reduce((s, w, k) => s + w * (this.stds[k] ** 2 + (this.means[k] - m) ** 2), 0);
  }

  /**
   * n independent draws: pick a component by weight, then draw from it. `normals`, if given,
   * receives each draw's standard normal z (x = μ_k + σ_k·z).
   */
  sample(n: number, rng: Rng, normals?: Float32Array): Float32Array {
    const out = new Float32Array(n);
    const last = this.numComponents - 1;
    for (let i = 0; i < n; i++) {
      const u = rng.uniform();
      let k = 0;
      while (k < last && u >= this.cumulativeWeights[k]) k++;
      const z = rng.normal();
      if (normals) normals[i] = z;
      out[i] = this.means[k] + this.stds[k] * z;
    }
    return out;
  }

  /** log(w_k N(x; μ_k, σ_k)) for every component. */
  componentLogDensities(x: number): number[] {
    return this.weights.map((_, k) => {
      const z = (x - this.means[k]) / this.stds[k];
      return this.logWeights[k] - Math.log(this.stds[k]) - LOG_SQRT_2PI - 0.5 * z * z;
    });
  }

  logPdf(x: number): number {
    return logSumExp(this.componentLogDensities(x));
  }

  pdf(x: number): number {
    return Math.exp(this.logPdf(x));
  }

  /** Posterior probability of each component given x (stable in the far tails). */
  responsibilities(x: number): number[] {
    const logs = this.componentLogDensities(x);
    const lse = logSumExp(logs);
    return logs.map((l) => Math.exp(l - lse));
  }

  /** d/dx log p(x) = Σ_k r_k(x) · (μ_k − x) / σ_k². */
  score(x: number): number {
    const r = this.responsibilities(x);
    return r.reduce((s, rk, k) => s + (rk * (this.means[k] - x)) / this.stds[k] ** 2, 0);
  }

  /** score() for many points at once, without per-point allocations (Langevin's hot loop). */
  scoreBatch(xs: ArrayLike<number>, out = new Float64Array(xs.length)): Float64Array {
    const K = this.numComponents;
    const logs = new Float64Array(K);
    const offsets = this.weights.map((_, k) => this.logWeights[k] - Math.log(this.stds[k]));
    const invVar = this.stds.map((sd) => 1 / (sd * sd));
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      let max = -Infinity;
      let top = 0;
      for (let k = 0; k < K; k++) {
        const d = x - this.means[k];
        logs[k] = offsets[k] - 0.5 * d * d * invVar[k];
        if (logs[k] > max) {
          max = logs[k];
          top = k;
        }
      }
      let total = 0;
      let weighted = 0;
      for (let k = 0; k < K; k++) {
        const r = k === top ? 1 : Math.exp(logs[k] - max); // exp(0) is 1 exactly
        total += r;
        weighted += r * (this.means[k] - x) * invVar[k];
      }
      out[i] = weighted / total;
    }
    return out;
  }

  cdf(x: number): number {
    return this.weights.reduce((s, w, k) => s + w * normCdf((x - this.means[k]) / this.stds[k]), 0);
  }

  /** ∫_{-∞}^{x} F(u) du. */
  cdfIntegral(x: number): number {
    return this.weights.reduce(
      (s, w, k) => s + w * this.stds[k] * normCdfIntegral((x - this.means[k]) / this.stds[k]),
      0,
    );
  }

  /** ∫_{x}^{∞} (1 − F(u)) du. */
  survivalIntegral(x: number): number {
    return this.weights.reduce(
      (s, w, k) => s + w * this.stds[k] * normSurvivalIntegral((x - this.means[k]) / this.stds[k]),
      0,
    );
  }

  /** Index of the component with the highest responsibility at x. */
  mostLikelyComponent(x: number): number {
    const logs = this.componentLogDensities(x);
    let best = 0;
    for (let k = 1; k < logs.length; k++) if (logs[k] > logs[best]) best = k;
    return best;
  }

  /**
   * The probability that an exact draw is assigned to each component by `mostLikelyComponent`.
   * For the tutorial's mixture this is (0.3000, 0.1033, 0.5967), not the weights: the tails of the
   * wide right mode reach past the decision boundary of the narrow middle one. Exact: the decision
   * boundaries are roots of quadratics, and between them the assignment is constant.
   */
  assignmentProbabilities(): number[] {
    const probs = new Array<number>(this.numComponents).fill(0);
    // mass of the whole mixture in each interval
    for (const { lo, hi, component } of this.assignmentIntervals()) probs[component] += this.cdf(hi) - this.cdf(lo);
    return probs;
  }

  /**
   * The real line cut where the most likely component changes: intervals (lo, hi) (the first
   * from −∞, the last to ∞) with the component `mostLikelyComponent` gives throughout.
   */
  assignmentIntervals(): { lo: number; hi: number; component: number }[] {
    const cuts: number[] = [];
    const K = this.numComponents;
    for (let j = 0; j < K; j++) {
      for (let k = j + 1; k < K; k++) cuts.push(...this.equalDensityPoints(j, k));
    }
    cuts.sort((a, b) => a - b);
    const edges = [-Infinity, ...cuts, Infinity];
    return edges.slice(0, -1).map((lo, i) => {
      const hi = edges[i + 1];
      const mid = !Number.isFinite(lo) ? hi - 1 : !Number.isFinite(hi) ? lo + 1 : (lo + hi) / 2;
      return { lo, hi, component: this.mostLikelyComponent(Number.isFinite(mid) ? mid : 0) };
    });
  }

  /** Points where w_j N_j(x) = w_k N_k(x). */
  private equalDensityPoints(j: number, k: number): number[] {
    const [mj, mk, sj, sk] = [this.means[j], this.means[k], this.stds[j], this.stds[k]];
    // log w - log σ - (x-μ)²/(2σ²), equated: a x² + b x + c = 0
    const a = 1 / (2 * sk * sk) - 1 / (2 * sj * sj);
    const b = mj / (sj * sj) - mk / (sk * sk);
    const c =
      this.logWeights[j] -
      Math.log(sj) -
      (mj * mj) / (2 * sj * sj) -
      (this.logWeights[k] - Math.log(sk) - (mk * mk) / (2 * sk * sk));
    if (Math.abs(a) < 1e-15) return b === 0 ? [] : [-c / b];
    const disc = b * b - 4 * a * c;
    if (disc < 0) return [];
    const q = -0.5 * (b + Math.sign(b || 1) * Math.sqrt(disc));
    return [q / a, c / q].filter(Number.isFinite);
  }

  /**
   * The marginal of x_t = √ᾱ·x0 + √(1−ᾱ)·ε: again a mixture, with means √ᾱ·μ_k and
   * variances ᾱ·σ_k² + 1 − ᾱ.
   */
  noised(alphaBar: number): GaussianMixture {
    checkAlphaBar(alphaBar);
    const a = Math.sqrt(alphaBar);
    return new GaussianMixture({
      weights: [...this.weights],
      means: this.means.map((m) => a * m),
      stds: this.stds.map((s) => Math.sqrt(alphaBar * s * s + 1 - alphaBar)),
    });
  }

  /** Score of the noised marginal at x_t. */
  noisedScore(xt: number, alphaBar: number): number {
    return this.noised(alphaBar).score(xt);
  }

  /** Exact E[x0 | x_t] and Var[x0 | x_t] under the forward process at ᾱ. */
  posterior(xt: number, alphaBar: number): { mean: number; variance: number } {
    checkAlphaBar(alphaBar);
    const a = Math.sqrt(alphaBar);
    const s2 = 1 - alphaBar;
    const K = this.numComponents;
    const logs = new Array<number>(K);
    const condMeans = new Array<number>(K);
    const condVars = new Array<number>(K);
    for (let k = 0; k < K; k++) {
      const sk2 = this.stds[k] ** 2;
      const v = alphaBar * sk2 + s2; // variance of x_t given component k
      const d = xt - a * this.means[k];
      logs[k] = this.logWeights[k] - 0.5 * Math.log(v) - (0.5 * d * d) / v;
      condMeans[k] = this.means[k] + (a * sk2 * d) / v;
      condVars[k] = (sk2 * s2) / v;
    }
    const lse = logSumExp(logs);
    let mean = 0;
    let second = 0;
    for (let k = 0; k < K; k++) {
      const r = Math.exp(logs[k] - lse);
      mean += r * condMeans[k];
      second += r * (condVars[k] + condMeans[k] ** 2);
    }
    return { mean, variance: Math.max(second - mean * mean, 0) };
  }

  /** Exact E[x0 | x_t]. */
  posteriorMean(xt: number, alphaBar: number): number {
    return this.posterior(xt, alphaBar).mean;
  }

  toJSON(): MixtureSpec {
    return { weights: [...this.weights], means: [...this.means], stds: [...this.stds] };
  }
}

function checkAlphaBar(alphaBar: number): void {
  if (!(alphaBar > 0 && alphaBar < 1)) throw new Error(`alphaBar must be in (0, 1), got ${alphaBar}`);
}

export function logSumExp(values: number[]): number {
  const max = Math.max(...values);
  if (max === -Infinity) return -Infinity;
  let s = 0;
  for (const v of values) s += Math.exp(v - max);
  return max + Math.log(s);
}

/**
 * JSON has no NaN or Infinity: a file holds them as the strings "NaN"/"Infinity", or as null
 * (what JSON.stringify writes for them). Say which, so the reader knows what to fix.
 */
function describeNonNumber(x: unknown): string {
  if (typeof x === 'number') return String(x);
  if (x === null) return 'null (JSON.stringify writes NaN and Infinity as null)';
  return `${JSON.stringify(x)} (a ${typeof x}, not a number)`;
}

function validateSpec(spec: MixtureSpec): void {
  const fields = ['weights', 'means', 'stds'] as const;
  if (spec === null || typeof spec !== 'object') throw new Error('GaussianMixture: spec must be an object');
  for (const f of fields) {
    const v = spec[f];
    if (!Array.isArray(v) || v.length === 0) throw new Error(`GaussianMixture: ${f} must be a non-empty array`);
    v.forEach((x, i) => {
      if (typeof x !== 'number' || !Number.isFinite(x)) {
        throw new Error(`GaussianMixture: ${f}[${i}] must be a finite number, got ${describeNonNumber(x)}`);
      }
    });
  }
  const n = spec.weights.length;
  for (const f of fields) {
    if (spec[f].length !== n) {
      throw new Error(`GaussianMixture: ${f} has ${spec[f].length} entries but weights has ${n}`);
    }
  }
  spec.stds.forEach((s, i) => {
    if (!(s > 0)) throw new Error(`GaussianMixture: stds[${i}] must be > 0, got ${s}`);
  });
  spec.weights.forEach((w, i) => {
    if (!(w > 0)) throw new Error(`GaussianMixture: weights[${i}] must be > 0, got ${w}`);
  });
  const total = spec.weights.reduce((a, b) => a + b, 0);
  if (Math.abs(total - 1) > 1e-6)
    throw new Error(`GaussianMixture: weights must sum to 1 (within 1e-6), got ${Number(total.toPrecision(12))}`);
}
