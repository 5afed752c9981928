// Evenly spaced points.

/** n points from a to b, both included, as jnp.linspace computes them: a·(1 − s) + b·s, exact at both ends. */
export function linspace(a: number, b: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    const s = n === 1 ? 0 : i / (n - 1);
    return a * (1 - s) + b * s;
  });
}
