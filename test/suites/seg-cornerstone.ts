// DICOM SEG through the loader Cornerstone3D and OHIF use (issue 28, item 2): our binary SEG (…66.4) and label-map
// SEG (…66.7) of the pydicom-written oblique series, read back by @cornerstonejs/adapters' SEG → labelmap path
// (createLabelmapsFromDICOMBuffer), give our label map voxel for voxel. The adapter learns the source series only
// from the fixture files' own tags (dcmjs), handed over in file-name order: slice order is recomputed here from
// ImagePositionPatient along the normal, so frame order, in-plane orientation and segment numbers are all checked.

import { type TestCase, assert } from '../harness.ts';
import dcmjs from 'dcmjs';
import { dicomSeg } from '../../src/viewers/dicom-seg.ts';
import type { SegmentInfo } from '../../src/viewers/adapters.ts';
import { dicomFolderFiles, readVolumeFile } from '../../src/io/volume-file.ts';
import { readFileBytes } from '../../src/io/files.ts';
import type { DicomVolume } from '../../src/io/dicom.ts';

// not bundled: the adapter (with Cornerstone3D core, tools and vtk.js) loads from node_modules when the case runs
const ADAPTERS = '@cornerstonejs/adapters',
  CORE = '@cornerstonejs/core';
const SERIES = 'test/fixtures/dicom/oblique';
const SEGMENTS: SegmentInfo[] = ['RV', 'myocardium', 'LV'].map((label, i) => ({
  segmentIndex: i + 1,
  label,
  color: [200, 60 * i, 40] as [number, number, number],
}));

type Tags = Record<string, any>;
const num = (x: unknown) => (x as ArrayLike<unknown>[]).map?.(Number) ?? Number(x);

/** The fixture's instances as the adapter's metadata provider serves them: tags from each file, nothing of ours. */
async function sourceTags(): Promise<{ ids: string[]; tags: Map<string, Tags> }> {
  const files = (await dicomFolderFiles(SERIES)).sort(),
    tags = new Map<string, Tags>();
  for (const f of files) {
    const bytes = await readFileBytes(f);
    const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(
      dcmjs.data.DicomMessage.readFile(bytes.slice().buffer).dict,
    );
    tags.set(`glocal-test:${f}`, ds);
  }
  return { ids: [...tags.keys()], tags };
}

/** Cornerstone's metadata modules for one source instance (the subset the SEG loader asks for). */
function metadataModule(type: string, ds: Tags | undefined): unknown {
  if (!ds) return undefined;
  const iop = num(ds.ImageOrientationPatient) as number[],
    spacing = num(ds.PixelSpacing) as number[];
  switch (type) {
    case 'instance':
      return ds;
    case 'generalImageModule':
      return { sopInstanceUID: ds.SOPInstanceUID, instanceNumber: Number(ds.InstanceNumber) };
    case 'generalSeriesModule':
      return { seriesInstanceUID: ds.SeriesInstanceUID, modality: ds.Modality };
    case 'imagePixelModule':
      return {
        bitsAllocated: ds.BitsAllocated,
        bitsStored: ds.BitsStored,
        highBit: ds.HighBit,
        pixelRepresentation: ds.PixelRepresentation,
        samplesPerPixel: 1,
        photometricInterpretation: ds.PhotometricInterpretation,
      };
    case 'imagePlaneModule':
      return {
        frameOfReferenceUID: ds.FrameOfReferenceUID,
        rows: ds.Rows,
        columns: ds.Columns,
        imageOrientationPatient: iop,
        rowCosines: iop.slice(0, 3),
        columnCosines: iop.slice(3, 6),
        imagePositionPatient: num(ds.ImagePositionPatient),
        pixelSpacing: spacing,
        rowPixelSpacing: spacing[0],
        columnPixelSpacing: spacing[1],
        sliceThickness: Number(ds.SliceThickness),
      };
  }
  return undefined;
}

