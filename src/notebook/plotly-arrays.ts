// Plotly's typed-array form of figure data ({dtype, bdata: base64, shape}, read by plotly.js >= 2.28
// wherever it takes data): long numeric arrays are stored so in the notebooks (./plots.ts), since
// nbformat writes a JSON array one number per indented line; and read back by the figure checks.
/** Numeric arrays shorter than this stay JSON arrays: readable, and their base64 would save little. */
export const TYPED_ARRAY_MIN_LENGTH = 64;

/** Plotly's typed-array form of a data array: the values' bytes (little-endian) in base64; `shape` "rows,columns" for a 2-D one. */
export interface TypedArraySpec {
  dtype: string;
  bdata: string;
  shape?: string;
}

const DTYPES = {
  f4: Float32Array,
  f8: Float64Array,
  i1: Int8Array,
  u1: Uint8Array,
  i2: Int16Array,
  u2: Uint16Array,
  i4: Int32Array,
  u4: Uint32Array,
};

function isTypedArraySpec(v: unknown): v is TypedArraySpec {
  return (
    !!v &&
    typeof v === 'object' &&
    typeof (v as TypedArraySpec).dtype === 'string' &&
    typeof (v as TypedArraySpec).bdata === 'string'
  );
}

/** Integer dtypes, smallest first, with the range each holds. */
const INTEGER_DTYPES: [keyof typeof DTYPES, number, number][] = [
  ['u1', 0, 2 ** 8 - 1],
  ['i1', -(2 ** 7), 2 ** 7 - 1],
  ['u2', 0, 2 ** 16 - 1],
  ['i2', -(2 ** 15), 2 ** 15 - 1],
  ['u4', 0, 2 ** 32 - 1],
  ['i4', -(2 ** 31), 2 ** 31 - 1],
];

/**
 * The smallest integer dtype that holds the values when they are all integers (a figure that
 * rounds its values to what it shows, e.g. percent, gets bytes for them); else float32 (7
 * significant digits, more than a figure shows), or float64 where a value lies outside
 * [1e-30, 1e30] in size, which float32 would turn into 0 or lose digits of. null (JSON's NaN)
 * is stored as NaN, which Plotly draws as a gap too.
 */
function typedArraySpec(values: (number | null)[], shape?: [number, number]): TypedArraySpec {
  const integers = values.every((v) => Number.isInteger(v)) ? (values as number[]) : [];
  const integer = integers.length
    ? INTEGER_DTYPES.find(([, lo, hi]) => integers.every((v) => lo <= v && v <= hi))?.[0]
    : undefined;
  const f4 = values.every((v) => v === null || v === 0 || (Math.abs(v) >= 1e-30 && Math.abs(v) <= 1e30));
  const dtype = integer ?? (f4 ? 'f4' : 'f8');
  const array = DTYPES[dtype].from(values.map((v) => v ?? NaN));
  return { dtype, bdata: Buffer.from(array.buffer).toString('base64'), ...(shape ? { shape: shape.join(',') } : {}) };
}

/** A data array as written in a figure: a typed-array spec decoded (a 2-D one into rows), anything else as it is. */
export function decodeArray(v: unknown): unknown {
  if (!isTypedArraySpec(v)) return v;
  const Type = DTYPES[v.dtype as keyof typeof DTYPES];
  if (!Type) throw new Error(`decodeArray: dtype "${v.dtype}" is not one Plotly reads`);
  const bytes = Buffer.from(v.bdata, 'base64');
  // a copy: a typed array needs its offset aligned to its element size
  const flat = new Type(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const dims = v.shape === undefined ? [flat.length] : String(v.shape).split(',').map(Number);
  if (dims.length === 1 && dims[0] === flat.length) return flat;
  if (dims.length === 2 && dims[0] * dims[1] === flat.length)
    return Array.from({ length: dims[0] }, (_, i) => flat.subarray(i * dims[1], (i + 1) * dims[1]));
  throw new Error(`decodeArray: shape "${v.shape}" does not fit ${flat.length} values`);
}

const isNumericArray = (v: unknown): v is (number | null)[] =>
  Array.isArray(v) && v.every((x) => x === null || typeof x === 'number');

/**
 * Plain JSON with its long numeric arrays as typed-array specs, which Plotly decodes wherever it
 * takes data (trace attributes, restyle arguments). A heat map's `z` becomes one 2-D spec when it
 * is rectangular and stays JSON otherwise: Plotly decodes a spec in place of z, not of its rows.
 */
export function encodeArrays(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) {
    if (key === 'z' && value.length > 0 && value.every(isNumericArray)) {
      const columns = value[0].length;
      const rectangular = value.every((row) => row.length === columns);
      return rectangular && value.length * columns >= TYPED_ARRAY_MIN_LENGTH
        ? typedArraySpec(value.flat(), [value.length, columns])
        : value;
    }
    if (value.length >= TYPED_ARRAY_MIN_LENGTH && isNumericArray(value)) return typedArraySpec(value);
    return value.map((v) => encodeArrays(v));
  }
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encodeArrays(v, k)]));
  return value;
}
