// Image files for Node and Deno, NIfTI or DICOM: a .nii/.nii.gz file, or a DICOM series given as its folder or
// a list of its files (one .dcm file alone is a one-slice series). Commands that take an image (segment, and
// train and pretrain through a dataset's entries) read it here, so every one accepts both formats the same way.

import type { Volume } from '../volume/volume.ts';
import { DicomError, readDicomSeries, type DicomInstance, type DicomVolume } from './dicom.ts';
import { nodeFs, readFileBytes } from './files.ts';
import { readNiftiFile } from './nifti-file.ts';

export interface ReadVolumeOptions {
  /** called with the geometry before any voxel is decoded: throw to refuse a volume too large to use */
  checkHeader?: (header: Omit<Volume, 'data'>) => void;
}

/** Files in a series folder that are not instances of it. */
const NOT_AN_INSTANCE = /^(\..*|DICOMDIR|README.*|.*\.(txt|json|xml|html?))$/i;

const describe = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Whether `path` names DICOM rather than NIfTI: a folder, a .dcm file, or a file with the DICM marker. */
export async function isDicomPath(path: string): Promise<boolean> {
  if (/\.nii(\.gz)?$/i.test(path)) return false;
  if (/\.dcm$/i.test(path)) return true;
  const fs = await nodeFs();
  const stat = await fs.stat(path).catch(() => null);
  if (!stat) return false;
  if (stat.isDirectory()) return true;
  const fh = await fs.open(path, 'r');
  try {
    const head = new Uint8Array(132);
    const { bytesRead } = await fh.read(head, 0, 132, 0);
    return bytesRead === 132 && String.fromCharCode(...head.subarray(128)) === 'DICM';
  } finally {
    await fh.close();
  }
}

/** The instance files of a series folder (not recursive; hidden files, DICOMDIR and notes skipped), sorted. */
export async function dicomFolderFiles(folder: string): Promise<string[]> {
  const fs = await nodeFs();
  let entries: { name: string; isFile(): boolean; isDirectory(): boolean }[];
  try {
    entries = await fs.readdir(folder, { withFileTypes: true });
  } catch (e) {
    throw new DicomError('io', folder, `cannot read the folder (${describe(e)})`, { cause: e });
  }
  const files = entries.filter((e) => e.isFile() && !NOT_AN_INSTANCE.test(e.name)).map((e) => `${folder}/${e.name}`);
  if (files.length === 0) {
    const sub = entries.filter((e) => e.isDirectory()).map((e) => e.name);
    throw new DicomError(
      'empty',
      folder,
      'no DICOM files in this folder' +
        (sub.length ? ` (it has subfolders: ${sub.slice(0, 3).join(', ')}; pass the folder of one series)` : ''),
    );
  }
  return files.sort();
}

/** A DICOM series from a folder or a list of files; the volume's source is the folder, or the first file. */
export async function readDicomFiles(paths: string[], opts: ReadVolumeOptions = {}): Promise<DicomVolume> {
  const folder =
    paths.length === 1 &&
    (await nodeFs()).stat(paths[0]).then(
      (s) => s.isDirectory(),
      () => false,
    );
  const files = (await folder) ? await dicomFolderFiles(paths[0]) : paths;
  const instances: DicomInstance[] = [];
  for (const f of files) {
    try {
      instances.push({ name: f, bytes: await readFileBytes(f) });
    } catch (e) {
      throw new DicomError('io', f, `cannot read the file (${describe(e)})`, { cause: e });
    }
  }
  return readDicomSeries(instances, { name: paths.length === 1 ? paths[0] : undefined, ...opts });
}

/**
 * One image: a NIfTI file, or a DICOM series (a folder, or its files). A volume read from DICOM carries `dicom`,
 * the identifiers a DICOM SEG of it refers to.
 */
export async function readVolumeFile(
  paths: string | string[],
  opts: ReadVolumeOptions = {},
): Promise<Volume | DicomVolume> {
  const list = typeof paths === 'string' ? [paths] : paths;
  if (list.length === 1 && !(await isDicomPath(list[0]))) {
    return readNiftiFile(list[0], { checkHeader: opts.checkHeader });
  }
  return readDicomFiles(list, opts);
}
