// Fused ops on native TensorFlow: the kernels of fused-kernels.cc, which scripts/native-backend.sh
// builds next to tfjs-node's binding. Each replaces a chain of elementwise ops with one pass, with
// bit-identical results. This module knows how to load the addon and run an op by its name; what
// each op computes is said where it is used (src/model/).
//
// Used only on the 'tensorflow' backend, and only where the addon was built and loads; everywhere
// else fusedOps() is null and callers run the plain tfjs ops. TSDIFFUSION_FUSED=0 turns them off.
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';

export const FUSED_ENV = 'TSDIFFUSION_FUSED';
const ADDON = 'tsdiffusion_kernels.node';

/** An op of fused-kernels.cc: its registered name, its inputs and float attributes by name, and how many outputs it has. */
export interface FusedOp {
  name: string;
  inputs: readonly string[];
  attrs: readonly string[];
  outputs: number;
}

export interface FusedOps {
  /** Run `op`. A null input is absent (the op says which may be); every attribute must be given. */
  run(op: FusedOp, inputs: Record<string, tf.Tensor | null>, attrs?: Record<string, number>): tf.Tensor[];
}

/** The tfjs-node backend's op interface (not in tfjs's public types). */
interface NodeBackend {
  binding: { TF_ATTR_FLOAT: number };
  executeMultipleOutputs(name: string, attrs: unknown[], inputs: tf.TensorInfo[], numOutputs: number): tf.TensorInfo[];
}

let loaded: { ops: FusedOps | null; error: string | null } | null = null;
let enabled = process.env[FUSED_ENV] !== '0';

/** Turn the fused ops on or off for this thread (tests compare both paths). */
export function setFusedKernelsEnabled(on: boolean): void {
  enabled = on;
}

/** The fused ops, or null: not on native TensorFlow, turned off, or the addon did not load. */
export function fusedOps(): FusedOps | null {
  if (!enabled || tf.getBackend() !== 'tensorflow') return null;
  loaded ??= load();
  return loaded.ops;
}

/** Why fusedOps() is null on native TensorFlow, or null if it is not. */
export function fusedKernelsError(): string | null {
  if (tf.getBackend() !== 'tensorflow') return 'not on native TensorFlow';
  if (!enabled) return `turned off (${FUSED_ENV}=0)`;
  loaded ??= load();
  return loaded.error;
}

function load(): { ops: FusedOps | null; error: string | null } {
  const file = path.join(path.dirname(require.resolve('@tensorflow/tfjs-node/package.json')), 'lib', 'napi-v8', ADDON);
  try {
    require(file);
  } catch (e) {
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return { ops: null, error: `${ADDON} did not load (${message}); run scripts/native-backend.sh` };
  }
  // Each op becomes a tfjs kernel of the tensorflow backend, like tfjs-node's own: run by the
  // engine, so tidy and tf.profile see it. A rank-0 input tells the op that an input is absent.
  const none = tf.keep(tf.scalar(0));
  const register = (op: FusedOp) =>
    tf.registerKernel({
      kernelName: op.name,
      backendName: 'tensorflow',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const node = backend as unknown as NodeBackend;
        const values = attrs as Record<string, number>;
        const opAttrs = op.attrs.map((name) => ({ name, type: node.binding.TF_ATTR_FLOAT, value: values[name] }));
        return node.executeMultipleOutputs(
          op.name,
          opAttrs,
          op.inputs.map((name) => inputs[name]!),
          op.outputs,
        );
      },
    });
  const ops: FusedOps = {
    run(op, inputs, attrs = {}) {
      for (const name of op.attrs)
        if (typeof attrs[name] !== 'number') throw new Error(`${op.name}: attribute '${name}' is missing`);
      if (!tf.getKernel(op.name, 'tensorflow')) register(op);
      const given = Object.fromEntries(op.inputs.map((name) => [name, inputs[name] ?? none])) as tf.NamedTensorMap;
      return tf.engine().runKernel(op.name, given, { ...attrs }) as unknown as tf.Tensor[];
    },
  };
  return { ops, error: null };
}