/** Each referenced id's slice: its rank by ImagePositionPatient · (row cosines × column cosines), from the tags. */
function sliceOrder(ids: string[], tags: Map<string, Tags>): number[] {
  const along = ids.map((id) => {
    const ds = tags.get(id) as Tags,
      [a, b, c, d, e, f] = num(ds.ImageOrientationPatient) as number[],
      p = num(ds.ImagePositionPatient) as number[];
    return p[0] * (b * f - c * e) + p[1] * (c * d - a * f) + p[2] * (a * e - b * d);
  });
  const sorted = [...along].sort((x, y) => x - y);
  return along.map((x) => sorted.indexOf(x));
}

/** Our labels, read back: the adapter's label map images, one per referenced id, placed at that id's slice. */
function readBack(result: any, ids: string[], order: number[], P: number): Uint8Array {
  const images = result.labelMapImages;
  assert(images.length === 1, `${images.length} label map groups (overlapping segments?), expected 1`);
  assert(images[0].length === ids.length, `${images[0].length} label map images for ${ids.length} slices`);
  const back = new Uint8Array(P * ids.length);
  images[0].forEach((image: any, n: number) => {
    assert(image.referencedImageId === ids[n], `label map image ${n} refers to ${image.referencedImageId}`);
    const vm = image.voxelManager;
    for (let p = 0; p < P; p++) back[order[n] * P + p] = vm ? vm.getAtIndex(p) : image.getPixelData()[p];
  });
  return back;
}

async function roundTrip(type: 'binary' | 'labelmap'): Promise<void> {
  const series = (await readVolumeFile(SERIES)) as DicomVolume,
    [cols, rows] = series.dicom.dimensions,
    P = cols * rows;
  const labels = Uint8Array.from(series.data, (x) => (x > 1500 ? 1 : x > 1000 ? 2 : x > 500 ? 3 : 0));
  const bytes = dicomSeg(labels, series.dicom, SEGMENTS, { type });
  const core = await import(/* @vite-ignore */ CORE),
    { adaptersSEG } = await import(/* @vite-ignore */ ADAPTERS);
  const { ids, tags } = await sourceTags();
  // a provider registered once per case (priority above Cornerstone's own), removed after
  const provider = (t: string, id: string) =>
    id.startsWith('glocal-test:') ? metadataModule(t, tags.get(id)) : undefined;
  core.metaData.addProvider(provider, 10000);
  try {
    const result = await adaptersSEG.Cornerstone3D.Segmentation.createLabelmapsFromDICOMBuffer(
      ids,
      bytes.slice().buffer,
      core.metaData,
      { tolerance: 1e-3 },
    );
    const back = readBack(result, ids, sliceOrder(ids, tags), P);
    let differ = 0;
    for (let v = 0; v < labels.length; v++) if (back[v] !== labels[v]) differ++;
    const counts = [1, 2, 3].map((s) => labels.filter((x) => x === s).length);
    assert(differ === 0, `${type}: ${differ} of ${labels.length} voxels differ (ours per segment: ${counts})`);
    assert(
      counts.every((n) => n > 0),
      `${type}: the example must hold every segment (${counts})`,
    );
    const segs = result.segMetadata.data
      .filter(Boolean)
      .map((s: any) => `${s.SegmentNumber}:${s.SegmentLabel}`)
      .join();
    assert(segs === '1:RV,2:myocardium,3:LV', `${type}: the adapter's segments are ${segs}`);
    console.log(`cornerstone SEG (${type}): ${labels.length} voxels, all equal; segments per voxel ${counts}`);
  } finally {
    core.metaData.removeProvider(provider);
  }
}

export const segCornerstoneFileCases: TestCase[] = [
  {
    name: 'DICOM SEG: @cornerstonejs/adapters reads our binary SEG back as our label map, voxel for voxel',
    run: () => roundTrip('binary'),
  },
  {
    name: 'DICOM SEG: @cornerstonejs/adapters reads our label-map SEG (…66.7) back as our label map, voxel for voxel',
    run: () => roundTrip('labelmap'),
  },
];
