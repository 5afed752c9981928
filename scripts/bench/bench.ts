// Benchmark of training and sampling speed: `npm run bench` (or `node dist/scripts/bench/bench.js`).
//
// For each tfjs backend that starts (tensorflow, wasm, cpu) and batch size: training throughput
// with plain autograd and with the fast hand-written gradients (src/fast.ts), each a full Trainer
// step (data, masks, gradients, AdamW + clip, EMA, BatchNorm statistics); inference rows/s (plain
// model.predict and the folded predictor); the time of a 10,000-sample × 1,000-step DDPM pass; peak
// memory. When Debian's PyTorch is importable (/usr/bin/python3), the same training step in
// PyTorch (scripts/bench_torch.py) is measured in the same run and shown as a ratio.
//
// Flags: --quick (batch 1024 only, short timings), --full (also the real 1,000-step DDPM pass with
// the folded predictor, and cpu at every batch size), --backends=wasm,cpu, --batches=1024,4096, --seconds=N (minimum
// timed seconds per measurement), --no-torch, --no-profile, --out=PATH (default build/bench.json).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../../src/runtime/backend';
import { REPO_ROOT } from '../../src/runtime/paths';
import { foldedVelocity } from '../../src/model/backprop';
import { GaussianMixture } from '../../src/math/mixture';
import { Rng } from '../../src/math/rng';
import { ddpmSampleModel } from '../../src/sample/parallel/coordinator';
import { ddpmSample } from '../../src/sample/ddpm';
import { plainModelVelocity } from '../../src/model/predictors';
import type { VelocityPredictor } from '../../src/diffusion/predictor';
import { DDPMScheduler, TUTORIAL_SCHEDULER } from '../../src/diffusion/scheduler';
import { Trainer, type GradientMode } from '../../src/train/trainer';
import { textTable } from '../../src/notebook/tables';

interface Options {
  quick: boolean;
  full: boolean;
  backends: BackendName[];
  batches: number[];
  seconds: number;
  torch: boolean;
  profile: boolean;
  out: string;
}

function parseArgs(argv: string[]): Options {
  const flag = (name: string) => argv.includes(`--${name}`);
  const value = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const quick = flag('quick');
  const full = flag('full');
  const list = (s: string | undefined) => s?.split(',').map((x) => x.trim()).filter(Boolean);
  return {
    quick,
    full,
    backends: (list(value('backends')) ?? ['tensorflow', 'wasm', 'cpu']) as BackendName[],
    batches: (list(value('batches')) ?? (quick ? ['1024'] : ['1024', '4096', '16384'])).map(Number),
    seconds: Number(value('seconds') ?? (quick ? 1 : 3)),
    torch: !flag('no-torch'),
    profile: !flag('no-profile') && !quick,
    out: value('out') ?? path.join('build', 'bench.json'),
  };
}

const mixture = GaussianMixture.default();
const scheduler = new DDPMScheduler(TUTORIAL_SCHEDULER);

interface Peak {
  rss: number;
  tfBytes: number;
}
const peak: Peak = { rss: 0, tfBytes: 0 };
function notePeak(): void {
  peak.rss = Math.max(peak.rss, process.memoryUsage().rss);
  peak.tfBytes = Math.max(peak.tfBytes, tf.memory().numBytes);
}
function resetPeak(): void {
  peak.rss = 0;
  peak.tfBytes = 0;
  notePeak();
}

/** Time `step` after `warmup` calls: at least minSteps calls and minSeconds, at most maxSeconds. */
function timeIt(step: () => void, o: { warmup: number; minSteps: number; minSeconds: number; maxSeconds: number }): { n: number; ms: number } {
  for (let i = 0; i < o.warmup; i++) step();
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (n < o.minSteps || elapsed < o.minSeconds * 1000) {
    step();
    notePeak();
    n += 1;
    elapsed = performance.now() - start;
    if (elapsed > o.maxSeconds * 1000 && n >= 1) break;
  }
  return { n, ms: elapsed / n };
}

interface TrainResult {
  backend: string;
  batch: number;
  gradients: GradientMode;
  steps: number;
  msPerStep: number;
  samplesPerS: number;
  peakRssMB: number;
  peakTfMB: number;
}

