// Checks on volumes a user gives, before any of them reaches the preprocessing or the network: a bad file
// must stop with its name and the problem, never train on NaN or on labels the model cannot represent.

import type { Volume } from '../volume/volume.ts';

/** A volume that cannot be used as given; the message starts with the file it came from. */
export class VolumeError extends Error {
  constructor(readonly source: string, readonly problem: string) {
    super(`${source}: ${problem}`);
    this.name = 'VolumeError';
  }
}

/** An image: every voxel finite, and not constant (a blank or constant volume has no anatomy to normalise). */
export function checkImage(v: Volume): void {
  let bad = 0, first = -1, lo = Infinity, hi = -Infinity;
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
    throw new VolumeError(v.source, `${bad} of ${v.data.length} voxels are NaN or infinite (the first at ${voxelIndex(v, first)}, value ${v.data[first]})`);
  }
  if (!(hi > lo)) throw new VolumeError(v.source, `the image is constant (every voxel is ${lo}): empty or blank volume`);
}

/**
 * A label volume against its image: the same grid, integer values 0..classes−1 (when the class count is
 * known; otherwise any non-negative integer).
 */
export function checkLabels(label: Volume, image: Volume, classes?: number): void {
  if (label.dims.join() !== image.dims.join()) {
    throw new VolumeError(label.source, `label grid ${label.dims.join('×')} differs from its image ${image.source} (${image.dims.join('×')})`);
  }
  const max = classes === undefined ? Infinity : classes - 1;
  for (let i = 0; i < label.data.length; i++) {
    const x = label.data[i];
    if (!(Number.isInteger(x) && x >= 0 && x <= max)) {
      let count = 0;
      for (let j = i; j < label.data.length; j++) {
        const y = label.data[j];
        if (!(Number.isInteger(y) && y >= 0 && y <= max)) count++;
      }
      const range = classes === undefined ? 'non-negative integers' : `integers 0..${max} (${classes} classes)`;
      throw new VolumeError(label.source, `label ${x} at ${voxelIndex(label, i)} is outside ${range}; ${count} voxels are (remap them in the manifest's labelRemap)`);
    }
  }
}

/** "voxel (i, j, k)" of a flat NIfTI-order index. */
function voxelIndex(v: Volume, idx: number): string {
  const [nx, ny] = v.dims;
  return `voxel (${idx % nx}, ${Math.floor(idx / nx) % ny}, ${Math.floor(idx / (nx * ny))})`;
}
