// Supervised training on labeled volumes (paper-spec §5.3–5.5): batches of slices drawn with replacement
// from the labeled volumes, augmented (§5.4), soft Dice loss (or weighted cross-entropy), Adam; validation
// every `valEvery` iterations by 3-D Dice at native resolution on held-out volumes, keeping the best
// weights. The same loop trains the random-init baseline, the all-labels benchmark, and (later) the
// fine-tuning of pre-trained encoders.

import { checkCount } from '../util/check.ts';
import type { Backend, Shape } from '../ops/backend.ts';
import { Tape, Var } from '../autodiff/tape.ts';
import { type UNet, largestActivationBytes, splitView } from '../model/unet.ts';
import { type GpuTensor, LimitError } from '../runtime/runtime.ts';
import { GpuBackend } from '../ops/webgpu.ts';
import { SplitBackend } from '../ops/split.ts';
import { SegmentationTrainer, type SegLoss } from './segmentation.ts';
import { augmentBatch, type AugmentOptions, PAPER_AUGMENT } from './augment.ts';
import { CheckpointError, checkpointMeta, saveParams, loadParams } from './checkpoint.ts';
import { type CheckpointHooks, guard, iterate, resumeLoop, stopOf } from './iterate.ts';
import { nativeLabels, type PreparedVolume } from '../data/pipeline.ts';
import { dicePerClass, hd95PerClass, meanForegroundDice } from '../data/metrics.ts';
import { Rng } from '../util/random.ts';

export interface FinetuneOptions {
  iterations: number;
  /** slices per batch (paper: 20) */
  batch: number;
  valEvery: number;
  loss: SegLoss;
  augment: AugmentOptions;
  seed: number;
}

export const PAPER_FINETUNE: FinetuneOptions = {
  iterations: 10001,
  batch: 20,
  valEvery: 50,
  loss: { kind: 'dice' },
  augment: PAPER_AUGMENT,
  seed: 1,
};

/** Softmax probabilities of every slice of a volume (BN in inference mode), nz·S·S·K, channel-last. */
export async function predictVolume<T>(model: UNet<T>, p: PreparedVolume, batch = 8): Promise<Float32Array> {
  const be = model.be,
    S = p.geometry.network[0],
    K = model.config.numClasses,
    P = S * S;
  batch = Math.min(batch, slicesThatFit(model, S, 'inference')); // slices are independent here: any split is exact
  const out = new Float32Array(p.nz * P * K);
  const start = (z0: number, n: number) => {
    const x = be.fromHost(p.slices.subarray(z0 * P, (z0 + n) * P), [n, S, S, 1]),
      tp = new Tape(be, false);
    try {
      const probs = be.softmax(model.forward(tp, new Var(x, false), false).value);
      return be.toHost(probs).finally(() => be.release(probs));
    } finally {
      tp.dispose(); // recorded in queue order (or done): only the readback is still pending
      be.release(x);
    }
  };
  await overlapBatches(p.nz, batch, start, (probs, z0) => out.set(probs, z0 * P * K));
  return out;
}

/**
 * The label map of a batch of prepared slices [B, S, S, 1] at network resolution (BN in inference mode,
 * argmax on the GPU): what a viewer shows. Returns B·S·S class indices; bytes where the backend packs them
 * before the readback (the GPU's, K ≤ 256: a quarter of the bytes), else floats.
 */
export function predictLabels<T>(model: UNet<T>, images: T): Promise<Uint8Array | Float32Array | Float64Array> {
  const be = model.be,
    tp = new Tape(be, false);
  try {
    const logits = model.forward(tp, new Var(images, false), false).value;
    if (be.argmaxU8 && model.config.numClasses <= 256) return be.argmaxU8(logits);
    const labels = be.argmax(logits);
    return be.toHost(labels).finally(() => be.release(labels));
  } finally {
    tp.dispose(); // recorded in queue order (or done): only the readback is still pending
  }
}

/**
 * `start`s the batches [z0, z0 + batch) of n slices in order and hands each result to `use`, starting the next
 * batch (its upload and recording) before waiting for this one's: the GPU runs one batch while the host prepares
 * the next, one readback in flight.
 */
export async function overlapBatches<R>(
  n: number,
  batch: number,
  start: (z0: number, count: number) => Promise<R>,
  use: (r: R, z0: number) => void,
): Promise<void> {
  let prev: Promise<void> = Promise.resolve();
  for (let z0 = 0; z0 < n; z0 += batch) {
    const next = start(z0, Math.min(batch, n - z0)).then((r) => use(r, z0));
    next.catch(() => undefined); // awaited next round: no unhandled rejection should `prev` throw first
    await prev;
    prev = next;
  }
  await prev;
}

