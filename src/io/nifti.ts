// NIfTI-1 and NIfTI-2 (.nii, .nii.gz) reading and writing over bytes, so the same code runs in Node, Deno and
// browsers. Header fields are parsed by nifti-reader-js; gzip is fflate's (synchronous, pure JS). The writer's
// header serialisation is ours (nifti-reader-js only reads).
//
// What readNifti returns (a Volume, see src/volume/volume.ts):
// - data: frame 0 as float32, i fastest, after scl_slope/scl_inter (a slope of 0, or a non-finite one, means no
//   scaling, as the standard says). A 4-D (or 5-D …) file yields its first 3-D volume; `origin.frames` says how
//   many the file holds (e.g. channel 0 of an MSD multi-modal image).
// - affine: the sform when sform_code > 0, else the qform (quaternion, pixdim and qfac) when qform_code > 0,
//   else diag(pixdim[1..3]) (NIfTI "method 1"). A non-finite or singular sform/qform falls through to the next
//   method. Metres and microns (xyzt_units) are converted to mm.
// - spacing: the length of each affine column (mm), given as |pixdim[1..3]| where that agrees to 1e-4 (relative),
//   so that an sform that scales differently from pixdim still rules.
//
// Errors are NiftiError with a `code`, and a message that starts with the source and the code, e.g.
// `patient001.nii.gz: truncated: header says 1234567 bytes of voxel data at offset 352, file has 1000`.

import { Gunzip, gzipSync } from 'fflate';
import { NIFTI1, NIFTI2 } from 'nifti-reader-js';
import type { Vec3, Volume, VolumeOrigin } from '../volume/volume.ts';

export type NiftiErrorCode =
  | 'bad-magic' // not a NIfTI-1/2 single file (.nii): wrong sizeof_hdr or magic, or an .hdr/.img pair
  | 'truncated' // shorter than its header, or than the voxel data the header declares
  | 'unsupported-datatype' // complex, RGB, binary, float128 or an unknown datatype code
  | 'bad-dims' // dim[0] outside 1..7, a dim < 1 or > 65535; on writing, dims/data/spacing/affine inconsistent
  | 'too-large' // more than MAX_VOXELS voxels per volume, or a gzip that expands past `maxBytes`
  | 'corrupt-gzip' // a gzip stream that does not decompress, ends early, or fails its CRC/size check
  | 'unrepresentable' // writing: a value that the chosen integer datatype cannot hold exactly
  | 'io'; // file helpers: the file system refused (missing file, permissions, …)

export class NiftiError extends Error {
  override readonly name = 'NiftiError';
  readonly code: NiftiErrorCode;
  /** the file (or name) the error is about */
  readonly source: string;
  constructor(code: NiftiErrorCode, source: string, detail: string, options?: { cause?: unknown }) {
    super(`${source}: ${code}: ${detail}`, options);
    this.code = code;
    this.source = source;
  }
}

/** The most voxels one 3-D volume may have: 2^31/4 (a 2 GiB Float32Array). */
export const MAX_VOXELS = 2 ** 31 / 4;
/** The largest dimension accepted along any axis. */
export const MAX_DIM = 65535;
/** Default cap on the decompressed size of a .nii.gz: 2 GiB. */
export const DEFAULT_MAX_BYTES = 2 ** 31;

export interface ReadNiftiOptions {
  /** refuse a gzip stream that expands past this many bytes (default DEFAULT_MAX_BYTES, 2 GiB) */
  maxBytes?: number;
  /**
   * Called with the header's geometry before any voxel is decoded (and, for .nii.gz, before the stream is
   * inflated past its header): throw here to refuse a volume that the work after reading could not take.
   */
  checkHeader?: (header: NiftiHeader) => void;
}

/** What the header says about a volume: everything a Volume holds but its voxels. */
export type NiftiHeader = Omit<Volume, 'data'> & { origin: VolumeOrigin };

export type NiftiWriteDatatype = 'float32' | 'uint8' | 'int16';

