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

/**
 * Two PyTorch runs as one reference: each batch size's faster step and the faster forward pass
 * (the machine's state drifts over a bench run; the ratio then uses PyTorch at its best).
 */
export function fasterTorch(a: TorchReference, b: TorchReference): TorchReference {
  if (!a.result || !b.result) return a.result ? a : b;
  const faster = <T extends { ms_per_step: number } | { ms: number }>(x: T, y: T, ms: (t: T) => number) =>
    ms(y) < ms(x) ? y : x;
  const train = a.result.train.map((t) => {
    const other = b.result!.train.find((u) => u.batch === t.batch);
    return other ? faster(t, other, (x) => x.ms_per_step) : t;
  });
  const infer = faster(a.result.infer, b.result.infer, (x) => x.ms);
  return {
    result: { ...a.result, train, infer },
    note: `${a.note}; run before and after tfjs, the faster of the two at each size`,
  };
}

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
