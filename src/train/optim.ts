// optax.chain(clip_by_global_norm(c), adamw(schedule)) and an EMA of the parameters, written out
// so each formula is visible (tf.train.adam has no decoupled weight decay and no schedule).
import * as tf from '@tensorflow/tfjs';
import { variableFrom } from '../model/variables';

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

export class AdamW {
  readonly options: AdamWOptions;
  /** Number of updates applied. */
  count = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(params: Map<string, tf.Variable>, options: Partial<AdamWOptions> = {}) {
    this.options = { ...OPTAX_ADAMW, ...options };
    for (const [name, p] of params) {
      this.m.set(name, variableFrom(tf.zerosLike(p), false));
      this.v.set(name, variableFrom(tf.zerosLike(p), false));
    }
  }

  /**
   * θ ← θ − lr·(m̂/(√v̂ + eps) + wd·θ), after scaling all gradients by min(1, clip/‖g‖).
   * Returns the global norm of the raw gradients (a scalar tensor the caller disposes).
   */
  apply(params: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>, lr: number): tf.Scalar {
    const { b1, b2, eps, weightDecay, clipNorm } = this.options;
    const gradOf = (name: string) => grads.get(name);
    this.count += 1;
    const bc1 = 1 - b1 ** this.count;
    const bc2 = 1 - b2 ** this.count;
    return tf.tidy(() => {
      const squares = [...params.keys()].map((name) => tf.sum(tf.square(gradOf(name)!)));
      const norm = tf.sqrt(tf.addN(squares)) as tf.Scalar;
      const clipScale = tf.minimum(1, tf.div(clipNorm, norm)); // ‖g‖ = 0 gives ∞, then 1
      for (const [name, p] of params) {
        const g0 = gradOf(name);
        if (!g0) throw new Error(`AdamW: no gradient for '${name}'`);
        const g = tf.mul(g0, clipScale);
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(b1, m), tf.mul(1 - b1, g)));
        v.assign(tf.add(tf.mul(b2, v), tf.mul(1 - b2, tf.square(g))));
        const update = tf.add(tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), eps)), tf.mul(weightDecay, p));
        p.assign(tf.sub(p, tf.mul(lr, update)));
      }
      return tf.keep(norm);
    });
  }

  dispose(): void {
    tf.dispose([...this.m.values(), ...this.v.values()]);
  }
}

/** Exponential moving average of parameters: ema ← d·ema + (1 − d)·θ after every update. */
export class ParameterEMA {
  readonly decay: number;
  readonly values = new Map<string, tf.Variable>();

  constructor(params: Map<string, tf.Tensor>, decay: number) {
    if (!(decay >= 0 && decay < 1)) throw new Error(`EMA decay must be in [0, 1), got ${decay}`);
    this.decay = decay;
    for (const [name, p] of params) this.values.set(name, variableFrom(tf.clone(p), false));
  }

  update(params: Map<string, tf.Tensor>): void {
    const d = this.decay;
    tf.tidy(() => {
      for (const [name, e] of this.values) e.assign(tf.add(tf.mul(d, e), tf.mul(1 - d, params.get(name)!)));
    });
  }

  dispose(): void {
    tf.dispose([...this.values.values()]);
  }
}
