// Checkpoints in the safetensors layout: an 8-byte little-endian header length, a JSON header naming each
// tensor (dtype "F32", shape, byte range) plus "__metadata__" (string values), then the raw little-endian
// float32 data. Holds the weights, the batch-norm moving averages, the Adam moments, and as metadata the
// step, stage, iteration, RNG and sampler states, best validation Dice and the config (JSON strings).

import type { ParamSet } from '../model/params.ts';

export interface CheckpointMeta {
  format: 'glocal-checkpoint';
  version: 1;
  /** training stage: 'global' | 'local' | 'finetune' | 'supervised' | ... */
  stage: string;
  iteration: number;
  adamStep: number;
  bestValDice: number | null;
  /** the model/run configuration (must match on load) */
  config: unknown;
  /** RNG and sampler states, opaque to the checkpoint */
  state: unknown;
}

export class CheckpointError extends Error {
  constructor(
    readonly source: string,
    message: string,
  ) {
    super(`${source}: ${message}`);
    this.name = 'CheckpointError';
  }
}

/**
 * Training produced NaN or Inf (a loss, or weights after a bad gradient step). Thrown instead of writing a
 * checkpoint that holds them, so the last checkpoint on disk stays the last good one.
 */
export class DivergedError extends Error {
  constructor(
    readonly iteration: number,
    readonly what: string,
    readonly lastGood: number | null,
  ) {
    super(
      `training diverged at iteration ${iteration}: ${what}. Stopped without saving it; ` +
        (lastGood === null
          ? 'no checkpoint was written before it.'
          : `the last good checkpoint is from iteration ${lastGood} (resume from it, e.g. with a lower learning rate).`),
    );
    this.name = 'DivergedError';
  }
}

/** Encode named float32 tensors and metadata as safetensors bytes. */
export function encodeSafetensors(
  tensors: Map<string, { shape: number[]; data: Float32Array }>,
  meta: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: meta };
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // keep the data 8-byte aligned
  const hbytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hbytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let o = 8 + hbytes.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), o);
    o += t.data.byteLength;
  }
  return out;
}

/**
 * An ONNX ModelProto by its first bytes: field 1 (ir_version, a small varint), then another length-delimited field
 * of the model (producer_name, graph, opset_import, ...). A safetensors file starts with a little-endian u64 instead.
 */
export function looksLikeOnnx(b: Uint8Array): boolean {
  return (
    b.length > 3 &&
    b[0] === 0x08 &&
    b[1] >= 1 &&
    b[1] <= 30 &&
    [0x12, 0x1a, 0x22, 0x2a, 0x32, 0x3a, 0x42].includes(b[2])
  );
}

export function decodeSafetensors(
  bytes: Uint8Array,
  source: string,
): { tensors: Map<string, { shape: number[]; data: Float32Array }>; meta: Record<string, string> } {
  if (bytes.length < 8) throw new CheckpointError(source, 'not a checkpoint: shorter than its 8-byte header length');
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (n <= 0 || 8 + n > bytes.length) {
    if (looksLikeOnnx(bytes)) {
      throw new CheckpointError(
        source,
        'an ONNX model, not a glocal checkpoint (.safetensors): segment it with ' +
          '--engine ort-wasm, or pass the .safetensors checkpoint it was exported from',
      );
    }
    throw new CheckpointError(
      source,
      `not a checkpoint: header length ${n} does not fit the ${bytes.length}-byte file`,
    );
  }
  let header: Record<string, any>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch {
    throw new CheckpointError(source, 'not a checkpoint: its header is not JSON');
  }
  if (!isRecord(header)) throw new CheckpointError(source, 'not a checkpoint: its header is not a JSON object');
  const base = 8 + n,
    tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (h?.dtype !== 'F32')
      throw new CheckpointError(source, `tensor ${name}: dtype ${h?.dtype}, only F32 is supported`);
    // a fuzzed header threw TypeError and RangeError here (a shape of 'x', of [-1], offsets that are not a pair)
    const { shape, data_offsets: offsets } = h;
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw new CheckpointError(source, `tensor ${name}: shape ${JSON.stringify(shape)} is not a list of sizes`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      throw new CheckpointError(source, `tensor ${name}: data_offsets ${JSON.stringify(offsets)} are not two offsets`);
    }
    const [a, b] = offsets as [number, number],
      count = shape.reduce((x: number, y: number) => x * y, 1);
    if (!(b - a === 4 * count && base + b <= bytes.length))
      throw new CheckpointError(source, `tensor ${name}: truncated or inconsistent`);
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(base + a, base + b));
    tensors.set(name, { shape, data });
  }
  const meta = header.__metadata__ ?? {};
  if (!isRecord(meta) || !Object.values(meta).every((v) => typeof v === 'string')) {
    throw new CheckpointError(source, 'not a checkpoint: __metadata__ is not a map of strings');
  }
  return { tensors, meta: meta as Record<string, string> };
}

