// Summing arrays across worker threads through shared memory, for data-parallel training.
// Every worker writes its array into its own slot, waits at a barrier, then adds the slots in
// worker order, so all workers get bit-identical sums (and so keep bit-identical parameters).
// Two sets of slots alternate: a worker can only write into a set again after passing the next
// barrier, which every other worker reaches only after it has finished reading that set.
// After a failure elsewhere, stopAllReduce makes every barrier throw, so that no worker waits for
// a peer that is gone and each one ends at its next exchange.

export interface AllReduceShared {
  workers: number;
  /** Largest array (in floats) that can be summed. */
  capacity: number;
  /** Int32 [arrived, generation, stopped]. */
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

export function createAllReduce(workers: number, capacity: number): AllReduceShared {
  return {
    workers,
    capacity,
    control: new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT),
    data: new SharedArrayBuffer(2 * workers * capacity * Float32Array.BYTES_PER_ELEMENT),
  };
}

/** Make every worker's current and next barrier throw AllReduceStopped. */
export function stopAllReduce(shared: AllReduceShared): void {
  const control = new Int32Array(shared.control);
  Atomics.store(control, 2, 1);
  Atomics.notify(control, 1);
}

export class AllReduceStopped extends Error {
  constructor() {
    super('AllReduce: the run was stopped (another worker failed)');
  }
}

export class AllReduce {
  private readonly control: Int32Array;
  private readonly data: Float32Array;
  private calls = 0;

  constructor(
    private readonly shared: AllReduceShared,
    private readonly index: number,
  ) {
    if (!(index >= 0 && index < shared.workers)) throw new Error(`AllReduce: worker ${index} of ${shared.workers}`);
    this.control = new Int32Array(shared.control);
    this.data = new Float32Array(shared.data);
  }

  /** The elementwise sum of `values` over all workers (every worker must call with the same length). */
  sum(values: ArrayLike<number>): Float32Array {
    return this.sumConcatenated([values]);
  }

  /**
   * The elementwise sum over all workers of `parts` laid end to end, in one exchange (every worker
   * must call with the same lengths).
   */
  sumConcatenated(parts: ArrayLike<number>[]): Float32Array {
    const { workers, capacity } = this.shared;
    const length = parts.reduce((n, p) => n + p.length, 0);
    if (length > capacity) throw new Error(`AllReduce: ${length} values exceed the capacity ${capacity}`);
    const base = (this.calls++ % 2) * workers * capacity;
    let at = base + this.index * capacity;
    for (const p of parts) {
      this.data.set(p, at);
      at += p.length;
    }
    this.barrier();
    const out = new Float32Array(length);
    for (let w = 0; w < workers; w++) {
      const slot = base + w * capacity;
      for (let i = 0; i < out.length; i++) out[i] += this.data[slot + i];
    }
    return out;
  }

  /** Wait until every worker has arrived (a generation-counting barrier). */
  private barrier(): void {
    const c = this.control;
    if (Atomics.load(c, 2) === 1) throw new AllReduceStopped();
    const generation = Atomics.load(c, 1);
    if (Atomics.add(c, 0, 1) === this.shared.workers - 1) {
      Atomics.store(c, 0, 0);
      Atomics.add(c, 1, 1);
      Atomics.notify(c, 1);
    } else {
      while (Atomics.load(c, 1) === generation) {
        if (Atomics.load(c, 2) === 1) throw new AllReduceStopped();
        Atomics.wait(c, 1, generation, 60_000);
      }
    }
  }
}
