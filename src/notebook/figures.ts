// The notebooks' figures and tables, built from the plotting primitives in ./plots so that the
// notebooks stay a few lines per cell.
import type { TrainLog } from '../train/config';
import { histogram } from '../eval/metrics';
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

/**
 * The x range that covers the panels' values from their 0.1 % to their 99.9 % quantile, so that a
 * few far outliers (a sampler that diverges) do not squeeze the histograms into one bin.
 */
function commonRange(panels: HistogramPanel[]): [number, number] {
  const finite = Float64Array.from(panels.flatMap((p) => Array.from(p.values).filter(Number.isFinite))).sort();
  if (finite.length === 0) return [-1, 1];
  const at = (q: number) => finite[Math.min(finite.length - 1, Math.floor(q * finite.length))];
  const [lo, hi] = [at(0.001), at(0.999)];
  const pad = 0.05 * (hi - lo || 1);
  return [lo - pad, hi + pad];
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
