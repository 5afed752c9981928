// The PyTorch reference: the same network and training step in Debian's PyTorch
// (bench_torch.py), run as a child process when /usr/bin/python3 can import torch.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from '../../src/runtime/paths';
import type { Options } from './options';
import { runPeerScript, type PeerInferTiming, type PeerReference, type PeerTrainTiming } from './peer';

export interface TorchResult {
  torch: string;
  threads: number;
  train: PeerTrainTiming[];
  infer: PeerInferTiming;
}

export type TorchReference = PeerReference<TorchResult>;

export function benchTorch(o: Options): TorchReference {
  const py = '/usr/bin/python3';
  const probe = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return { note: `PyTorch not importable by ${py} (apt-get install -y python3-torch)` };
  const script = path.join(REPO_ROOT, 'scripts', 'bench', 'bench_torch.py');
  return runPeerScript<TorchResult>(
    py,
    script,
    [`--batches=${o.batches.join(',')}`, `--seconds=${o.seconds}`],
    { OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '2' },
    'OPENBLAS_NUM_THREADS=1, torch.set_num_threads(2)',
  );
}
