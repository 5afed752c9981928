// Samplers from the score-SDE view (Song et al. 2021), on the DDPM timestep grid. Each is driven
// by a VelocityPredictor, so it runs on the trained model or on the exact mixture alike; the
// score follows from the velocity: ε̂ = √ᾱ·v̂ + √(1−ᾱ)·x and ∇log p_t(x) = −ε̂/√(1−ᾱ).
//
// * reverseSdeSample: the reverse-time SDE dx = [−½β x − β ∇log p_s(x)] ds + √β dW̄, by
//   Euler–Maruyama backwards over the N intervals of src/diffusion/sde.ts.
// * probabilityFlowSample: the probability-flow ODE dx = −½β (x + ∇log p_s(x)) ds, which moves
//   every p_s into the next without noise. In y = x/√ᾱ and σ = √(1−ᾱ)/√ᾱ it reads dy/dσ = ε̂
//   (Karras et al. 2022), so its Euler steps are DDIM with η = 0; Heun's method adds a second
//   evaluation per step.
// * predictorCorrectorSample: ancestral (DDPM) predictor steps, each followed by Langevin
//   corrector steps at the new noise level, with Song et al.'s signal-to-noise step size.
import type { Rng } from '../math/rng';
import { noiseLevel, x0FromVelocity } from '../diffusion/parameterization';
import { posteriorCoefficients } from '../diffusion/posterior';
import { predictNoise, predictVelocity, scoreFromVelocity, type VelocityPredictor } from '../diffusion/predictor';
import type { DDPMScheduler } from '../diffusion/scheduler';

/** The first `rows` rows of a run, at every time it visits (s from 1 down to 0). */
export interface Trajectory {
  times: number[];
  x: Float32Array[];
}

export interface SamplerRun {
  samples: Float32Array;
  seconds: number;
  /** Calls of the predictor (each on the whole batch). */
  evaluations: number;
  trajectory?: Trajectory;
}

/** `count` timesteps from N−1 down to 0, evenly spaced (rounded; count ≤ N). */
export function evenTimesteps(N: number, count: number): number[] {
  if (!Number.isInteger(count) || count < 2 || count > N)
    throw new Error(`steps must be an integer in [2, ${N}], got ${count}`);
  return Array.from({ length: count }, (_, i) => Math.round(((N - 1) * (count - 1 - i)) / (count - 1)));
}

interface Common {
  predictor: VelocityPredictor;
  scheduler: DDPMScheduler;
  n: number;
  /** Stream for the starting noise (and, for stochastic samplers, each step's noise). */
  rng: Pick<Rng, 'normals'>;
  /** Record the paths of this many leading rows. */
  traceRows?: number;
}

function checkCount(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`n must be a positive integer, got ${n}`);
}

function recorder(rows: number | undefined): {
  add(s: number, x: ArrayLike<number>): void;
  result(): Trajectory | undefined;
} {
  const tr: Trajectory = { times: [], x: [] };
  return {
    add(s, x) {
      if (rows) {
        tr.times.push(s);
        tr.x.push(Float32Array.from({ length: Math.min(rows, x.length) }, (_, i) => x[i]));
      }
    },
    result: () => (rows ? tr : undefined),
  };
}

/** Euler–Maruyama on the reverse-time SDE, one step per DDPM timestep, from x(1) ~ N(0, 1). */
export function reverseSdeSample(o: Common): SamplerRun {
  checkCount(o.n);
  const start = performance.now();
  const { scheduler, predictor } = o;
  const N = scheduler.numTrainTimesteps;
  const trace = recorder(o.traceRows);
  const x = Float64Array.from(o.rng.normals(o.n));
  trace.add(1, x);
  for (let t = N - 1; t >= 0; t--) {
    const eps = predictNoise(predictor, scheduler, x, t);
    const s = Math.sqrt(1 - scheduler.alphasCumprod[t]);
    const b = -Math.log1p(-scheduler.betas[t]); // β(s)·ds over this interval
    // the last step lands on the data: no noise is added there, as in DDPM
    const z = t > 0 ? o.rng.normals(o.n) : null;
    const noise = Math.sqrt(b);
    for (let i = 0; i < o.n; i++) x[i] += b * (0.5 * x[i] - eps[i] / s) + (z ? noise * z[i] : 0);
    trace.add(t / N, x);
  }
  return {
    samples: Float32Array.from(x),
    seconds: (performance.now() - start) / 1000,
    evaluations: N,
    trajectory: trace.result(),
  };
}

/**
 * The probability-flow ODE from x(1) ~ N(0, 1) over `steps` evenly spaced timesteps, then to
 * σ = 0. 'euler' is DDIM (η = 0) with `steps` evaluations; 'heun' corrects every step but the
 * last with a second evaluation (2·steps − 1 in all).
 */
