// The network's training-mode pass (batch statistics, dropout) by hand-written backpropagation:
// the layers of network.ts walked forward, then backward, each layer type computing its own part
// (dense.ts, norm-dense.ts, activations.ts). The same mathematics as tf.variableGrads over
// VelocityModel.forward, within float32 rounding. The loss and the exchange between threads are
// the caller's (src/train/gradients.ts): the pass takes d loss / d v̂ and a `reduce` that sums
// over the whole batch.
//
// Why it is faster, measured on tfjs-wasm (see scripts/bench/bench.ts): the wasm backend's matMul
// is fast only without transposes (transposeA/transposeB fall back to a ~1.3 GFLOP/s loop), and it
// packs its right-hand operand before multiplying, so a product is fastest when that operand is
// small: at B 4,096, h [B, 128]·W [128, 128] takes ~3.9 ms against ~5.7 ms for Wᵀ·hT with the
// activations packed. Tanh/Exp/Pow are ~10 ms per 0.5 M floats while Sigmoid and arithmetic are
// ~0.3–0.5 ms, Sum/Mean over axis 0 transpose internally, GatherV2 is ~60 ns per element, and a
// transpose of [128, B] is ~2 ms. So:
//  - activations are batch-major ([B, features]), multiplied by the small weights on the right
//    (the forward h·W' with the bias fused in, and the backward dz·W'ᵀ);
//  - each layer transposes its input once, hT [I, B]: the left operand of the weight gradient
//    hT·dz and of the batch sums hT·1 (Σh, Σh²);
//  - Σ_b dz is 1ᵀ·dz, right after hT·dz has packed dz;
//  - GELU is computed in its sigmoid form (activations.ts), no Tanh or Pow;
//  - BatchNorm is folded into the Dense after it, on the host (norm-dense.ts). A tiny tfjs op
//    costs ~10–20 µs of dispatch on tfjs-node, and these were ~250 of them per step;
//  - on worker threads, those sums are added across the workers on the host, in one exchange per
//    point of the step where they are needed (each exchange is a barrier): one per BatchNorm
//    forward, one per layer backward and one at the end (the time MLP's gradients, with whatever
//    the caller adds: its loss);
//  - the sinusoidal embedding rows are gathered on the host (the timesteps are host data).
//
// Native TensorFlow (tfjs-node) differs, measured the same way at B 4,096: its matMul transposes
// either operand within the kernel at no cost, while an explicit transpose of [B, 128] takes ~0.4 ms
// (as long as a multiply), and its _FusedMatMul with a bias takes ~1.1 ms against ~0.6 + 0.3 ms for
// matMul then add. So on every backend but wasm (products.ts), hᵀ·x is matMul's transposeA,
// batch sums are 1ᵀ·x, and biases are added after the product. There, too, each layer's GELU,
// dropout mask and residual add run as one fused op forward and one backward, and each layer's
// input gradient as one more, where the addon of runtime/fused-kernels.cc is built (19 elementwise
// ops otherwise), with bit-identical results.
//
// A wasm-backend pitfall this file avoids: matMul caches its packed right-hand operand by tensor
// data id, not by shape, so a tensor and a reshape of it (which share the data id) must never
// both be the `b` of a matMul; the second product silently reads the first's packing (NaNs or
// out-of-bounds reads). The same tensor with the same shape as `b` twice is fine (dz above).
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../math/rng';
import type { ActivationCache } from './activations';
import { sumOnHost, setGrad, type BatchSums } from './batch-sums';
import { denseBackward, denseForward } from './dense';
import type { VelocityModel } from './model';
import { timeDenseLayers, type Network } from './network';
import { normDenseBackward, normDenseForward, type BatchMoments, type NormDenseCache } from './norm-dense';
import type { TensorMap } from './parameters';
import { packsRightOperand } from './products';

