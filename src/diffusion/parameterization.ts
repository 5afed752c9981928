// The conversions between the quantities a diffusion model can predict, for the forward process
// x_t = √ᾱ·x0 + √(1−ᾱ)·ε (Ho et al. 2020, eq. 4) and the velocity v = √ᾱ·ε − √(1−ᾱ)·x0
// (Salimans & Ho 2022, "Progressive distillation", section 4). Given x_t, any one of x0, ε and v
// determines the other two, and the score of p_t is −ε/√(1−ᾱ) (Song et al. 2021, eq. 7 applied
// to the Gaussian transition). These are the host (float64) forms; DDPMScheduler holds the
// tensor forms that diffusers' scheduler uses.

/** √ᾱ and √(1−ᾱ): the weights of the signal and of the noise in x_t. */
export interface NoiseLevel {
  signal: number;
  noise: number;
}

export function noiseLevel(alphaBar: number): NoiseLevel {
  return { signal: Math.sqrt(alphaBar), noise: Math.sqrt(1 - alphaBar) };
}

/** x_t = √ᾱ·x0 + √(1−ᾱ)·ε. */
export function noisySample(c: NoiseLevel, x0: number, eps: number): number {
  return c.signal * x0 + c.noise * eps;
}

/** The v-prediction target √ᾱ·ε − √(1−ᾱ)·x0. */
export function velocityTarget(c: NoiseLevel, x0: number, eps: number): number {
  return c.signal * eps - c.noise * x0;
}

/** x0 = √ᾱ·x_t − √(1−ᾱ)·v. */
export function x0FromVelocity(c: NoiseLevel, xt: number, v: number): number {
  return c.signal * xt - c.noise * v;
}

/** ε = √ᾱ·v + √(1−ᾱ)·x_t. */
export function epsFromVelocity(c: NoiseLevel, xt: number, v: number): number {
  return c.signal * v + c.noise * xt;
}

/** v = (√ᾱ·x_t − x0)/√(1−ᾱ): the velocity that a given x0 implies at x_t. */
export function velocityFromX0(c: NoiseLevel, xt: number, x0: number): number {
  return (c.signal * xt - x0) / c.noise;
}

/** ∇log p_t(x_t) = −ε/√(1−ᾱ) for the ε that E[ε | x_t] is. */
export function scoreFromEps(c: NoiseLevel, eps: number): number {
  return -eps / c.noise;
}
