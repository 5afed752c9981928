// Every sampler of the collection, run with the exact score and with the trained model, and
// scored against the exact mixture: the table of notebook 08.
import { compareWithMixture, type SampleReport } from '../eval/metrics';
import type { GaussianMixture } from '../math/mixture';
import { normalQuantiles } from '../math/normal';
import { Rng } from '../math/rng';
import { annealedLangevin, geometricSigmas, langevin } from './langevin';
import { ddpmSample } from './ddpm';
import { smoothedScoreFromVelocity, type ScoreFn, type VelocityPredictor } from '../diffusion/predictor';
import type { DDPMScheduler } from '../diffusion/scheduler';
import { predictorCorrectorSample, probabilityFlowSample } from './sde-samplers';

export interface SamplerSettings {
  /** Evaluations of each fast sampler: DDIM (Euler on the probability-flow ODE) and Heun. */
  ddimSteps: number[];
  heunSteps: number;
  /** Predictor steps of the predictor–corrector sampler (one corrector step each). */
  pcSteps: number;
  /**
   * Starting points whose outputs describe what a deterministic sampler gives with the exact
   * score (the quantiles of N(0, 1), each pushed through the sampler): the target its rows are
   * judged against, free of sampling noise.
   */
  referencePoints: number;
  /** The tutorial's Langevin: step size and steps, from N(0, 1), with the score at t = 0. */
  langevinStepSize: number;
  langevinSteps: number;
  /**
   * Chains of the tutorial's Langevin (at most the source's n): its 5,000 score evaluations per
   * chain cost five times a DDPM run, and its failure shows on a thousand chains.
   */
  langevinChains: number;
  /** Annealed Langevin (chapter 5): σ from sigmaMax to sigmaMin, geometric. */
  sigmaMax: number;
  sigmaMin: number;
  levels: number;
  stepsPerLevel: number;
  annealedStepSize: number;
}

export const DEFAULT_SAMPLERS: SamplerSettings = {
  ddimSteps: [50, 100],
  heunSteps: 50,
  pcSteps: 500,
  referencePoints: 20_000,
  langevinStepSize: 0.01,
  langevinSteps: 5000,
  langevinChains: 1000,
  sigmaMax: 3,
  sigmaMin: 0.01,
  levels: 10,
  stepsPerLevel: 100,
  annealedStepSize: 2e-5,
};

/** Which sampler a row ran: a stable id to pick rows by (the `sampler` label is for reading). */
export type SamplerKind = 'ddpm' | 'ddim' | 'heun' | 'predictor-corrector' | 'annealed-langevin' | 'plain-langevin';

export interface SamplerRow {
  kind: SamplerKind;
  /** The sampler with its settings, for display. */
  sampler: string;
  score: string;
  n: number;
  /** Calls of the score (or velocity) function over the whole batch. */
  evaluations: number;
  seconds: number;
  /** Samples that are NaN or infinite (a diverged run); the report covers the finite ones. */
  nonFinite: number;
  /** Null when fewer than half of the samples are finite. */
  report: SampleReport | null;
  samples: Float32Array;
  /**
   * Deterministic samplers only, when compareSamplers was given the exact velocity: this
   * sampler's outputs with it for the quantiles of its starting noise (sorted), i.e. the
   * distribution it produces, discretisation error included.
   */
  reference?: Float32Array;
}

export interface ScoreSource {
  label: string;
  predictor: VelocityPredictor;
  n: number;
}

/** A score function that counts its calls (Langevin stops early once every chain has diverged). */
function counted(score: ScoreFn): ScoreFn & { calls: number } {
  const f = Object.assign(
    (x: Float64Array) => {
      f.calls += 1;
      return score(x);
    },
    { calls: 0 },
  );
  return f;
}

