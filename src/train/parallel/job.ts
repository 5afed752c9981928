// What the main thread and the worker threads of a data-parallel training run hand each other.
import type { BackendName } from '../../runtime/backend';
import type { MixtureSpec } from '../../math/mixture';
import type { DDPMSchedulerConfig } from '../../diffusion/scheduler';
import type { VelocityModelConfig } from '../../model/network';
import type { TrainConfig, TrainLog } from '../config';
import type { TrainerState } from '../thread-trainer';
import type { AllReduceShared } from './allreduce';

/** A training run as plain data: everything a worker needs to rebuild it. */
export interface TrainJob {
  mixture: MixtureSpec;
  scheduler: DDPMSchedulerConfig;
  train: TrainConfig;
  model: VelocityModelConfig;
  /** Where the run starts (or continues) from. */
  state: TrainerState;
  /** Hand the state to the main thread every this many steps; null: never. */
  snapshotEvery: number | null;
}

/** One worker's part of a run: the job, its rows [start, end) of every batch and the shared memory. */
export interface WorkerTrainJob extends TrainJob {
  backend: BackendName;
  shared: AllReduceShared;
  /** Int32 flag the main thread sets to 1 to stop the run. */
  abort: SharedArrayBuffer;
  index: number;
  start: number;
  end: number;
}

export type TrainWorkerMessage =
  | { type: 'log'; log: TrainLog }
  /** The first worker's state every snapshotEvery steps. */
  | { type: 'snapshot'; state: TrainerState }
  | { type: 'done'; state: TrainerState | null }
  | { type: 'error'; message: string }
  /** A TrainingDiverged error: its message is for the user, without the worker's stack. */
  | { type: 'diverged'; message: string };