export interface WriteNiftiOptions {
  /** gzip the file (default false) */
  gzip?: boolean;
  /** NIfTI-1 (348-byte header) or NIfTI-2 (540-byte header); default: the version the volume was read from, else 1 */
  version?: 1 | 2;
  /** stored datatype (default float32). uint8 and int16 need every value to be an integer in range
   *  (NaN included: refused), else NiftiError 'unrepresentable'; no scaling is applied. */
  datatype?: NiftiWriteDatatype;
  /** the header's descrip field (ASCII, at most 79 characters; default 'glocal') */
  description?: string;
}

interface Dtype {
  name: string;
  bytes: number;
  view(buf: ArrayBuffer): ArrayLike<number> | BigInt64Array | BigUint64Array;
}

/** The datatypes read, by NIfTI code. */
const DTYPES: Record<number, Dtype> = {
  2: { name: 'uint8', bytes: 1, view: (b) => new Uint8Array(b) },
  256: { name: 'int8', bytes: 1, view: (b) => new Int8Array(b) },
  4: { name: 'int16', bytes: 2, view: (b) => new Int16Array(b) },
  512: { name: 'uint16', bytes: 2, view: (b) => new Uint16Array(b) },
  8: { name: 'int32', bytes: 4, view: (b) => new Int32Array(b) },
  768: { name: 'uint32', bytes: 4, view: (b) => new Uint32Array(b) },
  16: { name: 'float32', bytes: 4, view: (b) => new Float32Array(b) },
  64: { name: 'float64', bytes: 8, view: (b) => new Float64Array(b) },
  1024: { name: 'int64', bytes: 8, view: (b) => new BigInt64Array(b) },
  1280: { name: 'uint64', bytes: 8, view: (b) => new BigUint64Array(b) },
};
const UNSUPPORTED: Record<number, string> = {
  0: 'none',
  1: 'binary (1 bit)',
  32: 'complex64',
  128: 'rgb24',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'rgba32',
};
const WRITE_TYPES: Record<NiftiWriteDatatype, { code: number; bits: number; min: number; max: number }> = {
  float32: { code: 16, bits: 32, min: -Infinity, max: Infinity },
  uint8: { code: 2, bits: 8, min: 0, max: 255 },
  int16: { code: 4, bits: 16, min: -32768, max: 32767 },
};

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const MAGIC1 = [0x6e, 0x2b, 0x31, 0]; // "n+1\0"
const MAGIC2 = [0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a]; // "n+2\0\r\n\x1a\n"

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

// ---------------------------------------------------------------------------------------------------- reading

/** Reads a .nii or .nii.gz (gzip detected by its magic bytes 1f 8b). `source` names it in errors. */
export function readNifti(bytes: Uint8Array, source: string, opts: ReadNiftiOptions = {}): Volume {
  let maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  // A plain view: a Node Buffer's slice() shares memory (and its buffer may be a pool), where ours must copy.
  const plain =
    bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isGzip(plain)) {
    // the header first: its limits refuse a gzip bomb before the stream is inflated, not after
    const head = gunzipHead(plain, 540); // a NIfTI-1 header and more, or all of a NIfTI-2 one
    if (head.length >= 348) {
      const h = parseHeader(head, source); // its errors are those the whole file would give
      opts.checkHeader?.(h.header);
      maxBytes = Math.min(maxBytes, h.off + h.need + (1 << 20)); // the data the header declares, and some slack
    }
  }
  const buf = isGzip(plain) ? gunzipLimited(plain, source, maxBytes) : plain;
  return parseNifti(buf, source, opts.checkHeader);
}

/** The first `n` bytes (or fewer) of a gzip stream, or none when it does not inflate (readNifti then says why). */
function gunzipHead(src: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let len = 0;
  const g = new Gunzip((chunk) => {
    const take = Math.min(chunk.length, n - len);
    out.set(chunk.subarray(0, take), len);
    len += take;
  });
  try {
    for (let p = 0; p < src.length && len < n; p += 4096)
      g.push(src.subarray(p, Math.min(p + 4096, src.length)), p + 4096 >= src.length);
  } catch {
    return out.subarray(0, 0);
  }
  return out.subarray(0, len);
}

function parseNifti(buf: Uint8Array, source: string, checkHeader?: (h: NiftiHeader) => void): Volume {
  const { header, dt, off, need, little, slope, inter, voxels, dimText } = parseHeader(buf, source);
  checkHeader?.(header);
  if (buf.length < off + need) {
    throw new NiftiError(
      'truncated',
      source,
      `header says ${need} bytes of voxel data (${dimText} ${dt.name}) at offset ${off}, file has ${Math.max(0, buf.length - off)}`,
    );
  }
  return { ...header, data: decodeVoxels(buf, off, voxels, dt, little, slope, inter) };
}

