// The pretext-task baselines the paper compares with (paper-spec §9): rotation prediction (the encoder and a
// classifier of the four right-angle rotations), context restoration (swapped patch pairs, the whole UNet
// restores the slice) and inpainting (a blanked rectangle, the whole UNet restores the slice). The same slice
// sampling, budget, Adam and checkpoints as the contrastive stages; what moves on to fine-tuning: the encoder
// after rotation, the encoder and every decoder block after the restoration tasks.

import { checkCount } from '../util/check.ts';
import type { Backend } from '../ops/backend.ts';
import { Tape, Var } from '../autodiff/tape.ts';
import * as op from '../autodiff/ops.ts';
import { UNet, type UNetConfig } from '../model/unet.ts';
import { Rng } from '../util/random.ts';
import type { CheckpointHooks } from '../train/iterate.ts';
import { type PretrainVolume, sampleSlices } from './batches.ts';
import { iterateStage } from './pretrain.ts';

export type PretextTask = 'rotation' | 'restoration' | 'inpainting';
export const PRETEXT_TASKS: PretextTask[] = ['rotation', 'restoration', 'inpainting'];

export interface PretextOptions {
  task: PretextTask;
  iterations: number;
  batch: number;
  seed: number;
}

/** The network of a pretext task: rotation adds a 4-way classifier on the encoder; restoration outputs one channel. */
export function pretextModel<T>(
  be: Backend<T>,
  cfg: UNetConfig,
  size: number,
  task: PretextTask,
  seed: number,
): UNet<T> {
  return task === 'rotation'
    ? new UNet(be, cfg, seed, { global: { inputSize: size, out: 4 } })
    : new UNet(be, { ...cfg, numClasses: 1 }, seed);
}

/** Rotate an S×S slice by k·90° counter-clockwise (x fastest). */
export function rotate90(x: Float32Array, S: number, k: number): Float32Array {
  const out = new Float32Array(S * S);
  for (let y = 0; y < S; y++)
    for (let c = 0; c < S; c++) {
      const [sx, sy] =
        k % 4 === 0 ? [c, y] : k % 4 === 1 ? [S - 1 - y, c] : k % 4 === 2 ? [S - 1 - c, S - 1 - y] : [y, S - 1 - c];
      out[y * S + c] = x[sy * S + sx];
    }
  return out;
}

/** Context restoration's corruption: `pairs` pairs of random non-overlapping-in-place square patches swapped. */
export function swapPatches(
  x: Float32Array,
  S: number,
  rng: Rng,
  pairs = 10,
  side = Math.max(2, Math.round(S / 12)),
): Float32Array {
  const out = x.slice();
  for (let p = 0; p < pairs; p++) {
    const ax = rng.int(S - side + 1),
      ay = rng.int(S - side + 1),
      bx = rng.int(S - side + 1),
      by = rng.int(S - side + 1);
    if (Math.abs(ax - bx) < side && Math.abs(ay - by) < side) continue; // overlapping patches: skip this pair
    for (let y = 0; y < side; y++)
      for (let c = 0; c < side; c++) {
        const i = (ay + y) * S + ax + c,
          j = (by + y) * S + bx + c;
        [out[i], out[j]] = [out[j], out[i]];
      }
  }
  return out;
}

/** Inpainting's corruption: a random rectangle (a quarter to a half of each side) set to 0. */
export function blankRectangle(x: Float32Array, S: number, rng: Rng): Float32Array {
  const out = x.slice();
  const w = Math.round(S * rng.uniform(0.25, 0.5)),
    h = Math.round(S * rng.uniform(0.25, 0.5));
  const x0 = rng.int(S - w + 1),
    y0 = rng.int(S - h + 1);
  for (let y = y0; y < y0 + h; y++) out.fill(0, y * S + x0, y * S + x0 + w);
  return out;
}

/** Fill `input` and `target` with one batch of a pretext task's corrupted slices and what they should give. */
function pretextBatch(
  vols: PretrainVolume[],
  S: number,
  o: PretextOptions,
  rng: Rng,
  input: Float32Array,
  target: Float32Array,
): void {
  const P = S * S;
  target.fill(0);
  sampleSlices(vols, o.batch, rng).forEach((s, b) => {
    const x = vols[s.vol].slices.subarray(s.slice * P, (s.slice + 1) * P);
    if (o.task === 'rotation') {
      const k = rng.int(4);
      input.set(rotate90(x, S, k), b * P);
      target[b * 4 + k] = 1;
    } else {
      input.set(o.task === 'restoration' ? swapPatches(x, S, rng) : blankRectangle(x, S, rng), b * P);
      target.set(x, b * P);
    }
  });
}

/** Train a pretext task on unlabeled slices (S×S); resumable and cancellable like the contrastive stages. */
export async function pretrainPretext<T>(
  model: UNet<T>,
  vols: PretrainVolume[],
  S: number,
  o: PretextOptions,
  onProgress: (iteration: number, loss: number) => void = () => {},
  ckpt?: CheckpointHooks,
): Promise<{ losses: number[]; stopped: boolean }> {
  checkCount('pretext iterations', o.iterations);
  const be = model.be,
    stage = `pretext-${o.task}`,
    P = S * S,
    rng = new Rng(o.seed);
  const input = new Float32Array(o.batch * P),
    target = new Float32Array(o.task === 'rotation' ? o.batch * 4 : o.batch * P);
  const classWeights = o.task === 'rotation' ? be.fromHost([1, 1, 1, 1], [4]) : null;
  const step = async () => {
    pretextBatch(vols, S, o, rng, input, target);
    const xs = be.fromHost(input, [o.batch, S, S, 1]);
    const ts = be.fromHost(target, o.task === 'rotation' ? [o.batch, 1, 1, 4] : [o.batch, S, S, 1]);
    const tp = new Tape(be);
    let loss: Var<T>;
    if (o.task === 'rotation') {
      const levels = model.encode(tp, new Var(xs, false), true);
      const logits = op.reshape(tp, model.globalHead(tp, levels[levels.length - 1]), [o.batch, 1, 1, 4]);
      loss = op.softmaxCrossEntropy(tp, logits, ts, classWeights!);
    } else {
      loss = op.mseLoss(tp, model.forward(tp, new Var(xs, false), true), ts);
    }
    tp.backward(loss);
    model.params.adamStep();
    const value = (await be.toHost(loss.value))[0];
    tp.dispose();
    be.release(xs);
    be.release(ts);
    return value;
  };
  try {
    const config = { pretext: o };
    return await iterateStage(model, { name: stage, iterations: o.iterations, config, rng }, step, onProgress, ckpt);
  } finally {
    if (classWeights) be.release(classWeights);
  }
}
