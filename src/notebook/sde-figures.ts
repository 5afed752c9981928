// Figures of the score-SDE chapter (notebook 06): Song et al.'s Figure 2 on our mixture, and the
// learned score against the exact one.
import { evenlySpaced, linspace } from '../math/grid';
import type { ScoreError } from '../eval/evaluate';
import type { GaussianMixture } from '../math/mixture';
import { layout, lineTrace, panelTitle, type Figure } from './plots';
import type { VPSDE } from '../diffusion/sde';
import type { Trajectory } from '../sample/sde-samplers';

export interface PathPanel {
  title: string;
  trajectory: Trajectory;
  color?: string;
}

/**
 * The time s at which the noise level √(1 − ᾱ(s)) reaches u, by bisection (it rises monotonically
 * from 0 at s = 0).
 */
function timeAtNoiseLevel(sde: VPSDE, u: number): number {
  let [a, b] = [0, 1];
  for (let i = 0; i < 60; i++) {
    const m = (a + b) / 2;
    if (Math.sqrt(1 - sde.alphaBar(m)) < u) a = m;
    else b = m;
  }
  return (a + b) / 2;
}

/**
 * Song et al. (2021), Figure 2, for our mixture: in each row the exact density p_s(x) as a heat
 * map over time s (across) and x (up), scaled to its peak at each time, sample paths on top, the
 * data density p_0 at the left and the prior p_1 at the right. With `timeAxis: 'noise'` the
 * horizontal axis is the noise level √(1 − ᾱ(s)) instead of s: the DDPM schedule does most of its
 * work early, so on the s axis the second half shows nothing happening.
 */
