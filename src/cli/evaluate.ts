// glocal evaluate: per-class 3-D Dice and HD95 of a predicted label volume against ground truth.
import { basename } from 'node:path';
import { scoreLabelMaps } from '../data/evaluate.ts';
import { readNiftiFile } from '../io/nifti-file.ts';
import { printScores } from './common.ts';
import { byClass } from './json.ts';

/** `classes`: the class names, background first (default: as many as the truth has). Returns what --json prints. */
export async function evaluate(pred: string, truth: string, classes?: string[]) {
  const [p, t] = [await readNiftiFile(pred), await readNiftiFile(truth)];
  const s = await scoreLabelMaps(p, t, classes); // checks the grids and label values first (data/evaluate.ts)
  const names = classes ?? Array.from({ length: s.K }, (_, k) => (k ? `class ${k}` : 'background'));
  printScores(`3-D Dice and HD95 of ${pred} against ${truth}`, names, [{ name: basename(pred), ...s }]);
  const fg = s.hd95.slice(1).filter(Number.isFinite);
  return {
    prediction: pred,
    truth,
    dims: t.dims,
    spacing: t.spacing,
    classes: names,
    dice: byClass(names, s.dice),
    hd95: byClass(names, s.hd95),
    meanForeground: s.meanForeground,
    meanHd95: fg.length ? fg.reduce((a, b) => a + b, 0) / fg.length : null,
  };
}
