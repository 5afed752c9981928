// Table rows for the notebooks: sample sets and sampler runs against the exact mixture.
import type { SampleReport } from '../eval/metrics';
import { expectedModeStats } from '../eval/mode-expectations';
import type { GaussianMixture } from '../math/mixture';
import type { SamplerRow } from '../sample/compare';
import { perMode } from './tables';

/** A sample set's mode weights as "a / b / c". */
export function modeWeights(report: SampleReport): string {
  return perMode(report.modes.map((m) => m.weight));
}

/**
 * Rows comparing per-mode weight, mean and std of several sample sets with the exact mixture. The
 * first row is what exact sampling gives under the same most-likely-mode rule (not the
 * components' own means and stds, which the rule's cut tails shift).
 */
export function modeTableRows(
  mixture: GaussianMixture,
  reports: { label: string; report: SampleReport }[],
): Record<string, string | number>[] {
  const rows: Record<string, string | number>[] = [];
  const exact: Record<string, string | number> = { samples: 'exact sampling (expected)' };
  const sub = (k: number) => String.fromCharCode(0x2081 + k); // ₁ ₂ ₃
  expectedModeStats(mixture).forEach((e, k) => {
    exact[`w${sub(k)}`] = e.weight;
    exact[`μ${sub(k)}`] = e.mean;
    exact[`σ${sub(k)}`] = e.std;
  });
  exact['max |Δw|'] = 0;
  exact.W1 = 0;
  exact.KS = 0;
  rows.push(exact);
  for (const { label, report } of reports) {
    const row: Record<string, string | number> = { samples: label };
    report.modes.forEach((m, k) => {
      row[`w${sub(k)}`] = m.weight;
      row[`μ${sub(k)}`] = m.mean;
      row[`σ${sub(k)}`] = m.std;
    });
    row['max |Δw|'] = report.maxWeightError;
    row.W1 = report.w1;
    row.KS = report.ks;
    rows.push(row);
  }
  return rows;
}

/** The table of notebook 08: one line per sampler and score. */
export function samplerTableRows(rows: SamplerRow[], mixture: GaussianMixture): Record<string, string | number>[] {
  const expected = expectedModeStats(mixture);
  const weightsHeader = `weights (exact sampling ${perMode(expected.map((e) => e.weight))})`;
  const stdsHeader = `σ per mode (exact sampling ${perMode(
    expected.map((e) => e.std),
    2,
  )})`;
  return rows.map((r) => {
    const weights = r.report ? modeWeights(r.report) : '—';
    const stds = r.report
      ? perMode(
          r.report.modes.map((m) => m.std),
          2,
        )
      : '—';
    return {
      sampler: r.sampler,
      score: r.score,
      n: r.n,
      [weightsHeader]: weights,
      [stdsHeader]: stds,
      'max |Δw|': r.report ? r.report.maxWeightError : '—',
      W1: r.report ? r.report.w1 : '—',
      KS: r.report ? r.report.ks : '—',
      'non-finite': r.nonFinite,
      evaluations: r.evaluations,
      seconds: r.seconds,
    };
  });
}
