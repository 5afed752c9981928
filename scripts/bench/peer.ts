// A peer framework measured beside tfjs (PyTorch in torch.ts, the tutorial's JAX in jax.ts): its
// script runs as a child process and prints one JSON object as its last stdout line.
import { spawnSync } from 'node:child_process';

/** One batch size's training-step timing, as the peer scripts report it. */
export interface PeerTrainTiming {
  batch: number;
  steps: number;
  ms_per_step: number;
  samples_per_s: number;
}

/** The timing of one inference-mode forward pass over `rows` rows. */
export interface PeerInferTiming {
  rows: number;
  ms: number;
  rows_per_s: number;
}

/** A peer's measurements, if it ran, and a note on how it ran or why not. */
export interface PeerReference<R> {
  result?: R;
  note: string;
}

/** Runs `python script args` and parses its last stdout line; `note` describes a successful run. */
export function runPeerScript<R>(
  python: string,
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  note: string,
): PeerReference<R> {
  const r = spawnSync(python, [script, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 300_000,
  });
  const name = script.split('/').pop();
  if (r.status !== 0)
    return { note: `${name} failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}` };
  return { result: JSON.parse(r.stdout.trim().split('\n').pop()!) as R, note };
}
