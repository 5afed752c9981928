// The standard normal distribution in double precision: density, CDF and partial integrals.

const SQRT_PI = Math.sqrt(Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * Complementary error function, accurate to about 1e-13 relative.
 * |x| < 2: the everywhere-positive series erf(x) = 2/√π e^{-x²} Σ 2^n x^{2n+1} / (2n+1)!!
 * (no cancellation). x ≥ 2: the continued fraction for erfc, evaluated bottom-up.
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2) {
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    return 1 - (2 / SQRT_PI) * Math.exp(-x2) * sum;
  }
  if (x > 27) return 0;
  // erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
  let k = x;
  for (let n = 150; n >= 1; n--) k = x + n / 2 / k;
  return Math.exp(-x * x) / SQRT_PI / k;
}

/** Standard normal density φ(z). */
export function normPdf(z: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * z * z);
}

/** Standard normal CDF Φ(z). */
export function normCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** Φ⁻¹(p) for p in (0, 1), by Newton's method on Φ (a few steps from a bisection start). */
export function normQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`normQuantile: p must be in (0, 1), got ${p}`);
  let [lo, hi] = [-40, 40];
  for (let i = 0; i < 12; i++) {
    const mid = 0.5 * (lo + hi);
    if (normCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  let z = 0.5 * (lo + hi);
  for (let i = 0; i < 6; i++) z -= (normCdf(z) - p) / normPdf(z);
  return z;
}

/** The n quantiles Φ⁻¹((i + ½)/n): a stratified stand-in for n standard normal draws. */
export function normalQuantiles(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => normQuantile((i + 0.5) / n));
}

/** ∫_{-∞}^{z} Φ(u) du = zΦ(z) + φ(z): the integral of the CDF, used for exact Wasserstein distances. */
export function normCdfIntegral(z: number): number {
  return z * normCdf(z) + normPdf(z);
}

/** ∫_{z}^{∞} (1 − Φ(u)) du = φ(z) − z(1 − Φ(z)). */
export function normSurvivalIntegral(z: number): number {
  return normPdf(z) - z * normCdf(-z);
}

/**
 * ∫_α^β z^p φ(z) dz for p = 0 … order (α may be −∞, β ∞), by the recursion
 * M_p = (p − 1)·M_{p−2} + α^{p−1}φ(α) − β^{p−1}φ(β) that integration by parts gives.
 */
export function normPartialMoments(alpha: number, beta: number, order: number): number[] {
  // z^{p−1}φ(z) at an infinite end is 0
  const edge = (z: number, p: number) => (Number.isFinite(z) ? z ** (p - 1) * normPdf(z) : 0);
  const m = [normCdf(beta) - normCdf(alpha), edge(alpha, 1) - edge(beta, 1)];
  for (let p = 2; p <= order; p++) m.push((p - 1) * m[p - 2] + edge(alpha, p) - edge(beta, p));
  return m.slice(0, order + 1);
}