function benchTrain(backend: string, B: number, gradients: GradientMode, o: Options, slow: boolean): TrainResult {
  resetPeak();
  const tr = new Trainer(mixture, scheduler, { batchSize: B, steps: 1_000_000, gradients, logEvery: 1_000_000 });
  const autograd = gradients === 'autograd';
  const { n, ms } = timeIt(
    () => {
      tr.trainStep();
      tr.model.params.get('dense_out/bias')!.dataSync(); // wait for the step (wasm/cpu are synchronous anyway)
    },
    {
      warmup: autograd || slow ? 1 : 3,
      minSteps: autograd || slow ? 2 : 5,
      minSeconds: autograd || slow ? Math.min(o.seconds, 2) : o.seconds,
      maxSeconds: slow ? 8 : 20,
    },
  );
  tr.dispose();
  return { backend, batch: B, gradients, steps: n, msPerStep: ms, samplesPerS: (B * 1000) / ms, peakRssMB: peak.rss / 2 ** 20, peakTfMB: peak.tfBytes / 2 ** 20 };
}

/** The fast step on `workers` threads (data-parallel, src/parallel-train.ts), timed between logs so start-up is excluded. */
async function benchTrainParallel(B: number, workers: number): Promise<{ batch: number; workers: number; steps: number; msPerStep: number; samplesPerS: number }> {
  // fresh workers start on baseline-compiled wasm and JS; the optimising tiers need some steps
  const steps = B <= 1024 ? 80 : B <= 4096 ? 40 : 10;
  const warm = B <= 1024 ? 40 : B <= 4096 ? 20 : 5;
  const tr = new Trainer(mixture, scheduler, { batchSize: B, steps: warm + steps, logEvery: warm, workers });
  let startedAt = 0;
  await tr.run((log) => {
    if (log.step === warm) startedAt = log.elapsed;
  });
  const last = tr.history[tr.history.length - 1];
  const msPerStep = (1000 * (last.elapsed - startedAt)) / (last.step - warm);
  tr.dispose();
  return { batch: B, workers, steps, msPerStep, samplesPerS: (B * 1000) / msPerStep };
}

interface InferResult {
  backend: string;
  predictor: 'plain' | 'folded';
  rows: number;
  msPerCall: number;
  rowsPerS: number;
  /** Seconds of a DDPM pass of `ddpmRows` samples × 1,000 steps. */
  ddpmSeconds: number;
  ddpmRows: number;
  /** Steps actually run; < 1000 means ddpmSeconds is extrapolated. */
  ddpmStepsMeasured: number;
}

/** The DDPM loop of ddpmSample for the first `steps` timesteps, timed (the full pass takes 1000). */
function timeDdpmSteps(predictor: VelocityPredictor, n: number, steps: number): number {
  const rng = new Rng(1).fork('bench-sample');
  let x = tf.tensor2d(rng.normals(n), [n, 1]);
  const start = performance.now();
  for (let i = 0; i < steps; i++) {
    const t = scheduler.timesteps[i];
    const v = predictor.predict(x, t);
    const noise = tf.tensor2d(rng.normals(n), [n, 1]);
    const { prevSample, predOriginalSample } = scheduler.step(v, t, x, { noise });
    tf.dispose([x, v, noise, predOriginalSample]);
    x = prevSample as tf.Tensor2D;
    notePeak();
  }
  x.dataSync();
  const ms = performance.now() - start;
  x.dispose();
  return ms;
}

async function benchInfer(backend: string, which: 'plain' | 'folded', o: Options, slow: boolean): Promise<InferResult> {
  const rows = 10_000;
  const tr = new Trainer(mixture, scheduler, { batchSize: 256, steps: 10 });
  for (let i = 0; i < 3; i++) tr.trainStep(); // running statistics away from their initial values
  const folded = which === 'folded' ? foldedVelocity(tr.model, tr.ema.values) : null;
  const predictor = folded ?? plainModelVelocity(tr.model, tr.ema.values);
  const x = tf.randomNormal([rows, 1]) as tf.Tensor2D;
  let t = 0;
  const { ms } = timeIt(
    () => {
      const v = predictor.predict(x, (t = (t + 37) % 1000));
      v.dataSync();
      v.dispose();
    },
    { warmup: slow ? 1 : 3, minSteps: slow ? 2 : 10, minSeconds: slow ? 1 : Math.min(o.seconds, 2), maxSeconds: 10 },
  );
  x.dispose();
  let ddpmSeconds: number;
  let stepsMeasured: number;
  if (o.full && !slow && which === 'folded') {
    // (the plain predictor's full pass would take minutes: it stays extrapolated)
    const r = await ddpmSample({ predictor, scheduler, n: rows, rng: new Rng(1).fork('bench-sample') });
    ddpmSeconds = r.seconds;
    stepsMeasured = scheduler.timesteps.length;
  } else {
    stepsMeasured = slow ? 3 : which === 'plain' ? 10 : o.quick ? 30 : 100;
    ddpmSeconds = (timeDdpmSteps(predictor, rows, stepsMeasured) / 1000) * (scheduler.timesteps.length / stepsMeasured);
  }
  folded?.dispose();
  tr.dispose();
  return { backend, predictor: which, rows, msPerCall: ms, rowsPerS: (rows * 1000) / ms, ddpmSeconds, ddpmRows: rows, ddpmStepsMeasured: stepsMeasured };
}

