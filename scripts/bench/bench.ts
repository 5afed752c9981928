// Benchmark of training and sampling speed: `npm run bench` (or `node dist/scripts/bench/bench.js`).
//
// For each tfjs backend that starts (tensorflow, wasm, cpu) and batch size: training throughput
// with plain autograd and with the fast hand-written gradients (src/model/training-pass.ts), each a full
// Trainer step (data, masks, gradients, AdamW + clip, EMA, BatchNorm statistics); inference rows/s
// (plain model.predict and the folded predictor); the time of a 10,000-sample × 1,000-step DDPM
// pass; peak memory. When Debian's PyTorch is importable (/usr/bin/python3), the same training step
// in PyTorch (scripts/bench/bench_torch.py) is measured in the same run and shown as a ratio; so
// are the tutorial's own jitted JAX step (batches 1,024 and 4,096) and a jitted 10,000-row forward
// pass (scripts/bench/bench_jax.py) when the reference venv exists (npm run reference makes it).
//
// Flags: --quick (batch 1024 only, short timings), --full (also the real 1,000-step DDPM pass with
// the folded predictor, and cpu at every batch size), --backends=wasm,cpu, --batches=1024,4096, --seconds=N (minimum
// timed seconds per measurement), --no-torch, --no-jax, --no-profile, --out=PATH (default build/bench.json).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../../src/runtime/backend';
import {
  benchInfer,
  benchParallelDdpm,
  benchRegressionTargets,
  benchTrain,
  benchTrainParallel,
  profileFastStep,
  type BenchResults,
} from './measurements';
import { parseArgs, type Options } from './options';
import { fmt, printInferTable, printProfile, printTargets, printTrainTable, targets } from './summary';
import { benchJax, printJaxComparison, type JaxReference } from './jax';
import { benchTorch, fasterTorch, type TorchReference } from './torch';
import { resetPeak } from './timing';

/** Prints the machine and its load; returns the load averages. */
function printMachine(): number[] {
  const load = os.loadavg();
  console.log(
    `bench: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), load average ${load.map((l) => l.toFixed(2)).join(' ')}`,
  );
  if (load[0] > 0.5)
    console.log('  note: the machine is not idle; other processes skew every number below (tfjs and PyTorch alike)');
  return load;
}

/** PyTorch runs before and after the tfjs measurements, so both sides see the machine in a similar state. */
function runTorchReference(o: Options, label: string): TorchReference {
  if (!o.torch) return { note: 'skipped (--no-torch)' };
  process.stdout.write(`PyTorch reference (${label}) … `);
  const torch = benchTorch(o);
  console.log(
    torch.result
      ? `torch ${torch.result.torch}, ${torch.result.threads} threads: ${torch.result.train.map((t) => `B ${t.batch} ${fmt(t.ms_per_step, 1)} ms/step`).join(', ')}`
      : torch.note,
  );
  return torch;
}

/** The tutorial's JAX step, right after PyTorch for the same reason. */
function runJaxReference(o: Options): JaxReference {
  if (!o.jax) return { note: 'skipped (--no-jax)' };
  process.stdout.write('JAX reference … ');
  const jax = benchJax(o);
  console.log(jax.result ? `jax ${jax.result.jax}, ${jax.result.devices} CPU device(s)` : jax.note);
  return jax;
}

/** Switches tfjs to `name` and records whether it started. */
async function startBackend(name: BackendName, results: BenchResults): Promise<boolean> {
  try {
    const info = await initBackend(name);
    if (tf.getBackend() !== name) throw new Error(`tfjs runs on '${tf.getBackend()}'`);
    results.backends.push({ name: info.name, ok: true });
    return true;
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    results.backends.push({ name, ok: false, error: msg });
    console.log(`backend ${name}: unavailable (${msg})`);
    return false;
  }
}

/** Training steps at each batch size, both gradient modes; on wasm also on 2 worker threads. */
async function benchTraining(name: BackendName, o: Options, slow: boolean, results: BenchResults): Promise<void> {
  const batches = slow && !o.full ? o.batches.filter((b) => b <= 1024) : o.batches;
  for (const B of batches) {
    for (const g of ['fast', 'autograd'] as const) {
      const r = benchTrain(name, B, g, o, slow || (g === 'autograd' && B >= 16384));
      results.train.push(r);
      console.log(
        `  ${name} B=${B} ${g}: ${fmt(r.msPerStep, 1)} ms/step (${r.steps} steps), ${fmt(r.samplesPerS)} samples/s`,
      );
    }
    if (!slow) {
      const r = await benchTrainParallel(name, B, 2);
      results.trainParallel.push(r);
      console.log(
        `  ${name} B=${B} fast on ${r.workers} worker threads: ${fmt(r.msPerStep, 1)} ms/step (${r.steps} steps), ${fmt(r.samplesPerS)} samples/s`,
      );
    }
  }
}