/** The samplers in table order: name, and a run on one score source. */
function samplerList(scheduler: DDPMScheduler, s: SamplerSettings) {
  type Run = (
    p: VelocityPredictor,
    n: number,
    rng: Pick<Rng, 'normals'>,
  ) => Promise<{ samples: ArrayLike<number>; evaluations: number }>;
  if (!(Number.isInteger(s.langevinChains) && s.langevinChains >= 1))
    throw new Error(`compareSamplers: langevinChains must be a positive integer, got ${s.langevinChains}`);
  type StochasticRun = (
    p: VelocityPredictor,
    n: number,
    rng: Rng,
  ) => Promise<{ samples: ArrayLike<number>; evaluations: number }>;
  const list: (
    | { kind: SamplerKind; name: string; deterministic: true; run: Run }
    | { kind: SamplerKind; name: string; deterministic?: false; run: StochasticRun }
  )[] = [
    {
      kind: 'ddpm',
      name: `DDPM ancestral, ${scheduler.numTrainTimesteps} steps`,
      run: async (predictor, n, rng) => ({
        samples: (await ddpmSample({ predictor, scheduler, n, rng })).samples,
        evaluations: scheduler.numTrainTimesteps,
      }),
    },
    ...s.ddimSteps.map((steps) => ({
      kind: 'ddim' as const,
      deterministic: true as const,
      name: `DDIM (probability-flow ODE, Euler), ${steps} steps`,
      run: (async (predictor, n, rng) =>
        probabilityFlowSample({ predictor, scheduler, n, rng, steps, solver: 'euler' })) as Run,
    })),
    {
      kind: 'heun',
      deterministic: true,
      name: `probability-flow ODE, Heun, ${s.heunSteps} steps`,
      run: async (predictor, n, rng) =>
        probabilityFlowSample({ predictor, scheduler, n, rng, steps: s.heunSteps, solver: 'heun' }),
    },
    {
      kind: 'predictor-corrector',
      name: `predictor–corrector, ${s.pcSteps} steps + 1 Langevin corrector`,
      run: async (predictor, n, rng) => predictorCorrectorSample({ predictor, scheduler, n, rng, steps: s.pcSteps }),
    },
    {
      kind: 'annealed-langevin',
      name: `annealed Langevin, σ ${s.sigmaMax} → ${s.sigmaMin}, ${s.levels} × ${s.stepsPerLevel}`,
      run: async (predictor, n, rng) => {
        const scores = geometricSigmas(s.sigmaMax, s.sigmaMin, s.levels).map(
          (sigma) => [sigma, counted(smoothedScoreFromVelocity(predictor, scheduler, sigma))] as const,
        );
        const samples = annealedLangevin({
          scoreAt: (sigma) => scores.find(([level]) => level === sigma)![1],
          sigmas: scores.map(([sigma]) => sigma),
          stepsPerLevel: s.stepsPerLevel,
          stepSize: s.annealedStepSize,
          init: rng.normals(n),
          rng,
        });
        return { samples, evaluations: scores.reduce((a, [, f]) => a + f.calls, 0) };
      },
    },
    {
      kind: 'plain-langevin',
      name: `plain Langevin (the tutorial's), ε ${s.langevinStepSize}, ${s.langevinSteps} steps`,
      run: async (predictor, n, rng) => {
        const score = counted(
          smoothedScoreFromVelocity(
            predictor,
            scheduler,
            Math.sqrt((1 - scheduler.alphasCumprod[0]) / scheduler.alphasCumprod[0]),
          ),
        );
        const samples = langevin({
          score,
          stepSize: s.langevinStepSize,
          steps: s.langevinSteps,
          init: rng.normals(Math.min(n, s.langevinChains)),
          rng,
        });
        return { samples, evaluations: score.calls };
      },
    },
  ];
  return list;
}

/**
 * Runs every sampler on every score source, timing each run, and compares the samples with the
 * mixture. Each sampler's stream is forked from `rng` by sampler only, so its runs on sources of
 * the same n share their noise draw for draw (common random numbers): a trained run can be
 * compared with the exact run sample by sample (src/eval/coupled.ts). Given `exact`, the exact
 * velocity, each deterministic sampler's rows carry its output distribution with it (`reference`).
 */
export async function compareSamplers(o: {
  mixture: GaussianMixture;
  scheduler: DDPMScheduler;
  sources: ScoreSource[];
  exact?: VelocityPredictor;
  rng: Rng;
  settings?: Partial<SamplerSettings>;
  onRow?: (row: SamplerRow, done: number, total: number) => void;
}): Promise<SamplerRow[]> {
  const settings = { ...DEFAULT_SAMPLERS, ...(o.settings ?? {}) };
  const list = samplerList(o.scheduler, settings);
  const rows: SamplerRow[] = [];
  const total = list.length * o.sources.length;
  for (const [i, sampler] of list.entries()) {
    const stream = o.rng.fork(`sampler ${i}`).getState();
    let reference: Float32Array | null = null;
    if (sampler.deterministic && o.exact) {
      const quantiles = normalQuantiles(settings.referencePoints);
      reference = Float32Array.from(
        (await sampler.run(o.exact, quantiles.length, { normals: () => quantiles })).samples,
      ).sort();
    }
    for (const source of o.sources) {
      const rng = Rng.fromState(stream);
      const start = performance.now();
      const { samples, evaluations } = await sampler.run(source.predictor, source.n, rng);
      const seconds = (performance.now() - start) / 1000;
      const finite = Array.from(samples).filter(Number.isFinite);
      const row: SamplerRow = {
        kind: sampler.kind,
        sampler: sampler.name,
        score: source.label,
        n: samples.length,
        evaluations,
        seconds,
        nonFinite: samples.length - finite.length,
        report: finite.length * 2 >= samples.length ? compareWithMixture(finite, o.mixture) : null,
        samples: Float32Array.from(samples),
        ...(reference ? { reference } : {}),
      };
      rows.push(row);
      o.onRow?.(row, rows.length, total);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return rows;
}

/** The row of one sampler on one score source; with `evaluations`, the run of that many (DDIM's step counts). */
export function findSamplerRow(rows: SamplerRow[], kind: SamplerKind, score: string, evaluations?: number): SamplerRow {
  const row = rows.find(
    (r) => r.kind === kind && r.score === score && (evaluations === undefined || r.evaluations === evaluations),
  );
  if (!row)
    throw new Error(
      `no ${kind} row for '${score}'${evaluations === undefined ? '' : ` with ${evaluations} evaluations`}`,
    );
  return row;
}
