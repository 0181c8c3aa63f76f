// `glocal segment SERIES --seg-out FILE`: the label map as a DICOM SEG of the DICOM series it was computed on. No
// node: imports: the file is written through io/files.ts, so the suites can run it in Node and Deno.

import type { Volume } from '../volume/volume.ts';
import type { DicomVolume } from '../io/dicom.ts';
import { dicomSeg } from '../viewers/dicom-seg.ts';
import { segments } from '../viewers/adapters.ts';
import { writeFileAtomic } from '../io/files.ts';

export const SEG_TYPES = ['binary', 'labelmap'] as const;
export type SegType = (typeof SEG_TYPES)[number];

/** Refuses, before any work, a --seg-out that cannot be written: a SEG must refer to the DICOM images it segments. */
export function checkSegOutput(image: Volume, segOut: string, type: string): asserts image is DicomVolume {
  if (!SEG_TYPES.includes(type as SegType)) throw new Error(`--seg-type is binary or labelmap, not '${type}'`);
  if (!('dicom' in image)) {
    throw new Error(
      `--seg-out ${segOut}: ${image.source} is not a DICOM series; a DICOM SEG refers to the images it ` +
        'segments, so give the series (its folder or its files) as the input',
    );
  }
}

/** Writes `labels` (on the series' own grid) as a DICOM SEG whose segments are the model's classes 1..K−1. */
export async function writeSegOutput(
  path: string,
  labels: Volume,
  image: DicomVolume,
  classes: string[],
  type: SegType,
): Promise<void> {
  const bytes = dicomSeg(labels.data, image.dicom, segments(classes), { type, name: path });
  await writeFileAtomic(path, bytes);
}

/** The model's class names, or class 0..K−1 where a model records none. */
export const classNames = (classes: string[] | undefined, K: number) =>
  classes?.length === K ? classes : Array.from({ length: K }, (_, k) => (k === 0 ? 'background' : `class ${k}`));
