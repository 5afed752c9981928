// The W1 distance that exact sampling alone leaves at n samples: the scale against which a
// sampler's own error in distribution is judged (the coupled checks of chapters 4, 6 and 8).
import type { GaussianMixture } from '../math/mixture';
import { simpson } from '../math/quadrature';

/**
 * The mean W1 distance of n exact samples to the mixture: the floor no sampler can go below at
 * that n. W1 = ∫|F_n − F| dx, and n·F_n(x) is binomial(n, F(x)), so E|F_n − F| ≈
 * √(2F(1 − F)/(πn)) (the mean absolute deviation of its normal approximation).
 */
export function exactSamplingW1(mixture: GaussianMixture, n: number, points = 4001): number {
  const [lo, hi] = mixture.span(12);
  return simpson(
    (x) => {
      const F = mixture.cdf(x);
      return Math.sqrt((2 * F * (1 - F)) / (Math.PI * n));
    },
    lo,
    hi,
    points,
  );
}
