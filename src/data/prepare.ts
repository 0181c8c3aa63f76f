// Datasets to prepared volumes (read NIfTI files, remap labels, run the preprocessing pipeline): shared by the
// command line's train and experiment commands.

import { readNiftiFile } from '../io/nifti-file.ts';
import { readVolumeFile } from '../io/volume-file.ts';
import type { Dataset, DatasetEntry } from './dataset.ts';
import { prepareVolume, preprocessable, type PreparedVolume, type PreprocessOptions } from './pipeline.ts';

export async function prepareEntries(
  ds: Dataset,
  entries: DatasetEntry[],
  o: PreprocessOptions,
): Promise<PreparedVolume[]> {
  const out: PreparedVolume[] = [];
  for (const e of entries) {
    // NIfTI or a DICOM series (a folder of it); too large or odd: refused from its header
    const img = await readVolumeFile(e.image, { checkHeader: preprocessable(o) });
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

/** The preprocessing of a preset's grid: the only place a command's grid becomes PreprocessOptions. */
export const gridPreprocess = (p: { size: number; targetSpacing: number }): PreprocessOptions => ({
  targetSpacing: p.targetSpacing,
  size: p.size,
  biasField: true,
});

export interface Splits {
  train: PreparedVolume[];
  val: PreparedVolume[];
  test: PreparedVolume[];
  /** every volume outside val and test, labeled or not (pre-training ignores the labels) */
  unlabeled: PreparedVolume[];
  classes: string[];
}

/**
 * A dataset's labeled train/val/test volumes and its pre-training pool, prepared on the preset's grid: every
 * command (train, pretrain, experiment, probe, convergence) loads its data here, so the grid cannot differ
 * between them. `which` skips the splits a command does not use; `which.train` replaces the labeled training
 * entries with a draw of them (train --labeled: data/splits.ts labeledTraining; the pool then holds only those).
 */
export async function prepareSplits(
  ds: Dataset,
  p: { size: number; targetSpacing: number },
  which: { labeled?: boolean; unlabeled?: boolean; train?: DatasetEntry[] } = { labeled: true, unlabeled: true },
): Promise<Splits> {
  const o = gridPreprocess(p);
  const labeledOf = (split: string) => ds.entries.filter((e) => e.split === split && e.label);
  const prep = (entries: DatasetEntry[]) => prepareEntries(ds, entries, o);
  const train = which.labeled || which.unlabeled ? await prep(which.train ?? labeledOf('train')) : [];
  const [val, test] = which.labeled ? [await prep(labeledOf('val')), await prep(labeledOf('test'))] : [[], []];
  const rest = ds.entries.filter((e) => e.split !== 'val' && e.split !== 'test' && !(e.split === 'train' && e.label));
  const unlabeled = which.unlabeled ? [...train, ...(await prep(rest))] : [];
  const K = numClasses(ds, [...train, ...val, ...test]);
  const classes = ds.classes ?? Array.from({ length: K }, (_, k) => (k ? `class${k}` : 'background'));
  return { train, val, test, unlabeled, classes };
}
