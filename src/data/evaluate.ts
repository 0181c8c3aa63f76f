// Scoring a predicted label map against a ground-truth one (`glocal evaluate`). Both are checked before any work:
// the same grid and affine, and class indices only. The class count comes from --classes or the truth, never from
// the prediction, so a stray value (7, or 1e9) is refused by name instead of adding classes or exhausting memory.

import type { Volume } from '../volume/volume.ts';
import { dicePerClass, hd95PerClass, meanForegroundDice } from './metrics.ts';
import { checkLabelValues, checkSameGrid, VolumeError } from './validate.ts';

/** The most classes a label map may have here (uint8 label maps hold 256). */
export const MAX_CLASSES = 256;

/** The class count K of `pred` scored against `truth`, after checking both; `classes` names them when given. */
export function evaluationClasses(pred: Volume, truth: Volume, classes?: string[]): number {
  checkSameGrid(pred, truth, 'prediction', 'the truth');
  if (classes && (classes.length < 2 || classes.length > MAX_CLASSES)) {
    throw new VolumeError(
      truth.source,
      `--classes names ${classes.length} classes; give 2 to ${MAX_CLASSES}, background first`,
    );
  }
  const cap = (classes?.length ?? MAX_CLASSES) - 1;
  const maxTruth = checkLabelValues(
    truth,
    cap,
    `class indices 0..${cap}`,
    classes ? `--classes names ${cap + 1}` : `at most ${MAX_CLASSES} classes`,
  );
  const K = classes?.length ?? maxTruth + 1;
  checkLabelValues(
    pred,
    K - 1,
    `the classes 0..${K - 1} of ${classes ? '--classes' : `the truth ${truth.source}`}`,
    classes ? 'a class this evaluation does not name' : 'if the truth lacks a class, name every class with --classes',
  );
  return K;
}

export interface LabelMapScore {
  K: number;
  dice: number[];
  hd95: number[];
  meanForeground: number;
}

/** Per-class 3-D Dice and HD95 (mm) of `pred` against `truth` (checked first: evaluationClasses). */
export async function scoreLabelMaps(pred: Volume, truth: Volume, classes?: string[]): Promise<LabelMapScore> {
  const K = evaluationClasses(pred, truth, classes);
  const dice = Array.from(await dicePerClass(pred.data, truth.data, K));
  const hd95 = Array.from(await hd95PerClass(pred.data, truth.data, truth.dims, truth.spacing, K));
  return { K, dice, hd95, meanForeground: meanForegroundDice(dice) };
}
