// The checks of notebook 08: every sampler with the exact score reproduces the mixture within the
// sampling noise (DDIM with few steps gets its known bias as extra room), the tutorial's plain
// Langevin does not, and the trained model's DDPM and ODE runs stay within the model's bar.
import type { SampleReport } from '../eval/metrics';
import { samplingTolerances } from '../eval/tolerances';
import { findSamplerRow, type SamplerRow } from '../sample/compare';
import { check, type Check } from './checks';

export interface SamplerCheckOptions {
  /** The score sources' labels, as given to compareSamplers. */
  exact: string;
  trained: string;
  /** Bar on W1 for the trained model's DDPM and ODE rows; null: the sampling-noise bar at their n. */
  modelW1Tolerance: number | null;
}

function weights(r: SamplerRow): string {
  return r.report ? r.report.modes.map((m) => m.weight.toFixed(3)).join(' / ') : `${r.nonFinite} non-finite`;
}

function finite(r: SamplerRow): SampleReport {
  if (!r.report) throw new Error(`${r.sampler} (${r.score}) diverged: ${r.nonFinite} of ${r.n} samples are not finite`);
  return r.report;
}

export function samplerChecks(rows: SamplerRow[], o: SamplerCheckOptions): Check[] {
  const exactRows = rows.filter((r) => r.score === o.exact && r.kind !== 'plain-langevin');
  const plainExactRow = findSamplerRow(rows, 'plain-langevin', o.exact);
  const plainExact = finite(plainExactRow);
  const plainTrained = findSamplerRow(rows, 'plain-langevin', o.trained);
  const trainedChecked = rows.filter((r) => r.score === o.trained && (r.kind === 'ddpm' || r.kind === 'heun'));
  const tol = samplingTolerances(exactRows[0].n);
  const modelTol = samplingTolerances(plainTrained.n);
  return [
    ...exactRows.flatMap((r) => {
      const fewSteps = r.kind === 'ddim' && r.evaluations < 100;
      return [
        check(`exact: ${r.sampler}: max mode-weight error`, finite(r).maxWeightError, '<=', tol.weight, weights(r)),
        check(`exact: ${r.sampler}: W1`, finite(r).w1, '<=', tol.w1 + (fewSteps ? 0.1 : 0)),
      ];
    }),
    check('exact: plain Langevin: left-mode weight stays under-weighted (true 0.30)', plainExact.modes[0].weight, '<=', 0.25, weights(plainExactRow)),
    check('exact: plain Langevin: W1 (wrong: over 0.5 and over the noise bar)', plainExact.w1, '>=', Math.max(0.5, tol.w1)),
    ...trainedChecked.map((r) => check(`trained: ${r.sampler}: W1`, finite(r).w1, '<=', o.modelW1Tolerance ?? modelTol.w1, weights(r))),
    check(
      'trained: plain Langevin with the learned score fails (1 = diverged or W1 over the bar)',
      plainTrained.report === null || plainTrained.report.w1 > modelTol.w1 ? 1 : 0,
      '>=',
      1,
      weights(plainTrained),
    ),
  ];
}
