// Datasets to prepared volumes (read NIfTI files, remap labels, run the preprocessing pipeline): shared by the
// command line's train and experiment commands.

import { readNiftiFile } from '../io/nifti-file.ts';
import type { Dataset, DatasetEntry } from './dataset.ts';
import { prepareVolume, type PreparedVolume, type PreprocessOptions } from './pipeline.ts';

export async function prepareEntries(ds: Dataset, entries: DatasetEntry[], o: PreprocessOptions): Promise<PreparedVolume[]> {
  const out: PreparedVolume[] = [];
  for (const e of entries) {
    const img = await readNiftiFile(e.image);
    const lab = e.label ? await readNiftiFile(e.label) : null;
    if (lab && ds.labelRemap) lab.data = lab.data.map((v) => ds.labelRemap![v] ?? v);
    out.push(await prepareVolume(img, lab, o, ds.classes?.length));
  }
  return out;
}

/** K: the manifest's class names, else the largest label + 1. */
export function numClasses(ds: Dataset, vols: PreparedVolume[]): number {
  if (ds.classes) return ds.classes.length;
  let mx = 0;
  for (const v of vols) if (v.labels) for (const x of v.labels) mx = Math.max(mx, x);
  return mx + 1;
}
