// The option parsers of the command line (src/cli.ts): each checks its value when commander reads it, so a bad
// option stops the command before any work. Lists come back parsed; messages name the option.
import { InvalidArgumentError } from 'commander';
import { parseMethod } from '../experiment/experiment.ts';
import { checkGridOverrides, presetNamed } from '../presets.ts';
import { parseInteger } from './options.ts';
import { PROBE_STAGES, isStageFile } from './probe.ts';

/** An error of the library's own checks, as commander reports a bad option value. */
function asOptionError<T>(check: () => T): T {
  try {
    return check();
  } catch (e) {
    throw e instanceof InvalidArgumentError ? e : new InvalidArgumentError((e as Error).message);
  }
}

/** --size of the network grid: a positive multiple of 32 (presets.ts checkGridOverrides). */
export function gridSize(v: string): number {
  const size = parseInteger('--size', v, 1);
  asOptionError(() => checkGridOverrides({ size }));
  return size;
}

/** --spacing of the network grid in mm, 0.05 to 50. */
export function gridSpacing(v: string): number {
  const spacing = Number(v);
  if (!(spacing > 0) || v.trim() === '') throw new InvalidArgumentError('--spacing must be a positive number of mm');
  asOptionError(() => checkGridOverrides({ spacing }));
  return spacing;
}

/** train --mixup: Beta(alpha, alpha) with alpha > 0. */
export function mixupAlpha(v: string): number {
  const a = Number(v);
  if (!(a > 0)) throw new InvalidArgumentError('--mixup needs a positive alpha');
  return a;
}

/** experiment --labeled: a comma-separated list of positive counts. */
export function labeledList(v: string): number[] {
  return v.split(',').map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`--labeled: '${x}' is not a positive integer`);
    return n;
  });
}

/** experiment --methods: names experiment/experiment.ts parseMethod knows. */
export function methodList(v: string): string[] {
  const methods = v.split(',');
  for (const m of methods) asOptionError(() => parseMethod(m));
  return methods;
}

/** ceiling --presets: names of presets (presets.ts). */
export function presetList(v: string): string[] {
  const names = v.split(',');
  for (const name of names) asOptionError(() => presetNamed(name));
  return names;
}

/** probe --stages: init, GR, GD-, GD, or .safetensors files. */
export function stageList(v: string): string[] {
  const stages = v.split(',');
  for (const st of stages) {
    if (!PROBE_STAGES.includes(st) && !isStageFile(st))
      throw new InvalidArgumentError(`--stages: '${st}' is not init, GR, GD-, GD or a .safetensors file`);
  }
  return stages;
}

/** evaluate --classes: comma-separated class names, background first. */
export const classList = (v: string): string[] => v.split(',').map((c) => c.trim());
