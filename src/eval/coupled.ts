// A trained sampler against the exact one on common random numbers: both start from the same
// x_T and add the same noise at every step, so sample i of one is the counterpart of sample i of
// the other, and |x_model − x_exact| is the model's own error, almost free of the sampling noise
// that comparing two independent sample sets (or a sample set with the density) cannot avoid.
// Its mean bounds the W1 distance between the two samplers' outputs (W1 ≤ E|x_model − x_exact| for
// any pairing) but can be much larger: a sample near the boundary between two modes goes to
// either under the slightest change of the velocity, and such swaps add to the mean though they
// leave the distribution as it was. The W1 distance between the two sample sets themselves (sorted
// against sorted) counts what is left: the model's error in distribution, with the sampling noise
// that both sets share cancelling out.

export interface CoupledRegion {
  /** The interval of exact-sampler outputs [lo, hi). */
  lo: number;
  hi: number;
  count: number;
  /** Mean |x_model − x_exact| of the pairs whose exact output lies in the interval. */
  meanAbs: number;
}

export interface CoupledComparison {
  n: number;
  /** W1 between the two sample sets: the mean |difference| of their sorted values. */
  w1: number;
  /** Mean |x_model − x_exact|: an upper bound on W1 between the two samplers' outputs. */
  meanAbs: number;
  rms: number;
  /** Quantiles of |x_model − x_exact|. */
  median: number;
  p99: number;
  max: number;
  /** Where in x the errors are: by the exact sampler's output. */
  regions: CoupledRegion[];
}

export function coupledComparison(
  model: ArrayLike<number>,
  exact: ArrayLike<number>,
  { regions = 20 }: { regions?: number } = {},
): CoupledComparison {
  const n = exact.length;
  if (model.length !== n || n === 0)
    throw new Error(`coupledComparison: ${model.length} model samples for ${n} exact ones`);
  const abs = Float64Array.from({ length: n }, (_, i) => Math.abs(model[i] - exact[i]));
  if (abs.some((d) => !Number.isFinite(d)))
    throw new Error('coupledComparison: samples contain NaN or infinite values');
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) [lo, hi] = [Math.min(lo, exact[i]), Math.max(hi, exact[i])];
  const width = (hi - lo) / regions || 1;
  const bins = Array.from({ length: regions }, (_, r) => ({
    lo: lo + r * width,
    hi: lo + (r + 1) * width,
    count: 0,
    sum: 0,
  }));
  for (let i = 0; i < n; i++) {
    const b = bins[Math.min(regions - 1, Math.floor((exact[i] - lo) / width))];
    b.count += 1;
    b.sum += abs[i];
  }
  const sorted = Float64Array.from(abs).sort();
  const quantile = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))];
  const modelSorted = Float64Array.from(model).sort();
  const exactSorted = Float64Array.from(exact).sort();
  return {
    n,
    w1: modelSorted.reduce((a, x, i) => a + Math.abs(x - exactSorted[i]), 0) / n,
    meanAbs: abs.reduce((a, d) => a + d, 0) / n,
    rms: Math.sqrt(abs.reduce((a, d) => a + d * d, 0) / n),
    median: quantile(0.5),
    p99: quantile(0.99),
    max: sorted[n - 1],
    regions: bins.map((b) => ({ lo: b.lo, hi: b.hi, count: b.count, meanAbs: b.count ? b.sum / b.count : NaN })),
  };
}
