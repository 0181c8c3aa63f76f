// Reorientation to one canonical voxel order, RAS: voxel axes i, j, k run as closely as the affine allows along
// +R (x), +A (y), +S (z). Only permutations and flips of the voxel axes are used (no resampling), so the data are
// moved, never interpolated, and undoReorientation restores the original grid exactly.
//
// Axis assignment (as nibabel's as_closest_canonical): take the direction cosines of the affine's three columns
// (each voxel axis's unit direction in world space); repeatedly pick the (world axis, voxel axis) pair with the
// largest |cosine| among the pairs not yet used, so that the result is a permutation (ties: the lower world axis,
// then the lower voxel axis). A voxel axis whose cosine is negative is flipped.
//
// Slicing: sliceAxis picks the canonical axis 2-D slices are taken along (see there). On a canonical volume
// every axis runs towards increasing world coordinate, so the slices of every volume come in the same order
// (e.g. inferior → superior when the slice axis is k).

import { type Vec3, type Volume, matMul4 } from './volume.ts';

/** How a volume was reoriented; undoReorientation uses it to go back to the original grid. */
export interface Reorientation {
  /** perm[a] = the original voxel axis that canonical axis a runs along */
  perm: Vec3;
  /** flip[a]: canonical axis a runs against original axis perm[a] */
  flip: [boolean, boolean, boolean];
  /** the original grid */
  dims: Vec3;
  spacing: Vec3;
  affine: number[];
  /** the canonical grid's dims */
  canonicalDims: Vec3;
}

/** Typed arrays that reorient (image values, label maps). */
export type VoxelArray =
  | Float32Array
  | Float64Array
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array;

/** The permutation and flips that bring an affine's voxel axes to RAS (see the module comment). */
export function canonicalAxes(affine: number[]): { perm: Vec3; flip: [boolean, boolean, boolean] } {
  const cos: number[][] = [[], [], []]; // cos[w][j]: world axis w, voxel axis j
  for (let j = 0; j < 3; j++) {
    const n = Math.hypot(affine[j], affine[4 + j], affine[8 + j]);
    if (!(n > 0) || !Number.isFinite(n))
      throw new Error(`affine column ${j} has length ${n}: the voxel axes have no orientation`);
    for (let w = 0; w < 3; w++) cos[w][j] = affine[4 * w + j] / n;
  }
  const perm: Vec3 = [-1, -1, -1];
  const flip: [boolean, boolean, boolean] = [false, false, false];
  const usedVoxel = [false, false, false];
  for (let step = 0; step < 3; step++) {
    let best = -1,
      bw = -1,
      bj = -1;
    for (let w = 0; w < 3; w++) {
      if (perm[w] >= 0) continue;
      for (let j = 0; j < 3; j++) {
        if (usedVoxel[j]) continue;
        const c = Math.abs(cos[w][j]);
        if (c > best) {
          best = c;
          bw = w;
          bj = j;
        }
      }
    }
    perm[bw] = bj;
    flip[bw] = cos[bw][bj] < 0;
    usedVoxel[bj] = true;
  }
  return { perm, flip };
}

/** The axis codes of an affine, nibabel style: for each voxel axis, the world direction it runs most
 *  closely towards ('R'/'L', 'A'/'P', 'S'/'I'), e.g. 'RAS', 'LPS', 'PSR'. */
export function orientationCode(affine: number[]): string {
  const { perm, flip } = canonicalAxes(affine);
  const codes = ['', '', ''];
  for (let w = 0; w < 3; w++) codes[perm[w]] = (flip[w] ? 'LPI' : 'RAS')[w];
  return codes.join('');
}

/** Permutes and flips the voxel axes of `v` so that they run along +R, +A, +S as closely as possible. The
 *  result has its own data, dims and spacing permuted, and an affine under which every voxel keeps its world
 *  coordinates. `record` maps results on the canonical grid back (undoReorientation). */
export function toCanonical(v: Volume): { volume: Volume; record: Reorientation } {
  const { perm, flip } = canonicalAxes(v.affine);
  const d = v.dims;
  const record: Reorientation = {
    perm,
    flip,
    dims: [...d] as Vec3,
    spacing: [...v.spacing] as Vec3,
    affine: v.affine.slice(),
    canonicalDims: [d[perm[0]], d[perm[1]], d[perm[2]]],
  };
  return { volume: applyReorientation(v, record), record };
}