export interface TrainingPassInputs {
  /** x_t, [B, 1]. */
  xt: tf.Tensor2D;
  /** The B integer timesteps, as host data (the pass gathers the embedding on the host). */
  timesteps: ArrayLike<number>;
  /** Dropout stream; required when the model's dropout > 0. Drawn exactly as forward() draws it. */
  dropoutRng?: Rng;
  /** Parameters to use instead of the model's own. */
  params?: TensorMap;
  /** These rows are rows [start, start + B) of a batch of `total` rows (data-parallel training). */
  rows?: { start: number; total: number };
  /** Sums each array over the whole batch's threads, all in one exchange; absent: one thread. */
  reduce?: (xs: Float32Array[]) => Float32Array[];
}

export interface TrainingPass {
  /** v̂ of this thread's rows, [B, 1]. */
  output: tf.Tensor2D;
  /** The batch moments each BatchNorm used (as forward's `moments`), kept beyond the caller's tidy. */
  moments: BatchMoments;
  /**
   * Backpropagate d loss / d v̂ ([B, 1]). Returns d loss / d parameter for every parameter (kept
   * beyond the caller's tidy), and `alsoSum`'s values summed over the whole batch in the pass's
   * last exchange (the caller's loss, say: one barrier fewer).
   */
  backward(dOutput: tf.Tensor2D, alsoSum: tf.Tensor[]): { grads: Map<string, tf.Tensor>; sums: Float32Array[] };
}

/**
 * Run the network forward in training mode on this thread's rows. Call it inside tf.tidy: the
 * tensors the backward needs live until the tidy ends. The dropout stream is consumed as forward()
 * consumes it: for each layer with dropout, in order, a mask of total·outputs draws.
 */
export function trainingPass(model: VelocityModel, inputs: TrainingPassInputs): TrainingPass {
  const params = inputs.params ?? model.params;
  const { network } = model;
  const { xt, timesteps } = inputs;
  const { dropout, bnEpsilon: eps } = model.config;
  const B = xt.shape[0];
  // batch statistics are over the whole batch, of which a shard holds rows
  const start = inputs.rows?.start ?? 0;
  const total = inputs.rows?.total ?? B;
  if (xt.rank !== 2 || xt.shape[1] !== 1)
    throw new Error(`trainingPass: x_t must have shape [B, 1], got [${xt.shape}]`);
  if (timesteps.length !== B) throw new Error(`trainingPass: ${timesteps.length} timesteps for ${B} rows`);
  const useDropout = dropout > 0;
  if (useDropout && !inputs.dropoutRng)
    throw new Error('trainingPass: training with dropout needs a dropoutRng stream');
  // The same draws as forward(): each mask is row-major [total, outputs], of which we hold rows [start, start + B).
  const masks = network.trunk.map((layer) =>
    useDropout && layer.dropout
      ? tf.tensor2d(
          inputs.dropoutRng!.dropoutMaskPart(
            total * layer.outputs,
            dropout,
            start * layer.outputs,
            (start + B) * layer.outputs,
          ),
          [B, layer.outputs],
        )
      : null,
  );
  const sums: BatchSums = {
    total,
    reduce: inputs.reduce ?? ((xs) => xs),
    onesColumn: tf.ones([B, 1]) as tf.Tensor2D,
    onesRow: tf.ones([1, B]) as tf.Tensor2D,
  };

  // Forward: the time MLP, then the trunk on [x, temb].
  const emb = gatherEmbedding(model, timesteps, packsRightOperand());
  const embRows = tf.tensor2d(emb.rows, [B, emb.width]);
  // what each time-MLP layer's backward needs, by the layer's index: a Dense its input (and, for
  // the first, the embedding transposed where the backend wants it), an activation its cache
  const time: ({ x: tf.Tensor2D; xT: tf.Tensor2D | null } | ActivationCache)[] = [];
  let temb = embRows;
  for (const [k, layer] of network.time.entries()) {
    if (layer.kind === 'dense') {
      time.push({ x: temb, xT: k === 0 && emb.columns ? tf.tensor2d(emb.columns, [emb.width, B]) : null });
      temb = denseForward(params, layer.name, temb);
    } else {
      const { y, cache } = layer.activation.forward(temb, null, null);
      time.push(cache);
      temb = y;
    }
  }
  let h = tf.concat([xt, temb], 1) as tf.Tensor2D;
  const moments: BatchMoments = new Map();
  const trunk: { layer: NormDenseCache; activation: ActivationCache | null }[] = [];
  network.trunk.forEach((layer, i) => {
    const { z, cache, moments: m } = normDenseForward(params, eps, sums, layer, h);
    moments.set(layer.bn, m);
    if (!layer.activation) {
      if (layer.residual || layer.dropout)
        throw new Error(`trainingPass: layer ${layer.dense} has no activation but a residual or dropout`);
      trunk.push({ layer: cache, activation: null });
      h = z;
      return;
    }
    const { y, cache: a } = layer.activation.forward(z, masks[i], layer.residual ? h : null);
    trunk.push({ layer: cache, activation: a });
    h = y;
  });
  const output = h;

  const backward = (dOutput: tf.Tensor2D, alsoSum: tf.Tensor[]) => {
    const grads = new Map<string, tf.Tensor>();
    let dh = dOutput;
    for (let i = network.trunk.length - 1; i >= 0; i--) {
      const layer = network.trunk[i];
      const { activation } = trunk[i];
      const dz = activation ? layer.activation!.backward(dh, activation) : dh;
      // the first layer's input is [x, temb]: only the temb columns' gradient is needed
      dh = normDenseBackward(
        params,
        grads,
        sums,
        layer,
        dz,
        trunk[i].layer,
        layer.residual ? dh : null,
        i === 0 ? 1 : 0,
      );
    }
    // The time MLP, backwards; its gradients are summed in the last exchange, with `alsoSum`.
    const timeGrads: [string, tf.Tensor][] = [];
    let dy = dh;
    for (let k = network.time.length - 1; k >= 0; k--) {
      const layer = network.time[k];
      if (layer.kind === 'activation') {
        dy = layer.activation.backward(dy, time[k] as ActivationCache);
        continue;
      }
      const { x, xT } = time[k] as { x: tf.Tensor2D; xT: tf.Tensor2D | null };
      const d = denseBackward(params, sums, layer, x, xT, dy, k > 0);
      timeGrads.push(...d.grads);
      if (d.dx) dy = d.dx;
    }
    const summed = sumOnHost(sums, [...alsoSum, ...timeGrads.map(([, g]) => g)]);
    for (const [j, [name]] of timeGrads.entries()) setGrad(grads, params, name, summed[alsoSum.length + j]);
    return { grads, sums: summed.slice(0, alsoSum.length) };
  };
  return { output, moments, backward };
}

