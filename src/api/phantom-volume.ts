// Phantom volumes as the task-level API takes them (NIfTI bytes): data for trying the library, README's example and
// consumer tests without a dataset. The same subjects as `glocal phantom --seed S` writes.
import { generateSubject } from '../data/phantom.ts';
import { writeNifti } from '../io/nifti.ts';
import type { VolumeFile } from './session.ts';

export interface PhantomVolumeOptions {
  /** the dataset's seed (default 1, as `glocal phantom`) */
  seed?: number;
  /** include the label map (default true) */
  labeled?: boolean;
}

/** Synthetic cardiac short-axis MR subject `index` (labels: 1 RV, 2 myocardium, 3 LV); fresh bytes each call. */
export function phantomVolume(index: number, o: PhantomVolumeOptions = {}): VolumeFile {
  const { seed = 1, labeled = true } = o;
  const s = generateSubject(seed, index);
  return {
    name: `phantom_${seed}_${index}.nii.gz`,
    image: writeNifti(s.image, { datatype: 'float32', gzip: true }),
    label: labeled ? writeNifti(s.label, { datatype: 'uint8', gzip: true }) : undefined,
  };
}
