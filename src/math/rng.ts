// Seeded random numbers with named, independent streams.
//
// A stream is identified by (seed, path). `fork(name)` derives a child stream from that
// identity, not from how many numbers the parent has drawn, so adding a draw in one place
// never shifts the numbers drawn elsewhere. Forking the same name twice from one parent
// throws: handing the same stream to two consumers (the tutorial's JAX key reuse, which
// made its diffusion noise equal to the data's own normal draw) is then a loud error.

/** 32-bit FNV-1a hash of a string, mixed with a seed. */
function hashString(seed: number, text: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** splitmix32: spreads one 32-bit value into well-mixed state words. */
function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) >>> 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [state, (z ^ (z >>> 16)) >>> 0];
}

const TWO_POW_32 = 4294967296;

export class Rng {
  readonly seed: number;
  readonly path: string;
  private readonly forked = new Set<string>();
  // xoshiro128** state
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spareNormal: number | null = null;

  /** Root stream of a seed. Use `fork` to get the streams you draw from. */
  constructor(seed: number, path = 'root') {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new Error(`Rng: seed must be an integer in [0, 2^32), got ${seed}`);
    }
    this.seed = seed;
    this.path = path;
    let state = hashString(seed, path);
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, out] = splitmix32(state);
      state = next;
      words.push(out);
    }
    [this.s0, this.s1, this.s2, this.s3] = words;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** An independent child stream. Each name may be forked once per parent. */
  fork(name: string): Rng {
    if (this.forked.has(name)) {
      throw new Error(
        `Rng: stream '${this.path}/${name}' was already handed out; reusing a stream for two purposes ` +
          `correlates them (fork a new name instead)`,
      );
    }
    this.forked.add(name);
    return new Rng(this.seed, `${this.path}/${name}`);
  }

  /** The complete generator state, e.g. to continue this exact stream in a worker thread. */
  getState(): RngState {
    return {
      seed: this.seed,
      path: this.path,
      words: [this.s0, this.s1, this.s2, this.s3],
      spareNormal: this.spareNormal,
    };
  }

  /** Continue from a state taken with getState (the same numbers follow, in the same order). */
  setState(state: RngState): void {
    if (state.seed !== this.seed || state.path !== this.path) {
      throw new Error(
        `Rng.setState: state of stream ${state.seed}:${state.path} given to stream ${this.seed}:${this.path}`,
      );
    }
    [this.s0, this.s1, this.s2, this.s3] = state.words;
    this.spareNormal = state.spareNormal;
  }

  /** A generator continuing from `state`. */
  static fromState(state: RngState): Rng {
    const r = new Rng(state.seed, state.path);
    r.setState(state);
    return r;
  }

  /** Next raw 32-bit unsigned integer (xoshiro128**). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform on [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) throw new Error(`Rng.int: bad range ${n}`);
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % n;
    }
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log is finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spareNormal = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** n standard normals. */
  normals(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }

  /** n uniform integers in [0, m). */
  ints(n: number, m: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(m);
    return out;
  }

  /**
   * An inverted-dropout mask: each entry is 0 with probability `rate`, else 1 / (1 - rate).
   * The mask takes two draws from this stream, its 64-bit key. Entry i is then the (i mod
   * DROPOUT_BLOCK)-th draw of block stream ⌊i / DROPOUT_BLOCK⌋, a xoshiro128** stream seeded from
   * (key, block) (`seedDropoutBlock`), kept where the draw is ≥ rate·2³². So a worker that holds
   * some rows of a batch draws only their entries (`dropoutMaskPart`), and the stream advances by
   * two draws per mask whichever entries were drawn.
   */
  dropoutMask(n: number, rate: number): Float32Array {
    return this.dropoutMaskPart(n, rate, 0, n);
  }

  /** Entries [from, to) of `dropoutMask(n, rate)`, leaving the same state as the whole mask. */
  dropoutMaskPart(n: number, rate: number, from: number, to: number): Float32Array {
    if (!Number.isInteger(n) || n < 0) throw new Error(`Rng.dropoutMask: n must be an integer ≥ 0, got ${n}`);
    if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to && to <= n)) {
      throw new Error(`Rng.dropoutMaskPart: entries [${from}, ${to}) not within [0, ${n})`);
    }
    if (!(rate >= 0 && rate < 1)) throw new Error(`Rng.dropoutMask: rate must be in [0, 1), got ${rate}`);
    const key0 = this.nextUint32();
    const key1 = this.nextUint32();
    const out = new Float32Array(to - from);
    const bits = new Int32Array(out.buffer);
    // u ≥ rate·2³² ⇔ u ≥ ⌈rate·2³²⌉ for an integer u; compared as signed int32 after flipping the top bit
    const ceilThreshold = Math.ceil(rate * TWO_POW_32);
    const threshold = (ceilThreshold - 2147483648) | 0;
    const keepBits = new Int32Array(Float32Array.of(ceilThreshold > 0xffffffff ? 0 : 1 / (1 - rate)).buffer)[0];
    for (let i = from; i < to; ) {
      const block = Math.floor(i / DROPOUT_BLOCK);
      const end = Math.min(to, (block + 1) * DROPOUT_BLOCK);
      seedDropoutBlock(key0, key1, block);
      fillDropoutBits(bits, i - from, end - from, i - block * DROPOUT_BLOCK, threshold, keepBits);
      i = end;
    }
    return out;
  }
}

