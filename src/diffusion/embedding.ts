// Sinusoidal timestep embedding, equal to diffusers' FlaxTimesteps with its defaults
// (flip_sin_to_cos = false, freq_shift = 1): sines first, then cosines, raw integer t.
import * as tf from '@tensorflow/tfjs';

export interface EmbeddingOptions {
  flipSinToCos?: boolean;
  freqShift?: number;
}

/** The embedding of each timestep as a row of `dim` numbers, computed in float64. */
export function timestepEmbeddingValues(
  timesteps: ArrayLike<number>,
  dim = 32,
  { flipSinToCos = false, freqShift = 1 }: EmbeddingOptions = {},
): Float32Array {
  if (!Number.isInteger(dim) || dim < 2 || dim % 2 !== 0)
    throw new Error(`timestep embedding: dim must be even ≥ 2, got ${dim}`);
  const half = dim / 2;
  if (half - freqShift <= 0) throw new Error(`timestep embedding: dim/2 must exceed freqShift (${freqShift})`);
  // f_k = exp(−k·ln(1e4)/(half − freqShift)): f_0 = 1 and, with the defaults, f_15 = 1e−4
  const inc = Math.log(1e4) / (half - freqShift);
  const freqs = Array.from({ length: half }, (_, k) => Math.exp(-k * inc));
  const out = new Float32Array(timesteps.length * dim);
  for (let b = 0; b < timesteps.length; b++) {
    const t = timesteps[b];
    for (let k = 0; k < half; k++) {
      const arg = t * freqs[k];
      const [first, second] = flipSinToCos ? [Math.cos(arg), Math.sin(arg)] : [Math.sin(arg), Math.cos(arg)];
      out[b * dim + k] = first;
      out[b * dim + half + k] = second;
    }
  }
  return out;
}

/** [B, dim] sinusoidal embedding of a [B] tensor or array of timesteps. */
export function timestepEmbedding(
  timesteps: tf.Tensor | ArrayLike<number>,
  dim = 32,
  options: EmbeddingOptions = {},
): tf.Tensor2D {
  let values: ArrayLike<number>;
  if (timesteps instanceof tf.Tensor) {
    if (timesteps.rank !== 1)
      throw new Error(`timestep embedding: timesteps must be 1-D, got shape [${timesteps.shape}]`);
    values = timesteps.dataSync();
  } else {
    values = timesteps;
  }
  return tf.tensor2d(timestepEmbeddingValues(values, dim, options), [values.length, dim], 'float32');
}
