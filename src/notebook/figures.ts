// The notebooks' figures and tables, built from the plotting primitives in ./plots so that the
// notebooks stay a few lines per cell.
import type { TrainLog } from '../train/config';
import { histogram } from '../eval/metrics';
import type { CoupledComparison } from '../eval/coupled';
import { barHistogramTrace, layout, lineTrace, panelTitle, type Figure } from './plots';
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
export function stackedHistograms(
  panels: HistogramPanel[],
  opts: { bins?: number; range?: [number, number]; title?: string } = {},
): Figure {
  const bins = opts.bins ?? 100;
  const range = opts.range ?? commonRange(panels);
  const data: object[] = [];
  const annotations: object[] = [];
  const axes: Record<string, unknown> = {};
  panels.forEach((p, i) => {
    const suffix = i === 0 ? '' : String(i + 1);
    const h = histogram(p.values, { bins, range });
    data.push(
      barHistogramTrace(h, p.title, {
        color: HIST_COLOR,
        extra: { xaxis: `x${suffix}`, yaxis: `y${suffix}`, showlegend: false },
      }),
    );
    if (p.pdf) {
      const xs = grid(400).map((k) => range[0] + ((range[1] - range[0]) * (k - 1)) / 399);
      data.push(
        lineTrace(xs, xs.map(p.pdf), `exact density`, {
          color: PDF_COLOR,
          width: 1.5,
          extra: { xaxis: `x${suffix}`, yaxis: `y${suffix}`, showlegend: i === 0 },
        }),
      );
    }
    const last = i === panels.length - 1;
    axes[`xaxis${suffix}`] = {
      matches: i === 0 ? undefined : 'x',
      showticklabels: last,
      ...(last ? { title: { text: 'x' } } : {}),
    };
    axes[`yaxis${suffix}`] = { title: { text: 'density' } };
    annotations.push(panelTitle(p.title, suffix, { x: 0.01, xanchor: 'left' }));
  });
  return {
    data,
    layout: layout({
      title: opts.title,
      extra: {
        grid: { rows: panels.length, columns: 1, pattern: 'independent', roworder: 'top to bottom' },
        annotations,
        ...axes,
        height: 170 * panels.length + 80,
      },
    }),
  };
}

/** One histogram against the exact density. */
export function histogramVsPdf(
  values: ArrayLike<number>,
  pdf: (x: number) => number,
  opts: { title?: string; bins?: number; name?: string } = {},
): Figure {
  const fig = stackedHistograms([{ title: opts.name ?? 'samples', values, pdf }], {
    bins: opts.bins,
    title: opts.title,
  });
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
      // ᾱ on a log axis, so that its last value (4e-5) is visible, not squeezed onto zero; one
      // label per decade, as 1e-4 (Plotly's superscript powers and in-between digits read as
      // stray numbers); the legend above the plot, where no curve runs
      extra: {
        yaxis2: {
          title: { text: 'ᾱ_t (log scale)' },
          type: 'log',
          dtick: 1,
          exponentformat: 'e',
          overlaying: 'y',
          side: 'right',
        },
        legend: { orientation: 'h', x: 1, xanchor: 'right', y: 1.02, yanchor: 'bottom' },
        margin: { l: 70, r: 90, t: 50, b: 50 },
      },
    }),
  };
}

/**
 * Training loss per logging window minus its floor, on a log axis, so the approach to the floor
 * stays visible. The floor is the Bayes-optimal loss for the plain target and 0 for the exact one,
 * whose loss is the network's error alone. Windows whose minibatch noise takes them under the
 * floor have no point on the log axis; their count is in the legend.
 */
export function lossFigure(history: TrainLog[], floor: number, opts: { evalLoss?: number } = {}): Figure {
  const steps = history.map((h) => h.step);
  const last = steps.length ? steps[steps.length - 1] : 1;
  const above = history.map((h) => (h.loss > floor ? h.loss - floor : NaN)); // NaN: no point on a log axis
  const below = above.filter(Number.isNaN).length;
  const what = floor === 0 ? 'training loss' : `training loss − floor ${floor.toFixed(3)}`;
  const data = [
    lineTrace(steps, above, `${what} (window mean${below ? `; ${below} windows under the floor` : ''})`, {
      color: HIST_COLOR,
      extra: { connectgaps: false },
    }),
  ];
  if (opts.evalLoss !== undefined) {
    data.push(
      lineTrace([last], [opts.evalLoss - floor], `EMA model, exact excess ${(opts.evalLoss - floor).toFixed(4)}`, {
        mode: 'markers',
        color: '#2ca02c',
        extra: { marker: { size: 10 } },
      }),
    );
  }
  const title = floor === 0 ? 'Training loss' : 'v-prediction loss above the Bayes-optimal loss';
  return { data, layout: layout({ title, xTitle: 'step', yTitle: floor === 0 ? 'loss' : 'loss − floor', logY: true }) };
}

/**
 * W1 to the mixture per sampler, exact score beside trained model (log scale; diverged runs have no
 * bar). `noiseFloors` draws, per sample size, the W1 that exact samples of that size reach.
 */
