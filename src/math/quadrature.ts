// Integrals by Simpson's rule: of a function on an interval, and expectations under a mixture.
import type { GaussianMixture } from './mixture';

/** ∫_a^b f(x) dx by composite Simpson's rule on `points` points (made odd). */
export function simpson(f: (x: number) => number, a: number, b: number, points = 4001): number {
  if (points % 2 === 0) points += 1;
  const h = (b - a) / (points - 1);
  let acc = 0;
  for (let i = 0; i < points; i++) acc += (i === 0 || i === points - 1 ? 1 : i % 2 === 1 ? 4 : 2) * f(a + i * h);
  return (acc * h) / 3;
}

/** E[f(X)] for X drawn from `mixture`, by Simpson's rule over ±12 component stds. */
export function mixtureExpectation(mixture: GaussianMixture, f: (x: number) => number, points = 4001): number {
  const [lo, hi] = mixture.span(12);
  return simpson((x) => mixture.pdf(x) * f(x), lo, hi, points);
}