/** The header of a NIfTI file (its first 348 or 540 bytes suffice): geometry, datatype and where the voxels are. */
function parseHeader(buf: Uint8Array, source: string) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const { version, little, hsize } = headerFormat(buf, dv, source);
  const hdr = version === 1 ? new NIFTI1() : new NIFTI2();
  // Only the fixed header: extensions are not needed, and a malformed one must not stop the read.
  hdr.readHeader(buf.slice(0, hsize).buffer);
  const { dims, frames, voxels, dimText } = checkDims(hdr.dims, source);
  const dt = datatypeOf(hdr.datatypeCode, source);
  // voxel data: the header must account for every frame, though only frame 0 is decoded
  const minOffset = hsize + 4;
  const off = Number.isFinite(hdr.vox_offset) && hdr.vox_offset >= minOffset ? Math.floor(hdr.vox_offset) : minOffset;
  const need = voxels * frames * dt.bytes;
  let slope = hdr.scl_slope,
    inter = hdr.scl_inter;
  if (!Number.isFinite(slope) || slope === 0) {
    // no scaling
    slope = 1;
    inter = 0;
  }
  if (!Number.isFinite(inter)) inter = 0;
  const { affine, from, spacing } = headerGeometry(hdr, dv, version, little);
  const origin: VolumeOrigin = {
    format: version === 1 ? 'nifti1' : 'nifti2',
    datatype: dt.name,
    sformCode: hdr.sform_code,
    qformCode: hdr.qform_code,
    affineFrom: from,
    frames,
  };
  const header: NiftiHeader = { dims, spacing, affine, source, origin };
  return { header, dt, off, need, little, slope, inter, voxels, dimText };
}

/** NIfTI-1 or NIfTI-2 and the byte order, from sizeof_hdr; refuses a short header and a wrong magic. */
function headerFormat(buf: Uint8Array, dv: DataView, source: string) {
  if (buf.length < 4)
    throw new NiftiError('truncated', source, `file has ${buf.length} bytes, a NIfTI header needs at least 348`);
  let version: 1 | 2, little: boolean;
  const le = dv.getInt32(0, true),
    be = dv.getInt32(0, false);
  if (le === 348 || be === 348) {
    version = 1;
    little = le === 348;
  } else if (le === 540 || be === 540) {
    version = 2;
    little = le === 540;
  } else
    throw new NiftiError(
      'bad-magic',
      source,
      `not a NIfTI file: its first 4 bytes (sizeof_hdr) read ${le}, expected 348 (NIfTI-1) or 540 (NIfTI-2)`,
    );
  const hsize = version === 1 ? 348 : 540;
  if (buf.length < hsize)
    throw new NiftiError(
      'truncated',
      source,
      `the NIfTI-${version} header needs ${hsize} bytes, file has ${buf.length}`,
    );
  const magicAt = version === 1 ? 344 : 4,
    magic = version === 1 ? MAGIC1 : MAGIC2;
  const got = Array.from(buf.subarray(magicAt, magicAt + magic.length));
  if (got.some((b, i) => b !== magic[i])) {
    const text = String.fromCharCode(...got.slice(0, 3).map((b) => (b >= 32 && b < 127 ? b : 63)));
    if (text === `ni${version}`)
      throw new NiftiError(
        'bad-magic',
        source,
        `magic 'ni${version}' marks a .hdr/.img pair; only single-file NIfTI (.nii, magic 'n+${version}') is supported`,
      );
    throw new NiftiError('bad-magic', source, `magic is '${text}' (bytes ${got.join(' ')}), expected 'n+${version}'`);
  }
  return { version, little, hsize };
}

