// Which volumes train, validate and test. ACDC and MSD folders, and manifests that name no split, get a seeded
// default split, so every layout README offers can train; the labeled-volume count a user asks for must exist.

import { Rng } from '../util/random.ts';
import { DatasetError, type Dataset, type DatasetEntry } from './dataset.ts';

/** The seed of the default split: fixed, so a folder splits the same way on every run and machine. */
export const DEFAULT_SPLIT_SEED = 1;

/**
 * The default split of labeled entries: shuffled (seed DEFAULT_SPLIT_SEED, after sorting by name), then 20% test
 * (at least 1 from 3 volumes on), 10% validation (at least 1 from 4 on), the rest train; entries without a label
 * are 'unlabeled'. Returns a sentence for the log.
 */
export function assignDefaultSplit(entries: DatasetEntry[]): string {
  const labeled = entries.filter((e) => e.label).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rng = new Rng(DEFAULT_SPLIT_SEED);
  for (let i = labeled.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [labeled[i], labeled[j]] = [labeled[j], labeled[i]];
  }
  const n = labeled.length;
  const nTest = n >= 3 ? Math.max(1, Math.round(0.2 * n)) : 0,
    nVal = n >= 4 ? Math.max(1, Math.round(0.1 * n)) : 0;
  labeled.forEach((e, i) => {
    e.split = i < nTest ? 'test' : i < nTest + nVal ? 'val' : 'train';
  });
  for (const e of entries) if (!e.label) e.split = 'unlabeled';
  return (
    `no splits given: the default split (seed ${DEFAULT_SPLIT_SEED}) puts ${n - nTest - nVal} labeled volumes in train, ` +
    `${nVal} in val, ${nTest} in test, and ${entries.length - n} unlabeled ones in unlabeled`
  );
}

/** The labeled training entries, or `labeled` of them drawn with `seed`; asking for more than there are is an error. */
export function labeledTraining(ds: Dataset, labeled: number | undefined, seed: number): DatasetEntry[] {
  const all = ds.entries.filter((e) => e.split === 'train' && e.label);
  if (!all.length) throw new DatasetError(ds.root, 'no entries with split "train" and a label');
  if (labeled === undefined) return all;
  if (labeled > all.length) {
    throw new DatasetError(
      ds.root,
      `--labeled ${labeled}: the dataset has only ${all.length} labeled training volumes`,
    );
  }
  const rng = new Rng(seed);
  return [...all].sort(() => rng.next() - 0.5).slice(0, labeled);
}
