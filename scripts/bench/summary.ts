// What the bench prints after measuring: the training and inference tables, the project's
// speed targets, and the kernel profile.
import { textTable } from '../../src/notebook/tables';
import type { BenchResults } from './measurements';
import type { TorchReference } from './torch';

/** A number with `d` decimals and thousands separators; — when it is not finite (not measured). */
export const fmt = (v: number, d = 0) =>
  Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '—';

/** A text table whose first column (the backend) is left-aligned and the numbers right-aligned. */
function table(headers: string[], rows: (string | number)[][]): string {
  return textTable(
    headers,
    rows.map((r) => r.map(String)),
    headers.map((_, i) => i > 0),
  );
}

const torchAt = (torch: TorchReference, B: number) => torch.result?.train.find((t) => t.batch === B);

export function printTrainTable(r: BenchResults, torch: TorchReference): void {
  console.log(`\nTraining throughput (full Trainer step; samples/s; higher is better)`);
  const rows: (string | number)[][] = [];
  for (const fast of r.train.filter((x) => x.gradients === 'fast')) {
    const auto = r.train.find(
      (x) => x.backend === fast.backend && x.batch === fast.batch && x.gradients === 'autograd',
    );
    const pt = torchAt(torch, fast.batch);
    const par = r.trainParallel.find((x) => x.backend === fast.backend && x.batch === fast.batch);
    rows.push([
      fast.backend,
      fast.batch,
      auto ? fmt(auto.msPerStep, 1) : '—',
      fmt(fast.msPerStep, 1),
      auto ? fmt(auto.samplesPerS) : '—',
      fmt(fast.samplesPerS),
      auto ? `${fmt(auto.msPerStep / fast.msPerStep, 1)}×` : '—',
      pt ? fmt(pt.ms_per_step, 1) : '—',
      pt ? `${fmt(fast.msPerStep / pt.ms_per_step, 2)}×` : '—',
      par ? fmt(par.msPerStep, 1) : '—',
      par && pt ? `${fmt(par.msPerStep / pt.ms_per_step, 2)}×` : '—',
      fmt(Math.max(fast.peakRssMB, auto?.peakRssMB ?? 0)),
      `${fmt(auto?.peakTfMB ?? NaN)} / ${fmt(fast.peakTfMB)}`,
    ]);
  }
  console.log(
    table(
      [
        'backend',
        'batch',
        'autograd ms',
        'fast ms',
        'autograd/s',
        'fast/s',
        'speedup',
        'torch ms',
        'fast÷torch',
        '2 workers ms',
        '2w÷torch',
        'peak RSS MB',
        'tf MB auto/fast',
      ],
      rows,
    ),
  );
}

export function printInferTable(r: BenchResults, torch: TorchReference): void {
  console.log(`\nInference over 10,000 rows, and a DDPM pass of 10,000 samples × 1,000 steps`);
  const measured = (steps: number) => (steps < 1000 ? `${steps} steps, ×${fmt(1000 / steps)}` : 'full run');
  console.log(
    table(
      ['backend', 'predictor', 'ms/call', 'rows/s', 'DDPM s', 'measured'],
      [
        ...r.infer.map((x) => [
          x.backend,
          x.predictor,
          fmt(x.msPerCall, 1),
          fmt(x.rowsPerS),
          fmt(x.ddpmSeconds, 1),
          measured(x.ddpmStepsMeasured),
        ]),
        ...r.parallelDdpm.map((x) => [
          x.backend,
          `folded, ${x.workers} workers`,
          '—',
          '—',
          fmt(x.seconds, 1),
          'full run',
        ]),
      ],
    ),
  );
  if (torch.result)
    console.log(
      `PyTorch eval forward over ${torch.result.infer.rows} rows: ${fmt(torch.result.infer.ms, 1)} ms (${fmt(torch.result.infer.rows_per_s)} rows/s)`,
    );
  console.log(`PyTorch: ${torch.note}`);
}