/** Inference and DDPM passes with both predictors, and the DDPM pass on 2 worker threads. */
async function benchSampling(name: BackendName, o: Options, slow: boolean, results: BenchResults): Promise<void> {
  for (const which of ['folded', 'plain'] as const) {
    resetPeak();
    const r = await benchInfer(name, which, o, slow);
    results.infer.push(r);
    console.log(
      `  ${name} ${which} predictor: ${fmt(r.msPerCall, 1)} ms per 10,000 rows; DDPM 10,000 × 1,000: ${fmt(r.ddpmSeconds, 1)} s` +
        (r.ddpmStepsMeasured < 1000 ? ` (extrapolated from ${r.ddpmStepsMeasured} steps)` : ''),
    );
  }
  if (!slow) {
    const parallel = await benchParallelDdpm(name, 2);
    results.parallelDdpm.push(parallel);
    console.log(
      `  ${name} folded predictor on ${parallel.workers} worker threads: DDPM 10,000 × 1,000: ${fmt(parallel.seconds, 1)} s (full run)`,
    );
  }
}

async function benchBackend(name: BackendName, o: Options, results: BenchResults): Promise<void> {
  if (!(await startBackend(name, results))) return;
  const slow = name === 'cpu';
  await benchTraining(name, o, slow, results);
  await benchSampling(name, o, slow, results);
  // the kernel profile and the targets' cost are of the first backend measured (the default one unless --backends says otherwise)
  if (o.profile && !results.profile)
    results.profile = await profileFastStep(name, o.batches.includes(4096) ? 4096 : o.batches[0]);
  if (!slow && !results.regressionTargets) {
    results.regressionTargets = await benchRegressionTargets(name, o.batches.includes(4096) ? 4096 : o.batches[0]);
    const plain = results.regressionTargets[0].msPerStep;
    console.log(
      `  ${name} regression targets, B=${results.regressionTargets[0].batch} on 2 worker threads: ${results.regressionTargets.map((t) => `${t.target} ${fmt(t.msPerStep, 1)} ms (${fmt(t.msPerStep / plain, 2)}×)`).join(', ')}`,
    );
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const started = new Date();
  const loadStart = printMachine();
  const torchBefore = runTorchReference(o, 'before');
  const jax = runJaxReference(o);
  const results: BenchResults = { backends: [], train: [], trainParallel: [], infer: [], parallelDdpm: [] };
  for (const name of o.backends) await benchBackend(name, o, results);
  const torchAfter = runTorchReference(o, 'after');
  const torch = fasterTorch(torchBefore, torchAfter);

  printTrainTable(results, torch);
  printInferTable(results, torch);
  printJaxComparison(results, jax);
  const met = targets(results, torch);
  printTargets(met);
  printProfile(results.profile);
  const loadEnd = os.loadavg();
  console.log(`\nload average at the end: ${loadEnd.map((l) => l.toFixed(2)).join(' ')}`);
  const report = {
    started: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      loadavgStart: loadStart,
      loadavgEnd: loadEnd,
      node: process.version,
      tfjs: tf.version.tfjs,
    },
    options: o,
    backends: results.backends,
    train: results.train,
    trainParallel: results.trainParallel,
    infer: results.infer,
    parallelDdpm: results.parallelDdpm,
    torch: torch.result ?? null,
    torchRuns: [torchBefore.result ?? null, torchAfter.result ?? null],
    torchNote: torch.note,
    jax: jax.result ?? null,
    jaxNote: jax.note,
    targets: met,
    regressionTargets: results.regressionTargets ?? null,
    profile: results.profile ?? null,
  };
  fs.mkdirSync(path.dirname(o.out), { recursive: true });
  fs.writeFileSync(o.out, JSON.stringify(report, null, 2));
  console.log(`wrote ${o.out} (${fmt(report.seconds)} s)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