export function scoreSdeFigure(
  mixture: GaussianMixture,
  sde: VPSDE,
  panels: PathPanel[],
  opts: {
    title?: string;
    range?: [number, number];
    timePoints?: number;
    xPoints?: number;
    pathPoints?: number;
    timeAxis?: 'time' | 'noise';
  } = {},
): Figure {
  const [lo, hi] = opts.range ?? mixture.span(4);
  const xs = linspace(lo, hi, opts.xPoints ?? 160);
  const byNoise = opts.timeAxis === 'noise';
  const axisOf = (s: number) => (byNoise ? Math.sqrt(1 - sde.alphaBar(s)) : s);
  // columns evenly spaced on the axis shown
  const axisPoints = linspace(0, 1, opts.timePoints ?? 120);
  const ss = byNoise ? axisPoints.map((u) => (u === 0 ? 0 : timeAtNoiseLevel(sde, u))) : axisPoints;
  const densityAt = (s: number) => (s === 0 ? mixture : sde.marginal(mixture, s));
  // z[i][j]: density at x_i, time s_j, in percent of its peak at that time, so that the modes
  // stay visible next to the taller prior; whole percent, as many levels as a colour scale
  // shows, are one byte each in the notebook (plots.ts stores integers so)
  const columns = ss.map((s) => {
    const p = densityAt(s);
    const col = xs.map((x) => p.pdf(x));
    const peak = Math.max(...col);
    return col.map((v) => Math.round((100 * v) / peak));
  });
  const z = xs.map((_, i) => columns.map((col) => col[i]));
  const data0 = xs.map((x) => mixture.pdf(x));
  const prior = sde.marginal(mixture, 1);
  const data1 = xs.map((x) => prior.pdf(x));

  const R = panels.length;
  const traces: object[] = [];
  const axes: Record<string, unknown> = {};
  const annotations: object[] = [];
  const columnsDomain: [number, number][] = [
    [0, 0.08],
    [0.1, 0.9],
    [0.92, 1],
  ];
  panels.forEach((panel, r) => {
    const top = 1 - r / R;
    const yDomain = [top - 1 / R + 0.06, top - 0.02];
    const ids = [0, 1, 2].map((c) => 3 * r + c + 1);
    const ref = (kind: 'x' | 'y', id: number) => (id === 1 ? kind : `${kind}${id}`);
    ids.forEach((id, c) => {
      axes[`xaxis${id === 1 ? '' : id}`] = {
        domain: columnsDomain[c],
        anchor: ref('y', id),
        showticklabels: c === 1,
        showgrid: false,
        zeroline: false,
        ...(c === 0 ? { autorange: 'reversed' } : {}),
        ...(c === 1
          ? {
              range: [0, 1],
              title: {
                text:
                  r === R - 1
                    ? byNoise
                      ? 'noise level √(1 − ᾱ(s)) (data at 0, noise at 1)'
                      : 'time s (data at 0, noise at 1)'
                    : '',
              },
            }
          : {}),
      };
      axes[`yaxis${id === 1 ? '' : id}`] = {
        domain: yDomain,
        anchor: ref('x', id),
        range: [lo, hi],
        showticklabels: c === 0,
        title: { text: c === 0 ? 'x' : '' },
        zeroline: false,
      };
    });
    const [left, mid, right] = ids;
    traces.push(
      lineTrace(data0, xs, 'p₀ (data)', {
        color: '#333',
        width: 1.5,
        extra: { xaxis: ref('x', left), yaxis: ref('y', left), showlegend: false },
      }),
    );
    traces.push(
      lineTrace(data1, xs, 'p₁ (prior)', {
        color: '#333',
        width: 1.5,
        extra: { xaxis: ref('x', right), yaxis: ref('y', right), showlegend: false },
      }),
    );
    traces.push({
      type: 'heatmap',
      x: ss.map(axisOf),
      y: xs,
      z,
      colorscale: 'Viridis',
      // one colour bar for all rows (they share the scale: density over its peak at that time)
      showscale: r === 0,
      ...(r === 0
        ? {
            colorbar: {
              title: { text: 'p_s(x), % of max', side: 'right' },
              len: 1 / R,
              y: 1 - 0.5 / R,
              x: 1.02,
              thickness: 12,
            },
          }
        : {}),
      zsmooth: 'best',
      hovertemplate: `${byNoise ? 'noise level' : 's'}=%{x:.2f}<br>x=%{y:.2f}<br>p_s(x) = %{z} % of max p_s<extra></extra>`,
      xaxis: ref('x', mid),
      yaxis: ref('y', mid),
    });
    const { times, x } = panel.trajectory;
    const positions = times.map(axisOf);
    const rows = x[0]?.length ?? 0;
    for (let j = 0; j < rows; j++) {
      traces.push({
        type: 'scatter',
        mode: 'lines',
        name: panel.title,
        ...evenlySpaced(
          positions,
          x.map((row) => row[j]),
          opts.pathPoints ?? 250,
        ),
        line: { color: panel.color ?? 'rgba(255,255,255,0.85)', width: 1 },
        xaxis: ref('x', mid),
        yaxis: ref('y', mid),
        showlegend: false,
        hoverinfo: 'skip',
      });
    }
    annotations.push(panelTitle(panel.title, mid === 1 ? '' : String(mid), { x: 0.5, xanchor: 'center' }));
  });
  return {
    data: traces,
    layout: layout({
      title: opts.title,
      extra: { ...axes, annotations, height: 260 * R + 90, margin: { l: 50, r: 80, t: opts.title ? 60 : 30, b: 50 } },
    }),
  };
}

export interface ScorePanel {
  t: number;
  x: ArrayLike<number>;
  exact: ArrayLike<number>;
  model: ArrayLike<number>;
  density: ArrayLike<number>;
}

/**
 * The trained model's score against the exact one at several timesteps, with the noised density
 * (scaled to the panel) in grey: the model is good where p_t has mass and free elsewhere. The
 * y range covers both curves, clipped one exact-score span beyond the exact curve on each side.
 */