const isRecord = (x: unknown): x is Record<string, any> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/** The most bytes of tensors a checkpoint reads back at once. */
const READ_GROUP_BYTES = 64 << 20;

/** Everything a ParamSet holds, read back from the device, as safetensors bytes. */
export async function saveParams<T>(
  params: ParamSet<T>,
  meta: Omit<CheckpointMeta, 'format' | 'version' | 'adamStep'>,
): Promise<Uint8Array> {
  const be = params.be,
    tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const named: [string, T][] = [];
  for (const s of params.slots) named.push([s.name, s.v.value], [`${s.name}@adam_m`, s.m], [`${s.name}@adam_v`, s.s]);
  for (const b of params.batchNorms)
    named.push([`${b.name}/moving_mean`, b.state.movingMean], [`${b.name}/moving_var`, b.state.movingVar]);
  // read back in groups of up to READ_GROUP_BYTES, each one read (the GPU: one submit, one map), so a checkpoint
  // waits for a few maps instead of hundreds (Deno's resolve on a ~10 ms poll) with bounded staging memory
  const bytes = ([, t]: [string, T]) => 4 * be.shape(t).reduce((a, b) => a * b, 1);
  for (let i = 0, j = 0; i < named.length; i = j) {
    for (let sum = 0; j < named.length && (j === i || sum + bytes(named[j]) <= READ_GROUP_BYTES); j++)
      sum += bytes(named[j]);
    const group = named.slice(i, j),
      data = await be.toHostAll(group.map(([, t]) => t));
    group.forEach(([name, t], k) => {
      const d = data[k],
        values = d instanceof Float32Array ? d : Float32Array.from(d); // toHostAll's arrays are already copies
      const bad = values.reduce((n, x) => n + (Number.isFinite(x) ? 0 : 1), 0);
      if (bad) throw new DivergedError(meta.iteration, `${name} holds ${bad} NaN/Inf values`, null);
      tensors.set(name, { shape: [...be.shape(t)], data: values });
    });
  }
  const m: CheckpointMeta = { format: 'glocal-checkpoint', version: 1, adamStep: params.step, ...meta };
  return encodeSafetensors(tensors, { glocal: JSON.stringify(m) });
}

/** Where a bundled best checkpoint's tensors and metadata sit inside a resume checkpoint (withBest). */
const BEST_PREFIX = 'best:',
  BEST_META = 'glocal_best';

/**
 * A resume checkpoint that carries the best weights so far inside it, so that one file resumes a fine-tuning whole
 * (a Session's caller keeps one checkpoint, not two); `splitBest` takes them apart again.
 */
export function withBest(resume: Uint8Array, best: Uint8Array): Uint8Array {
  const r = decodeSafetensors(resume, 'resume checkpoint'),
    b = decodeSafetensors(best, 'best checkpoint');
  for (const [name, t] of b.tensors) r.tensors.set(BEST_PREFIX + name, t);
  return encodeSafetensors(r.tensors, { ...r.meta, [BEST_META]: b.meta.glocal ?? '' });
}

