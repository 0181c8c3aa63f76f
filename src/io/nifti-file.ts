// NIfTI file helpers for Node and Deno (node:fs/promises; Deno provides the node: modules). Browsers use
// readNifti/writeNifti on bytes. node:fs is imported at call time through a computed specifier, so bundles
// for the browser and for Deno (esbuild platform neutral) still build from code that imports this module.

import type { Volume } from '../volume/volume.ts';
import { NiftiError, readNifti, writeNifti, type ReadNiftiOptions, type WriteNiftiOptions } from './nifti.ts';

import { FileWriteError, readFileBytes, writeFileAtomic } from './files.ts';

const describe = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Reads a .nii or .nii.gz file; the volume's source is `path`. */
export async function readNiftiFile(path: string, opts?: ReadNiftiOptions): Promise<Volume> {
  let bytes: Uint8Array;
  try {
    bytes = await readFileBytes(path);
  } catch (e) {
    throw new NiftiError('io', path, `cannot read the file (${describe(e)})`, { cause: e });
  }
  return readNifti(bytes, path, opts);
}

/** Writes `v` to `path` atomically: into a temporary file in the same directory, flushed to disk, then renamed
 *  over `path`; on failure the temporary file is removed and `path` is left as it was. gzip defaults to
 *  whether `path` ends in .gz. */
export async function writeNiftiFile(path: string, v: Volume, opts: WriteNiftiOptions = {}): Promise<void> {
  const bytes = writeNifti(v, { ...opts, gzip: opts.gzip ?? /\.gz$/i.test(path) });
  try {
    await writeFileAtomic(path, bytes);
  } catch (e) {
    const why = e instanceof FileWriteError ? e.reason : describe(e); // its message names the path already
    throw new NiftiError('io', path, `cannot write the file (${why})`, { cause: e });
  }
}
