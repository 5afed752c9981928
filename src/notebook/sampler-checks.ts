// The checks of notebook 08. Every run with the exact score or the trained model is judged mode
// by mode and by KS: stochastic samplers against exact sampling, deterministic ones (DDIM, Heun)
// against what that sampler gives with the exact score (its discretisation error is the
// sampler's, not noise). Each trained run must also stay close to its exact-score run on the same
// noise (where the pairs stay paired), and the tutorial's plain Langevin must show its failure
// by the same bars. Without a trained model (chapter 8 on a mixture chapter 3 did not train on),
// the exact-score rows are judged alone.
import { coupledComparison } from '../eval/coupled';
import { judgeSamples, judgeSamplesAgainst, pointsTarget, worstRatio, type Judgement } from '../eval/sample-bars';
import { expectedModeStats, modeStandardErrors, modeStatsOfPoints } from '../eval/mode-expectations';
import type { GaussianMixture } from '../math/mixture';
import { findSamplerRow, type SamplerKind, type SamplerRow } from '../sample/compare';
import { check, type Check } from './checks';
import { coupledCheck, judgementChecks, mustFailCheck } from './sample-checks';
import { modeWeights } from './sample-tables';

export interface SamplerCheckOptions {
  /** The score sources' labels, as given to compareSamplers. */
  exact: string;
  /** Absent when no trained model ran: then every row must be an exact-score row. */
  trained?: string;
}

/**
 * The samplers whose trained and exact runs stay paired: DDPM and the ODE samplers follow the
 * velocity field, so the same noise gives nearby outputs. Langevin steps (predictor–corrector,
 * annealed) decorrelate the pairs (chapter 8 prints their mean pair distance), so their coupled
 * W1 is close to that of two independent sets and would test nothing the per-mode bars miss.
 */
const COUPLED_KINDS: SamplerKind[] = ['ddpm', 'ddim', 'heun'];

/** What a row is judged against: its sampler's own output with the exact score, or exact sampling. */
function targetName(r: SamplerRow): string {
  return r.reference ? `${r.sampler} with the exact score` : 'exact sampling';
}

/** The row's finite samples judged against its target; null when the row diverged. */
export function judgeRow(r: SamplerRow, mixture: GaussianMixture): Judgement[] | null {
  if (!r.report) return null;
  if (!r.reference) return judgeSamples(r.report, mixture);
  const finite = r.samples.filter(Number.isFinite);
  return judgeSamplesAgainst(finite, mixture, pointsTarget(targetName(r), r.reference, mixture));
}

export function samplerChecks(rows: SamplerRow[], mixture: GaussianMixture, o: SamplerCheckOptions): Check[] {
  const stray = rows.find((r) => r.score !== o.exact && r.score !== o.trained);
  if (stray)
    throw new Error(
      `samplerChecks: a row of '${stray.score}', which is neither '${o.exact}' nor ${o.trained === undefined ? 'a trained model (none given)' : `'${o.trained}'`}`,
    );
  const who = (r: SamplerRow) => (r.score === o.exact ? 'exact' : 'trained');
  const judged = rows.filter((r) => r.kind !== 'plain-langevin');
  const perRow = judged.flatMap((r) => {
    const label = `${who(r)}: ${r.sampler}`;
    const judgements = judgeRow(r, mixture);
    const trained = r.score === o.trained;
    const checks = [check(`${label}: non-finite samples`, r.nonFinite, '<=', 0, undefined, { trained })];
    if (judgements) checks.push(...judgementChecks(label, judgements, targetName(r), trained));
    if (r.score === o.trained && COUPLED_KINDS.includes(r.kind)) {
      const exact = findSamplerRow(rows, r.kind, o.exact, r.evaluations);
      // the two runs share their noise only at the same n; pairs need finite samples on both sides
      if (exact.n === r.n && r.nonFinite === 0 && exact.nonFinite === 0) {
        checks.push(
          coupledCheck(`trained vs exact: ${r.sampler}`, coupledComparison(r.samples, exact.samples), mixture),
        );
      }
    }
    return checks;
  });
  const plain = (score: string) => {
    const r = findSamplerRow(rows, 'plain-langevin', score);
    const judgements = judgeRow(r, mixture);
    return { r, judgements, worst: judgements ? worstRatio(judgements) : null };
  };
  const plainExact = plain(o.exact);
  const detail = (p: ReturnType<typeof plain>) =>
    p.worst
      ? `worst: ${p.worst.name}; weights ${modeWeights(p.r.report!)}`
      : `diverged: ${p.r.nonFinite} of ${p.r.n} chains not finite`;
  return [
    ...perRow,
    ...(plainExact.judgements
      ? [mustFailCheck('exact: plain Langevin', plainExact.judgements)]
      : [check('exact: plain Langevin: finite chains', 0, '>', 0, detail(plainExact))]),
    // with the learned score it must diverge or fail the same bars (when a trained model ran)
    ...(o.trained === undefined ? [] : [plain(o.trained)]).map((p) =>
      check(
        'trained: plain Langevin: fails too with the learned score (1 = diverged or worst |error| over its bar)',
        p.worst === null || p.worst.ratio > 1 ? 1 : 0,
        '>=',
        1,
        detail(p),
        { trained: true },
      ),
    ),
  ];
}

/**
 * Each deterministic exact-score row's discretisation error: its output distribution (the
 * quantiles of its noise pushed through it) against exact sampling, statistic by statistic, in
 * standard errors of exact sampling at the row's n. No sampling noise enters: these are the
 * sampler's own biases.
 */
export function discretisationBiases(rows: SamplerRow[], mixture: GaussianMixture, exactLabel: string) {
  const expected = expectedModeStats(mixture);
  return rows
    .filter((r) => r.score === exactLabel && r.reference)
    .map((r) => {
      const own = modeStatsOfPoints(r.reference!, mixture);
      const errors = modeStandardErrors(expected, r.n);
      const stats = own.flatMap((m, k) =>
        (['weight', 'mean', 'std'] as const).map((s) => ({
          name: `mode ${k + 1} ${s}`,
          value: m[s],
          expected: expected[k][s],
          standardErrors: (m[s] - expected[k][s]) / errors[k][s],
        })),
      );
      const worst = stats.reduce((a, b) => (Math.abs(b.standardErrors) > Math.abs(a.standardErrors) ? b : a));
      return { sampler: r.sampler, evaluations: r.evaluations, n: r.n, points: r.reference!.length, stats, worst };
    });
}