/** A checkpoint from `withBest` as its two parts (`best` null where it carries none). */
export function splitBest(bytes: Uint8Array, source: string): { resume: Uint8Array; best: Uint8Array | null } {
  const { tensors, meta } = decodeSafetensors(bytes, source);
  if (meta[BEST_META] === undefined) return { resume: bytes, best: null };
  const own = new Map(),
    best = new Map();
  for (const [name, t] of tensors)
    if (name.startsWith(BEST_PREFIX)) best.set(name.slice(BEST_PREFIX.length), t);
    else own.set(name, t);
  const { [BEST_META]: bestMeta, ...ownMeta } = meta;
  return { resume: encodeSafetensors(own, ownMeta), best: encodeSafetensors(best, { glocal: bestMeta }) };
}

/** A checkpoint's glocal metadata, checked: a CheckpointError naming `source` where it is missing or malformed. */
function glocalMeta(meta: Record<string, string>, source: string): CheckpointMeta {
  let m: CheckpointMeta;
  try {
    m = JSON.parse(meta.glocal ?? '');
  } catch {
    throw new CheckpointError(source, 'not a glocal checkpoint (no glocal metadata)');
  }
  if (!isRecord(m) || m.format !== 'glocal-checkpoint') throw new CheckpointError(source, 'not a glocal checkpoint');
  // resuming counts on these: an Adam step of 'x' or an iteration of -1 would go on with NaN or from nowhere
  for (const key of ['iteration', 'adamStep'] as const) {
    if (!isCount(m[key])) throw new CheckpointError(source, `${key} ${JSON.stringify(m[key])}: not a whole number ≥ 0`);
  }
  if (typeof m.stage !== 'string') throw new CheckpointError(source, `stage ${JSON.stringify(m.stage)} is not a name`);
  return m;
}

/** The checked metadata of checkpoint bytes, without loading them anywhere. */
export const checkpointMeta = (bytes: Uint8Array, source: string): CheckpointMeta =>
  glocalMeta(decodeSafetensors(bytes, source).meta, source);

/**
 * Load weights (and, unless `weightsOnly`, Adam moments and moving averages) into a ParamSet. Every
 * parameter of the set must be present with the same shape; `skip` names parameters to leave untouched
 * (e.g. heads that are not transferred between stages). Returns the metadata.
 */
export function loadParams<T>(
  params: ParamSet<T>,
  bytes: Uint8Array,
  source: string,
  opts: { weightsOnly?: boolean; skip?: (name: string) => boolean } = {},
): CheckpointMeta {
  const { tensors, meta } = decodeSafetensors(bytes, source);
  const m = glocalMeta(meta, source);
  const be = params.be;
  const take = (name: string, t: T) => {
    const src = tensors.get(name);
    const want = be.shape(t);
    if (!src) throw new CheckpointError(source, `missing tensor ${name} (is it a checkpoint of another architecture?)`);
    if (src.shape.join() !== want.join()) {
      throw new CheckpointError(
        source,
        `tensor ${name} has shape [${src.shape}], the model needs [${want}] (another architecture?)`,
      );
    }
    // NaN weights would label every voxel 0 and report success; training never saves them (DivergedError)
    const bad = src.data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0)
      throw new CheckpointError(
        source,
        `tensor ${name} holds ${src.data[bad]} at element ${bad}: the weights are not finite, the checkpoint is unusable`,
      );
    be.assign(t, src.data);
  };
  for (const s of params.slots) {
    if (opts.skip?.(s.name)) continue;
    take(s.name, s.v.value);
    if (!opts.weightsOnly) {
      take(`${s.name}@adam_m`, s.m);
      take(`${s.name}@adam_v`, s.s);
    }
  }
  if (!opts.weightsOnly) {
    for (const b of params.batchNorms) {
      take(`${b.name}/moving_mean`, b.state.movingMean);
      take(`${b.name}/moving_var`, b.state.movingVar);
    }
    params.step = m.adamStep;
  }
  return m;
}
