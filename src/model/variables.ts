// tfjs variables that do not leak. tf.variable(init) and variable.assign(value) keep `init` and
// `value` alive as tensors of their own beside the variable, so a caller that created them only
// to fill the variable must free them: these helpers do.
import * as tf from '@tensorflow/tfjs';

/** A variable with `init`'s values; `init` is freed. */
export function variableFrom(init: tf.Tensor, trainable: boolean): tf.Variable {
  const v = tf.variable(init, trainable);
  init.dispose();
  return v;
}

/** Give `variable` the values of `value`, then free `value`. */
export function assignFrom(variable: tf.Variable, value: tf.Tensor): void {
  variable.assign(value);
  value.dispose();
}
