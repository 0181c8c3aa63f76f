// Checks on volumes a user gives, before any of them reaches the preprocessing or the network: a bad file
// must stop with its name and the problem, never train on NaN or on labels the model cannot represent.

import type { Volume } from '../volume/volume.ts';

/** A volume that cannot be used as given; the message starts with the file it came from. */
export class VolumeError extends Error {
  constructor(
    readonly source: string,
    readonly problem: string,
  ) {
    super(`${source}: ${problem}`);
    this.name = 'VolumeError';
  }
}

/** Voxel sizes outside this range (mm) are taken for a wrong header (µm units, a pixdim of 1e4), not anatomy. */
export const SPACING_RANGE_MM: readonly [number, number] = [0.01, 50];
/** The most wasm memory the preprocessing of one volume may need (wasm32 stops at 4 GiB; the host holds copies). */
export const MAX_PREPROCESS_BYTES = 2 ** 31;

/**
 * A volume's geometry, from its header alone (NIfTI readers call this before decoding voxels; prepareVolume
 * again): a plausible voxel size, and a volume whose preprocessing at `targetSpacing` (when known) fits in memory.
 */
export function checkGeometry(v: Pick<Volume, 'dims' | 'spacing' | 'source'>, targetSpacing?: number): void {
  const [lo, hi] = SPACING_RANGE_MM;
  if (!v.spacing.every((s) => s >= lo && s <= hi)) {
    throw new VolumeError(
      v.source,
      `voxel size ${v.spacing.map((s) => +s.toPrecision(4)).join(' × ')} mm is outside ${lo}..${hi} mm ` +
        '(a wrong unit or pixdim in the header?); fix the header before using it',
    );
  }
  // slices along the largest spacing; each is resampled in-plane to the target spacing (pipeline.ts; unknown: none)
  const axis = v.spacing.indexOf(Math.max(...v.spacing)),
    plane = [0, 1, 2].filter((a) => a !== axis);
  const voxels = v.dims[0] * v.dims[1] * v.dims[2],
    target = (a: number) => targetSpacing ?? v.spacing[a];
  const canvas = plane.reduce(
    (n, a) => n * Math.max(1, Math.round((v.dims[a] * v.spacing[a]) / target(a))),
    v.dims[axis],
  );
  const bytes = 4 * Math.max(3 * voxels, voxels + canvas); // the native volume in and out, or it and the resampled slices
  if (bytes > MAX_PREPROCESS_BYTES) {
    throw new VolumeError(
      v.source,
      `${v.dims.join('×')} voxels of ${v.spacing.map((s) => +s.toPrecision(4)).join(' × ')} mm need ` +
        `${(bytes / 2 ** 30).toFixed(1)} GiB to preprocess${targetSpacing ? ` at ${targetSpacing} mm` : ''}, more than the limit of ${MAX_PREPROCESS_BYTES / 2 ** 30} GiB; ` +
        'crop or downsample it first',
    );
  }
}

/** What is worth a warning but not a refusal: no usable orientation in the header, or frames beyond the first. */
export function geometryWarnings(v: Volume): string[] {
  const out: string[] = [];
  if (v.origin?.affineFrom === 'pixdim') {
    out.push(
      `${v.source}: no usable orientation (sform and qform missing or singular): read as axis-aligned with pixdim spacing; ` +
        'check that its labels come out in the right orientation',
    );
  }
  if ((v.origin?.frames ?? 1) > 1) out.push(`${v.source}: ${v.origin!.frames} frames (4-D); only the first is used`);
  return out;
}

/** An image: every voxel finite, and not constant (a blank or constant volume has no anatomy to normalise). */
export function checkImage(v: Volume): void {
  let bad = 0,
    first = -1,
    lo = Infinity,
    hi = -Infinity;
  for (let i = 0; i < v.data.length; i++) {
    const x = v.data[i];
    if (!Number.isFinite(x)) {
      if (bad++ === 0) first = i;
      continue;
    }
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (bad) {
    throw new VolumeError(
      v.source,
      `${bad} of ${v.data.length} voxels are NaN or infinite (the first at ${voxelIndex(v, first)}, value ${v.data[first]})`,
    );
  }
  if (!(hi > lo))
    throw new VolumeError(v.source, `the image is constant (every voxel is ${lo}): empty or blank volume`);
}

/**
 * A label volume against its image: the same grid (dims and affine), integer values 0..classes−1 (when the class
 * count is known; otherwise any non-negative integer).
 */
export function checkLabels(label: Volume, image: Volume, classes?: number): void {
  checkSameGrid(label, image, 'label', 'its image');
  checkLabelValues(
    label,
    classes === undefined ? Infinity : classes - 1,
    classes === undefined ? 'non-negative integers' : `integers 0..${classes - 1} (${classes} classes)`,
    "remap them in the manifest's labelRemap",
  );
}

/**
 * `v` lies on `ref`'s grid: the same dims, and the same voxel → world affine within 1% of a voxel (a label map
 * shifted or rotated in space would otherwise be trained on, or scored, as if it were aligned).
 */
export function checkSameGrid(v: Volume, ref: Volume, role: string, refRole: string): void {
  if (v.dims.join() !== ref.dims.join()) {
    throw new VolumeError(
      v.source,
      `${role} grid ${v.dims.join('×')} differs from ${refRole} ${ref.source} (${ref.dims.join('×')})`,
    );
  }
  const tolerance = 0.01 * Math.min(...ref.spacing.map(Math.abs));
  let worst = 0;
  for (let t = 0; t < 12; t++) worst = Math.max(worst, Math.abs(v.affine[t] - ref.affine[t]));
  if (!(worst <= tolerance)) {
    const shift = [3, 7, 11].map((t) => (v.affine[t] - ref.affine[t]).toFixed(2)).join(', ');
    throw new VolumeError(
      v.source,
      `${role} affine differs from ${refRole} ${ref.source} by up to ${worst.toFixed(2)} mm ` +
        `(origin shifted by (${shift}) mm): the same ${v.dims.join('×')} grid placed elsewhere in space; resample it onto ${ref.source}'s grid`,
    );
  }
}

/**
 * Every value an integer in 0..max (a class index); returns the largest. The first bad value is named with its
 * voxel, the count of bad voxels and `hint`; `range` says in words what is allowed.
 */
export function checkLabelValues(label: Volume, max: number, range: string, hint: string): number {
  const ok = (y: number) => Number.isInteger(y) && y >= 0 && y <= max;
  let largest = 0;
  for (let i = 0; i < label.data.length; i++) {
    const x = label.data[i];
    if (!ok(x)) {
      let count = 0;
      for (let j = i; j < label.data.length; j++) if (!ok(label.data[j])) count++;
      throw new VolumeError(
        label.source,
        `label ${x} at ${voxelIndex(label, i)} is outside ${range}; ${count} voxels are (${hint})`,
      );
    }
    if (x > largest) largest = x;
  }
  return largest;
}

/** "voxel (i, j, k)" of a flat NIfTI-order index. */
function voxelIndex(v: Volume, idx: number): string {
  const [nx, ny] = v.dims;
  return `voxel (${idx % nx}, ${Math.floor(idx / nx) % ny}, ${Math.floor(idx / (nx * ny))})`;
}
