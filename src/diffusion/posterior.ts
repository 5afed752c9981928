// The DDPM posterior q(x_prev | x_t, x0) = N(coefX0·x0 + coefXt·x_t, variance) for a step from
// noise level ᾱ down to ᾱ_prev (Ho et al. 2020, eqs. 6–7; diffusers' DDPMScheduler.step and
// _get_variance). For consecutive timesteps diffusers uses its tabulated β_t and α_t = 1 − β_t;
// for a jump over several timesteps (predictor–corrector) they follow from the two noise levels.

export interface PosteriorCoefficients {
  coefX0: number;
  coefXt: number;
  /** β̃ = (1 − ᾱ_prev)/(1 − ᾱ)·β, the 'fixed_small' variance. */
  variance: number;
}

export function posteriorCoefficients(
  alphaBar: number,
  alphaBarPrev: number,
  beta = 1 - alphaBar / alphaBarPrev,
  alpha = alphaBar / alphaBarPrev,
): PosteriorCoefficients {
  const betaProd = 1 - alphaBar;
  const betaProdPrev = 1 - alphaBarPrev;
  return {
    coefX0: (Math.sqrt(alphaBarPrev) * beta) / betaProd,
    coefXt: (Math.sqrt(alpha) * betaProdPrev) / betaProd,
    variance: (betaProdPrev / betaProd) * beta,
  };
}