/** The first three dims of the header's `dim`, the frames beyond them, and the voxels of one frame. */
function checkDims(dim: number[], source: string) {
  const ndim = dim[0];
  if (!Number.isInteger(ndim) || ndim < 1 || ndim > 7)
    throw new NiftiError('bad-dims', source, `dim[0] is ${ndim}, expected 1..7`);
  for (let i = 1; i <= ndim; i++) {
    if (!Number.isInteger(dim[i]) || dim[i] < 1 || dim[i] > MAX_DIM) {
      throw new NiftiError(
        'bad-dims',
        source,
        `dim[${i}] is ${dim[i]}; each dimension must be 1..${MAX_DIM} (dim = [${dim.slice(0, ndim + 1).join(', ')}])`,
      );
    }
  }
  const dims: Vec3 = [dim[1], ndim >= 2 ? dim[2] : 1, ndim >= 3 ? dim[3] : 1];
  let frames = 1;
  for (let i = 4; i <= ndim; i++) frames *= dim[i];
  const voxels = dims[0] * dims[1] * dims[2];
  if (voxels > MAX_VOXELS)
    throw new NiftiError(
      'too-large',
      source,
      `${dims.join('×')} = ${voxels} voxels, more than the limit of ${MAX_VOXELS}`,
    );
  return { dims, frames, voxels, dimText: [...dims, ...dim.slice(4, ndim + 1)].join('×') };
}

function datatypeOf(code: number, source: string): Dtype {
  const dt = DTYPES[code];
  if (dt) return dt;
  const name = UNSUPPORTED[code] ?? 'unknown';
  throw new NiftiError(
    'unsupported-datatype',
    source,
    `datatype code ${code} (${name}) is not supported; supported: ${Object.values(DTYPES)
      .map((d) => d.name)
      .join(', ')}`,
  );
}

/** The affine in mm (see chooseAffine) and the spacing it implies. */
function headerGeometry(hdr: NIFTI1 | NIFTI2, dv: DataView, version: 1 | 2, little: boolean) {
  const pixdim = hdr.pixDims;
  const unit = [1, 1000, 1, 0.001][hdr.xyzt_units & 7] ?? 1; // unknown, metre, mm, micron → mm
  const { affine, from } = chooseAffine(hdr, dv, version, little);
  for (let t = 0; t < 12; t++) affine[t] *= unit;
  // pixdim where it agrees with the affine (it then holds the exact intended value), else the affine's column
  // length: an sform may scale differently from pixdim (which belongs to the qform), and the affine rules.
  const spacing = [0, 1, 2].map((c) => {
    const len = Math.hypot(affine[c], affine[4 + c], affine[8 + c]),
      p = Math.abs(pixdim[c + 1]) * unit;
    return Number.isFinite(p) && Math.abs(p - len) <= 1e-4 * len ? p : len;
  }) as Vec3;
  return { affine, from, spacing };
}

function decodeVoxels(
  buf: Uint8Array,
  off: number,
  n: number,
  dt: Dtype,
  little: boolean,
  slope: number,
  inter: number,
): Float32Array {
  const raw = buf.slice(off, off + n * dt.bytes); // a fresh, aligned copy
  if (dt.bytes > 1 && little !== HOST_LE) swapBytes(raw, dt.bytes);
  const src = dt.view(raw.buffer);
  const scaled = slope !== 1 || inter !== 0;
  if (src instanceof Float32Array && !scaled) return src; // bit-exact
  const out = new Float32Array(n);
  if (src instanceof BigInt64Array || src instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) out[i] = Number(src[i]) * slope + inter;
  } else if (!scaled) {
    out.set(src); // converts, rounding to the nearest float32
  } else {
    for (let i = 0; i < n; i++) out[i] = src[i] * slope + inter; // in float64, then rounded once
  }
  return out;
}

function swapBytes(b: Uint8Array, size: number): void {
  for (let p = 0; p + size <= b.length; p += size) {
    for (let x = p, y = p + size - 1; x < y; x++, y--) {
      const t = b[x];
      b[x] = b[y];
      b[y] = t;
    }
  }
}

