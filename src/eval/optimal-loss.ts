// The lowest loss any v-prediction network can reach on the mixture: the training target v is
// noisy given x_t, and no predictor beats E[v | x_t].
import type { DDPMScheduler } from '../diffusion/scheduler';
import type { GaussianMixture } from '../math/mixture';
import { mixtureExpectation } from '../math/quadrature';

/**
 * The lowest achievable v-prediction loss E_t E[(v − E[v | x_t])²], with t uniform over the
 * scheduler's timesteps. Since v = (√ᾱ·x_t − x0)/√(1−ᾱ), Var[v | x_t] = Var[x0 | x_t]/(1−ᾱ); its
 * expectation over x_t is integrated numerically (Simpson's rule) under the noised marginal.
 * Returns the mean over t and the per-t values.
 */
export function bayesOptimalVLoss(
  mixture: GaussianMixture,
  scheduler: DDPMScheduler,
  { points = 4001 }: { points?: number } = {},
): { loss: number; perTimestep: number[] } {
  const perTimestep = scheduler.alphasCumprod.map(
    (alphaBar) =>
      mixtureExpectation(mixture.noised(alphaBar), (xt) => mixture.posterior(xt, alphaBar).variance, points) /
      (1 - alphaBar),
  );
  return { loss: perTimestep.reduce((a, b) => a + b, 0) / perTimestep.length, perTimestep };
}