export function probabilityFlowSample(o: Common & { steps: number; solver: 'euler' | 'heun' }): SamplerRun {
  checkCount(o.n);
  const start = performance.now();
  const { scheduler, predictor } = o;
  const N = scheduler.numTrainTimesteps;
  const ts = evenTimesteps(N, o.steps);
  const sqrtAb = (t: number) => Math.sqrt(scheduler.alphasCumprod[t]);
  const sigma = (t: number) => Math.sqrt(1 - scheduler.alphasCumprod[t]) / sqrtAb(t);
  const trace = recorder(o.traceRows);
  const x0 = o.rng.normals(o.n);
  trace.add(1, x0);
  let y = Float64Array.from(x0, (x) => x / sqrtAb(ts[0]));
  let evaluations = 0;
  const eps = (yy: Float64Array, t: number) => {
    evaluations += 1;
    const a = sqrtAb(t);
    return predictNoise(
      predictor,
      scheduler,
      yy.map((v) => a * v),
      t,
    );
  };
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i];
    const next = i + 1 < ts.length ? ts[i + 1] : null;
    const h = (next === null ? 0 : sigma(next)) - sigma(t);
    const d = eps(y, t);
    const euler = y.map((v, j) => v + h * d[j]);
    if (o.solver === 'heun' && next !== null) {
      const d2 = eps(euler, next);
      y = y.map((v, j) => v + (h * (d[j] + d2[j])) / 2);
    } else {
      y = euler;
    }
    const a = next === null ? 1 : sqrtAb(next);
    trace.add(
      next === null ? 0 : (next + 1) / N,
      y.map((v) => a * v),
    );
  }
  return {
    samples: Float32Array.from(y),
    seconds: (performance.now() - start) / 1000,
    evaluations,
    trajectory: trace.result(),
  };
}

/**
 * Predictor–corrector sampling over `steps` evenly spaced timesteps: an ancestral step
 * t → t′ (the DDPM posterior q(x_t′ | x_t, x̂0), which for consecutive timesteps is
 * scheduler.step), then `correctorSteps` Langevin steps x ← x + ε·g + √(2ε)·z at t′ with
 * ε = 2·α_t′·(snr·‖z‖/‖g‖)², g the score (Song et al., Algorithm 5).
 */
export function predictorCorrectorSample(
  o: Common & { steps: number; snr?: number; correctorSteps?: number },
): SamplerRun {
  checkCount(o.n);
  const start = performance.now();
  const { scheduler, predictor } = o;
  const snr = o.snr ?? 0.16;
  const correctorSteps = o.correctorSteps ?? 1;
  const N = scheduler.numTrainTimesteps;
  const ts = evenTimesteps(N, o.steps);
  const trace = recorder(o.traceRows);
  const x = Float64Array.from(o.rng.normals(o.n));
  trace.add(1, x);
  let evaluations = 0;
  const rms = (a: ArrayLike<number>) => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] * a[i];
    return Math.sqrt(s / a.length);
  };
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i];
    if (i > 0) {
      const score = scoreFromVelocity(predictor, scheduler, t);
      for (let c = 0; c < correctorSteps; c++) {
        evaluations += 1;
        const g = score(x);
        const z = o.rng.normals(o.n);
        const step = 2 * scheduler.alphas[t] * ((snr * rms(z)) / rms(g)) ** 2;
        const noise = Math.sqrt(2 * step);
        for (let j = 0; j < o.n; j++) x[j] += step * g[j] + noise * z[j];
      }
    }
    // ancestral step to the next timestep (to the data after the last one)
    evaluations += 1;
    const v = predictVelocity(predictor, x, t);
    const ab = scheduler.alphasCumprod[t];
    const abPrev = i + 1 < ts.length ? scheduler.alphasCumprod[ts[i + 1]] : 1;
    const c = noiseLevel(ab);
    const { coefX0, coefXt, variance } = posteriorCoefficients(ab, abPrev);
    const z = i + 1 < ts.length ? o.rng.normals(o.n) : null;
    const std = Math.sqrt(variance);
    for (let j = 0; j < o.n; j++) {
      const x0 = x0FromVelocity(c, x[j], v[j]);
      x[j] = coefX0 * x0 + coefXt * x[j] + (z ? std * z[j] : 0);
    }
    trace.add(i + 1 < ts.length ? (ts[i + 1] + 1) / N : 0, x);
  }
  return {
    samples: Float32Array.from(x),
    seconds: (performance.now() - start) / 1000,
    evaluations,
    trajectory: trace.result(),
  };
}
