// Fused ops of the training step on native TensorFlow: the kernels of fused-kernels.cc, which
// scripts/native-backend.sh builds next to tfjs-node's binding. Each replaces a chain of up to 8
// elementwise ops with one pass, with bit-identical results.
//
// Used only on the 'tensorflow' backend, and only where the addon was built and loads; everywhere
// else fusedKernels() is null and callers run the plain tfjs ops. TSDIFFUSION_FUSED=0 turns them off.
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';

export const FUSED_ENV = 'TSDIFFUSION_FUSED';
const ADDON = 'tsdiffusion_kernels.node';

/** The GELU's coefficients: u = (cubic·z² + linear)·z (gelu.ts's sigmoid form). */
export interface GeluCoefficients {
  cubic: number;
  linear: number;
}

export interface FusedKernels {
  /** residual + z·σ(u)·mask, and σ(u). A null mask or residual is left out. */
  geluForward(z: tf.Tensor, mask: tf.Tensor | null, residual: tf.Tensor | null, k: GeluCoefficients): { y: tf.Tensor; sigmoid: tf.Tensor };
  /** d/dz of z·σ(u)·mask, times dy, from z and the forward's σ(u). */
  geluBackward(dy: tf.Tensor, z: tf.Tensor, sigmoid: tf.Tensor, mask: tf.Tensor | null, k: GeluCoefficients): tf.Tensor;
  /** ((p + gamma) + h·beta) + residual for p, h [rows, cols] and gamma, beta [cols]; a null residual is left out. */
  layerInputGrad(p: tf.Tensor2D, gamma: tf.Tensor1D, h: tf.Tensor2D, beta: tf.Tensor1D, residual: tf.Tensor2D | null): tf.Tensor2D;
}

/** The tfjs-node backend's op interface (not in tfjs's public types). */
interface NodeBackend {
  binding: { TF_ATTR_FLOAT: number };
  executeMultipleOutputs(name: string, attrs: unknown[], inputs: tf.TensorInfo[], numOutputs: number): tf.TensorInfo[];
}

let loaded: { kernels: FusedKernels | null; error: string | null } | null = null;
let enabled = process.env[FUSED_ENV] !== '0';

/** Turn the fused kernels on or off for this thread (tests compare both paths). */
export function setFusedKernelsEnabled(on: boolean): void {
  enabled = on;
}

/** The fused kernels, or null: not on native TensorFlow, turned off, or the addon did not load. */
export function fusedKernels(): FusedKernels | null {
  if (!enabled || tf.getBackend() !== 'tensorflow') return null;
  loaded ??= load();
  return loaded.kernels;
}

/** Why fusedKernels() is null on native TensorFlow, or null if it is not. */
export function fusedKernelsError(): string | null {
  if (tf.getBackend() !== 'tensorflow') return 'not on native TensorFlow';
  if (!enabled) return `turned off (${FUSED_ENV}=0)`;
  loaded ??= load();
  return loaded.error;
}

function load(): { kernels: FusedKernels | null; error: string | null } {
  const file = path.join(path.dirname(require.resolve('@tensorflow/tfjs-node/package.json')), 'lib', 'napi-v8', ADDON);
  try {
    require(file);
  } catch (e) {
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return { kernels: null, error: `${ADDON} did not load (${message}); run scripts/native-backend.sh` };
  }
  // tfjs kernels of the tensorflow backend, like tfjs-node's own: run by the engine, so tidy and
  // tf.profile see them. A rank-0 input tells the op that the mask or residual is absent.
  const none = tf.keep(tf.scalar(0));
  const register = (kernelName: string, inputs: string[], numOutputs: number) =>
    tf.registerKernel({
      kernelName,
      backendName: 'tensorflow',
      kernelFunc: ({ inputs: given, backend, attrs }) => {
        const node = backend as unknown as NodeBackend;
        const float = (name: string, value: number) => ({ name, type: node.binding.TF_ATTR_FLOAT, value });
        const k = attrs as unknown as Partial<GeluCoefficients>;
        const opAttrs = k.cubic === undefined ? [] : [float('cubic', k.cubic), float('linear', k.linear!), float('cubic_slope', 3 * k.cubic)];
        return node.executeMultipleOutputs(kernelName, opAttrs, inputs.map((name) => given[name]!), numOutputs);
      },
    });
  if (!tf.getKernel('TsdGeluForward', 'tensorflow')) {
    register('TsdGeluForward', ['z', 'mask', 'residual'], 2);
    register('TsdGeluBackward', ['dy', 'z', 'sigmoid', 'mask'], 1);
    register('TsdLayerInputGrad', ['p', 'gamma', 'h', 'beta', 'residual'], 1);
  }
  const run = (name: string, inputs: Record<string, tf.Tensor | null>, k?: GeluCoefficients) => {
    const given = Object.fromEntries(Object.entries(inputs).map(([key, t]) => [key, t ?? none])) as tf.NamedTensorMap;
    return tf.engine().runKernel(name, given, k ? { cubic: k.cubic, linear: k.linear } : {}) as unknown as tf.Tensor[];
  };
  const kernels: FusedKernels = {
    geluForward(z, mask, residual, k) {
      const [y, sigmoid] = run('TsdGeluForward', { z, mask, residual }, k);
      return { y, sigmoid };
    },
    geluBackward(dy, z, sigmoid, mask, k) {
      return run('TsdGeluBackward', { dy, z, sigmoid, mask }, k)[0];
    },
    layerInputGrad(p, gamma, h, beta, residual) {
      return run('TsdLayerInputGrad', { p, gamma, h, beta, residual })[0] as tf.Tensor2D;
    },
  };
  return { kernels, error: null };
}