/** Brings data on the original grid to the canonical grid of `record` (e.g. the labels that belong to an image
 *  that was reoriented). A Volume must have the record's original dims. */
export function applyReorientation(v: Volume, record: Reorientation): Volume;
export function applyReorientation<T extends VoxelArray>(data: T, record: Reorientation): T;
export function applyReorientation(x: Volume | VoxelArray, record: Reorientation): Volume | VoxelArray {
  if (!isVolume(x)) return remap(x, record, true);
  checkDims(x, record.dims, 'original');
  // original voxel index o = P·n for canonical index n: o[perm[a]] = flip[a] ? dims[perm[a]] − 1 − n[a] : n[a]
  const p = record.perm,
    P = new Array<number>(16).fill(0);
  for (let a = 0; a < 3; a++) {
    P[4 * p[a] + a] = record.flip[a] ? -1 : 1;
    P[4 * p[a] + 3] = record.flip[a] ? record.dims[p[a]] - 1 : 0;
  }
  P[15] = 1;
  return {
    ...x,
    data: remap(x.data, record, true),
    dims: [...record.canonicalDims] as Vec3,
    spacing: [x.spacing[p[0]], x.spacing[p[1]], x.spacing[p[2]]],
    affine: matMul4(x.affine, P),
  };
}

/** Maps a result on the canonical grid (a Volume, or a bare voxel array such as predicted labels) back to the
 *  original voxel grid, exactly: a Volume gets the original dims, spacing and affine. */
export function undoReorientation(v: Volume, record: Reorientation): Volume;
export function undoReorientation<T extends VoxelArray>(data: T, record: Reorientation): T;
export function undoReorientation(x: Volume | VoxelArray, record: Reorientation): Volume | VoxelArray {
  if (!isVolume(x)) return remap(x, record, false);
  checkDims(x, record.canonicalDims, 'canonical');
  return {
    ...x,
    data: remap(x.data, record, false),
    dims: [...record.dims] as Vec3,
    spacing: [...record.spacing] as Vec3,
    affine: record.affine.slice(),
  };
}

/** The canonical axis along which 2-D slices are taken: the one with the largest spacing (the through-plane
 *  axis of an MR stack). Spacings within 0.1% of the largest count as tied, and ties go to the higher axis, so
 *  an isotropic volume is sliced along k (2), i.e. axially on a canonical (RAS) volume. */
export function sliceAxis(v: Pick<Volume, 'spacing'>): 0 | 1 | 2 {
  const s = v.spacing,
    max = Math.max(s[0], s[1], s[2]);
  for (const a of [2, 1, 0] as const) if (s[a] >= max * (1 - 1e-3)) return a;
  return 2;
}

function isVolume(x: Volume | VoxelArray): x is Volume {
  return !ArrayBuffer.isView(x);
}

function checkDims(v: Volume, want: Vec3, which: string): void {
  if (v.dims[0] !== want[0] || v.dims[1] !== want[1] || v.dims[2] !== want[2]) {
    throw new Error(
      `${v.source}: dims [${v.dims.join(', ')}] are not the reorientation's ${which} dims [${want.join(', ')}]`,
    );
  }
}

/** forward: original grid → canonical grid; else canonical → original. */
function remap<T extends VoxelArray>(src: T, r: Reorientation, forward: boolean): T {
  const d = r.dims,
    n = d[0] * d[1] * d[2];
  if (src.length !== n) throw new Error(`reorientation: ${src.length} voxels, expected ${d.join('×')} = ${n}`);
  const out = new (src.constructor as new (n: number) => T)(n);
  const stride = [1, d[0], d[0] * d[1]];
  const cd = r.canonicalDims;
  const step = [0, 1, 2].map((a) => (r.flip[a] ? -stride[r.perm[a]] : stride[r.perm[a]]));
  let base = 0;
  for (let a = 0; a < 3; a++) if (r.flip[a]) base += (d[r.perm[a]] - 1) * stride[r.perm[a]];
  let c = 0;
  for (let k = 0; k < cd[2]; k++) {
    const ok = base + k * step[2];
    for (let j = 0; j < cd[1]; j++) {
      let o = ok + j * step[1];
      if (forward) for (let i = 0; i < cd[0]; i++, o += step[0]) out[c++] = src[o];
      else for (let i = 0; i < cd[0]; i++, o += step[0]) out[o] = src[c++];
    }
  }
  return out;
}
