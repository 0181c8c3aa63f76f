// Errors that cross the worker boundary keep their class and fields. comlink's own handler sends only message,
// name and stack, so `e instanceof NiftiError` and `e.code` would be lost between a worker and its caller. This
// module replaces comlink's "throw" handler in every thread that imports it (trainer.ts does, on both sides).

import * as Comlink from 'comlink';
import { NiftiError } from '../io/nifti.ts';
import { VolumeError } from '../data/validate.ts';
import { DatasetError } from '../data/dataset.ts';
import { CheckpointError, DivergedError } from '../train/checkpoint.ts';
import { DeviceLostError, LimitError } from '../runtime/runtime.ts';
import { OnnxError } from '../onnx/onnx.ts';

/** What went wrong with the trainer itself (its worker, or the arguments of a call), as `code`. */
export type TrainerErrorCode = 'worker-failed' | 'worker-timeout' | 'detached-input';

/** A call on a Trainer that cannot proceed: the worker did not load or died, or an input was already handed over. */
export class TrainerError extends Error {
  constructor(
    readonly code: TrainerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TrainerError';
  }
}

/** The classes rebuilt on the receiving side, by name (anything else arrives as a plain Error with its fields). */
const CLASSES: Record<string, { prototype: Error }> = {
  NiftiError,
  VolumeError,
  DatasetError,
  CheckpointError,
  DivergedError,
  DeviceLostError,
  LimitError,
  OnnxError,
  TrainerError,
  TypeError,
  RangeError,
};

interface WireError {
  isError: true;
  value: Record<string, unknown>;
}
interface WireValue {
  isError: false;
  value: unknown;
}

/** An error's own fields that structured clone can carry (functions and other unclonable values are left out). */
function errorFields(e: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { message: e.message, name: e.name, stack: e.stack };
  for (const [k, v] of Object.entries(e)) {
    if (k === 'cause' || typeof v === 'function' || typeof v === 'symbol') continue;
    out[k] = v;
  }
  return out;
}

/** The error rebuilt from its fields, as an instance of its original class when that class is known here. */
export function rebuildError(fields: Record<string, unknown>): Error {
  const cls = CLASSES[String(fields.name)] ?? Error;
  const e = Object.create(cls.prototype) as Error;
  for (const [k, v] of Object.entries(fields))
    Object.defineProperty(e, k, {
      value: v,
      writable: true,
      configurable: true,
      enumerable: k !== 'stack' && k !== 'message',
    });
  return e;
}

/** Install the handler (idempotent; both threads must run it, as the worker serialises and the caller rebuilds). */
export function installErrorTransfer(): void {
  const previous = Comlink.transferHandlers.get('throw')! as Comlink.TransferHandler<unknown, unknown> & {
    glocal?: boolean;
  };
  if (previous.glocal) return;
  const handler: Comlink.TransferHandler<{ value: unknown }, WireError | WireValue> & { glocal: true } = {
    glocal: true,
    // comlink marks thrown values with a private symbol: its own test recognises them
    canHandle: (v): v is { value: unknown } => previous.canHandle(v),
    serialize: ({ value }) => [
      value instanceof Error ? { isError: true, value: errorFields(value) } : { isError: false, value },
      [],
    ],
    deserialize: (w) => {
      throw w.isError ? rebuildError(w.value) : w.value;
    },
  };
  Comlink.transferHandlers.set('throw', handler);
}
