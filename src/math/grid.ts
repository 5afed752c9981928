// Evenly spaced points, and a path resampled at evenly spaced positions.

/** n points from a to b, both included, as jnp.linspace computes them: a·(1 − s) + b·s, exact at both ends. */
export function linspace(a: number, b: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    const s = n === 1 ? 0 : i / (n - 1);
    return a * (1 - s) + b * s;
  });
}

/**
 * A path through the points (axis[k], values[k]) (axis monotonic, either way) at `points` evenly
 * spaced positions from its first to its last axis value, interpolated linearly between its
 * points as the line is drawn. Evenly spaced positions need no x array (Plotly's x0 and dx), which
 * halves the path's bytes in the notebook, and space the points evenly on the screen whichever
 * axis is shown.
 */
export function evenlySpaced(
  axis: number[],
  values: ArrayLike<number>,
  points: number,
): { x0: number; dx: number; y: number[] } {
  const order = axis[0] <= axis[axis.length - 1] ? axis.map((_, k) => k) : axis.map((_, k) => axis.length - 1 - k);
  const [first, last] = [axis[order[0]], axis[order[order.length - 1]]];
  const dx = points > 1 ? (last - first) / (points - 1) : 0;
  const y: number[] = [];
  let i = 0; // order[i] and order[i + 1] bracket the position
  for (let m = 0; m < points; m++) {
    const at = m === points - 1 ? last : first + m * dx;
    while (i + 2 < order.length && axis[order[i + 1]] < at) i++;
    const [a, b] = [order[i], order[Math.min(i + 1, order.length - 1)]];
    const w = axis[b] === axis[a] ? 0 : (at - axis[a]) / (axis[b] - axis[a]);
    y.push(values[a] + w * (values[b] - values[a]));
  }
  return { x0: first, dx, y };
}
