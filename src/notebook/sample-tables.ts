// Table rows for the notebooks: sample sets and sampler runs against the exact mixture.
import type { SampleReport } from '../eval/metrics';
import type { GaussianMixture } from '../math/mixture';
import type { SamplerRow } from '../sample/compare';

/** Rows comparing per-mode weight, mean and std of several sample sets with the exact mixture. */
export function modeTableRows(mixture: GaussianMixture, reports: { label: string; report: SampleReport }[]): Record<string, string | number>[] {
  const expected = mixture.assignmentProbabilities();
  const rows: Record<string, string | number>[] = [];
  const K = mixture.numComponents;
  const exact: Record<string, string | number> = { samples: 'exact mixture' };
  const sub = (k: number) => String.fromCharCode(0x2081 + k); // ₁ ₂ ₃
  for (let k = 0; k < K; k++) {
    exact[`w${sub(k)}`] = expected[k];
    exact[`μ${sub(k)}`] = mixture.means[k];
    exact[`σ${sub(k)}`] = mixture.stds[k];
  }
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
  const expected = mixture.assignmentProbabilities().map((w) => w.toFixed(3)).join(' / ');
  return rows.map((r) => {
    const weights = r.report ? r.report.modes.map((m) => m.weight.toFixed(3)).join(' / ') : '—';
    const stds = r.report ? r.report.modes.map((m) => m.std.toFixed(2)).join(' / ') : '—';
    return {
      sampler: r.sampler,
      score: r.score,
      n: r.n,
      [`weights (exact ${expected})`]: weights,
      [`σ per mode (mixture ${mixture.stds.join(' / ')})`]: stds,
      'max |Δw|': r.report ? r.report.maxWeightError : '—',
      W1: r.report ? r.report.w1 : '—',
      KS: r.report ? r.report.ks : '—',
      'non-finite': r.nonFinite,
      evaluations: r.evaluations,
      seconds: r.seconds,
    };
  });
}