/** The fastest training step measured on a backend at a batch size: one thread, or worker threads. */
function fastestTraining(r: BenchResults, backend: string, B: number): { ms: number; how: string } | null {
  const options = [
    ...r.train
      .filter((x) => x.backend === backend && x.batch === B && x.gradients === 'fast')
      .map((x) => ({ ms: x.msPerStep, how: 'fast, 1 thread' })),
    ...r.trainParallel
      .filter((x) => x.backend === backend && x.batch === B)
      .map((x) => ({ ms: x.msPerStep, how: `fast, ${x.workers} worker threads` })),
  ];
  return options.reduce<{ ms: number; how: string } | null>((best, o) => (best && best.ms <= o.ms ? best : o), null);
}

/**
 * The project's speed targets on the default backend (the first that loaded, as the notebooks
 * choose it), each null when not measured: training at batch 4096 no slower than PyTorch on the
 * same machine, and a 10,000 × 1,000-step DDPM pass with the folded predictor within 30 s.
 */
export function targets(r: BenchResults, torch: TorchReference) {
  const backend = r.backends.find((b) => b.ok)?.name ?? null;
  const versusTorch = [1024, 4096].map((B) => {
    const ours = backend ? fastestTraining(r, backend, B) : null;
    const pt = torchAt(torch, B);
    return ours && pt
      ? { batch: B, backend, how: ours.how, ms: ours.ms, torchMs: pt.ms_per_step, ratio: ours.ms / pt.ms_per_step }
      : null;
  });
  const at4096 = versusTorch[1];
  const ddpmRuns = [
    ...r.infer
      .filter((x) => x.backend === backend && x.predictor === 'folded')
      .map((x) => ({
        seconds: x.ddpmSeconds,
        how: x.ddpmStepsMeasured < 1000 ? 'one thread, extrapolated' : 'one thread',
      })),
    ...r.parallelDdpm
      .filter((x) => x.backend === backend)
      .map((x) => ({ seconds: x.seconds, how: `${x.workers} worker threads, full run` })),
  ];
  const ddpm = ddpmRuns.reduce<(typeof ddpmRuns)[number] | null>(
    (best, x) => (best && best.seconds <= x.seconds ? best : x),
    null,
  );
  return {
    backend,
    trainVersusTorch: versusTorch,
    trainNoSlowerThanTorchAt4096: at4096 ? { ...at4096, met: at4096.ratio <= 1 } : null,
    ddpm10kBy1000Within30s: ddpm ? { ...ddpm, backend, met: ddpm.seconds <= 30 } : null,
  };
}

export function printTargets(t: ReturnType<typeof targets>): void {
  const verdict = (met: boolean) => (met ? 'MET' : 'not met');
  console.log(`
Targets (default backend: ${t.backend ?? 'none'})`);
  for (const v of t.trainVersusTorch) {
    if (v)
      console.log(
        `  training at batch ${v.batch}: ${fmt(v.ms, 1)} ms/step (${v.backend}, ${v.how}) against PyTorch's ${fmt(v.torchMs, 1)} ms: ${fmt(v.ratio, 2)}×`,
      );
  }
  const t1 = t.trainNoSlowerThanTorchAt4096;
  console.log(
    `  training at batch 4096 no slower than PyTorch (ratio ≤ 1): ${t1 ? `${fmt(t1.ratio, 2)}× → ${verdict(t1.met)}` : 'not measured'}`,
  );
  const t2 = t.ddpm10kBy1000Within30s;
  console.log(
    `  10,000 × 1,000-step DDPM ≤ 30 s: ${t2 ? `${fmt(t2.seconds, 1)} s (${t2.backend}, ${t2.how}) → ${verdict(t2.met)}` : 'not measured'}`,
  );
}

export function printProfile(profile: BenchResults['profile']): void {
  if (!profile) return;
  console.log(
    `\n${profile.backend} kernel profile of one fast training step at batch ${profile.batch} (sum ${fmt(profile.kernelMs, 1)} ms)`,
  );
  console.log(
    '  ' +
      profile.byKernel
        .slice(0, 14)
        .map((k) => `${k.name} ${fmt(k.ms, 1)} ms/${k.calls}`)
        .join(', '),
  );
  console.log(
    '  largest matMuls: ' +
      profile.matMuls
        .slice(0, 6)
        .map((m) => `[${m.a}]·[${m.b}] ${fmt(m.ms, 1)} ms = ${fmt(m.gflops, 1)} GFLOP/s`)
        .join('; '),
  );
}