/** A real 10,000 × 1,000-step DDPM pass split by rows over worker threads (src/parallel-sample.ts). */
async function benchParallelDdpm(workers: number): Promise<{ workers: number; seconds: number }> {
  const tr = new Trainer(mixture, scheduler, { batchSize: 256, steps: 10 });
  for (let i = 0; i < 3; i++) tr.trainStep();
  const r = await ddpmSampleModel({ model: tr.model, params: tr.ema.values, scheduler, n: 10_000, rng: new Rng(1).fork('bench-sample'), workers });
  tr.dispose();
  return { workers, seconds: r.seconds };
}

interface TorchResult {
  torch: string;
  threads: number;
  train: { batch: number; steps: number; ms_per_step: number; samples_per_s: number }[];
  infer: { rows: number; ms: number; rows_per_s: number };
}

function benchTorch(o: Options): { result?: TorchResult; note: string } {
  const py = '/usr/bin/python3';
  const probe = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return { note: `PyTorch not importable by ${py} (apt-get install -y python3-torch)` };
  const script = path.join(REPO_ROOT, 'scripts', 'bench', 'bench_torch.py');
  const r = spawnSync(py, [script, `--batches=${o.batches.join(',')}`, `--seconds=${o.seconds}`], {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '2' },
    timeout: 300_000,
  });
  if (r.status !== 0) return { note: `bench_torch.py failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}` };
  return { result: JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchResult, note: 'OPENBLAS_NUM_THREADS=1, torch.set_num_threads(2)' };
}

interface ProfileResult {
  batch: number;
  kernelMs: number;
  byKernel: { name: string; ms: number; calls: number }[];
  /** The largest matMuls: shapes and achieved GFLOP/s. */
  matMuls: { a: number[]; b: number[]; ms: number; gflops: number }[];
}

async function profileFastStep(B: number): Promise<ProfileResult> {
  const tr = new Trainer(mixture, scheduler, { batchSize: B, steps: 1000 });
  for (let i = 0; i < 3; i++) tr.trainStep();
  const prof = await tf.profile(() => {
    tr.trainStep();
  });
  tr.dispose();
  const agg = new Map<string, { ms: number; calls: number }>();
  for (const k of prof.kernels) {
    const a = agg.get(k.name) ?? { ms: 0, calls: 0 };
    a.ms += k.kernelTimeMs as number;
    a.calls += 1;
    agg.set(k.name, a);
  }
  const byKernel = [...agg].map(([name, v]) => ({ name, ...v })).sort((a, b) => b.ms - a.ms);
  const matMuls = prof.kernels
    .filter((k) => k.name === 'BatchMatMul' || k.name === '_FusedMatMul')
    .map((k) => {
      const [a, b] = k.inputShapes as number[][];
      const flops = 2 * a[0] * a[1] * b[1];
      return { a, b, ms: k.kernelTimeMs as number, gflops: flops / (k.kernelTimeMs as number) / 1e6 };
    })
    .filter((m) => m.ms > 0.5)
    .sort((x, y) => y.ms - x.ms);
  return { batch: B, kernelMs: byKernel.reduce((s, k) => s + k.ms, 0), byKernel, matMuls };
}