export function scoreCurvesFigure(panels: ScorePanel[], opts: { title?: string; columns?: number } = {}): Figure {
  const columns = opts.columns ?? 3;
  const rows = Math.ceil(panels.length / columns);
  const data: object[] = [];
  const axes: Record<string, unknown> = {};
  const annotations: object[] = [];
  panels.forEach((p, i) => {
    const id = i === 0 ? '' : String(i + 1);
    const on = { xaxis: `x${id}`, yaxis: `y${id}` };
    const exact = Array.from(p.exact);
    const [exactLo, exactHi] = [Math.min(...exact), Math.max(...exact)];
    const span = exactHi - exactLo || 1;
    // cover the learned curve too, up to a span beyond the exact one's on each side
    const model = Array.from(p.model).filter(Number.isFinite);
    const [lo, hi] = [
      Math.max(Math.min(exactLo, ...model), exactLo - span),
      Math.min(Math.max(exactHi, ...model), exactHi + span),
    ];
    const pad = 0.15 * (hi - lo || 1);
    const peak = Math.max(...Array.from(p.density));
    const scaled = Array.from(p.density, (d) => lo - pad + ((hi - lo + 2 * pad) * d) / peak);
    data.push(
      lineTrace(p.x, scaled, 'p_t (scaled)', {
        color: '#bbb',
        width: 1,
        extra: { ...on, fill: 'tozeroy', fillcolor: 'rgba(180,180,180,0.25)', showlegend: i === 0, hoverinfo: 'skip' },
      }),
    );
    data.push(
      lineTrace(p.x, exact, 'exact score', { color: '#d62728', width: 2, extra: { ...on, showlegend: i === 0 } }),
    );
    data.push(
      lineTrace(p.x, p.model, 'trained model', {
        color: '#1f77b4',
        width: 1.5,
        dash: 'dash',
        extra: { ...on, showlegend: i === 0 },
      }),
    );
    axes[`yaxis${id}`] = { range: [lo - pad, hi + pad] };
    annotations.push(panelTitle(`t = ${p.t}`, id, { x: 0.02, xanchor: 'left' }));
  });
  return {
    data,
    layout: layout({
      title: opts.title,
      extra: {
        grid: { rows, columns, pattern: 'independent' },
        ...axes,
        annotations,
        height: 280 * rows + 90,
        legend: { orientation: 'h', y: -0.08 },
      },
    }),
  };
}

/**
 * The model's relative excess v-loss per timestep, (model − optimum)/optimum, and the score's
 * relative error, both on log axes: the two losses themselves overlap at any readable scale.
 */
export function perTimestepFigure(
  bayes: ArrayLike<number>,
  model: ArrayLike<number>,
  scoreErrors: ScoreError[],
  opts: { title?: string } = {},
): Figure {
  const t = Array.from(bayes, (_, i) => i);
  return {
    data: [
      lineTrace(
        t,
        Array.from(model, (m, i) => (m - bayes[i]) / bayes[i]),
        'relative excess v-loss at t',
        { color: '#1f77b4', width: 1 },
      ),
      lineTrace(
        scoreErrors.map((e) => e.t),
        scoreErrors.map((e) => e.relative),
        'relative score error (right axis)',
        {
          color: '#2ca02c',
          mode: 'lines+markers',
          extra: { yaxis: 'y2' },
        },
      ),
    ],
    layout: layout({
      title: opts.title,
      xTitle: 'timestep t',
      yTitle: 'relative excess v-loss',
      logY: true,
      extra: {
        yaxis: { title: { text: 'relative excess v-loss' }, type: 'log', dtick: 1 },
        yaxis2: {
          title: { text: 'relative score error' },
          type: 'log',
          dtick: 1,
          overlaying: 'y',
          side: 'right',
          showgrid: false,
        },
        legend: { orientation: 'h', y: -0.2 },
        height: 460,
        margin: { l: 60, r: 70, t: opts.title ? 50 : 20, b: 50 },
      },
    }),
  };
}
