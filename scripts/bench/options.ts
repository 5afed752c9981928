// The bench's command line (see bench.ts for what each flag does).
import * as path from 'node:path';
import { parseArgs as parse } from 'node:util';
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
  const { values: v } = parse({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      full: { type: 'boolean' },
      backends: { type: 'string' },
      batches: { type: 'string' },
      seconds: { type: 'string' },
      'no-torch': { type: 'boolean' },
      'no-jax': { type: 'boolean' },
      'no-profile': { type: 'boolean' },
      out: { type: 'string' },
    },
  });
  const quick = v.quick ?? false;
  const list = (s: string | undefined) =>
    s
      ?.split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  return {
    quick,
    full: v.full ?? false,
    backends: (list(v.backends) ?? ['tensorflow', 'wasm', 'cpu']) as BackendName[],
    batches: (list(v.batches) ?? (quick ? ['1024'] : ['1024', '4096', '16384'])).map(Number),
    seconds: Number(v.seconds ?? (quick ? 1 : 3)),
    torch: !v['no-torch'],
    jax: !v['no-jax'],
    profile: !v['no-profile'] && !quick,
    out: v.out ?? path.join('build', 'bench.json'),
  };
}