/** How many S×S slices one kernel can take under the GPU's binding limit; a LimitError if not even one. */
export function slicesThatFit<T>(model: UNet<T>, S: number, what: string): number {
  const limit = model.be.maxTensorBytes ?? Infinity,
    one = largestActivationBytes(model.config, S);
  if (one > limit)
    throw new LimitError(
      'maxStorageBufferBindingSize',
      limit,
      `${what} of one ${S}×${S} slice needs a ${one}-byte activation, which`,
    );
  return Math.floor(limit / one);
}

export interface VolumeScore {
  name: string;
  /** per class, background included (NaN where a class is absent from both) */
  dice: number[];
  meanForeground: number;
  /** HD95 per class in mm (NaN for the background, where a class is missing from either volume, or when not asked for) */
  hd95: number[];
}

/** 3-D Dice per class at native resolution (§7.1) of each labeled volume, and HD95 unless `hd95` is false. */
export async function evaluateVolumes<T>(model: UNet<T>, vols: PreparedVolume[], hd95 = true): Promise<VolumeScore[]> {
  const K = model.config.numClasses,
    scores: VolumeScore[] = [];
  for (const v of vols) {
    if (!v.nativeLabels) throw new Error(`${v.name}: no label volume to evaluate against`);
    const working = await nativeLabels(v, await predictVolume(model, v), K);
    const dice = Array.from(await dicePerClass(working, v.nativeLabels, K));
    const dims: [number, number, number] = [v.geometry.native[0], v.geometry.native[1], v.nz];
    const hd = hd95
      ? Array.from(await hd95PerClass(working, v.nativeLabels, dims, v.workingSpacing, K))
      : Array<number>(K).fill(NaN);
    scores.push({ name: v.name, dice, meanForeground: meanForegroundDice(dice), hd95: hd });
  }
  return scores;
}

export const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export interface Progress {
  iteration: number;
  loss: number;
  valDice?: number;
  best?: number;
}

export { type CheckpointHooks, guard } from './iterate.ts';

/**
 * One training step on host arrays [B, S, S, 1] and [B, S, S, K]. A batch whose activations exceed the GPU's
 * binding limit runs in pieces that fit, with batch-norm statistics over the whole batch (ops/split.ts).
 */
export function trainingStep<T>(
  model: UNet<T>,
  o: Pick<FinetuneOptions, 'batch' | 'loss'>,
  S: number,
  K: number,
): (x: Float32Array, y: Float32Array) => Promise<number> {
  const be = model.be,
    fit = slicesThatFit(model, S, 'training');
  const shapes: [Shape, Shape] = [
    [o.batch, S, S, 1],
    [o.batch, S, S, K],
  ];
  if (o.batch <= fit) {
    return uploadedStep(new SegmentationTrainer(model, o.loss), shapes, (d, s) => be.fromHost(d, s), be);
  }
  if (!(be instanceof GpuBackend) || o.loss.kind !== 'dice') {
    throw new LimitError(
      'maxStorageBufferBindingSize',
      be.maxTensorBytes!,
      `a training batch of ${o.batch} slices at ${S}×${S} with the ${o.loss.kind} loss`,
      `only the Dice loss runs a batch in pieces; use a batch of at most ${fit}`,
    );
  }
  const n = Math.ceil(o.batch / fit),
    sizes = Array.from({ length: n }, (_, i) => Math.floor(o.batch / n) + (i < o.batch % n ? 1 : 0));
  const sb = new SplitBackend(be, sizes),
    { view, done } = splitView(model as unknown as UNet<GpuTensor>, sb);
  return uploadedStep(new SegmentationTrainer(view, o.loss), shapes, (d, s) => sb.fromHostPieces(d, s), sb, done);
}

/**
 * A step on host arrays: upload both, record the step (its loss still on its way), then (whatever the recording
 * threw) `after` and release both: the recorded work has them in queue order.
 */
function uploadedStep<U>(
  trainer: SegmentationTrainer<U>,
  [xShape, yShape]: [Shape, Shape],
  upload: (data: Float32Array, shape: Shape) => U,
  be: Pick<Backend<U>, 'release'>,
  after = () => {},
): (x: Float32Array, y: Float32Array) => Promise<number> {
  return (x, y) => {
    const xs = upload(x, xShape),
      ys = upload(y, yShape);
    try {
      return trainer.start(xs, ys);
    } finally {
      after();
      be.release(xs);
      be.release(ys);
    }
  };
}

interface LoopState {
  rng: Rng['state'];
  best: number;
  bestIteration: number;
}

/** The slices of a batch drawn with replacement from every labeled slice (the sampler's RNG draws, in order). */
function slicePool(train: PreparedVolume[]): { v: PreparedVolume; z: number }[] {
  const pool: { v: PreparedVolume; z: number }[] = [];
  for (const v of train) {
    if (!v.labels) throw new Error(`${v.name}: a training volume needs labels`);
    for (let z = 0; z < v.nz; z++) pool.push({ v, z });
  }
  return pool;
}