const fmt = (v: number, d = 0) => (Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '—');
/** A text table whose first column (the backend) is left-aligned and the numbers right-aligned. */
function table(headers: string[], rows: (string | number)[][]): string {
  return textTable(headers, rows.map((r) => r.map(String)), headers.map((_, i) => i > 0));
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const started = new Date();
  const load0 = os.loadavg();
  console.log(`bench: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), load average ${load0.map((l) => l.toFixed(2)).join(' ')}`);
  if (load0[0] > 0.5) console.log('  note: the machine is not idle; other processes skew every number below (tfjs and PyTorch alike)');
  const backends: { name: BackendName; ok: boolean; error?: string }[] = [];
  const train: TrainResult[] = [];
  const infer: InferResult[] = [];
  let profile: ProfileResult | undefined;
  let parallel: { workers: number; seconds: number } | undefined;
  const trainParallel: Awaited<ReturnType<typeof benchTrainParallel>>[] = [];

  // PyTorch first, so both sides see the machine in a similar state
  let torch: ReturnType<typeof benchTorch> = { note: 'skipped (--no-torch)' };
  if (o.torch) {
    process.stdout.write('PyTorch reference … ');
    torch = benchTorch(o);
    console.log(torch.result ? `torch ${torch.result.torch}, ${torch.result.threads} threads` : torch.note);
  }

  for (const name of o.backends) {
    try {
      const info = await initBackend(name);
      if (tf.getBackend() !== name) throw new Error(`tfjs runs on '${tf.getBackend()}'`);
      backends.push({ name: info.name, ok: true });
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0];
      backends.push({ name, ok: false, error: msg });
      console.log(`backend ${name}: unavailable (${msg})`);
      continue;
    }
    const slow = name === 'cpu';
    const batches = slow && !o.full ? o.batches.filter((b) => b <= 1024) : o.batches;
    for (const B of batches) {
      for (const g of ['fast', 'autograd'] as const) {
        const r = benchTrain(name, B, g, o, slow || (g === 'autograd' && B >= 16384));
        train.push(r);
        console.log(`  ${name} B=${B} ${g}: ${fmt(r.msPerStep, 1)} ms/step (${r.steps} steps), ${fmt(r.samplesPerS)} samples/s`);
      }
      if (name === 'wasm') {
        const r = await benchTrainParallel(B, 2);
        trainParallel.push(r);
        console.log(`  ${name} B=${B} fast on ${r.workers} worker threads: ${fmt(r.msPerStep, 1)} ms/step (${r.steps} steps), ${fmt(r.samplesPerS)} samples/s`);
      }
    }
    for (const which of ['folded', 'plain'] as const) {
      resetPeak();
      const r = await benchInfer(name, which, o, slow);
      infer.push(r);
      console.log(`  ${name} ${which} predictor: ${fmt(r.msPerCall, 1)} ms per 10,000 rows; DDPM 10,000 × 1,000: ${fmt(r.ddpmSeconds, 1)} s` + (r.ddpmStepsMeasured < 1000 ? ` (extrapolated from ${r.ddpmStepsMeasured} steps)` : ''));
    }
    if (name === 'wasm') {
      parallel = await benchParallelDdpm(2);
      console.log(`  ${name} folded predictor on ${parallel.workers} worker threads: DDPM 10,000 × 1,000: ${fmt(parallel.seconds, 1)} s (full run)`);
    }
    if (name === 'wasm' && o.profile) profile = await profileFastStep(o.batches.includes(4096) ? 4096 : o.batches[0]);
  }

  // Report.
  console.log(`\nTraining throughput (full Trainer step; samples/s; higher is better)`);
  const torchAt = (B: number) => torch.result?.train.find((t) => t.batch === B);
  const rows: (string | number)[][] = [];
  for (const r of train.filter((x) => x.gradients === 'fast')) {
    const auto = train.find((x) => x.backend === r.backend && x.batch === r.batch && x.gradients === 'autograd');
    const pt = torchAt(r.batch);
    const par = r.backend === 'wasm' ? trainParallel.find((x) => x.batch === r.batch) : undefined;
    rows.push([
      r.backend,
      r.batch,
      auto ? fmt(auto.msPerStep, 1) : '—',
      fmt(r.msPerStep, 1),
      auto ? fmt(auto.samplesPerS) : '—',
      fmt(r.samplesPerS),
      auto ? `${fmt(auto.msPerStep / r.msPerStep, 1)}×` : '—',
      pt ? fmt(pt.ms_per_step, 1) : '—',
      pt ? `${fmt(r.msPerStep / pt.ms_per_step, 2)}×` : '—',
      par ? fmt(par.msPerStep, 1) : '—',
      par && pt ? `${fmt(par.msPerStep / pt.ms_per_step, 2)}×` : '—',
      fmt(Math.max(r.peakRssMB, auto?.peakRssMB ?? 0)),
      `${fmt(auto?.peakTfMB ?? NaN)} / ${fmt(r.peakTfMB)}`,
    ]);
  }
  console.log(
    table(['backend', 'batch', 'autograd ms', 'fast ms', 'autograd/s', 'fast/s', 'speedup', 'torch ms', 'fast÷torch', '2 workers ms', '2w÷torch', 'peak RSS MB', 'tf MB auto/fast'], rows),
  );
  console.log(`\nInference over 10,000 rows, and a DDPM pass of 10,000 samples × 1,000 steps`);
  console.log(
    table(
      ['backend', 'predictor', 'ms/call', 'rows/s', 'DDPM s', 'measured'],
      [
        ...infer.map((r) => [r.backend, r.predictor, fmt(r.msPerCall, 1), fmt(r.rowsPerS), fmt(r.ddpmSeconds, 1), r.ddpmStepsMeasured < 1000 ? `${r.ddpmStepsMeasured} steps, ×${fmt(1000 / r.ddpmStepsMeasured)}` : 'full run']),
        ...(parallel ? [['wasm', `folded, ${parallel.workers} workers`, '—', '—', fmt(parallel.seconds, 1), 'full run']] : []),
      ],
    ),
  );
  if (torch.result) console.log(`PyTorch eval forward over ${torch.result.infer.rows} rows: ${fmt(torch.result.infer.ms, 1)} ms (${fmt(torch.result.infer.rows_per_s)} rows/s)`);
  console.log(`PyTorch: ${torch.note}`);

  // Targets.
  const wasmFast4096 = train.find((r) => r.backend === 'wasm' && r.batch === 4096 && r.gradients === 'fast');
  const pt4096 = torchAt(4096);
  const ddpm = infer.find((r) => r.backend === 'wasm' && r.predictor === 'folded');
  const par4096 = trainParallel.find((r) => r.batch === 4096);
  const targets = {
    trainWithin1_5xTorchAt4096: wasmFast4096 && pt4096 ? { ratio: wasmFast4096.msPerStep / pt4096.ms_per_step, met: wasmFast4096.msPerStep <= 1.5 * pt4096.ms_per_step } : null,
    trainWithin1_5xTorchAt4096Parallel: par4096 && pt4096 ? { workers: par4096.workers, ratio: par4096.msPerStep / pt4096.ms_per_step, met: par4096.msPerStep <= 1.5 * pt4096.ms_per_step } : null,
    ddpm10kBy1000Under60s: ddpm ? { seconds: ddpm.ddpmSeconds, extrapolated: ddpm.ddpmStepsMeasured < 1000, met: ddpm.ddpmSeconds <= 60 } : null,
    ddpm10kBy1000Under60sParallel: parallel ? { ...parallel, met: parallel.seconds <= 60 } : null,
  };
  console.log('\nTargets');
  const t1 = targets.trainWithin1_5xTorchAt4096;
  console.log(`  wasm training at batch 4096 within 1.5× of PyTorch: ${t1 ? `${fmt(t1.ratio, 2)}× → ${t1.met ? 'MET' : 'not met'}` : 'not measured'}`);
  const t1p = targets.trainWithin1_5xTorchAt4096Parallel;
  if (t1p) console.log(`  the same on ${t1p.workers} worker threads: ${fmt(t1p.ratio, 2)}× → ${t1p.met ? 'MET' : 'not met'}`);
  const t2 = targets.ddpm10kBy1000Under60s;
  console.log(`  10,000 × 1,000-step DDPM on wasm ≤ 60 s: ${t2 ? `${fmt(t2.seconds, 1)} s${t2.extrapolated ? ' (extrapolated)' : ''} → ${t2.met ? 'MET' : 'not met'}` : 'not measured'}`);
  const t3 = targets.ddpm10kBy1000Under60sParallel;
  if (t3) console.log(`  the same on ${t3.workers} worker threads: ${fmt(t3.seconds, 1)} s → ${t3.met ? 'MET' : 'not met'}`);

  if (profile) {
    console.log(`\nwasm kernel profile of one fast training step at batch ${profile.batch} (sum ${fmt(profile.kernelMs, 1)} ms)`);
    console.log('  ' + profile.byKernel.slice(0, 10).map((k) => `${k.name} ${fmt(k.ms, 1)} ms/${k.calls}`).join(', '));
    console.log('  largest matMuls: ' + profile.matMuls.slice(0, 6).map((m) => `[${m.a}]·[${m.b}] ${fmt(m.ms, 1)} ms = ${fmt(m.gflops, 1)} GFLOP/s`).join('; '));
  }
  const load1 = os.loadavg();
  console.log(`\nload average at the end: ${load1.map((l) => l.toFixed(2)).join(' ')}`);
  const report = {
    started: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavgStart: load0, loadavgEnd: load1, node: process.version, tfjs: tf.version.tfjs },
    options: o,
    backends,
    train,
    trainParallel,
    infer,
    torch: torch.result ?? null,
    torchNote: torch.note,
    targets,
    profile: profile ?? null,
  };
  fs.mkdirSync(path.dirname(o.out), { recursive: true });
  fs.writeFileSync(o.out, JSON.stringify(report, null, 2));
  console.log(`wrote ${o.out} (${fmt(report.seconds)} s)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