/** The voxel → world affine by the standard's precedence: sform, then qform, then pixdim (method 1). */
function chooseAffine(
  hdr: NIFTI1 | NIFTI2,
  dv: DataView,
  version: 1 | 2,
  little: boolean,
): { affine: number[]; from: VolumeOrigin['affineFrom'] } {
  const pd = (i: number) => {
    const p = hdr.pixDims[i];
    return Number.isFinite(p) && p !== 0 ? Math.abs(p) : 1;
  };
  if (hdr.sform_code > 0) {
    const a = new Array<number>(16).fill(0);
    for (let t = 0; t < 12; t++) {
      // srow_x, srow_y, srow_z: float32 at 280 (NIfTI-1), float64 at 400 (NIfTI-2)
      a[t] = version === 1 ? dv.getFloat32(280 + 4 * t, little) : dv.getFloat64(400 + 8 * t, little);
    }
    a[15] = 1;
    if (usable(a)) return { affine: a, from: 'sform' };
  }
  if (hdr.qform_code > 0) {
    const a = quaternToAffine(
      hdr.quatern_b,
      hdr.quatern_c,
      hdr.quatern_d,
      [hdr.qoffset_x, hdr.qoffset_y, hdr.qoffset_z],
      [pd(1), pd(2), pd(3)],
      hdr.pixDims[0] < 0 ? -1 : 1,
    );
    if (usable(a)) return { affine: a, from: 'qform' };
  }
  return { affine: [pd(1), 0, 0, 0, 0, pd(2), 0, 0, 0, 0, pd(3), 0, 0, 0, 0, 1], from: 'pixdim' };
}

function det3(a: number[]): number {
  return a[0] * (a[5] * a[10] - a[6] * a[9]) - a[1] * (a[4] * a[10] - a[6] * a[8]) + a[2] * (a[4] * a[9] - a[5] * a[8]);
}

function usable(a: number[]): boolean {
  if (!a.every(Number.isFinite)) return false;
  const s = [0, 1, 2].map((c) => Math.hypot(a[c], a[4 + c], a[8 + c]));
  return s.every((x) => x > 0) && Math.abs(det3(a)) > 1e-9 * s[0] * s[1] * s[2];
}

/** NIfTI method 2: R(quaternion) · diag(dx, dy, qfac·dz), plus the offsets. */
export function quaternToAffine(b: number, c: number, d: number, offset: Vec3, pixdim: Vec3, qfac: 1 | -1): number[] {
  let a: number;
  const s = b * b + c * c + d * d;
  if (1 - s < 1e-7) {
    // a ≈ 0 (a 180° rotation): renormalise (b, c, d)
    const r = 1 / Math.sqrt(s);
    b *= r;
    c *= r;
    d *= r;
    a = 0;
  } else {
    a = Math.sqrt(1 - s);
  }
  const R = [
    a * a + b * b - c * c - d * d,
    2 * (b * c - a * d),
    2 * (b * d + a * c),
    2 * (b * c + a * d),
    a * a + c * c - b * b - d * d,
    2 * (c * d - a * b),
    2 * (b * d - a * c),
    2 * (c * d + a * b),
    a * a + d * d - b * b - c * c,
  ];
  const scale = [pixdim[0], pixdim[1], qfac * pixdim[2]];
  const m = new Array<number>(16).fill(0);
  for (let r = 0; r < 3; r++) {
    for (let col = 0; col < 3; col++) m[4 * r + col] = R[3 * r + col] * scale[col];
    m[4 * r + 3] = offset[r];
  }
  m[15] = 1;
  return m;
}

/** The qform of an affine, where it has one: quaternion (b, c, d), qfac and offsets, such that
 *  quaternToAffine(b, c, d, offset, spacing, qfac) reproduces it. Undefined when the affine's columns are
 *  not orthogonal (shear) or their lengths differ from `spacing` (relative tolerance 1e-4). */
