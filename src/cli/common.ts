// What several commands share: the backend they open, the preset and grid they print, the progress bar, the
// score table, and the input/output checks made before any work.
import { InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import type { Backend } from '../ops/backend.ts';
import { type BackendKind, type OpenedBackend, type WasmChoice, openBackend } from '../ops/open-backend.ts';
import type { PreprocessOptions } from '../data/pipeline.ts';
import { UNet } from '../model/unet.ts';
import { decodeSafetensors, loadParams } from '../train/checkpoint.ts';
import { meanOf } from '../train/finetune.ts';
import { readFileBytes } from '../io/files.ts';
import {
  type GridOverrides,
  type Preset,
  PresetError,
  datasetSpacingNote,
  describeGrid,
  presetNamed,
  withGrid,
} from '../presets.ts';

/** The preset named, with its grid replaced by --size / --spacing: the grid every command uses (presets.ts). */
export function preset(name: string, o: GridOverrides = {}): Preset {
  try {
    return withGrid(presetNamed(name), o);
  } catch (e) {
    if (e instanceof PresetError) throw new InvalidArgumentError(e.message);
    throw e;
  }
}

/** The grid line every command prints before its work, and the dataset's own spacing when it differs (never applied). */
export function printGrid(name: string, p: Preset, ds: { targetSpacing: number | null }): void {
  console.log(`grid: preset ${name}, ${describeGrid(p)}`);
  const note = datasetSpacingNote(ds.targetSpacing, p);
  if (note) console.log(`grid: ${note}`);
}

/** The backend asked for with --backend / --threads / --conv3x3 (set by src/cli.ts before each command's action). */
let backendChoice: { kind: BackendKind } & WasmChoice = { kind: 'auto' };

export function chooseBackend(kind: BackendKind, o: WasmChoice = {}): void {
  backendChoice = { kind, ...o };
}

/** Open the chosen backend and say which it is: every result and checkpoint records `ob.description`. */
export async function runtime(): Promise<{ ob: OpenedBackend; be: OpenedBackend['be'] }> {
  const ob = await openBackend(backendChoice.kind, backendChoice);
  console.log(`backend: ${ob.description}`);
  return { ob, be: ob.be };
}

export function bar(total: number, what: string) {
  const b = new cliProgress.SingleBar(
    {
      format: `${what} [{bar}] {value}/{total} | ETA {eta_formatted} | {status}`,
      hideCursor: true,
      clearOnComplete: false,
      noTTYOutput: true,
      notTTYSchedule: 10000,
    },
    cliProgress.Presets.legacy,
  );
  b.start(total, 0, { status: '' });
  return b;
}

/** Per-volume Dice per class and mean, then mean HD95 (mm) over the foreground classes; returns the mean Dice. */
export function printScores(
  title: string,
  classes: string[],
  scores: { name: string; dice: number[]; meanForeground: number; hd95: number[] }[],
): number {
  const fin = (xs: number[]) => meanOf(xs.filter(Number.isFinite));
  const cell = (d: number, digits = 3, w = 11) => (Number.isNaN(d) ? '—' : d.toFixed(digits)).padStart(w);
  console.log(`\n${title}`);
  const w = Math.max(16, ...scores.map((s) => s.name.length + 1)); // file names as row labels stay in their column
  console.log(
    [
      'volume'.padEnd(w),
      ...classes.slice(1).map((c) => c.padStart(11)),
      'mean fg'.padStart(9),
      'HD95 mm'.padStart(9),
    ].join(''),
  );
  for (const s of scores) {
    console.log(
      [
        s.name.padEnd(w),
        ...s.dice.slice(1).map((d) => cell(d)),
        cell(s.meanForeground, 3, 9),
        cell(fin(s.hd95.slice(1)), 2, 9),
      ].join(''),
    );
  }
  const perClass = classes.slice(1).map((_, k) => fin(scores.map((s) => s.dice[k + 1])));
  const mean = meanOf(scores.map((s) => s.meanForeground));
  console.log(
    [
      'mean'.padEnd(w),
      ...perClass.map((d) => cell(d)),
      cell(mean, 3, 9),
      cell(fin(scores.map((s) => fin(s.hd95.slice(1)))), 2, 9),
    ].join(''),
  );
  return mean;
}

/** A trained network from its checkpoint, with the preprocessing and class names it records (segment, export-onnx). */
export async function loadModel<T>(ckptPath: string, be: Backend<T>) {
  const bytes = await readFileBytes(ckptPath);
  const meta = JSON.parse(decodeSafetensors(bytes, ckptPath).meta.glocal ?? '{}');
  const cfg = meta.config;
  if (!cfg?.unet || !cfg?.preprocess)
    throw new Error(`${ckptPath}: the checkpoint does not record its network and preprocessing`);
  const model = new UNet(be, cfg.unet, 0);
  loadParams(model.params, bytes, ckptPath, { weightsOnly: false });
  return { model, pre: cfg.preprocess as PreprocessOptions, classes: cfg.classes as string[] };
}

/** Inputs are never written: an output path that names one of them is refused before any work. */
export function notAnInput(out: string, inputs: string[]): void {
  if (inputs.includes(out))
    throw new InvalidArgumentError(
      `--out ${out} is one of the inputs; glocal never writes over its inputs, choose another path`,
    );
}
