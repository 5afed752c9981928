// Choosing the tfjs backend: native TensorFlow (tfjs-node) when it loads, else WebAssembly,
// else plain JavaScript. TSDIFFUSION_BACKEND=tensorflow|wasm|cpu overrides the choice.
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { fusedKernelsError } from './fused-kernels';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_ENV = 'TSDIFFUSION_BACKEND';
const ORDER: BackendName[] = ['tensorflow', 'wasm', 'cpu'];

export interface BackendInfo {
  /** The backend tfjs actually runs on (read back from tf.getBackend()). */
  name: BackendName;
  /** Why it was chosen, and what was tried before it. */
  reason: string;
  tried: { name: BackendName; error: string }[];
}

/** Load the module that registers a backend with tfjs. Throws if it cannot load. */
function registerBackend(name: BackendName): void {
  if (name === 'tensorflow') {
    // TensorFlow logs its CPU features and oneDNN notes at INFO level on load; keep warnings and errors
    process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
    // One thread per op, run in the calling thread: the cores are used by worker threads instead
    // (defaultWorkers). TensorFlow's own pool spreads only matMuls, not the elementwise ops that
    // take most of a training step. Read once, when the library loads; oneDNN's matMuls follow
    // OMP_NUM_THREADS.
    process.env.TF_NUM_INTRAOP_THREADS ??= '1';
    process.env.TF_NUM_INTEROP_THREADS ??= '1';
    process.env.OMP_NUM_THREADS ??= '1';
    require('@tensorflow/tfjs-node');
  } else if (name === 'wasm') require('@tensorflow/tfjs-backend-wasm');
  // cpu ships with @tensorflow/tfjs
}

let current: BackendInfo | null = null;

/**
 * Select and initialise the backend. `preferred` (or the TSDIFFUSION_BACKEND variable) forces one;
 * forcing a backend that cannot start is an error rather than a silent fallback.
 */
export async function initBackend(preferred?: BackendName): Promise<BackendInfo> {
  const forced = preferred ?? parseEnv(process.env[BACKEND_ENV]);
  if (current && (!forced || forced === current.name)) return current;
  const candidates = forced ? [forced] : ORDER;
  // tfjs greets every Node.js process that does not use tfjs-node with a banner on stderr (a
  // warning that PROD mode silences; PROD only turns off debug checks that are off anyway)
  tf.env().set('PROD', true);
  const tried: BackendInfo['tried'] = [];
  for (const name of candidates) {
    try {
      registerBackend(name);
      const ok = await tf.setBackend(name);
      await tf.ready();
      // tfjs may fall back silently (e.g. a wasm build that fails to start): trust only getBackend().
      if (!ok || tf.getBackend() !== name) throw new Error(`tfjs reports backend '${tf.getBackend()}'`);
      const reason = forced
        ? `forced by ${preferred ? 'caller' : BACKEND_ENV}`
        : tried.length
          ? 'first that loaded'
          : 'preferred';
      current = { name, reason, tried };
      return current;
    } catch (e) {
      tried.push({ name, error: firstLine(e) });
    }
  }
  throw new Error(
    `No tfjs backend could start: ${tried.map((t) => `${t.name}: ${t.error}`).join('; ')}` +
      (forced ? ` (forced by ${preferred ? 'caller' : BACKEND_ENV}; unset it to fall back)` : ''),
  );
}

/**
 * The worker threads that train or sample fastest on a backend, where a caller gives none: one per
 * core, up to `most`. Every backend computes an op on the calling thread here (WebAssembly and
 * plain JavaScript in Node; native TensorFlow with TF_NUM_INTRAOP_THREADS=1, see registerBackend).
 */
export function defaultWorkers(most = 2): number {
  return Math.max(1, Math.min(os.availableParallelism(), most));
}

const DESCRIPTIONS: Record<BackendName, string> = {
  tensorflow: 'native TensorFlow',
  wasm: 'WebAssembly',
  cpu: 'plain JavaScript',
};

/**
 * One calm line for notebooks and logs, e.g. "tfjs 4.22.0 backend: wasm (WebAssembly; native
 * TensorFlow is not installed)" or "tfjs 4.22.0 backend: tensorflow (native TensorFlow; fused
 * kernels)". Why a skipped backend failed is in info.tried, and in the line only with `details`.
 */
export function describeBackend(info: BackendInfo, { details = false }: { details?: boolean } = {}): string {
  const skipped = info.tried.map((t) =>
    details ? `${DESCRIPTIONS[t.name]} unavailable: ${t.error}` : `${DESCRIPTIONS[t.name]} is not installed`,
  );
  const why = info.reason.startsWith('forced') ? info.reason : skipped.join(', ');
  const fused = info.name === 'tensorflow' && tf.getBackend() === 'tensorflow' ? fusedKernelsError() : null;
  const kernels = info.name !== 'tensorflow' ? '' : fused ? `fused kernels off: ${fused}` : 'fused kernels';
  return `tfjs ${tf.version.tfjs} backend: ${info.name} (${[DESCRIPTIONS[info.name], kernels, why].filter(Boolean).join('; ')})`;
}

function parseEnv(value: string | undefined): BackendName | undefined {
  if (!value) return undefined;
  const v = value.trim().toLowerCase();
  const name = v === 'node' || v === 'tfjs-node' ? 'tensorflow' : v;
  if (!ORDER.includes(name as BackendName)) {
    throw new Error(`${BACKEND_ENV}=${value} is not one of ${ORDER.join(', ')}`);
  }
  return name as BackendName;
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].slice(0, 200);
}