export function affineToQuatern(
  aff: number[],
  spacing: Vec3,
): { b: number; c: number; d: number; qfac: 1 | -1; offset: Vec3 } | undefined {
  const R = new Array<number>(9);
  for (let col = 0; col < 3; col++) {
    const n = Math.hypot(aff[col], aff[4 + col], aff[8 + col]);
    if (!(n > 0) || Math.abs(n - spacing[col]) > 1e-4 * spacing[col]) return undefined;
    for (let r = 0; r < 3; r++) R[3 * r + col] = aff[4 * r + col] / n;
  }
  for (let x = 0; x < 3; x++)
    for (let y = x + 1; y < 3; y++) {
      const dot = R[x] * R[y] + R[3 + x] * R[3 + y] + R[6 + x] * R[6 + y];
      if (Math.abs(dot) > 1e-4) return undefined;
    }
  const det =
    R[0] * (R[4] * R[8] - R[5] * R[7]) - R[1] * (R[3] * R[8] - R[5] * R[6]) + R[2] * (R[3] * R[7] - R[4] * R[6]);
  let qfac: 1 | -1 = 1;
  if (det < 0) {
    qfac = -1;
    R[2] = -R[2];
    R[5] = -R[5];
    R[8] = -R[8];
  }
  // rotation matrix → unit quaternion (a, b, c, d), from the largest of the four squared components
  const tr = R[0] + R[4] + R[8];
  let a: number, b: number, c: number, d: number;
  if (tr > 0) {
    a = 0.5 * Math.sqrt(1 + tr);
    b = (R[7] - R[5]) / (4 * a);
    c = (R[2] - R[6]) / (4 * a);
    d = (R[3] - R[1]) / (4 * a);
  } else if (R[0] >= R[4] && R[0] >= R[8]) {
    b = 0.5 * Math.sqrt(1 + R[0] - R[4] - R[8]);
    a = (R[7] - R[5]) / (4 * b);
    c = (R[1] + R[3]) / (4 * b);
    d = (R[2] + R[6]) / (4 * b);
  } else if (R[4] >= R[8]) {
    c = 0.5 * Math.sqrt(1 - R[0] + R[4] - R[8]);
    a = (R[2] - R[6]) / (4 * c);
    b = (R[1] + R[3]) / (4 * c);
    d = (R[5] + R[7]) / (4 * c);
  } else {
    d = 0.5 * Math.sqrt(1 - R[0] - R[4] + R[8]);
    a = (R[3] - R[1]) / (4 * d);
    b = (R[2] + R[6]) / (4 * d);
    c = (R[5] + R[7]) / (4 * d);
  }
  // the standard's convention: a ≥ 0, a itself is implied
  if (a < 0) {
    b = -b;
    c = -c;
    d = -d;
  }
  const n = Math.hypot(a, b, c, d);
  return { b: b / n, c: c / n, d: d / n, qfac, offset: [aff[3], aff[7], aff[11]] };
}

// ---------------------------------------------------------------------------------------------------- gzip

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Streams the gzip through fflate's Gunzip, refusing it as soon as the output passes maxBytes; checks the
 *  trailer (CRC-32 and ISIZE) of a single-member stream. */
function gunzipLimited(src: Uint8Array, source: string, maxBytes: number): Uint8Array {
  if (src.length < 18) throw new NiftiError('corrupt-gzip', source, `the gzip stream is only ${src.length} bytes`);
  const tail = new DataView(src.buffer, src.byteOffset + src.length - 8, 8);
  const isize = tail.getUint32(4, true);
  // The trailer's size (mod 2^32, and of the last member only) is a hint for the first allocation, not a
  // verdict: a truncated file's "trailer" is arbitrary bytes. Deflate expands at most ~1032:1; the buffer
  // doubles when the hint was short, and the limit is enforced on the bytes actually produced.
  let out = new Uint8Array(Math.max(1024, Math.min(isize, maxBytes, src.length * 1032, src.length * 64 + (1 << 20))));
  let len = 0,
    members = 1,
    ended = false;
  const g = new Gunzip((chunk, final) => {
    if (len + chunk.length > maxBytes)
      throw new NiftiError(
        'too-large',
        source,
        `the gzip stream expands past the limit of ${maxBytes} bytes (option maxBytes)`,
      );
    if (len + chunk.length > out.length) {
      const grown = new Uint8Array(Math.min(maxBytes, Math.max(2 * out.length, len + chunk.length)));
      grown.set(out.subarray(0, len));
      out = grown;
    }
    out.set(chunk, len);
    len += chunk.length;
    if (final) ended = true;
  });
  g.onmember = () => void members++;
  const CHUNK = 1 << 16;
  try {
    for (let p = 0; p < src.length; p += CHUNK)
      g.push(src.subarray(p, Math.min(p + CHUNK, src.length)), p + CHUNK >= src.length);
  } catch (e) {
    if (e instanceof NiftiError) throw e;
    throw new NiftiError('corrupt-gzip', source, `the gzip stream does not decompress (${(e as Error).message ?? e})`, {
      cause: e,
    });
  }
  if (!ended)
    throw new NiftiError('corrupt-gzip', source, 'the gzip stream ends before its last block (truncated .gz?)');
  const data = out.subarray(0, len);
  if (members === 1) {
    if (isize !== len % 2 ** 32)
      throw new NiftiError(
        'corrupt-gzip',
        source,
        `the gzip trailer says ${isize} bytes, the stream gave ${len} (truncated or corrupt .gz)`,
      );
    const want = tail.getUint32(0, true),
      got = crc32(data);
    if (want !== got)
      throw new NiftiError(
        'corrupt-gzip',
        source,
        `CRC-32 mismatch (trailer ${want.toString(16)}, data ${got.toString(16)})`,
      );
  }
  return data;
}