/**
 * The best weights a resumed fine-tuning goes on with, read before any training. A named best file must exist
 * where the checkpoint records a best, and be that best's checkpoint (its iteration); one the checkpoint records
 * no best for is stale and ignored (a Session names the best weights bundled in its resume checkpoint the same
 * way). Best weights given without a name are taken as they are; with neither there are none: null.
 */
function resumedBest(resume: NonNullable<CheckpointHooks['resume']>, bestIteration: number): Uint8Array | null {
  const { best, bestSource } = resume;
  if (!bestSource) return best ?? null; // in memory, from the caller (tests), or none
  if (bestIteration < 0) return null;
  if (!best) {
    throw new CheckpointError(
      resume.source,
      `it records the best validation at iteration ${bestIteration}, but its best weights (${bestSource}) are missing`,
    );
  }
  const at = checkpointMeta(best, bestSource).iteration;
  if (at !== bestIteration) {
    throw new CheckpointError(
      bestSource,
      `holds the weights of iteration ${at}, but ${resume.source} records its best at iteration ${bestIteration}`,
    );
  }
  return best;
}

/**
 * Train `model` on `train` volumes, validating on `val`; the best weights are kept and restored at the end.
 * With checkpoint hooks the run can stop and resume: weights, Adam moments, moving averages, the iteration,
 * the sampler/augmentation RNG and the best score travel in the checkpoint, so a resumed run reaches the same
 * weights bit for bit; the best weights so far go to `saveBest`.
 */
export async function finetune<T>(
  model: UNet<T>,
  train: PreparedVolume[],
  val: PreparedVolume[],
  o: FinetuneOptions,
  onProgress: (p: Progress) => void | Promise<void> = () => {},
  ckpt?: CheckpointHooks,
): Promise<{ best: number; bestIteration: number; losses: number[]; stopped: boolean }> {
  for (const k of ['iterations', 'batch', 'valEvery'] as const) checkCount(`fine-tuning ${k}`, o[k]);
  const K = model.config.numClasses,
    S = train[0].geometry.network[0],
    P = S * S;
  const step = trainingStep(model, o, S, K),
    pool = slicePool(train);
  const rng = new Rng(o.seed);
  let best = -1,
    bestIteration = -1,
    bestBytes: Uint8Array | null = null,
    bestSource: string | undefined,
    start = 1;
  if (ckpt?.resume) {
    const r = resumeLoop<T, LoopState>(model.params, ckpt.resume, 'finetune', rng, 'fine-tuning');
    [best, bestIteration, start] = [r.state.best, r.state.bestIteration, r.start];
    bestBytes = resumedBest(ckpt.resume, bestIteration);
    bestSource = ckpt.resume.bestSource;
  }
  const x = new Float32Array(o.batch * P),
    l = new Float32Array(o.batch * P);
  const validates = (it: number) => val.length > 0 && (it % o.valEvery === 0 || it === o.iterations),
    overlap = model.be instanceof GpuBackend; // wasm computes as it records: nothing to overlap
  const snapshot = (it: number, bestValDice: number, state: LoopState | null) =>
    saveParams(model.params, { stage: 'finetune', iteration: it, bestValDice, config: null, state });
  const { losses, stopped } = await iterate(
    async () => {
      for (let b = 0; b < o.batch; b++) {
        const { v, z } = pool[rng.int(pool.length)];
        x.set(v.slices.subarray(z * P, (z + 1) * P), b * P);
        l.set(v.labels!.subarray(z * P, (z + 1) * P), b * P);
      }
      const aug = await augmentBatch(x, l, o.batch, S, K, rng, o.augment),
        loss = step(aug.x, aug.y);
      return overlap ? { loss } : loss; // the GPU runs this step while the loop records the next
    },
    {
      start,
      iterations: o.iterations,
      lossName: 'loss',
      syncAt: validates,
      ...stopOf(ckpt),
      checkpoint: ckpt && { ...ckpt, snapshot: (it) => snapshot(it, best, { rng: rng.state, best, bestIteration }) },
      onProgress: async (it, loss, lastGood) => {
        const progress: Progress = { iteration: it, loss };
        if (validates(it)) {
          const d = meanOf((await evaluateVolumes(model, val, false)).map((s) => s.meanForeground)); // selection uses Dice only
          progress.valDice = d;
          if (d > best + 1e-7) {
            [best, bestIteration, bestSource] = [d, it, undefined];
            bestBytes = await guard(snapshot(it, d, null), lastGood);
            await ckpt?.saveBest?.(bestBytes);
          }
          progress.best = best;
        }
        await onProgress(progress); // a caller's file write completes before the next (synchronous on wasm) step
      },
    },
  );
  if (bestBytes) loadParams(model.params, bestBytes, bestSource ?? 'best checkpoint (in memory)');
  return { best, bestIteration, losses, stopped };
}
