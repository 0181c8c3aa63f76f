// From volumes on disk to network slices and back (paper-spec §6, §7.1):
//   canonical RAS orientation → slice axis moved last → bias-field correction → p1/p99 normalisation of the
//   native volume → per-slice in-plane resampling to the target spacing → centre crop/pad to the network
//   size; and predictions: probabilities → uncrop → bilinear resize to the native grid → argmax → back to
//   the file's own orientation. The compute steps run in the wasm module (src/data/preprocess.ts).

import type { Volume, Vec3 } from '../volume/volume.ts';
import { toCanonical, undoReorientation, sliceAxis, type Reorientation } from '../volume/orient.ts';
import {
  correctBiasField,
  normalizePercentiles,
  prepareSlices,
  probabilitiesToLabels,
  sliceGeometry,
  type SliceGeometry,
} from './preprocess.ts';
import { checkGeometry, checkImage, checkLabels } from './validate.ts';

export interface PreprocessOptions {
  /** in-plane target spacing, mm */
  targetSpacing: number;
  /** network input side, pixels */
  size: number;
  /** run the bias-field correction first (the paper runs N4) */
  biasField: boolean;
}

/** A volume ready for the network: nz slices of size×size, and what it takes to map predictions back. */
export interface PreparedVolume {
  name: string;
  /** nz·size·size, slice-major, x fastest */
  slices: Float32Array;
  /** the same slices of the label volume (nearest), or null */
  labels: Float32Array | null;
  nz: number;
  geometry: SliceGeometry;
  /** the native label volume in the working orientation (canonical, slice axis last), for evaluation */
  nativeLabels: Float32Array | null;
  /** to put a working-orientation result back on the file's grid */
  back: { record: Reorientation; axis: 0 | 1 | 2; canonicalDims: Vec3 };
  /** voxel spacing of the working orientation (the native in-plane spacings, then the slice spacing), mm */
  workingSpacing: Vec3;
  original: Volume;
}

/** A volume's axes transposed (x fastest): output axis i is input axis order[i]. */
function transpose(data: ArrayLike<number>, dims: Vec3, order: Vec3): { data: Float32Array; dims: Vec3 } {
  const nd: Vec3 = [dims[order[0]], dims[order[1]], dims[order[2]]];
  const out = new Float32Array(data.length),
    st = [1, dims[0], dims[0] * dims[1]];
  let o = 0;
  for (let c = 0; c < nd[2]; c++)
    for (let b = 0; b < nd[1]; b++)
      for (let a = 0; a < nd[0]; a++) {
        out[o++] = data[a * st[order[0]] + b * st[order[1]] + c * st[order[2]]];
      }
  return { data: out, dims: nd };
}

/** The working orientation's axis order: the two other axes in order, then `axis`. */
const workingOrder = (axis: 0 | 1 | 2) => ([0, 1, 2] as const).filter((a) => a !== axis).concat(axis) as Vec3;

/** Permute a volume's axes so that `axis` becomes the last (slice) axis; returns new data and dims. */
export function moveAxisLast(data: ArrayLike<number>, dims: Vec3, axis: 0 | 1 | 2): { data: Float32Array; dims: Vec3 } {
  if (axis === 2) return { data: Float32Array.from(data), dims: [...dims] as Vec3 };
  return transpose(data, dims, workingOrder(axis));
}

/** The inverse of moveAxisLast: the transpose by the inverse order. */
export function restoreAxis(data: ArrayLike<number>, workDims: Vec3, axis: 0 | 1 | 2): Float32Array {
  if (axis === 2) return Float32Array.from(data);
  const inverse: Vec3 = [0, 0, 0];
  workingOrder(axis).forEach((a, i) => (inverse[a] = i));
  return transpose(data, workDims, inverse).data;
}

/** Checks the image (and label) first (data/validate.ts): a bad volume stops here with its file name. */
export async function prepareVolume(
  image: Volume,
  label: Volume | null,
  o: PreprocessOptions,
  classes?: number,
): Promise<PreparedVolume> {
  checkGeometry(image, o.targetSpacing);
  checkImage(image);
  if (label) checkLabels(label, image, classes);
  const { volume: canon, record } = toCanonical(image);
  const axis = sliceAxis(canon);
  const work = moveAxisLast(canon.data, canon.dims, axis);
  const sp = canon.spacing.filter((_, i) => i !== axis);
  const [nx, ny, nz] = work.dims;
  let data = work.data;
  if (o.biasField) data = (await correctBiasField(data, work.dims)).data;
  data = (await normalizePercentiles(data)).out;
  const g = sliceGeometry(nx, ny, sp[0], sp[1], o.targetSpacing, o.size, o.size);
  const slices = await prepareSlices(data, g, nz, 'bilinear');
  let labels: Float32Array | null = null,
    nativeLabels: Float32Array | null = null;
  if (label) {
    const lc = toCanonical(label).volume;
    nativeLabels = moveAxisLast(lc.data, lc.dims, axis).data;
    labels = await prepareSlices(nativeLabels, g, nz, 'nearest');
  }
  return {
    name: image.source
      .split('/')
      .pop()!
      .replace(/\.nii(\.gz)?$/, ''),
    slices,
    labels,
    nz,
    geometry: g,
    nativeLabels,
    back: { record, axis, canonicalDims: canon.dims },
    workingSpacing: [sp[0], sp[1], canon.spacing[axis]],
    original: image,
  };
}

/** For readNifti's or readVolumeFile's checkHeader: a volume this preprocessing cannot take is refused before its
 *  voxels are read (NIfTI or DICOM geometry). */
export const preprocessable =
  (o: Pick<PreprocessOptions, 'targetSpacing'>) => (h: Pick<Volume, 'dims' | 'spacing' | 'source'>) =>
    checkGeometry(h, o.targetSpacing);

/** Probabilities of every slice (nz·size·size·K, channel-last) → labels on the native grid, working orientation. */
export async function nativeLabels(p: PreparedVolume, probs: Float32Array, K: number): Promise<Float32Array> {
  return probabilitiesToLabels(probs, p.geometry, K, p.nz, 'f32');
}

/** A working-orientation label volume → the same labels on the file's own grid and affine. */
export function toFileGrid(p: PreparedVolume, working: Float32Array): Volume {
  const [nx, ny] = p.geometry.native;
  const data = undoReorientation(restoreAxis(working, [nx, ny, p.nz], p.back.axis), p.back.record);
  const o = p.original;
  return { data, dims: [...o.dims] as Vec3, spacing: [...o.spacing] as Vec3, affine: [...o.affine], source: o.source };
}

export async function labelsFromProbabilities(
  p: PreparedVolume,
  probs: Float32Array,
  K: number,
): Promise<{ working: Float32Array; volume: Volume }> {
  const working = await nativeLabels(p, probs, K);
  return { working, volume: toFileGrid(p, working) };
}
