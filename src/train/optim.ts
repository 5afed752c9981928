// optax.chain(clip_by_global_norm(c), adamw(schedule)) and an EMA of the parameters, written out
// so each formula is visible (tf.train.adam has no decoupled weight decay and no schedule).
// Both run on the host, one loop over all parameters laid end to end (flat-layout.ts): with ~26
// small tensors, doing it as tfjs ops took ~400 kernel calls per step (2.5–5 ms on wasm), against
// well under a millisecond here. Each worker of a data-parallel run repeats the same loop on the
// same summed gradients, so their parameters stay bit-identical.
import * as tf from '@tensorflow/tfjs';
import { variableFrom } from '../model/variables';
import type { NamedValues } from '../model/tensor-values';
import { FlatLayout } from './flat-layout';

export interface LinearScheduleOptions {
  /** Peak learning rate, reached after warm-up. */
  peak: number;
  /** Value at the end of the decay. */
  end: number;
  /** Steps of linear warm-up from 0 to the peak (optax warmup starts at 0). */
  warmupSteps: number;
  /** Steps held at the peak after warm-up (the tutorial's transition_begin = 500). */
  holdSteps: number;
  /** Steps of the linear decay from the peak to `end`; afterwards the rate stays at `end`. */
  decaySteps: number;
}

/** Learning rate at optimizer step k (0-based), as optax's linear_schedule / warm-up join. */
export function learningRateAt(k: number, o: LinearScheduleOptions): number {
  if (k < o.warmupSteps) return (o.peak * k) / o.warmupSteps;
  const c = Math.min(Math.max(k - o.warmupSteps - o.holdSteps, 0), o.decaySteps);
  if (o.decaySteps <= 0) return o.peak;
  return (o.peak - o.end) * (1 - c / o.decaySteps) + o.end;
}

export interface AdamWOptions {
  b1: number;
  b2: number;
  eps: number;
  weightDecay: number;
  /** Global-norm clipping threshold applied to the raw gradients (optax.clip_by_global_norm). */
  clipNorm: number;
}

export const OPTAX_ADAMW: AdamWOptions = { b1: 0.9, b2: 0.999, eps: 1e-8, weightDecay: 1e-4, clipNorm: 1.0 };

/** What AdamW's next updates depend on besides the gradients: its update count and moments, per parameter. */
export interface AdamWState {
  count: number;
  m: NamedValues;
  v: NamedValues;
}

export class AdamW {
  readonly options: AdamWOptions;
  /** Number of updates applied. */
  count = 0;
  private readonly layout: FlatLayout;
  /** First and second moments, laid out as `layout`. */
  private readonly m: Float32Array;
  private readonly v: Float32Array;

  constructor(params: Map<string, tf.Tensor>, options: Partial<AdamWOptions> = {}) {
    this.options = { ...OPTAX_ADAMW, ...options };
    this.layout = new FlatLayout(params);
    this.m = new Float32Array(this.layout.size);
    this.v = new Float32Array(this.layout.size);
  }

  /**
   * θ ← θ − lr·(m̂/(√v̂ + eps) + wd·θ), after scaling all gradients by min(1, clip/‖g‖).
   * Returns the global norm of the raw gradients.
   */
  apply(params: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>, lr: number): number {
    const { b1, b2, eps, weightDecay, clipNorm } = this.options;
    const theta = this.layout.read(params);
    const g = this.layout.read(grads);
    const { m, v } = this;
    this.count += 1;
    const bc1 = 1 - b1 ** this.count;
    const bc2 = 1 - b2 ** this.count;
    let squares = 0;
    for (let i = 0; i < g.length; i++) squares += g[i] * g[i];
    const norm = Math.sqrt(squares);
    const clipScale = Math.min(1, clipNorm / norm); // ‖g‖ = 0 gives ∞, then 1
    for (let i = 0; i < g.length; i++) {
      const gi = g[i] * clipScale;
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      theta[i] -= lr * (m[i] / bc1 / (Math.sqrt(v[i] / bc2) + eps) + weightDecay * theta[i]);
    }
    this.layout.write(theta, params);
    return norm;
  }

  exportState(): AdamWState {
    return { count: this.count, m: this.layout.split(this.m), v: this.layout.split(this.v) };
  }

  /** Continue from a state taken with exportState (of the same parameters). */
  importState(state: AdamWState): void {
    this.m.set(this.layout.join(state.m));
    this.v.set(this.layout.join(state.v));
    this.count = state.count;
  }
}

/** Exponential moving average of parameters: ema ← d·ema + (1 − d)·θ after every update. */
export class ParameterEMA {
  readonly decay: number;
  readonly values = new Map<string, tf.Variable>();
  private readonly layout: FlatLayout;

  constructor(params: Map<string, tf.Tensor>, decay: number) {
    if (!(decay >= 0 && decay < 1)) throw new Error(`EMA decay must be in [0, 1), got ${decay}`);
    this.decay = decay;
    for (const [name, p] of params) this.values.set(name, variableFrom(tf.clone(p), false));
    this.layout = new FlatLayout(params);
  }

  update(params: Map<string, tf.Tensor>): void {
    const d = this.decay;
    const ema = this.layout.read(this.values);
    const theta = this.layout.read(params);
    for (let i = 0; i < ema.length; i++) ema[i] = d * ema[i] + (1 - d) * theta[i];
    this.layout.write(ema, this.values);
  }

  dispose(): void {
    tf.dispose([...this.values.values()]);
  }
}
