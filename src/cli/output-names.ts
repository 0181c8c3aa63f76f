// Output names the CLI derives when the user gives none, and the rule for every output: glocal never replaces a
// file without saying so. A derived name that is taken is never overwritten: the next free `-2`, `-3`, ... is
// claimed instead (an exclusive create, so two runs cannot pick the same one) and the command says so.
import { open, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** `.nii.gz` counts as one extension: `a.nii.gz` → ['a', '.nii.gz']. */
function splitExtension(path: string): [string, string] {
  const m = /(\.nii\.gz|\.[^./\\]+)$/i.exec(basename(path));
  return m ? [path.slice(0, path.length - m[1].length), m[1]] : [path, ''];
}

/**
 * segment's label map when neither --out nor --seg-out is given: `<input>_seg.nii.gz` beside a NIfTI file;
 * for a DICOM series `<folder>_seg.nii.gz` beside its folder, never inside it (a later read of the folder
 * would meet a file that is not part of the series).
 */
export async function defaultSegmentOut(inputs: string[]): Promise<string> {
  const first = inputs[0];
  const folder =
    inputs.length > 1 ? dirname(first) : (await stat(first).catch(() => null))?.isDirectory() ? first : null;
  const base = folder ?? first;
  const stem = basename(splitExtension(base)[0]);
  return join(dirname(base), `${stem}_seg.nii.gz`);
}

/** export-onnx's file when --out is not given: `<checkpoint stem>.onnx` beside the checkpoint. */
export const defaultOnnxOut = (model: string) => `${splitExtension(model)[0]}.onnx`;

/** train's folder when --out is not given. */
export const DEFAULT_TRAIN_OUT = 'runs/train';

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** `path`, or `<stem>-2<ext>`, `-3`, ...: the first name that `taken` does not refuse. */
export async function firstFree(path: string, taken: (p: string) => Promise<boolean> = exists): Promise<string> {
  const [stem, ext] = splitExtension(path);
  for (let n = 1; ; n++) {
    const p = n === 1 ? path : `${stem}-${n}${ext}`;
    if (!(await taken(p))) return p;
  }
}

/**
 * Claims a derived output name: creates it empty and exclusively (the writer's rename then replaces only our own
 * placeholder), taking the next free name when it exists. Returns the name and a release for a failed write.
 */
export async function claimDerived(path: string): Promise<{ path: string; release: () => Promise<void> }> {
  const claimed = await firstFree(path, async (p) => {
    try {
      await (await open(p, 'wx')).close();
      return false;
    } catch (e) {
      if ((e as { code?: string }).code === 'EEXIST') return true;
      throw e;
    }
  });
  if (claimed !== path)
    console.log(`${path} exists: writing ${claimed} instead (glocal never replaces a file it named)`);
  return { path: claimed, release: () => unlink(claimed).catch(() => {}) };
}

/** An output the user named that exists already: replaced (atomically), and said. */
export async function sayIfReplacing(option: string, path: string | undefined): Promise<void> {
  if (path && (await exists(path))) console.log(`${option} ${path} exists: replacing it`);
}

/**
 * train's folder without --out: `def`, or the first of `def-2`, `def-3`, ... that holds no earlier run's
 * checkpoints (it would replace them); with --resume, `def` itself, where an interrupted default run resumes.
 */
export async function trainFolder(def: string, resume: boolean): Promise<string> {
  if (resume) return def;
  const holdsRun = async (dir: string) =>
    (
      await Promise.all(['model.safetensors', 'last.safetensors', 'best.safetensors'].map((f) => exists(join(dir, f))))
    ).some(Boolean);
  const dir = await firstFree(def, holdsRun);
  if (dir !== def) console.log(`${def} holds an earlier run: this one goes to ${dir} (give --out to choose)`);
  return dir;
}
