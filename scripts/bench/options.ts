// The bench's command line (see bench.ts for what each flag does).
import * as path from 'node:path';
import type { BackendName } from '../../src/runtime/backend';

export interface Options {
  quick: boolean;
  full: boolean;
  backends: BackendName[];
  batches: number[];
  seconds: number;
  torch: boolean;
  jax: boolean;
  profile: boolean;
  out: string;
}

export function parseArgs(argv: string[]): Options {
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
    jax: !flag('no-jax'),
    profile: !flag('no-profile') && !quick,
    out: value('out') ?? path.join('build', 'bench.json'),
  };
}
