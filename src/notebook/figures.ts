// The notebooks' figures and tables, built from the plotting primitives in ./plots so that the
// notebooks stay a few lines per cell.
import type { TrainLog } from '../train/config';
import { histogram, type SampleReport } from '../eval/metrics';
import type { GaussianMixture } from '../math/mixture';
import { barHistogramTrace, layout, lineTrace, type Figure } from './plots';
import type { DDPMScheduler } from '../diffusion/scheduler';

export interface HistogramPanel {
  title: string;
  values: ArrayLike<number>;
  /** Exact density to draw over the histogram. */
  pdf?: (x: number) => number;
}

const HIST_COLOR = '#1f77b4';
const PDF_COLOR = '#d62728';

function grid(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** The x range that covers every panel's values (clipped to ±30 so a diverged sampler stays readable). */
function commonRange(panels: HistogramPanel[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of panels) {
    for (let i = 0; i < p.values.length; i++) {
      const v = p.values[i];
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  return [Math.max(lo, -30), Math.min(hi, 30)];
}

/**
 * Histograms (as densities) stacked vertically with a shared x axis, each with an optional
 * exact pdf overlaid: the tutorial's five-panel figures.
 */
export function stackedHistograms(panels: HistogramPanel[], opts: { bins?: number; range?: [number, number]; title?: string } = {}): Figure {
  const bins = opts.bins ?? 100;
  const range = opts.range ?? commonRange(panels);
  const data: object[] = [];
  const annotations: object[] = [];
  const axes: Record<string, unknown> = {};
  panels.forEach((p, i) => {
    const suffix = i === 0 ? '' : String(i + 1);
    const h = histogram(p.values, { bins, range });
    data.push(barHistogramTrace(h, p.title, { color: HIST_COLOR, extra: { xaxis: `x${suffix}`, yaxis: `y${suffix}`, showlegend: false } }));
    if (p.pdf) {
      const xs = grid(400).map((k) => range[0] + ((range[1] - range[0]) * (k - 1)) / 399);
      data.push(lineTrace(xs, xs.map(p.pdf), `exact density`, { color: PDF_COLOR, width: 1.5, extra: { xaxis: `x${suffix}`, yaxis: `y${suffix}`, showlegend: i === 0 } }));
    }
    axes[`xaxis${suffix}`] = { matches: i === 0 ? undefined : 'x', showticklabels: i === panels.length - 1 };
    axes[`yaxis${suffix}`] = { title: { text: 'density' } };
    annotations.push({ text: p.title, xref: `x${suffix} domain`, yref: `y${suffix} domain`, x: 0.01, y: 1, showarrow: false, xanchor: 'left', yanchor: 'bottom' });
  });
  return {
    data,
    layout: layout({
      title: opts.title,
      extra: { grid: { rows: panels.length, columns: 1, pattern: 'independent', roworder: 'top to bottom' }, annotations, ...axes, height: 170 * panels.length + 80 },
    }),
  };
}

/** One histogram against the exact density. */
export function histogramVsPdf(values: ArrayLike<number>, pdf: (x: number) => number, opts: { title?: string; bins?: number; name?: string } = {}): Figure {
  const fig = stackedHistograms([{ title: opts.name ?? 'samples', values, pdf }], { bins: opts.bins, title: opts.title });
  return { ...fig, layout: { ...(fig.layout as object), height: 380, annotations: [] } };
}

/** β_t and ᾱ_t over the timesteps. */
export function scheduleFigure(scheduler: DDPMScheduler): Figure {
  const t = scheduler.alphasCumprod.map((_, i) => i);
  return {
    data: [
      lineTrace(t, scheduler.betas, 'β_t', { color: PDF_COLOR }),
      lineTrace(t, scheduler.alphasCumprod, 'ᾱ_t', { color: HIST_COLOR, extra: { yaxis: 'y2' } }),
    ],
    layout: layout({
      title: 'Noise schedule',
      xTitle: 'timestep t',
      yTitle: 'β_t',
      extra: { yaxis2: { title: { text: 'ᾱ_t' }, overlaying: 'y', side: 'right' }, legend: { x: 0.45, y: 0.95 } },
    }),
  };
}

/** Training loss per logging window, with the Bayes-optimal loss as a horizontal line. */
export function lossFigure(history: TrainLog[], bayesOptimal: number, opts: { evalLoss?: number } = {}): Figure {
  const steps = history.map((h) => h.step);
  const last = steps.length ? steps[steps.length - 1] : 1;
  const data = [
    lineTrace(steps, history.map((h) => h.loss), 'training loss (window mean)', { color: HIST_COLOR }),
    lineTrace([0, last], [bayesOptimal, bayesOptimal], `Bayes-optimal ${bayesOptimal.toFixed(3)}`, { color: PDF_COLOR, dash: 'dash' }),
  ];
  if (opts.evalLoss !== undefined) {
    data.push(lineTrace([last], [opts.evalLoss], `EMA model, exact eval ${opts.evalLoss.toFixed(3)}`, { mode: 'markers', color: '#2ca02c', extra: { marker: { size: 10 } } }));
  }
  return { data, layout: layout({ title: 'v-prediction loss', xTitle: 'step', yTitle: 'loss', logY: true }) };
}

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

/** W1 to the mixture per sampler, exact score beside trained model (log scale; diverged runs have no bar). */
export function samplerW1Figure(rows: { sampler: string; score: string; report: { w1: number } | null }[], opts: { title?: string } = {}): Figure {
  const samplers = Array.from(new Set(rows.map((r) => r.sampler)));
  const scores = Array.from(new Set(rows.map((r) => r.score)));
  const colors = [PDF_COLOR, HIST_COLOR, '#2ca02c', '#9467bd'];
  const data = scores.map((score, i) => ({
    type: 'bar',
    name: score,
    x: samplers,
    y: samplers.map((s) => rows.find((r) => r.sampler === s && r.score === score)?.report?.w1 ?? null),
    marker: { color: colors[i % colors.length] },
    hovertemplate: `${score}<br>%{x}<br>W1=%{y:.3f}<extra></extra>`,
  }));
  return {
    data,
    layout: layout({ title: opts.title, extra: { yaxis: { title: { text: 'W1 to the mixture' }, type: 'log', dtick: 'D2' }, barmode: 'group', bargap: 0.2, height: 480, margin: { l: 60, r: 20, t: 50, b: 170 } } }),
  };
}
