// The PyTorch reference: the same network and training step in Debian's PyTorch
// (bench_torch.py), run as a child process when /usr/bin/python3 can import torch.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from '../../src/runtime/paths';
import type { Options } from './options';

export interface TorchResult {
  torch: string;
  threads: number;
  train: { batch: number; steps: number; ms_per_step: number; samples_per_s: number }[];
  infer: { rows: number; ms: number; rows_per_s: number };
}

/** The reference's measurements, if it ran, and a note on how it ran or why not. */
export interface TorchReference {
  result?: TorchResult;
  note: string;
}

export function benchTorch(o: Options): TorchReference {
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
