// Viewer adapters: segment what a web viewer already holds, and hand back what it displays. They use only the
// fields named in the interfaces below, so glocal needs neither viewer as a dependency (pass NiiVue's NVImage
// class in; Cornerstone3D's labelmap volume is created by the caller from the returned scalar data).

import type { Trainer } from '../api/trainer.ts';
import { readNifti, writeNifti } from '../io/nifti.ts';
import type { Volume } from '../volume/volume.ts';
import { SEGMENT_COLOURS, labelLut, segmentColour, type Rgb } from './colours.ts';

/** The classes' display colours (0 is background), as viewers' segment tables take them: the shared table. */
export const SEGMENT_COLORS: readonly Rgb[] = SEGMENT_COLOURS;

export interface SegmentInfo {
  segmentIndex: number;
  label: string;
  color: [number, number, number];
}

/** The segments of a model's classes (background, class 0, has none), coloured as in the app. */
export function segments(classes: string[]): SegmentInfo[] {
  return classes.slice(1).map((label, i) => ({ segmentIndex: i + 1, label, color: segmentColour(i + 1) }));
}

// ------------------------------------------------------------------------------------------------ NiiVue

/** What segmentNVImage reads of an NVImage. */
export interface NVImageLike {
  name: string;
  saveToUint8Array(fnm: string): Promise<Uint8Array>;
}
/** What segmentNVImage sets on the overlay it loads: NiiVue's label lookup table (the shared colours). */
export interface NVLabelOverlay {
  colormapLabel: { lut: Uint8ClampedArray; min?: number; max?: number; labels?: string[] } | null;
}
/** What it needs of the NVImage class (NiiVue's static factory). */
export interface NVImageFactory<I> {
  loadFromUrl(o: {
    url: string;
    buffer: ArrayBuffer;
    name: string;
    colormap: string;
    opacity: number;
    cal_min: number;
    cal_max: number;
  }): Promise<I>;
}

/**
 * Segment a NiiVue volume; returns an overlay NVImage on the same grid (add it with `nv.addVolume(overlay)`),
 * the label map as .nii.gz bytes, and the crop warning of `segment`. The overlay is coloured by the shared label
 * table (colours.ts; `classNames`, background first, name its values) unless `colormap` names a NiiVue colormap.
 */
export async function segmentNVImage<I extends NVLabelOverlay>(
  trainer: Trainer,
  image: NVImageLike,
  NVImage: NVImageFactory<I>,
  o: { colormap?: string; opacity?: number; classes?: number; classNames?: string[] } = {},
): Promise<{ overlay: I; labels: Uint8Array; cropWarning: string | null }> {
  const bytes = await image.saveToUint8Array(`${image.name || 'volume'}.nii`);
  const seg = await trainer.segment({ name: image.name || 'NiiVue volume', image: bytes });
  const overlay = await NVImage.loadFromUrl({
    // NiiVue wants a url (it names the image and gives the format); with a buffer it fetches nothing
    url: `${image.name || 'volume'}_glocal.nii.gz`,
    buffer: seg.labels.slice().buffer,
    name: `${image.name || 'volume'}_glocal.nii.gz`,
    colormap: o.colormap ?? 'actc',
    opacity: o.opacity ?? 0.6,
    cal_min: 0.5,
    cal_max: (o.classes ?? o.classNames?.length ?? 4) - 1,
  });
  if (!o.colormap) {
    const K = o.classNames?.length ?? o.classes ?? 4;
    overlay.colormapLabel = labelLut(
      o.classNames ?? Array.from({ length: K }, (_, k) => (k ? `class ${k}` : 'background')),
    );
  }
  return { overlay, labels: seg.labels, cropWarning: seg.cropWarning };
}

// ------------------------------------------------------------------------------------------------ Cornerstone3D

/**
 * What segmentCornerstoneVolume reads of a Cornerstone3D image volume: its geometry in DICOM patient
 * coordinates (LPS) and its voxels, i fastest. `direction` holds the row cosines (the direction of increasing i),
 * the column cosines (increasing j) and the scan axis (increasing k), 3 numbers each.
 */
export interface CornerstoneVolumeLike {
  dimensions: ArrayLike<number>;
  spacing: ArrayLike<number>;
  origin: ArrayLike<number>;
  direction: ArrayLike<number>;
  voxelManager?: { getCompleteScalarDataArray(): ArrayLike<number> };
  getScalarData?(): ArrayLike<number>;
}

/** A Cornerstone volume as a glocal Volume: the LPS geometry turned into a RAS voxel-to-world affine. */
export function volumeFromCornerstone(v: CornerstoneVolumeLike, name = 'Cornerstone volume'): Volume {
  const data = v.voxelManager?.getCompleteScalarDataArray() ?? v.getScalarData?.();
  if (!data)
    throw new Error(
      `${name}: the volume exposes neither voxelManager.getCompleteScalarDataArray() nor getScalarData()`,
    );
  const dims = [0, 1, 2].map((a) => v.dimensions[a]) as [number, number, number];
  if (data.length !== dims[0] * dims[1] * dims[2])
    throw new Error(`${name}: ${data.length} voxels for dimensions ${dims.join('×')}`);
  const sp = [0, 1, 2].map((a) => v.spacing[a]) as [number, number, number],
    d = v.direction,
    o = v.origin;
  const affine = new Array(16).fill(0);
  for (let r = 0; r < 3; r++) {
    const flip = r < 2 ? -1 : 1; // LPS → RAS
    for (let c = 0; c < 3; c++) affine[4 * r + c] = flip * d[3 * c + r] * sp[c];
    affine[4 * r + 3] = flip * o[r];
  }
  affine[15] = 1;
  return { data: Float32Array.from(data), dims, spacing: sp, affine, source: name };
}

/**
 * Segment a Cornerstone3D image volume. The result's `scalarData` (Uint8Array, i fastest) fills a labelmap
 * volume derived from the same volume (same dimensions, spacing, origin, direction); `segments` is its segment
 * table (index, label, colour).
 */
export async function segmentCornerstoneVolume(
  trainer: Trainer,
  v: CornerstoneVolumeLike,
  classes: string[],
  name = 'Cornerstone volume',
): Promise<{ scalarData: Uint8Array; segments: SegmentInfo[]; cropWarning: string | null }> {
  const image = writeNifti(volumeFromCornerstone(v, name), { datatype: 'float32' });
  const seg = await trainer.segment({ name, image });
  const labels = readNifti(seg.labels, `${name} (labels)`);
  return { scalarData: Uint8Array.from(labels.data), segments: segments(classes), cropWarning: seg.cropWarning };
}