// ---------------------------------------------------------------------------------------------------- writing

/** Serialises a volume to a .nii (or .nii.gz with gzip: true). The sform is the affine, with the volume's
 *  original sform_code (default 2, aligned); the qform holds the same affine where it is a rotation times
 *  diag(spacing) (with qfac for a reflection), else qform_code is 0. */
export function writeNifti(v: Volume, opts: WriteNiftiOptions = {}): Uint8Array {
  const version = opts.version ?? (v.origin?.format === 'nifti2' ? 2 : 1);
  const dtName = opts.datatype ?? 'float32';
  const wt = WRITE_TYPES[dtName];
  if (!wt)
    throw new NiftiError(
      'unsupported-datatype',
      v.source,
      `cannot write datatype '${dtName}'; choose float32, uint8 or int16`,
    );
  checkVolume(v, version);
  const n = v.data.length;
  const hsize = version === 1 ? 348 : 540,
    off = hsize + 4;
  const out = new Uint8Array(off + n * (wt.bits / 8));
  const sformCode = v.origin && v.origin.sformCode > 0 ? v.origin.sformCode : 2;
  const q = affineToQuatern(v.affine, v.spacing);
  const fields: HeaderFields = {
    wt,
    off,
    sformCode,
    qformCode: !q ? 0 : v.origin && v.origin.qformCode > 0 ? v.origin.qformCode : sformCode,
    dim: [3, v.dims[0], v.dims[1], v.dims[2], 1, 1, 1, 1],
    pixdim: [q ? q.qfac : 1, v.spacing[0], v.spacing[1], v.spacing[2], 1, 1, 1, 1],
    quat: q ? [q.b, q.c, q.d, ...q.offset] : [0, 0, 0, v.affine[3], v.affine[7], v.affine[11]],
    affine: v.affine,
    descrip: (opts.description ?? 'glocal').replace(/[^\x20-\x7e]/g, '?').slice(0, 79),
  };
  if (version === 1) writeHeader1(out, fields);
  else writeHeader2(out, fields);
  // bytes 348..351 / 540..543 (the extension flag) stay zero: no extensions
  writeVoxels(out.subarray(off), v, dtName);
  return opts.gzip ? gzipSync(out, { level: 6, mtime: 0 }) : out;
}

/** What the writer puts in the header, for either version's layout. */
interface HeaderFields {
  wt: (typeof WRITE_TYPES)[NiftiWriteDatatype];
  /** vox_offset */
  off: number;
  sformCode: number;
  qformCode: number;
  dim: number[];
  pixdim: number[];
  /** quatern_b, c, d, qoffset_x, y, z */
  quat: number[];
  affine: number[];
  descrip: string;
}

const writeAscii = (out: Uint8Array, at: number, s: string) => {
  for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
};

/** The 348-byte NIfTI-1 header, little-endian. */
function writeHeader1(out: Uint8Array, h: HeaderFields): void {
  const dv = new DataView(out.buffer);
  dv.setInt32(0, 348, true);
  out[38] = 0x72; // regular = 'r'
  h.dim.forEach((d, i) => dv.setInt16(40 + 2 * i, d, true));
  dv.setInt16(70, h.wt.code, true);
  dv.setInt16(72, h.wt.bits, true);
  h.pixdim.forEach((p, i) => dv.setFloat32(76 + 4 * i, p, true));
  dv.setFloat32(108, h.off, true); // vox_offset
  dv.setFloat32(112, 1, true); // scl_slope
  dv.setFloat32(116, 0, true); // scl_inter
  out[123] = 2; // xyzt_units: mm
  writeAscii(out, 148, h.descrip);
  dv.setInt16(252, h.qformCode, true);
  dv.setInt16(254, h.sformCode, true);
  h.quat.forEach((x, i) => dv.setFloat32(256 + 4 * i, x, true));
  for (let t = 0; t < 12; t++) dv.setFloat32(280 + 4 * t, h.affine[t], true);
  MAGIC1.forEach((b, i) => {
    out[344 + i] = b;
  });
}

