// The DDPM forward process as a continuous-time VP SDE (Song et al. 2021),
//
//   dx = −½ β(s) x ds + √β(s) dW,   s ∈ [0, 1],
//
// with β(s) chosen so that the SDE passes through the DDPM marginals exactly: on the interval
// (t/N, (t+1)/N] it is constant, β(s) = −N·log(1 − β_t). Then ᾱ(s) = exp(−∫₀ˢ β) equals the
// scheduler's ᾱ_t at s = (t+1)/N, the exact transition over one interval is the DDPM forward
// step x ← √(1−β_t)·x + √β_t·z, and p_s is the noised mixture at ᾱ(s), in closed form.
// (Song et al.'s linear β(s) = 0.1 + 19.9 s is the N → ∞ limit of the same schedule.)
import type { GaussianMixture } from '../math/mixture';
import type { Rng } from '../math/rng';
import type { DDPMScheduler } from './scheduler';

export class VPSDE {
  readonly N: number;
  /** −log(1 − β_t): ∫β(s) ds over the interval that ends at timestep t. */
  private readonly logDecay: number[];
  /** −log ᾱ at the interval ends s = 0, 1/N, …, 1. */
  private readonly cumulative: number[];

  constructor(readonly scheduler: DDPMScheduler) {
    this.N = scheduler.numTrainTimesteps;
    this.logDecay = scheduler.betas.map((b) => -Math.log1p(-b));
    let acc = 0;
    this.cumulative = [0, ...this.logDecay.map((d) => (acc += d))];
  }

  /** The time s of DDPM timestep t. */
  timeOf(t: number): number {
    return (t + 1) / this.N;
  }

  /** β(s), piecewise constant. */
  beta(s: number): number {
    return this.N * this.logDecay[this.interval(s)];
  }

  /** ᾱ(s) = exp(−∫₀ˢ β): log-linear between the DDPM values, 1 at s = 0. */
  alphaBar(s: number): number {
    const i = this.interval(s);
    return Math.exp(-(this.cumulative[i] + (s * this.N - i) * this.logDecay[i]));
  }

  /** The exact density of x(s): the mixture noised at ᾱ(s) (s > 0). */
  marginal(mixture: GaussianMixture, s: number): GaussianMixture {
    return mixture.noised(this.alphaBar(s));
  }

  /**
   * Sample paths of the forward SDE from x0, with the exact transition over each interval.
   * Returns x at s = 0, 1/N, …, 1 (N + 1 arrays of x0.length values).
   */
  forwardPaths(x0: ArrayLike<number>, rng: Rng): Float32Array[] {
    const path = [Float32Array.from(x0)];
    for (let t = 0; t < this.N; t++) {
      const prev = path[t];
      const keep = Math.sqrt(1 - this.scheduler.betas[t]);
      const noise = Math.sqrt(this.scheduler.betas[t]);
      path.push(prev.map((x) => keep * x + noise * rng.normal()));
    }
    return path;
  }

  /** Index t of the interval (t/N, (t+1)/N] holding s (s = 0 counts in the first). */
  private interval(s: number): number {
    if (!(s >= 0 && s <= 1)) throw new Error(`VPSDE: time must be in [0, 1], got ${s}`);
    return Math.min(Math.max(Math.ceil(s * this.N) - 1, 0), this.N - 1);
  }
}
