// --json on segment, evaluate, train and experiment: one JSON object on stdout, for scripts. Everything else the
// command prints (progress, tables, notes) moves to stderr, so that stdout parses whole. Errors stay as they are:
// `glocal: <message>` on stderr, exit status 1, nothing on stdout.
import { GLOCAL_VERSION } from '../version.ts';

let jsonOn = false;

/** Called by the wiring before the command's work: console.log and console.info go to stderr from here on. */
export function jsonMode(on: boolean): void {
  if (!on || jsonOn) return;
  jsonOn = true;
  console.log = console.error;
  console.info = console.error;
}

/** Per-class numbers by class name (background included), so that a reader need not line up two arrays. */
export const byClass = (classes: string[], xs: number[]) =>
  Object.fromEntries(classes.map((c, k) => [c, Number.isFinite(xs[k]) ? xs[k] : null]));

/**
 * The command's result, written once on stdout under --json (and nothing without it). Non-finite numbers
 * (a class absent from both maps has NaN Dice; an empty one infinite HD95) become null, as JSON has no NaN.
 */
export function emitJson(command: string, result: Record<string, unknown>): void {
  if (!jsonOn) return;
  const text = JSON.stringify({ command, version: GLOCAL_VERSION, ...result }, (_, v) =>
    typeof v === 'number' && !Number.isFinite(v) ? null : v,
  );
  process.stdout.write(`${text}\n`);
}
