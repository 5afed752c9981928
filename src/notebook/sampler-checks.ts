// The checks of notebook 08: every sampler with the exact score reproduces the mixture mode by
// mode within the sampling noise (DDIM with few steps gets its known bias as extra room in W1
// instead), the tutorial's plain Langevin does not, and the trained model's DDPM and ODE runs
// pass the same bars and stay close to their exact-score runs on the same noise.
import { coupledComparison } from '../eval/coupled';
import type { SampleReport } from '../eval/metrics';
import { samplingTolerances } from '../eval/tolerances';
import type { GaussianMixture } from '../math/mixture';
import { findSamplerRow, type SamplerRow } from '../sample/compare';
import { check, type Check } from './checks';
import { coupledCheck, modeChecks } from './sample-checks';
import { modeWeights } from './sample-tables';

export interface SamplerCheckOptions {
  /** The score sources' labels, as given to compareSamplers. */
  exact: string;
  trained: string;
}

function weights(r: SamplerRow): string {
  return r.report ? modeWeights(r.report) : `${r.nonFinite} non-finite`;
}

function finite(r: SamplerRow): SampleReport {
  if (!r.report) throw new Error(`${r.sampler} (${r.score}) diverged: ${r.nonFinite} of ${r.n} samples are not finite`);
  return r.report;
}

/** DDIM with under 100 steps: its discretisation bias is larger than the sampling noise at 10,000 samples. */
function fewStepDdim(r: SamplerRow): boolean {
  return r.kind === 'ddim' && r.evaluations < 100;
}

export function samplerChecks(rows: SamplerRow[], mixture: GaussianMixture, o: SamplerCheckOptions): Check[] {
  const exactRows = rows.filter((r) => r.score === o.exact && r.kind !== 'plain-langevin');
  const plainExactRow = findSamplerRow(rows, 'plain-langevin', o.exact);
  const plainExact = finite(plainExactRow);
  const plainTrained = findSamplerRow(rows, 'plain-langevin', o.trained);
  const trainedChecked = rows.filter((r) => r.score === o.trained && (r.kind === 'ddpm' || r.kind === 'heun'));
  const tol = samplingTolerances(exactRows[0].n);
  const modelTol = samplingTolerances(findSamplerRow(rows, 'ddpm', o.trained).n);
  return [
    ...exactRows.flatMap((r) =>
      fewStepDdim(r)
        ? [check(`exact: ${r.sampler}: W1 (its bias allowed: 0.1 over the noise bar)`, finite(r).w1, '<=', tol.w1 + 0.1, weights(r))]
        : [...modeChecks(`exact: ${r.sampler}`, finite(r), mixture), check(`exact: ${r.sampler}: W1`, finite(r).w1, '<=', tol.w1)],
    ),
    check('exact: plain Langevin: left-mode weight stays under-weighted (true 0.30)', plainExact.modes[0].weight, '<=', 0.25, weights(plainExactRow)),
    check('exact: plain Langevin: W1 (wrong: over 0.5 and over the noise bar)', plainExact.w1, '>=', Math.max(0.5, tol.w1)),
    ...trainedChecked.flatMap((r) => {
      const exact = findSamplerRow(rows, r.kind, o.exact, r.evaluations);
      return [
        ...modeChecks(`trained: ${r.sampler}`, finite(r), mixture),
        check(`trained: ${r.sampler}: W1`, finite(r).w1, '<=', modelTol.w1),
        ...(exact.n === r.n ? [coupledCheck(`trained vs exact: ${r.sampler}`, coupledComparison(r.samples, exact.samples), mixture)] : []),
      ];
    }),
    check(
      'trained: plain Langevin with the learned score fails (1 = diverged or W1 over the bar)',
      plainTrained.report === null || plainTrained.report.w1 > samplingTolerances(plainTrained.n).w1 ? 1 : 0,
      '>=',
      1,
      weights(plainTrained),
    ),
  ];
}