/** The 540-byte NIfTI-2 header, little-endian. */
function writeHeader2(out: Uint8Array, h: HeaderFields): void {
  const dv = new DataView(out.buffer);
  dv.setInt32(0, 540, true);
  MAGIC2.forEach((b, i) => {
    out[4 + i] = b;
  });
  dv.setInt16(12, h.wt.code, true);
  dv.setInt16(14, h.wt.bits, true);
  h.dim.forEach((d, i) => dv.setBigInt64(16 + 8 * i, BigInt(d), true));
  h.pixdim.forEach((p, i) => dv.setFloat64(104 + 8 * i, p, true));
  dv.setBigInt64(168, BigInt(h.off), true);
  dv.setFloat64(176, 1, true); // scl_slope
  dv.setFloat64(184, 0, true); // scl_inter
  writeAscii(out, 240, h.descrip);
  dv.setInt32(344, h.qformCode, true);
  dv.setInt32(348, h.sformCode, true);
  h.quat.forEach((x, i) => dv.setFloat64(352 + 8 * i, x, true));
  for (let t = 0; t < 12; t++) dv.setFloat64(400 + 8 * t, h.affine[t], true);
  dv.setInt32(500, 2, true); // xyzt_units: mm
}

/** The voxels as `dtName`, little-endian, into `body`; an integer type refuses a value it cannot hold exactly. */
function writeVoxels(body: Uint8Array, v: Volume, dtName: NiftiWriteDatatype): void {
  if (dtName === 'float32') {
    body.set(new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength));
    if (!HOST_LE) swapBytes(body, 4);
    return;
  }
  const wt = WRITE_TYPES[dtName];
  for (let i = 0; i < v.data.length; i++) {
    const x = v.data[i];
    if (!Number.isInteger(x) || x < wt.min || x > wt.max) {
      throw new NiftiError(
        'unrepresentable',
        v.source,
        `voxel ${i} is ${x}, which ${dtName} cannot hold exactly (integers ${wt.min}..${wt.max}); write it as float32`,
      );
    }
  }
  if (dtName === 'uint8') body.set(v.data);
  else {
    body.set(new Uint8Array(Int16Array.from(v.data).buffer));
    if (!HOST_LE) swapBytes(body, 2);
  }
}

function checkVolume(v: Volume, version: 1 | 2): void {
  const maxDim = version === 1 ? 32767 : MAX_DIM; // NIfTI-1 dims are int16
  if (v.dims.length !== 3 || !v.dims.every((d) => Number.isInteger(d) && d >= 1 && d <= maxDim)) {
    throw new NiftiError(
      'bad-dims',
      v.source,
      `cannot write dims [${v.dims.join(', ')}] as NIfTI-${version} (each must be an integer 1..${maxDim})`,
    );
  }
  const n = v.dims[0] * v.dims[1] * v.dims[2];
  if (v.data.length !== n)
    throw new NiftiError(
      'bad-dims',
      v.source,
      `dims ${v.dims.join('×')} = ${n} voxels but data holds ${v.data.length}`,
    );
  if (n > MAX_VOXELS) throw new NiftiError('too-large', v.source, `${n} voxels, more than the limit of ${MAX_VOXELS}`);
  if (v.spacing.length !== 3 || !v.spacing.every((s) => Number.isFinite(s) && s > 0)) {
    throw new NiftiError(
      'bad-dims',
      v.source,
      `spacing [${v.spacing.join(', ')}] must be three positive finite numbers`,
    );
  }
  if (v.affine.length !== 16 || !v.affine.every(Number.isFinite)) {
    throw new NiftiError('bad-dims', v.source, 'the affine must be 16 finite numbers (4×4, row-major)');
  }
}