/** Entries per block stream of a dropout mask. */
export const DROPOUT_BLOCK = 1024;

/** State of the block stream being drawn (xoshiro128** words), reused to avoid an allocation per block. */
const blockState = new Int32Array(4);

/**
 * Seed the xoshiro128** stream of block `block` of the dropout mask with key (key0, key1): two
 * state words from splitmix32 of each key word combined with the block index, so that two blocks
 * share a stream only if both 32-bit halves coincide.
 */
function seedDropoutBlock(key0: number, key1: number, block: number): void {
  let at = 0;
  for (const start of [(key0 ^ Math.imul(block, 0x2545f491)) >>> 0, (key1 + block) >>> 0]) {
    let state = start;
    for (let i = 0; i < 2; i++) {
      const [next, out] = splitmix32(state);
      state = next;
      blockState[at++] = out;
    }
  }
  if ((blockState[0] | blockState[1] | blockState[2] | blockState[3]) === 0) blockState[0] = 1;
}

/**
 * From the seeded block stream: skip `skip` draws, then write entries [start, end) of `bits` as
 * float32 bits, `keepBits` where the draw (top bit flipped, as int32) is ≥ threshold, else 0.
 * xoshiro128** inlined on local int32 state: the same sequence as nextUint32, several times faster.
 */
function fillDropoutBits(
  bits: Int32Array,
  start: number,
  end: number,
  skip: number,
  threshold: number,
  keepBits: number,
): void {
  let s0 = blockState[0];
  let s1 = blockState[1];
  let s2 = blockState[2];
  let s3 = blockState[3];
  for (let i = start - skip; i < end; i++) {
    const x = Math.imul(s1, 5);
    const flipped = Math.imul((x << 7) | (x >>> 25), 9) ^ -2147483648;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    if (i >= start) bits[i] = keepBits & -Number(flipped >= threshold);
  }
}

export interface RngState {
  seed: number;
  path: string;
  words: [number, number, number, number];
  spareNormal: number | null;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The independent streams one training run draws from. */
export interface TrainingStreams {
  init: Rng;
  data: Rng;
  noise: Rng;
  timesteps: Rng;
  dropout: Rng;
}

/** Derive the training streams of a seed: the data, diffusion noise, timesteps and dropout never share bits. */
export function trainingStreams(seed: number): TrainingStreams {
  const root = new Rng(seed, 'train');
  return {
    init: root.fork('init'),
    data: root.fork('data'),
    noise: root.fork('noise'),
    timesteps: root.fork('timesteps'),
    dropout: root.fork('dropout'),
  };
}
