// glocal phantom: a seeded synthetic cardiac MR dataset (NIfTI images and labels, manifest.json).
import { InvalidArgumentError } from 'commander';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSubject, PHANTOM_VERSION } from '../data/phantom.ts';
import { writeNiftiFile } from '../io/nifti-file.ts';
import { writeFileAtomic } from '../io/files.ts';
import { bar } from './common.ts';

/** Volume i's split: test, val, train (the first nLabeledTrain of the rest), unlabeled; past n: unlabeled. */
function splitOf(i: number, n: number, nLabeledTrain: number): string {
  const nTest = Math.max(1, Math.round(n * 0.3)),
    nVal = Math.min(2, Math.max(0, n - nTest - 1));
  if (i >= n) return 'unlabeled';
  if (i < nTest) return 'test';
  if (i < nTest + nVal) return 'val';
  return i < nTest + nVal + nLabeledTrain ? 'train' : 'unlabeled';
}

/**
 * n volumes split test / val / train (the first nLabeledTrain of the rest) / unlabeled, then nUnlabeled more volumes
 * without a split of their own ('unlabeled': pre-training only), so a larger pre-training pool leaves the first n as they were.
 */
export async function writePhantom(
  out: string,
  n: number,
  seed: number,
  nLabeledTrain = n,
  nUnlabeled = 0,
): Promise<void> {
  if (!(Number.isInteger(n) && n >= 1)) throw new InvalidArgumentError(`phantom: --n must be at least 1, not ${n}`);
  await mkdir(out, { recursive: true });
  const entries: { name: string; image: string; label: string; split: string; group: string }[] = [];
  const b = bar(n + nUnlabeled, 'phantom');
  try {
    for (let i = 0; i < n + nUnlabeled; i++) {
      const s = generateSubject(seed, i);
      const name = `phantom_${String(i).padStart(3, '0')}`;
      await writeNiftiFile(join(out, `${name}.nii.gz`), s.image, { datatype: 'float32' });
      await writeNiftiFile(join(out, `${name}_gt.nii.gz`), s.label, { datatype: 'uint8' });
      const split = splitOf(i, n, nLabeledTrain);
      entries.push({ name, image: `${name}.nii.gz`, label: `${name}_gt.nii.gz`, split, group: s.meta.heart.group });
      b.update(i + 1);
    }
  } finally {
    b.stop();
  }
  const manifest = {
    classes: ['background', 'RV', 'myocardium', 'LV'],
    targetSpacing: 1.36719,
    generator: {
      name: 'glocal phantom',
      version: PHANTOM_VERSION,
      seed,
      n: n + nUnlabeled,
      ...(nUnlabeled ? { unlabeledBeyond: n } : {}),
    },
    entries,
  };
  await writeFileAtomic(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  console.log(
    `wrote ${n + nUnlabeled} phantom volumes + labels and manifest.json to ${out} (generator ${PHANTOM_VERSION}, seed ${seed})`,
  );
}
