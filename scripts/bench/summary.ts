// What the bench prints after measuring: the training and inference tables, the project's
// speed targets, and the kernel profile.
import { textTable } from '../../src/notebook/tables';
import type { BenchResults } from './measurements';
import type { TorchReference } from './torch';

/** A number with `d` decimals and thousands separators; — when it is not finite (not measured). */
export const fmt = (v: number, d = 0) => (Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '—');

/** A text table whose first column (the backend) is left-aligned and the numbers right-aligned. */
function table(headers: string[], rows: (string | number)[][]): string {
  return textTable(headers, rows.map((r) => r.map(String)), headers.map((_, i) => i > 0));
}

const torchAt = (torch: TorchReference, B: number) => torch.result?.train.find((t) => t.batch === B);

export function printTrainTable(r: BenchResults, torch: TorchReference): void {
  console.log(`\nTraining throughput (full Trainer step; samples/s; higher is better)`);
  const rows: (string | number)[][] = [];
  for (const fast of r.train.filter((x) => x.gradients === 'fast')) {
    const auto = r.train.find((x) => x.backend === fast.backend && x.batch === fast.batch && x.gradients === 'autograd');
    const pt = torchAt(torch, fast.batch);
    const par = fast.backend === 'wasm' ? r.trainParallel.find((x) => x.batch === fast.batch) : undefined;
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
    table(['backend', 'batch', 'autograd ms', 'fast ms', 'autograd/s', 'fast/s', 'speedup', 'torch ms', 'fast÷torch', '2 workers ms', '2w÷torch', 'peak RSS MB', 'tf MB auto/fast'], rows),
  );
}

export function printInferTable(r: BenchResults, torch: TorchReference): void {
  console.log(`\nInference over 10,000 rows, and a DDPM pass of 10,000 samples × 1,000 steps`);
  const measured = (steps: number) => (steps < 1000 ? `${steps} steps, ×${fmt(1000 / steps)}` : 'full run');
  console.log(
    table(
      ['backend', 'predictor', 'ms/call', 'rows/s', 'DDPM s', 'measured'],
      [
        ...r.infer.map((x) => [x.backend, x.predictor, fmt(x.msPerCall, 1), fmt(x.rowsPerS), fmt(x.ddpmSeconds, 1), measured(x.ddpmStepsMeasured)]),
        ...(r.parallel ? [['wasm', `folded, ${r.parallel.workers} workers`, '—', '—', fmt(r.parallel.seconds, 1), 'full run']] : []),
      ],
    ),
  );
  if (torch.result) console.log(`PyTorch eval forward over ${torch.result.infer.rows} rows: ${fmt(torch.result.infer.ms, 1)} ms (${fmt(torch.result.infer.rows_per_s)} rows/s)`);
  console.log(`PyTorch: ${torch.note}`);
}

/** The project's speed targets, each null when not measured. */
export function targets(r: BenchResults, torch: TorchReference) {
  const wasmFast4096 = r.train.find((x) => x.backend === 'wasm' && x.batch === 4096 && x.gradients === 'fast');
  const pt4096 = torchAt(torch, 4096);
  const ddpm = r.infer.find((x) => x.backend === 'wasm' && x.predictor === 'folded');
  const par4096 = r.trainParallel.find((x) => x.batch === 4096);
  const parallel = r.parallel;
  return {
    trainWithin1_5xTorchAt4096: wasmFast4096 && pt4096 ? { ratio: wasmFast4096.msPerStep / pt4096.ms_per_step, met: wasmFast4096.msPerStep <= 1.5 * pt4096.ms_per_step } : null,
    trainWithin1_5xTorchAt4096Parallel: par4096 && pt4096 ? { workers: par4096.workers, ratio: par4096.msPerStep / pt4096.ms_per_step, met: par4096.msPerStep <= 1.5 * pt4096.ms_per_step } : null,
    ddpm10kBy1000Under60s: ddpm ? { seconds: ddpm.ddpmSeconds, extrapolated: ddpm.ddpmStepsMeasured < 1000, met: ddpm.ddpmSeconds <= 60 } : null,
    ddpm10kBy1000Under60sParallel: parallel ? { ...parallel, met: parallel.seconds <= 60 } : null,
  };
}

export function printTargets(t: ReturnType<typeof targets>): void {
  const verdict = (met: boolean) => (met ? 'MET' : 'not met');
  console.log('\nTargets');
  const t1 = t.trainWithin1_5xTorchAt4096;
  console.log(`  wasm training at batch 4096 within 1.5× of PyTorch: ${t1 ? `${fmt(t1.ratio, 2)}× → ${verdict(t1.met)}` : 'not measured'}`);
  const t1p = t.trainWithin1_5xTorchAt4096Parallel;
  if (t1p) console.log(`  the same on ${t1p.workers} worker threads: ${fmt(t1p.ratio, 2)}× → ${verdict(t1p.met)}`);
  const t2 = t.ddpm10kBy1000Under60s;
  console.log(`  10,000 × 1,000-step DDPM on wasm ≤ 60 s: ${t2 ? `${fmt(t2.seconds, 1)} s${t2.extrapolated ? ' (extrapolated)' : ''} → ${verdict(t2.met)}` : 'not measured'}`);
  const t3 = t.ddpm10kBy1000Under60sParallel;
  if (t3) console.log(`  the same on ${t3.workers} worker threads: ${fmt(t3.seconds, 1)} s → ${verdict(t3.met)}`);
}

export function printProfile(profile: BenchResults['profile']): void {
  if (!profile) return;
  console.log(`\nwasm kernel profile of one fast training step at batch ${profile.batch} (sum ${fmt(profile.kernelMs, 1)} ms)`);
  console.log('  ' + profile.byKernel.slice(0, 10).map((k) => `${k.name} ${fmt(k.ms, 1)} ms/${k.calls}`).join(', '));
  console.log('  largest matMuls: ' + profile.matMuls.slice(0, 6).map((m) => `[${m.a}]·[${m.b}] ${fmt(m.ms, 1)} ms = ${fmt(m.gflops, 1)} GFLOP/s`).join('; '));
}
