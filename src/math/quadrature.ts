// Expectations under a mixture by numerical integration.
import type { GaussianMixture } from './mixture';

/** E[f(X)] for X drawn from `mixture`, by Simpson's rule over ±12 component stds. */
export function mixtureExpectation(mixture: GaussianMixture, f: (x: number) => number, points = 4001): number {
  if (points % 2 === 0) points += 1;
  const [lo, hi] = mixture.span(12);
  const h = (hi - lo) / (points - 1);
  let acc = 0;
  for (let i = 0; i < points; i++) {
    const x = lo + i * h;
    const w = i === 0 || i === points - 1 ? 1 : i % 2 === 1 ? 4 : 2;
    acc += w * mixture.pdf(x) * f(x);
  }
  return (acc * h) / 3;
}
