// NIfTI-1/2 reading and writing (bytes in memory only, so it runs in Node, Deno and Chromium), and the
// reorientation to RAS. niftiFileCases (file helpers) are for Node and Deno only.
import { type TestCase, assert, thrown } from '../harness.ts';
import { NiftiError, readNifti, writeNifti, affineToQuatern, quaternToAffine } from '../../src/io/nifti.ts';
import { readNiftiFile, writeNiftiFile } from '../../src/io/nifti-file.ts';
import {
  applyReorientation,
  orientationCode,
  sliceAxis,
  toCanonical,
  undoReorientation,
} from '../../src/volume/orient.ts';
import { type Vec3, type Volume, matMul4, voxelToWorld } from '../../src/volume/volume.ts';
import { Rng } from '../../src/util/random.ts';
import { gunzipSync, gzipSync } from 'fflate';

// ------------------------------------------------------------------------------------------------ helpers

const DIMS: Vec3 = [7, 5, 4];

/** A 4×4 rotation about world axis `axis` by `deg` degrees. */
function rot(axis: 0 | 1 | 2, deg: number): number[] {
  const c = Math.cos((deg * Math.PI) / 180),
    s = Math.sin((deg * Math.PI) / 180);
  const [p, q] = axis === 0 ? [1, 2] : axis === 1 ? [2, 0] : [0, 1];
  const m = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  m[4 * p + p] = c;
  m[4 * p + q] = -s;
  m[4 * q + p] = s;
  m[4 * q + q] = c;
  return m;
}

/** An oblique, permuted, flipped affine with translation: voxel i runs ≈ −A (posterior), j ≈ +S, k ≈ −R
 *  (orientation 'PSL'), each a few degrees off, with spacing `sp`. */
function obliqueAffine(sp: Vec3): number[] {
  const perm = [0, 0, -1, 0, -1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]; // columns: i → −y, j → +z, k → −x
  const scale = [sp[0], 0, 0, 0, 0, sp[1], 0, 0, 0, 0, sp[2], 0, 0, 0, 0, 1];
  const r = matMul4(rot(2, 7), matMul4(rot(0, -4), rot(1, 3)));
  const a = matMul4(r, matMul4(perm, scale));
  a[3] = 12.5;
  a[7] = -30.25;
  a[11] = 41;
  return a;
}

function makeVolume(
  data: Float32Array,
  affine: number[],
  spacing: Vec3,
  dims: Vec3 = DIMS,
  source = 'case07.nii',
): Volume {
  return { data, dims: [...dims] as Vec3, spacing: [...spacing] as Vec3, affine, source };
}

function randomData(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const a = new Float32Array(n).map(() => rng.normal() * 10 ** rng.uniform(-3, 4));
  a[0] = -0;
  a[1] = 1e-40;
  a[2] = 3.4e38; // a signed zero, a denormal, a near-max value
  return a;
}

function bitsEqual(what: string, a: Float32Array, b: Float32Array): void {
  assert(a.length === b.length, `${what}: ${a.length} values, expected ${b.length}`);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length),
    ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) assert(ua[i] === ub[i], `${what}: voxel ${i} is ${a[i]}, expected ${b[i]}`);
}