/** Floats each exchange of a training pass carries, in order; the last also carries the caller's `alsoSum`. */
export function exchangeSizes(network: Network): number[] {
  const forward = network.trunk.map((l) => 2 * l.inputs); // Σh and Σh²
  const backward = network.trunk.map((l) => l.inputs * l.outputs + l.outputs); // Σ h ⊗ dz and Σ dz
  const timeGrads = timeDenseLayers(network).reduce((n, l) => n + l.inputs * l.outputs + l.outputs, 0);
  return [...forward, ...backward.reverse(), timeGrads];
}

/**
 * The model's sinusoidal embedding rows of `timesteps`, gathered on the host, as [B, e] and, with
 * `transposed`, also as [e, B].
 */
function gatherEmbedding(
  model: VelocityModel,
  timesteps: ArrayLike<number>,
  transposed: boolean,
): { rows: Float32Array; columns: Float32Array | null; width: number } {
  const { timeEmbeddingDim: e, numTimesteps } = model.config;
  const B = timesteps.length;
  const table = model.embeddingValues;
  const rows = new Float32Array(B * e);
  const columns = transposed ? new Float32Array(e * B) : null;
  for (let b = 0; b < B; b++) {
    const t = timesteps[b];
    if (!Number.isInteger(t) || t < 0 || t >= numTimesteps)
      throw new Error(`trainingPass: timestep ${t} out of [0, ${numTimesteps})`);
    const row = table.subarray(t * e, (t + 1) * e);
    rows.set(row, b * e);
    if (columns) for (let k = 0; k < e; k++) columns[k * B + b] = row[k];
  }
  return { rows, columns, width: e };
}
