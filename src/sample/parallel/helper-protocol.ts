// What src/sample/parallel/predictor.ts shares with each helper thread: the slots of the control
// array, the helper's states, and the data it starts from.
import type { ModelCopy } from './model-copy';

/** Slots of the shared Int32Array `control`. */
export const CONTROL = {
  /** Raised by the caller for each request; the helper waits on it. */
  request: 0,
  /** Set by the helper to the request it has answered. */
  done: 1,
  /** A HelperState. */
  state: 2,
  timestep: 3,
  /** Rows of this request, in `input`. */
  count: 4,
  /** 0: predict; 1: stop. */
  command: 5,
  /** Bytes of the helper's error message in `errorText`. */
  errorLength: 6,
  length: 7,
} as const;

export enum HelperState {
  Starting = 0,
  Ready = 1,
  Failed = 2,
}

export interface HelperData extends ModelCopy {
  control: Int32Array;
  input: Float32Array;
  output: Float32Array;
  errorText: Uint8Array;
}