function assertNear(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: number): void {
  assert(got.length === want.length, `${what}: ${got.length} values, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    assert(
      Math.abs(got[i] - want[i]) <= tol * Math.max(1, Math.abs(want[i])),
      `${what}[${i}]: ${got[i]} vs ${want[i]} (tolerance ${tol})`,
    );
  }
}

function expectNiftiError(what: string, code: string, source: string, fn: () => unknown): NiftiError {
  try {
    fn();
  } catch (e) {
    assert(
      e instanceof NiftiError,
      `${what}: threw ${(e as Error)?.name}: ${(e as Error)?.message}, expected a NiftiError`,
    );
    assert(e.code === code, `${what}: error code '${e.code}' (${e.message}), expected '${code}'`);
    assert(e.message.includes(source), `${what}: the message '${e.message}' does not name the source '${source}'`);
    assert(e.source === source, `${what}: error.source is '${e.source}'`);
    return e;
  }
  throw new Error(`${what}: no error, expected NiftiError '${code}'`);
}

async function expectNiftiErrorAsync(
  what: string,
  code: string,
  source: string,
  fn: () => Promise<unknown>,
): Promise<NiftiError> {
  const err = await thrown(fn);
  return expectNiftiError(what, code, source, () => {
    if (err) throw err;
  });
}

interface DtypeSpec {
  name: string;
  code: number;
  bytes: number;
  values: (number | bigint)[];
}
/** Every datatype the reader takes, with values that probe its range. */
const DTYPE_SPECS: DtypeSpec[] = [
  { name: 'uint8', code: 2, bytes: 1, values: [0, 1, 127, 128, 255] },
  { name: 'int8', code: 256, bytes: 1, values: [-128, -1, 0, 1, 127] },
  { name: 'int16', code: 4, bytes: 2, values: [-32768, -1, 0, 258, 32767] },
  { name: 'uint16', code: 512, bytes: 2, values: [0, 1, 258, 40000, 65535] },
  { name: 'int32', code: 8, bytes: 4, values: [-2147483648, -1, 0, 16777217, 2147483647] },
  { name: 'uint32', code: 768, bytes: 4, values: [0, 1, 16777217, 3000000000, 4294967295] },
  { name: 'float32', code: 16, bytes: 4, values: [-1.5, 0, 1e-30, Math.fround(Math.PI), 3e38] },
  { name: 'float64', code: 64, bytes: 8, values: [-1e-300, 0, Math.PI, 1e10 + 0.5, -2.5] },
  { name: 'int64', code: 1024, bytes: 8, values: [-(2n ** 40n), -1n, 0n, 123456789n, 2n ** 53n + 1n] },
  { name: 'uint64', code: 1280, bytes: 8, values: [0n, 1n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n] },
];

/** Each datatype's DataView setter (8-bit ones have no byte order; 64-bit integers take a BigInt). */
const WRITERS: Record<string, (dv: DataView, at: number, x: number | bigint, little: boolean) => void> = {
  uint8: (dv, at, x) => dv.setUint8(at, Number(x)),
  int8: (dv, at, x) => dv.setInt8(at, Number(x)),
  int16: (dv, at, x, little) => dv.setInt16(at, Number(x), little),
  uint16: (dv, at, x, little) => dv.setUint16(at, Number(x), little),
  int32: (dv, at, x, little) => dv.setInt32(at, Number(x), little),
  uint32: (dv, at, x, little) => dv.setUint32(at, Number(x), little),
  float32: (dv, at, x, little) => dv.setFloat32(at, Number(x), little),
  float64: (dv, at, x, little) => dv.setFloat64(at, Number(x), little),
  int64: (dv, at, x, little) => dv.setBigInt64(at, BigInt(x), little),
  uint64: (dv, at, x, little) => dv.setBigUint64(at, BigInt(x), little),
};

function encodeValue(dv: DataView, at: number, spec: DtypeSpec, x: number | bigint, little: boolean): void {
  const write = WRITERS[spec.name];
  if (!write) throw new Error(spec.name);
  write(dv, at, x, little);
}

interface RawHeader {
  version: 1 | 2;
  little?: boolean;
  dim: number[]; // dim[0..7]
  datatype: number;
  bitpix: number;
  pixdim?: number[]; // pixdim[0..7]
  voxOffset?: number;
  slope?: number;
  inter?: number;
  xyztUnits?: number;
  qformCode?: number;
  sformCode?: number;
  quatern?: number[]; // b, c, d, qoffset x, y, z
  srow?: number[]; // 12
  body: Uint8Array;
}

/** An independent, field-by-field NIfTI writer for the tests (either version, either byte order). */
function rawNifti(h: RawHeader): Uint8Array {
  const le = h.little ?? true,
    v1 = h.version === 1;
  const hsize = v1 ? 348 : 540,
    off = h.voxOffset ?? hsize + 4;
  const out = new Uint8Array(Math.max(off, hsize + 4) + h.body.length);
  const dv = new DataView(out.buffer);
  const f = (at1: number, at2: number, x: number) => (v1 ? dv.setFloat32(at1, x, le) : dv.setFloat64(at2, x, le));
  const pix = h.pixdim ?? [1, 1, 1, 1, 1, 1, 1, 1];
  dv.setInt32(0, hsize, le);
  if (v1) {
    h.dim.forEach((d, i) => dv.setInt16(40 + 2 * i, d, le));
    dv.setInt16(70, h.datatype, le);
    dv.setInt16(72, h.bitpix, le);
    dv.setFloat32(108, off, le);
    out[123] = h.xyztUnits ?? 2;
    dv.setInt16(252, h.qformCode ?? 0, le);
    dv.setInt16(254, h.sformCode ?? 0, le);
    out.set([0x6e, 0x2b, 0x31, 0], 344);
  } else {
    out.set([0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a], 4);
    dv.setInt16(12, h.datatype, le);
    dv.setInt16(14, h.bitpix, le);
    h.dim.forEach((d, i) => dv.setBigInt64(16 + 8 * i, BigInt(d), le));
    dv.setBigInt64(168, BigInt(off), le);
    dv.setInt32(344, h.qformCode ?? 0, le);
    dv.setInt32(348, h.sformCode ?? 0, le);
    dv.setInt32(500, h.xyztUnits ?? 2, le);
  }
  pix.forEach((p, i) => f(76 + 4 * i, 104 + 8 * i, p));
  f(112, 176, h.slope ?? 1);
  f(116, 184, h.inter ?? 0);
  (h.quatern ?? [0, 0, 0, 0, 0, 0]).forEach((x, i) => f(256 + 4 * i, 352 + 8 * i, x));
  (h.srow ?? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).forEach((x, i) => f(280 + 4 * i, 400 + 8 * i, x));
  out.set(h.body, off);
  return out;
}

/** n voxels of a datatype, cycling through its probe values; also returns the float32 each should read as. */
function encodeBody(
  spec: DtypeSpec,
  n: number,
  little: boolean,
  slope = 1,
  inter = 0,
): { body: Uint8Array; want: Float32Array } {
  const body = new Uint8Array(n * spec.bytes),
    dv = new DataView(body.buffer);
  const want = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = spec.values[i % spec.values.length];
    encodeValue(dv, i * spec.bytes, spec, x, little);
    want[i] = Number(x) * slope + inter;
  }
  return { body, want };
}

const frameVoxels = DIMS[0] * DIMS[1] * DIMS[2];
const basicFloat = (version: 1 | 2, extra: Partial<RawHeader> = {}) =>
  rawNifti({
    version,
    dim: [3, ...DIMS, 1, 1, 1, 1],
    datatype: 16,
    bitpix: 32,
    body: new Uint8Array(frameVoxels * 4),
    ...extra,
  });

// ------------------------------------------------------------------------------------------------ golden files

/** Written by nibabel 5.0.0 (Debian python3-nibabel), gzipped with mtime 0:
 *  raw[i, j, k] = (7i + 13j + 31k) % 200 − 50 on a 7×5×4 grid (int16).
 *  G1: NIfTI-1, int16 raw with scl_slope 0.5, scl_inter −3; sform (code 2) = Rz(7°)·[i→−y, j→+z, k→−x]·
 *      diag(0.75, 1.25, 3.5) + (12.5, −30.25, 41), a different qform (code 1) = diag(2, 2, 2).
 *  G2: NIfTI-2, big-endian float32, 4-D 7×5×4×2 (frame 0 = 1.5·raw, frame 1 = 7), qform only (code 1) =
 *      Rz(−5°)·diag(−0.9, 0.9, 2.5) + (−60, 70.5, −20), sform_code 0.
 *  The expectations are nibabel's: img.affine, and nib.as_closest_canonical(img) for G1. */
const NIBABEL_G1 =
  'H4sIAAAAAAACA82Rxy4EUBSGv2FEjd57b6ON3mZGN6JGSzB6gkiwYcVC7Cy9AW9gL1FeYHY2WLFBIkq0aMcdwyiJxNJ/c+6X8997k5P7WzT8Sc' +
  '644oIWzfv6Li2+b1w0qa3is2z911qvVr5ixTb/QBqcfj17yNkw2LjSOaBmNVeurRi3bL11dG8Trnbst1ZNdiZW/Xw/rdO/0Sq7ciBHciqXci/7' +
  'cignciF38iIuHMu53MqzaPHEnxt5Emc88COUGDWZu/rTEKJJIoMzuZZH+fAeRIMbPgQTRaLKxZsgIkkgHT2BRBBPGjkUYSSOVLIpxEANjXgRQL' +
  'jDCyOWFLIooJxqkskknzKqaKCNPEqpxEwr3fSrIOtpoQsLo0yiI5cSh1es4qyjmU76GKGWJjroZZgJZminhyHGmWaOBQYZY4pZ5llimVeD+wMk' +
  'eAIAAA==';
const NIBABEL_G2 =
  'H4sIAAAAAAACA+2TTyhEURSHr8lEIyJSpikTkVIUFrJ5750bNkxRysrKhoWsrCxGKaWUUkopUqSUUkopeTOk1JRSSmwopURm5U8pvmueBYMsZ+' +
  'HW1++dc88595x7Z5TyhYZqG1R+IBhQhSqsUivb0xxP/V/8Pk+zftC0tZtMqXWbeF8fansVreTv6h0b/mxn9Hq/C2ulp31/IFJs3T81Pp+1Pn5s' +
  'upGU2l2LKbspM4eIz8IY9EId8F6xTbD57gP6jgewXSDGxW/zRvFC7AQM45vGx74zDqf4UBfbxu+w7xAnxEsLPvId6jjsC3WF+sI5Qk7sCshxk+' +
  'lxMfItc4bx05/Qp9CvmJgaWIUXbL6lG0ZhBh+1pAI6YASoL8uwDW1AfzIFS7AFptdL8kzv9COhb+JKgT5kECZhAUxPh9APEzAPG3AA52D6mIN1' +
  '2APuSe6U0vyKdF5UiZnzBG7gFR8z65Ko0uXYvI/wTrKm0uKEuWUHjuEauAOdS14x30dgZnjGxz9dF+FnHl3NeQ+oH5t71UG0Cq1HeSNdgJahlS' +
  'h3rJtRjXZGlX2h/vnnz7wBoN7Z04AGAAA=';
const NIBABEL_G1_AFFINE = [
  0.09140200912952423, 0.0, -3.4739115238189697, 12.5, -0.7444096207618713, 0.0, -0.4265426993370056, -30.25, 0.0, 1.25,
  0.0, 41.0,
];
const NIBABEL_G1_CANONICAL_AFFINE = [
  3.4739115238189697, -0.09140200912952423, 0.0, 2.626677483320236, 0.4265426993370056, 0.7444096207618713, 0.0,
  -35.996085822582245, 0.0, 0.0, 1.25, 41.0,
];
/** 2 × as_closest_canonical(G1) data, i fastest */
const NIBABEL_G1_CANONICAL_X2 = [
  79, 48, 17, -14, 72, 41, 10, -21, 65, 34, 3, -28, 58, 27, -4, -35, 51, 20, -11, -42, 44, 13, -18, -49, 37, 6, -25,
  -56, 92, 61, 30, -1, 85, 54, 23, -8, 78, 47, 16, -15, 71, 40, 9, -22, 64, 33, 2, -29, 57, 26, -5, -36, 50, 19, -12,
  -43, 105, 74, 43, 12, 98, 67, 36, 5, 91, 60, 29, -2, 84, 53, 22, -9, 77, 46, 15, -16, 70, 39, 8, -23, 63, 32, 1, -30,
  118, 87, 56, 25, 111, 80, 49, 18, 104, 73, 42, 11, 97, 66, 35, 4, 90, 59, 28, -3, 83, 52, 21, -10, 76, 45, 14, -17,
  131, 100, 69, 38, 124, 93, 62, 31, 117, 86, 55, 24, 110, 79, 48, 17, 103, 72, 41, 10, 96, 65, 34, 3, 89, 58, 27, -4,
];
const NIBABEL_G2_AFFINE = [
  -0.8965752282825709, 0.07844016847289237, 0.0, -60.0, 0.07844016847289237, 0.8965752282825709, 0.0, 70.5, 0.0, 0.0,
  2.5, -20.0,
];

const fromBase64 = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const goldenRaw = (i: number, j: number, k: number) => ((7 * i + 13 * j + 31 * k) % 200) - 50;

// ------------------------------------------------------------------------------------------------ cases

export const niftiCases: TestCase[] = [
  {
    name: 'nifti: float32 round trip, NIfTI-1 and NIfTI-2, .nii and .nii.gz (bit-exact data, dims, spacing, affine)',
    async run() {
      const spacing: Vec3 = [0.75, 1.25, 3.5];
      const affine = obliqueAffine(spacing);
      const data = randomData(frameVoxels, 3);
      for (const version of [1, 2] as const) {
        for (const gzip of [false, true]) {
          const what = `NIfTI-${version}${gzip ? ' gz' : ''}`;
          const source = `case07.nii${gzip ? '.gz' : ''}`;
          const bytes = writeNifti(makeVolume(data, affine, spacing), { version, gzip });
          assert((bytes[0] === 0x1f && bytes[1] === 0x8b) === gzip, `${what}: gzip magic present iff gzip`);
          if (!gzip)
            assert(bytes.length === (version === 1 ? 352 : 544) + 4 * frameVoxels, `${what}: ${bytes.length} bytes`);
          const v = readNifti(bytes, source);
          bitsEqual(`${what} data`, v.data, data);
          assert(v.dims.join() === DIMS.join(), `${what}: dims ${v.dims}`);
          assert(v.spacing.join() === spacing.join(), `${what}: spacing ${v.spacing}`);
          // NIfTI-1 stores the sform as float32, NIfTI-2 as float64
          if (version === 2) assert(v.affine.join() === affine.join(), `${what}: affine ${v.affine} vs ${affine}`);
          else assertNear(`${what} affine`, v.affine, affine, 1e-6);
          assert(v.source === source, `${what}: source '${v.source}'`);
          const o = v.origin!;
          assert(
            o.format === `nifti${version}` && o.datatype === 'float32' && o.frames === 1,
            `${what}: origin ${JSON.stringify(o)}`,
          );
          assert(
            o.sformCode === 2 && o.qformCode === 2 && o.affineFrom === 'sform',
            `${what}: xform codes ${JSON.stringify(o)}`,
          );
          // the qform written beside the sform is the same affine
          const q = readNifti(withSformCode(bytes, version, 0), source);
          assert(q.origin!.affineFrom === 'qform', `${what}: qform not used once the sform is off`);
          assertNear(`${what} qform affine`, q.affine, affine, 2e-6);
          // writing what was read gives the same data (and, for NIfTI-2, whose header holds float64s, the same
          // bytes: gzip is written with a zero mtime, so it is deterministic)
          const again = writeNifti(v, { gzip });
          bitsEqual(`${what} rewrite`, readNifti(again, source).data, data);
          if (version === 2)
            assert(again.length === bytes.length && again.every((b, i) => b === bytes[i]), `${what}: rewrite differs`);
        }
      }
    },
  },
  {
    name: 'nifti: uint8 and int16 writing round-trips integers exactly and refuses values they cannot hold',
    async run() {
      const spacing: Vec3 = [1, 1, 2];
      const affine = [-1, 0, 0, 3, 0, 1, 0, -4, 0, 0, 2, 5, 0, 0, 0, 1];
      for (const [datatype, lo, hi] of [
        ['uint8', 0, 255],
        ['int16', -32768, 32767],
      ] as const) {
        const data = new Float32Array(frameVoxels).map((_, i) => (i === 0 ? lo : i === 1 ? hi : (i * 37) % 200));
        for (const version of [1, 2] as const) {
          const bytes = writeNifti(makeVolume(data, affine, spacing), { datatype, version, gzip: version === 2 });
          const v = readNifti(bytes, 'labels.nii');
          bitsEqual(`${datatype} v${version}`, v.data, data);
          assert(v.origin!.datatype === datatype, `${datatype}: stored as ${v.origin!.datatype}`);
          assert(v.affine.join() === affine.join(), `${datatype}: affine ${v.affine}`);
        }
        for (const bad of [hi + 1, lo - 1, 2.5, NaN]) {
          const d = data.slice();
          d[9] = bad;
          const e = expectNiftiError(`${datatype} ${bad}`, 'unrepresentable', 'labels.nii', () =>
            writeNifti(makeVolume(d, affine, spacing, DIMS, 'labels.nii'), { datatype }),
          );
          assert(e.message.includes('voxel 9'), `the message names the voxel: ${e.message}`);
        }
      }
      expectNiftiError('wrong data length', 'bad-dims', 'x.nii', () =>
        writeNifti(makeVolume(new Float32Array(5), affine, spacing, DIMS, 'x.nii')),
      );
      expectNiftiError('v1 dim > 32767', 'bad-dims', 'x.nii', () =>
        writeNifti(makeVolume(new Float32Array(40000), affine, spacing, [40000, 1, 1], 'x.nii')),
      );
      const big = readNifti(
        writeNifti(makeVolume(new Float32Array(40000), affine, spacing, [40000, 1, 1], 'x.nii'), { version: 2 }),
        'x.nii',
      );
      assert(big.dims.join() === '40000,1,1', 'NIfTI-2 holds a dim > 32767');
    },
  },
  {
    name: 'nifti: every datatype (u/int8, u/int16, u/int32, float32/64, u/int64) in both versions and byte orders',
    async run() {
      const n = frameVoxels;
      for (const spec of DTYPE_SPECS) {
        for (const version of [1, 2] as const) {
          for (const little of [true, false]) {
            const { body, want } = encodeBody(spec, n, little);
            const bytes = rawNifti({
              version,
              little,
              dim: [3, ...DIMS, 1, 1, 1, 1],
              datatype: spec.code,
              bitpix: spec.bytes * 8,
              pixdim: [1, 2, 3, 4, 1, 1, 1, 1],
              body,
            });
            const what = `${spec.name} v${version} ${little ? 'LE' : 'BE'}`;
            const v = readNifti(bytes, 'dt.nii');
            bitsEqual(what, v.data, want);
            assert(v.origin!.datatype === spec.name, `${what}: datatype ${v.origin!.datatype}`);
            assert(
              v.spacing.join() === '2,3,4' && v.dims.join() === DIMS.join(),
              `${what}: geometry ${v.spacing} ${v.dims}`,
            );
            assert(
              v.origin!.affineFrom === 'pixdim' &&
                v.affine.join() === [2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 4, 0, 0, 0, 0, 1].join(),
              `${what}: method-1 affine ${v.affine}`,
            );
            if (version === 1 && little) bitsEqual(`${what} gz`, readNifti(gzipSync(bytes), 'dt.nii.gz').data, want);
          }
        }
      }
    },
  },
  {
    name: 'nifti: scl_slope/scl_inter are applied; slope 0 (or NaN) means no scaling',
    async run() {
      const int16 = DTYPE_SPECS.find((s) => s.name === 'int16')!,
        f64 = DTYPE_SPECS.find((s) => s.name === 'float64')!;
      for (const version of [1, 2] as const) {
        for (const [spec, slope, inter] of [
          [int16, 0.5, -10],
          [int16, 2, 0],
          [int16, 1, 7.25],
          [f64, -3, 1],
        ] as const) {
          const { body, want } = encodeBody(spec, frameVoxels, true, slope, inter);
          const v = readNifti(
            rawNifti({
              version,
              dim: [3, ...DIMS, 1, 1, 1, 1],
              datatype: spec.code,
              bitpix: spec.bytes * 8,
              slope,
              inter,
              body,
            }),
            's.nii',
          );
          bitsEqual(`v${version} ${spec.name} slope ${slope} inter ${inter}`, v.data, want);
          assert(v.data[0] === Math.fround(Number(spec.values[0]) * slope + inter), 'spot check');
        }
        for (const slope of [0, NaN]) {
          const { body, want } = encodeBody(int16, frameVoxels, true);
          const v = readNifti(
            rawNifti({ version, dim: [3, ...DIMS, 1, 1, 1, 1], datatype: 4, bitpix: 16, slope, inter: 100, body }),
            's.nii',
          );
          bitsEqual(`v${version} slope ${slope}: raw values`, v.data, want);
        }
      }
    },
  },
  {
    name: 'nifti: affine from the sform, else the qform (quaternion, qfac), else pixdim; units in m are mm',
    async run() {
      // qform: a 30° rotation about z, qfac −1 (k flipped), spacing 0.5 × 0.75 × 2
      const h = Math.PI / 12,
        qb = 0,
        qc = 0,
        qd = Math.sin(h); // a = cos(15°)
      const c30 = Math.cos(2 * h),
        s30 = Math.sin(2 * h);
      const wantQ = [c30 * 0.5, -s30 * 0.75, 0, 10, s30 * 0.5, c30 * 0.75, 0, -20, 0, 0, -2, 30, 0, 0, 0, 1];
      const srow = [1, 0, 0, -5, 0, 2, 0, -6, 0, 0, 3, -7];
      for (const version of [1, 2] as const) {
        const q = { quatern: [qb, qc, qd, 10, -20, 30], pixdim: [-1, 0.5, 0.75, 2, 1, 1, 1, 1] };
        const qOnly = readNifti(basicFloat(version, { ...q, qformCode: 1 }), 'q.nii');
        assert(
          qOnly.origin!.affineFrom === 'qform' && qOnly.origin!.qformCode === 1 && qOnly.origin!.sformCode === 0,
          `v${version}: ${JSON.stringify(qOnly.origin)}`,
        );
        assertNear(`v${version} qform affine`, qOnly.affine, wantQ, version === 1 ? 1e-6 : 1e-12);
        assert(qOnly.spacing.join() === '0.5,0.75,2', `v${version}: spacing ${qOnly.spacing}`);
        // both present: the sform wins, whatever the codes
        const both = readNifti(basicFloat(version, { ...q, qformCode: 2, sformCode: 1, srow }), 'sq.nii');
        assert(
          both.origin!.affineFrom === 'sform' && both.affine.join() === [...srow, 0, 0, 0, 1].join(),
          `v${version}: sform affine ${both.affine}`,
        );
        // a zero sform with sform_code set is not usable: the qform is taken instead
        const zeroS = readNifti(basicFloat(version, { ...q, qformCode: 1, sformCode: 2 }), 'z.nii');
        assert(zeroS.origin!.affineFrom === 'qform', `v${version}: a singular sform must fall back to the qform`);
        // neither: pixdim
        const none = readNifti(basicFloat(version, { pixdim: [1, 0.5, 0.75, 2, 1, 1, 1, 1] }), 'p.nii');
        assert(
          none.origin!.affineFrom === 'pixdim' &&
            none.affine.join() === [0.5, 0, 0, 0, 0, 0.75, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1].join(),
          `v${version}: ${none.affine}`,
        );
        // metres → mm
        const m = readNifti(
          basicFloat(version, {
            xyztUnits: 1,
            sformCode: 1,
            srow: [0.001, 0, 0, 0.01, 0, 0.002, 0, 0, 0, 0, 0.003, 0],
            pixdim: [1, 0.001, 0.002, 0.003, 1, 1, 1, 1],
          }),
          'm.nii',
        );
        assertNear(
          `v${version} metres`,
          [...m.spacing, m.affine[0], m.affine[3], m.affine[5], m.affine[10]],
          [1, 2, 3, 1, 10, 2, 3],
          1e-6,
        );
      }
      // the quaternion helpers invert each other on an oblique, reflected affine
      const sp: Vec3 = [0.75, 1.25, 3.5],
        aff = obliqueAffine(sp);
      const qq = affineToQuatern(aff, sp)!;
      assert(qq !== undefined, 'an oblique rigid affine has a qform');
      assertNear('quaternion round trip', quaternToAffine(qq.b, qq.c, qq.d, qq.offset, sp, qq.qfac), aff, 1e-12);
      const sheared = aff.slice();
      sheared[1] += 0.2;
      assert(affineToQuatern(sheared, sp) === undefined, 'a sheared affine has no qform');
      const v = readNifti(
        writeNifti(makeVolume(new Float32Array(frameVoxels), sheared, spacingOf(sheared))),
        'shear.nii',
      );
      assert(v.origin!.qformCode === 0 && v.origin!.sformCode === 2, 'a sheared affine is written with qform_code 0');
      assertNear('sheared sform', v.affine, sheared, 1e-6);
    },
  },
  {
    name: 'nifti: 4-D files: one frame reads as 3-D; more frames give frame 0 and say so in origin.frames',
    async run() {
      const f32 = DTYPE_SPECS.find((s) => s.name === 'float32')!;
      for (const version of [1, 2] as const) {
        // a float32 file of dims dim (dim[0] = rank) holding body
        const readFloat32 = (dim: number[], body: Uint8Array, name: string) =>
          readNifti(rawNifti({ version, dim, datatype: 16, bitpix: 32, body }), name);
        const one = encodeBody(f32, frameVoxels, true);
        const v1 = readFloat32([4, ...DIMS, 1, 1, 1, 1], one.body, 'one.nii');
        bitsEqual(`v${version} 4-D, one frame`, v1.data, one.want);
        assert(
          v1.origin!.frames === 1 && v1.dims.join() === DIMS.join(),
          `v${version}: ${v1.dims} frames ${v1.origin!.frames}`,
        );
        // three frames: frame f holds 1000·f + i
        const body = new Float32Array(3 * frameVoxels).map(
          (_, i) => 1000 * Math.floor(i / frameVoxels) + (i % frameVoxels),
        );
        const v3 = readFloat32([4, ...DIMS, 3, 1, 1, 1], new Uint8Array(body.buffer), 'msd.nii');
        bitsEqual(`v${version} frame 0`, v3.data, body.subarray(0, frameVoxels));
        assert(v3.origin!.frames === 3, `v${version}: origin.frames ${v3.origin!.frames}`);
        // 5-D (dim[5] = 2): still frame 0
        const v5 = readFloat32([5, ...DIMS, 1, 2, 1, 1], new Uint8Array(body.buffer, 0, 8 * frameVoxels), 'five.nii');
        assert(v5.origin!.frames === 2 && v5.data[5] === 5, `v${version}: 5-D frames ${v5.origin!.frames}`);
        // a 2-D image is a volume with nz = 1
        const v2d = readFloat32([2, 7, 5, 1, 1, 1, 1, 1], new Uint8Array(4 * 35), 'slice.nii');
        assert(v2d.dims.join() === '7,5,1', `v${version}: 2-D dims ${v2d.dims}`);
      }
    },
  },
  {
    name: 'nifti: errors are NiftiError with a code and a message naming the file',
    async run() {
      const good1 = writeNifti(makeVolume(randomData(frameVoxels, 1), obliqueAffine([1, 1, 1]), [1, 1, 1]));
      const good2 = writeNifti(makeVolume(randomData(frameVoxels, 1), obliqueAffine([1, 1, 1]), [1, 1, 1]), {
        version: 2,
      });
      const src = 'patient001.nii.gz';
      const patch = (b: Uint8Array, f: (dv: DataView) => void) => {
        const c = b.slice();
        f(new DataView(c.buffer));
        return c;
      };
      // a file's bytes patched by f, read
      const readPatched = (b: Uint8Array, f: (dv: DataView) => void) => readNifti(patch(b, f), src);
      // bad magic
      expectNiftiError('random bytes', 'bad-magic', src, () =>
        readNifti(
          new Uint8Array(400).map((_, i) => (i * 7) & 255),
          src,
        ),
      );
      expectNiftiError('PNG', 'bad-magic', src, () =>
        readNifti(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array(400).fill(0)]), src),
      );
      expectNiftiError('magic n+2 in a NIfTI-1 header', 'bad-magic', src, () =>
        readPatched(good1, (dv) => dv.setUint8(346, 0x32)),
      );
      const pair = expectNiftiError('.hdr/.img pair', 'bad-magic', src, () =>
        readPatched(good1, (dv) => dv.setUint8(345, 0x69)),
      );
      assert(pair.message.includes('.hdr/.img'), pair.message);
      expectNiftiError('NIfTI-2 magic', 'bad-magic', src, () => readPatched(good2, (dv) => dv.setUint8(8, 0x0a)));
      // truncated header / data
      expectNiftiError('empty', 'truncated', src, () => readNifti(new Uint8Array(0), src));
      expectNiftiError('NIfTI-1 header cut', 'truncated', src, () => readNifti(good1.subarray(0, 200), src));
      expectNiftiError('NIfTI-2 header cut', 'truncated', src, () => readNifti(good2.subarray(0, 500), src));
      for (const g of [good1, good2]) {
        const e = expectNiftiError('data cut', 'truncated', src, () => readNifti(g.subarray(0, g.length - 10), src));
        assert(
          e.message.includes(`header says ${4 * frameVoxels} bytes of voxel data`) &&
            e.message.includes(`file has ${4 * frameVoxels - 10}`),
          e.message,
        );
        expectNiftiError('data cut, gzipped', 'truncated', src, () =>
          readNifti(gzipSync(g.subarray(0, g.length - 10)), src),
        );
      }
      expectNiftiError('missing frames', 'truncated', src, () =>
        readPatched(good1, (dv) => {
          dv.setInt16(40, 4, true);
          dv.setInt16(48, 2, true);
        }),
      );
      // unsupported datatypes
      for (const code of [32, 128, 1792, 2304, 1, 0, 1234]) {
        expectNiftiError(`datatype ${code} v1`, 'unsupported-datatype', src, () =>
          readPatched(good1, (dv) => dv.setInt16(70, code, true)),
        );
        expectNiftiError(`datatype ${code} v2`, 'unsupported-datatype', src, () =>
          readPatched(good2, (dv) => dv.setInt16(12, code, true)),
        );
      }
      // absurd dims
      for (const [i, d] of [
        [0, 0],
        [0, 8],
        [0, -1],
        [1, 0],
        [2, -3],
        [3, 0],
      ] as const) {
        expectNiftiError(`v1 dim[${i}] = ${d}`, 'bad-dims', src, () =>
          readPatched(good1, (dv) => dv.setInt16(40 + 2 * i, d, true)),
        );
        expectNiftiError(`v2 dim[${i}] = ${d}`, 'bad-dims', src, () =>
          readPatched(good2, (dv) => dv.setBigInt64(16 + 8 * i, BigInt(d), true)),
        );
      }
      expectNiftiError('v2 dim 70000', 'bad-dims', src, () =>
        readPatched(good2, (dv) => dv.setBigInt64(24, 70000n, true)),
      );
      expectNiftiError('v2 dim 2^40', 'bad-dims', src, () =>
        readPatched(good2, (dv) => dv.setBigInt64(24, 2n ** 40n, true)),
      );
      expectNiftiError('4-D with dim[4] = 0', 'bad-dims', src, () =>
        readPatched(good1, (dv) => {
          dv.setInt16(40, 4, true);
          dv.setInt16(48, 0, true);
        }),
      );
      const big = expectNiftiError('30000 × 30000 × 4', 'too-large', src, () =>
        readPatched(good1, (dv) => {
          dv.setInt16(42, 30000, true);
          dv.setInt16(44, 30000, true);
        }),
      );
      assert(big.message.includes('voxels'), big.message);
      // corrupt gzip: truncated stream, flipped bytes, garbage after the magic, bad CRC
      const gz = writeNifti(makeVolume(randomData(frameVoxels, 2), obliqueAffine([1, 1, 1]), [1, 1, 1]), {
        gzip: true,
      });
      expectNiftiError('gzip cut in half', 'corrupt-gzip', src, () => readNifti(gz.subarray(0, gz.length >> 1), src));
      expectNiftiError('gzip without trailer', 'corrupt-gzip', src, () =>
        readNifti(gz.subarray(0, gz.length - 8), src),
      );
      expectNiftiError('gzip header only', 'corrupt-gzip', src, () => readNifti(gz.subarray(0, 12), src));
      expectNiftiError('garbage after 1f 8b', 'corrupt-gzip', src, () =>
        readNifti(Uint8Array.from([0x1f, 0x8b, ...new Array(200).fill(0xff)]), src),
      );
      const flipped = gz.slice();
      for (let p = 40; p < flipped.length - 20; p += 29) flipped[p] ^= 0x5a;
      expectNiftiError('gzip with flipped bytes', 'corrupt-gzip', src, () => readNifti(flipped, src));
      expectNiftiError('gzip CRC', 'corrupt-gzip', src, () =>
        readPatched(gz, (dv) => dv.setUint32(gz.length - 8, dv.getUint32(gz.length - 8, true) ^ 1, true)),
      );
      // size limit: by the trailer, and by streaming when the trailer lies
      const limit = 500; // the file is 912 bytes uncompressed
      expectNiftiError('gzip over maxBytes', 'too-large', src, () => readNifti(gz, src, { maxBytes: limit }));
      expectNiftiError('lying ISIZE', 'too-large', src, () =>
        readNifti(
          patch(gz, (dv) => dv.setUint32(gz.length - 4, 10, true)),
          src,
          { maxBytes: limit },
        ),
      );
      // 4 MiB of zeros in a few KiB, behind a valid header (a stream that is no NIfTI is refused at its header now)
      const head = writeNifti(makeVolume(randomData(1, 3), obliqueAffine([1, 1, 1]), [1, 1, 1], [1, 1, 1]));
      const bomb = gzipSync(Uint8Array.from({ length: 4 << 20 }, (_, i) => (i < head.length ? head[i] : 0)));
      const e = expectNiftiError('gzip bomb', 'too-large', src, () =>
        readNifti(
          patch(bomb, (dv) => dv.setUint32(bomb.length - 4, 100, true)),
          src,
          { maxBytes: 1 << 20 },
        ),
      );
      assert(e.message.includes('maxBytes'), e.message);
    },
  },
  {
    name: 'nifti: files written by nibabel read as nibabel reads them (sform over qform, scaling, big-endian 4-D NIfTI-2, canonical)',
    async run() {
      const g1 = readNifti(fromBase64(NIBABEL_G1), 'nibabel-g1.nii.gz');
      assert(
        g1.dims.join() === DIMS.join() && g1.origin!.affineFrom === 'sform' && g1.origin!.datatype === 'int16',
        `G1: ${g1.dims} ${JSON.stringify(g1.origin)}`,
      );
      assert(
        g1.affine.slice(0, 12).join() === NIBABEL_G1_AFFINE.join(),
        `G1 affine ${g1.affine} vs nibabel ${NIBABEL_G1_AFFINE}`,
      );
      // the sform's columns rule the spacing, not the qform's pixdim (2, 2, 2)
      assertNear('G1 spacing', g1.spacing, [0.75, 1.25, 3.5], 1e-6);
      for (let k = 0, n = 0; k < 4; k++)
        for (let j = 0; j < 5; j++)
          for (let i = 0; i < 7; i++, n++) {
            assert(g1.data[n] === goldenRaw(i, j, k) * 0.5 - 3, `G1 voxel (${i},${j},${k}): ${g1.data[n]}`);
          }
      const { volume: c, record } = toCanonical(g1);
      assert(c.dims.join() === '4,7,5', `G1 canonical dims ${c.dims}`);
      assertNear('G1 canonical affine vs nibabel', c.affine.slice(0, 12), NIBABEL_G1_CANONICAL_AFFINE, 1e-12);
      assert(
        c.data.every((x, n) => 2 * x === NIBABEL_G1_CANONICAL_X2[n]),
        'G1 canonical data vs nibabel as_closest_canonical',
      );
      bitsEqual('G1 undo', undoReorientation(c, record).data, g1.data);

      const g2 = readNifti(fromBase64(NIBABEL_G2), 'nibabel-g2.nii.gz');
      assert(
        g2.origin!.format === 'nifti2' && g2.origin!.affineFrom === 'qform' && g2.origin!.frames === 2,
        `G2: ${JSON.stringify(g2.origin)}`,
      );
      assertNear('G2 affine (qform with qfac) vs nibabel', g2.affine.slice(0, 12), NIBABEL_G2_AFFINE, 1e-12);
      assertNear('G2 spacing', g2.spacing, [0.9, 0.9, 2.5], 1e-12);
      for (let k = 0, n = 0; k < 4; k++)
        for (let j = 0; j < 5; j++)
          for (let i = 0; i < 7; i++, n++) {
            assert(g2.data[n] === goldenRaw(i, j, k) * 1.5, `G2 voxel (${i},${j},${k}): ${g2.data[n]}`);
          }
      assert(
        orientationCode(g2.affine) === 'LAS' && orientationCode(g1.affine) === 'PSL',
        'nibabel aff2axcodes: LAS, PSL',
      );
    },
  },
  {
    name: 'nifti: multi-member gzip (e.g. bgzip) reads',
    async run() {
      const data = randomData(frameVoxels, 9);
      const raw = writeNifti(makeVolume(data, obliqueAffine([1, 2, 3]), [1, 2, 3]));
      const a = gzipSync(raw.subarray(0, 500)),
        b = gzipSync(raw.subarray(500));
      const cat = new Uint8Array(a.length + b.length);
      cat.set(a);
      cat.set(b, a.length);
      bitsEqual('two members', readNifti(cat, 'bgz.nii.gz').data, data);
    },
  },
  {
    name: 'orient: canonical RAS, exact undo, world coordinates kept, slice axis',
    async run() {
      const spacing: Vec3 = [0.8, 3.0, 1.1]; // j (≈ +S) is the through-plane axis
      const affine = obliqueAffine(spacing);
      assert(orientationCode(affine) === 'PSL', `the test affine is 'PSL', got ${orientationCode(affine)}`);
      const data = new Float32Array(frameVoxels).map((_, i) => i + 0.5);
      const v = makeVolume(data, affine, spacing);
      const { volume: c, record } = toCanonical(v);
      assert(orientationCode(c.affine) === 'RAS', `canonical orientation ${orientationCode(c.affine)}`);
      assert(
        record.perm.join() === '2,0,1' && record.flip.join() === 'true,true,false',
        `perm ${record.perm} flip ${record.flip}`,
      );
      assert(
        c.dims.join() === '4,7,5' && c.spacing.join() === '1.1,0.8,3',
        `canonical dims ${c.dims} spacing ${c.spacing}`,
      );
      // each canonical axis runs towards + its world axis (diagonal dominant and positive)
      for (let a = 0; a < 3; a++) {
        const col = [c.affine[a], c.affine[4 + a], c.affine[8 + a]];
        assert(
          col[a] > 0 && Math.abs(col[a]) > Math.abs(col[(a + 1) % 3]) && Math.abs(col[a]) > Math.abs(col[(a + 2) % 3]),
          `canonical column ${a}: ${col}`,
        );
      }
      // every voxel keeps its value and its world position
      const [cx, cy] = c.dims;
      for (let k = 0; k < c.dims[2]; k++)
        for (let j = 0; j < cy; j++)
          for (let i = 0; i < cx; i++) {
            const val = c.data[i + cx * (j + cy * k)];
            const o = val - 0.5,
              oi = o % 7,
              oj = Math.floor(o / 7) % 5,
              ok = Math.floor(o / 35);
            const w0 = voxelToWorld(affine, oi, oj, ok),
              w1 = voxelToWorld(c.affine, i, j, k);
            assertNear(`world of canonical voxel (${i},${j},${k})`, w1, w0, 1e-12);
          }
      // undo gives back identical data and the original geometry
      const back = undoReorientation(c, record);
      bitsEqual('undo', back.data, data);
      assert(
        back.dims.join() === DIMS.join() &&
          back.spacing.join() === spacing.join() &&
          back.affine.join() === affine.join(),
        'undo geometry',
      );
      // a bare label array on the canonical grid maps back too, keeping its type
      const labels = Uint8Array.from(c.data, (x) => Math.floor(x) % 4);
      const labelsBack = undoReorientation(labels, record);
      assert(labelsBack instanceof Uint8Array, 'label type kept');
      assert(
        labelsBack.every((x, i) => x === Math.floor(data[i]) % 4),
        'labels map back to their voxels',
      );
      const fwd = applyReorientation(Int16Array.from(data, Math.floor), record);
      assert(
        fwd.every((x, i) => x === Math.floor(c.data[i])),
        'applyReorientation matches toCanonical',
      );
      // slices along the slice axis run in increasing world coordinate
      const s = sliceAxis(c);
      assert(s === 2, `slice axis ${s}, expected 2 (the 3 mm axis, ≈ S)`);
      const z = [0, 1, 2, 3, 4].map((k) => voxelToWorld(c.affine, 0, 0, k)[2]);
      assert(
        z.every((x, k) => k === 0 || x > z[k - 1]),
        `slice world z ${z}`,
      );
      // canonical is a fixed point; an identity affine gives the identity record
      const twice = toCanonical(c);
      assert(twice.record.perm.join() === '0,1,2' && !twice.record.flip.some(Boolean), 'canonical twice');
      bitsEqual('canonical twice', twice.volume.data, c.data);
      // through the file format: read → canonical → undo → write → read gives the same
      const file = readNifti(writeNifti(v, { version: 2 }), 'case.nii');
      const r2 = toCanonical(file);
      bitsEqual('via NIfTI', undoReorientation(r2.volume, r2.record).data, data);
    },
  },
  {
    name: 'orient: sliceAxis takes the largest spacing, ties towards k',
    async run() {
      const cases: [Vec3, number][] = [
        [[1, 1, 5], 2],
        [[5, 1, 1], 0],
        [[1, 5, 1], 1],
        [[1, 1, 1], 2],
        [[3, 3, 1], 1],
        [[3, 1, 3], 2],
        [[0.625, 0.625, 0.62500001], 2],
        [[2.5, 0.7, 2.4999], 2],
        [[2.5, 0.7, 2.4], 0],
      ];
      for (const [spacing, want] of cases)
        assert(sliceAxis({ spacing }) === want, `sliceAxis(${spacing}) = ${sliceAxis({ spacing })}, expected ${want}`);
      // an LPS volume (DICOM-like) with thick axial slices: the slice axis after canonicalisation is k, S-ward
      const sp: Vec3 = [0.7, 0.7, 4];
      const lps = [-0.7, 0, 0, 100, 0, -0.7, 0, 120, 0, 0, 4, -50, 0, 0, 0, 1];
      const { volume } = toCanonical(makeVolume(new Float32Array(frameVoxels), lps, sp));
      assert(
        sliceAxis(volume) === 2 && volume.affine[10] === 4 && volume.affine[0] === 0.7 && volume.affine[5] === 0.7,
        `LPS → ${volume.affine}`,
      );
    },
  },
];

function spacingOf(a: number[]): Vec3 {
  return [0, 1, 2].map((c) => Math.hypot(a[c], a[4 + c], a[8 + c])) as Vec3;
}

/** The same file, uncompressed, with another sform_code. */
function withSformCode(bytes: Uint8Array, version: 1 | 2, code: number): Uint8Array {
  const raw = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes.slice();
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (version === 1) dv.setInt16(254, code, true);
  else dv.setInt32(348, code, true);
  return raw;
}

// ------------------------------------------------------------------------------------------------ files

/** Node and Deno only (file system). Deno's test permissions allow writing under dist/test-results. */
export const niftiFileCases: TestCase[] = [
  {
    name: 'nifti files: atomic write and read back (.nii and .nii.gz), missing file is an io error',
    async run() {
      const fsName = 'node:fs/promises';
      const fs: typeof import('node:fs/promises') = await import(/* @vite-ignore */ fsName);
      const dir = `dist/test-results/nifti-${Date.now().toString(36)}`;
      await fs.mkdir(dir, { recursive: true });
      try {
        const spacing: Vec3 = [0.75, 1.25, 3.5];
        const data = randomData(frameVoxels, 4);
        const v = makeVolume(data, obliqueAffine(spacing), spacing);
        for (const name of ['a.nii', 'b.nii.gz']) {
          const path = `${dir}/${name}`;
          await writeNiftiFile(path, v);
          await writeNiftiFile(path, v, { version: 2 }); // over an existing file
          const got = await readNiftiFile(path);
          bitsEqual(name, got.data, data);
          assert(
            got.source === path && got.origin!.format === 'nifti2',
            `${name}: ${got.source} ${got.origin!.format}`,
          );
          const raw = await fs.readFile(path);
          assert((raw[0] === 0x1f) === name.endsWith('.gz'), `${name}: gzip follows the extension`);
        }
        const left = (await fs.readdir(dir)).sort();
        assert(left.join() === 'a.nii,b.nii.gz', `no temporary files left: ${left}`);
        // a failed write leaves no file behind
        await expectNiftiErrorAsync('write into a missing directory', 'io', `${dir}/nope/c.nii`, () =>
          writeNiftiFile(`${dir}/nope/c.nii`, v),
        );
        await expectNiftiErrorAsync('missing file', 'io', `${dir}/missing.nii`, () =>
          readNiftiFile(`${dir}/missing.nii`),
        );
        // an invalid volume is refused before anything is written
        await expectNiftiErrorAsync('bad volume', 'bad-dims', 'case07.nii', () =>
          writeNiftiFile(`${dir}/d.nii`, { ...v, dims: [1, 1, 1] }),
        );
        assert((await fs.readdir(dir)).length === 2, 'nothing written for a refused volume');
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    },
  },
];