export function samplerW1Figure(
  rows: { sampler: string; score: string; report: { w1: number } | null }[],
  opts: { title?: string; noiseFloors?: { n: number; w1: number }[] } = {},
): Figure {
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
  const shapes = (opts.noiseFloors ?? []).map((f) => ({
    type: 'line',
    xref: 'paper',
    x0: 0,
    x1: 1,
    y0: f.w1,
    y1: f.w1,
    line: { color: '#555', dash: 'dot', width: 1 },
  }));
  const notes = (opts.noiseFloors ?? []).map((f) => ({
    xref: 'paper',
    x: 1,
    y: Math.log10(f.w1),
    text: `exact samples, n = ${f.n}`,
    showarrow: false,
    xanchor: 'right',
    yanchor: 'bottom',
    font: { size: 10, color: '#555' },
  }));
  return {
    data,
    layout: layout({
      title: opts.title,
      extra: {
        yaxis: { title: { text: 'W1 to the mixture' }, type: 'log', dtick: 1, exponentformat: 'power' },
        xaxis: { tickangle: -30, automargin: true },
        shapes,
        annotations: notes,
        barmode: 'group',
        bargap: 0.2,
        height: 520,
        margin: { l: 60, r: 20, t: 50, b: 60 },
      },
    }),
  };
}

export interface TimeFrame {
  /** The slider's label for this frame, e.g. the timestep. */
  label: string;
  /** Samples to show as a histogram, if any. */
  values?: ArrayLike<number>;
  /** The exact density at this time. */
  pdf: (x: number) => number;
}

/**
 * One histogram and density that a slider moves through time (Plotly restyle steps: no frames
 * or callbacks, so it works in the offline exports too). Every frame shares the x range, the
 * bins and the y range, so the eye sees the distribution change, not the axes.
 */
export function timeSliderFigure(
  frames: TimeFrame[],
  opts: { range: [number, number]; bins?: number; title?: string; sliderLabel?: string },
): Figure {
  if (frames.length === 0) throw new Error('timeSliderFigure: no frames');
  const bins = opts.bins ?? 100;
  const [lo, hi] = opts.range;
  const xs = grid(300).map((k) => lo + ((hi - lo) * (k - 1)) / 299);
  const withSamples = frames.every((f) => f.values);
  const shown = frames.map((f) => ({
    hist: f.values ? histogram(f.values, { bins, range: opts.range }) : null,
    pdf: xs.map(f.pdf),
  }));
  const top = 1.05 * Math.max(...shown.flatMap((s) => [...s.pdf, ...(s.hist?.density ?? [])]));
  const first = shown[0];
  const data: object[] = [
    ...(withSamples ? [barHistogramTrace(first.hist!, 'samples', { color: HIST_COLOR })] : []),
    lineTrace(xs, first.pdf, 'exact density', { color: PDF_COLOR, width: 2 }),
  ];
  const steps = frames.map((f, i) => ({
    label: f.label,
    method: 'restyle',
    args: withSamples
      ? [{ y: [Array.from(shown[i].hist!.density), shown[i].pdf] }, [0, 1]]
      : [{ y: [shown[i].pdf] }, [0]],
  }));
  return {
    data,
    layout: layout({
      title: opts.title,
      xTitle: 'x',
      yTitle: 'density',
      extra: {
        yaxis: { range: [0, top], title: { text: 'density' } },
        sliders: [{ active: 0, steps, currentvalue: { prefix: `${opts.sliderLabel ?? 'timestep'} ` }, pad: { t: 50 } }],
        height: 480,
      },
    }),
  };
}

/**
 * A trained sampler against the exact one on the same noise: each pair's difference
 * x_model − x_exact against x_exact (left), and the mean |difference| by where x_exact fell (right).
 */
export function coupledFigure(
  exact: ArrayLike<number>,
  model: ArrayLike<number>,
  comparison: CoupledComparison,
  opts: { title?: string } = {},
): Figure {
  if (exact.length !== model.length)
    throw new Error(`coupledFigure: ${model.length} model samples for ${exact.length} exact ones`);
  const diff = Array.from(model, (m, i) => m - exact[i]);
  const regions = comparison.regions.filter((r) => r.count > 0);
  return {
    data: [
      {
        type: 'scatter',
        mode: 'markers',
        name: 'pairs',
        x: Array.from(exact),
        y: diff,
        marker: { size: 3, opacity: 0.35, color: HIST_COLOR },
        hovertemplate: 'x_exact=%{x:.3f}<br>x_model − x_exact=%{y:.3g}<extra></extra>',
        showlegend: false,
      },
      {
        type: 'bar',
        name: 'mean |x_model − x_exact|',
        x: regions.map((r) => (r.lo + r.hi) / 2),
        y: regions.map((r) => r.meanAbs),
        width: regions.map((r) => r.hi - r.lo),
        customdata: regions.map((r) => r.count),
        marker: { color: PDF_COLOR },
        opacity: 0.7,
        xaxis: 'x2',
        yaxis: 'y2',
        hovertemplate: 'x_exact in this bin: %{customdata} pairs<br>mean |Δx| %{y:.3g}<extra></extra>',
        showlegend: false,
      },
    ],
    layout: layout({
      title: opts.title,
      extra: {
        grid: { rows: 1, columns: 2, pattern: 'independent' },
        xaxis: { title: { text: 'x, exact sampler' } },
        yaxis: { title: { text: 'x_model − x_exact' } },
        xaxis2: { title: { text: 'x, exact sampler' } },
        yaxis2: { title: { text: 'mean |x_model − x_exact|' }, rangemode: 'tozero' },
        height: 420,
      },
    }),
  };
}
