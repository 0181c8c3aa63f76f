// Pre-training batches (paper-spec §3.2–§3.6, §4.4–§4.5): which slices, which views, in the order the term
// lists of terms.ts expect. Every image gets its own augmentation draw (the released code shares one draw per
// sub-batch, §3.3: a deviation on purpose). The crop + resize runs in the wasm module's affine warp.

import type { Rng } from '../util/random.ts';
import { preprocessModule, Arena } from '../data/preprocess.ts';
import {
  type ContrastiveTerms,
  globalRandomTerms,
  globalDMinusTerms,
  globalDTerms,
  localRandomTerms,
  localDTerms,
  type RegionTable,
} from './terms.ts';

/** An unlabeled volume for pre-training: nz slices of S×S (preprocessed, slice-major, x fastest). */
export interface PretrainVolume {
  slices: Float32Array;
  nz: number /** for error messages */;
  name?: string;
}

/** G^{D−}, G^D and L^D draw one slice from each of S partitions: every volume needs at least S slices. */
export function checkPartitions(vols: PretrainVolume[], S: number): void {
  vols.forEach((v, i) => {
    if (v.nz < S) {
      throw new Error(
        `${v.name ?? `pre-training volume ${i}`}: ${v.nz} slice${v.nz === 1 ? '' : 's'}, fewer than the ${S} partitions of the ` +
          `volume-group sampler (§3.2); leave it out of pre-training or use fewer partitions`,
      );
    }
  });
}

export type GlobalStrategy = 'GR' | 'GD-' | 'GD';
export type LocalStrategy = 'LR' | 'LD';

/** View augmentation of §3.3 (crop at the paper's 192 px, scaled with the input size). */
export const VIEW = {
  crop: 100 / 192,
  cornerLo: 10 / 192,
  cornerHi: 69 / 192,
  brightness: 0.3,
  contrast: [0.7, 1.3],
  clip: 1.5,
};

/**
 * §3.2: m volumes without replacement, one slice drawn uniformly from each of S partitions of ⌊nz/S⌋
 * consecutive slices (the last nz mod S slices never drawn). Returns slice indices volume-major,
 * partition-minor, with their volumes and partitions.
 */
export function sampleVolumeGroup(
  vols: PretrainVolume[],
  m: number,
  S: number,
  rng: Rng,
): { vol: number; slice: number; part: number }[] {
  if (m > vols.length)
    throw new Error(`pre-training: a group of ${m} volumes needs at least ${m} unlabeled volumes, got ${vols.length}`);
  const order = vols.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const out: { vol: number; slice: number; part: number }[] = [];
  for (const v of order.slice(0, m)) {
    const per = Math.floor(vols[v].nz / S);
    if (per < 1) checkPartitions([vols[v]], S);
    for (let s = 0; s < S; s++) out.push({ vol: v, slice: s * per + rng.int(per), part: s });
  }
  return out;
}

/** B slices drawn uniformly with replacement from all slices of all volumes (G^R, L^R). */
export function sampleSlices(vols: PretrainVolume[], B: number, rng: Rng): { vol: number; slice: number }[] {
  const total = vols.reduce((a, v) => a + v.nz, 0);
  return Array.from({ length: B }, () => {
    let k = rng.int(total),
      v = 0;
    while (k >= vols[v].nz) k -= vols[v++].nz;
    return { vol: v, slice: k };
  });
}

/** Brightness, contrast about the image's mean (after brightness), clip to [0, 1.5], in place (§3.3). */
export function intensityAugment(x: Float32Array, rng: Rng): void {
  const d = rng.uniform(-VIEW.brightness, VIEW.brightness),
    c = rng.uniform(VIEW.contrast[0], VIEW.contrast[1]);
  let mean = 0;
  for (let i = 0; i < x.length; i++) mean += x[i] + d;
  mean /= x.length;
  for (let i = 0; i < x.length; i++) x[i] = Math.min(VIEW.clip, Math.max(0, (x[i] + d - mean) * c + mean));
}

/** Builds the images of each strategy's batch; the wasm arena is reused across batches. */
export class ViewMaker {
  private constructor(
    private m: any,
    private arena: Arena,
    private src: number,
    private dst: number,
    readonly S: number,
  ) {}

  static async create(S: number): Promise<ViewMaker> {
    const module = await preprocessModule();
    const arena = new Arena(module);
    const src = arena.alloc(4 * S * S),
      dst = arena.alloc(4 * S * S);
    arena.commit();
    return new ViewMaker(module, arena, src, dst, S);
  }

  /** A global view: random crop (side VIEW.crop·S, corner in [cornerLo, cornerHi]·S) resized bilinearly to S×S, then intensity. */
  globalView(slice: Float32Array, rng: Rng): Float32Array {
    const S = this.S,
      side = Math.round(VIEW.crop * S);
    const lo = Math.round(VIEW.cornerLo * S),
      hi = Math.max(lo, Math.round(VIEW.cornerHi * S));
    const r0 = lo + rng.int(hi - lo + 1),
      c0 = lo + rng.int(hi - lo + 1);
    const sc = side / S; // destination pixel centre x → source x0 + (x + 0.5)·sc − 0.5 (skimage resize, order 1)
    this.arena.f32(this.src, S * S).set(slice);
    this.m.affineWarp(this.src, this.dst, S, S, 1, sc, 0, c0 + 0.5 * sc - 0.5, 0, sc, r0 + 0.5 * sc - 0.5, 0);
    const out = this.arena.f32(this.dst, S * S).slice();
    intensityAugment(out, rng);
    return out;
  }

  /** A local view: intensity only (pixel (u, v) of both views stays the same point, §4.2). */
  localView(slice: Float32Array, rng: Rng): Float32Array {
    const out = slice.slice();
    intensityAugment(out, rng);
    return out;
  }
}

const sliceOf = (vols: PretrainVolume[], vol: number, k: number, S: number) =>
  vols[vol].slices.subarray(k * S * S, (k + 1) * S * S);

export interface PretrainBatch {
  images: Float32Array;
  count: number;
}

/** The fixed term list of a strategy at its batch size (the batch layout never changes between steps). */
export function strategyTerms(
  strategy: GlobalStrategy | LocalStrategy,
  o: { batch: number; volumes: number; partitions: number; table?: RegionTable; crossPartition?: boolean },
): ContrastiveTerms {
  const part = Array.from({ length: o.volumes * o.partitions }, (_, k) => k % o.partitions);
  switch (strategy) {
    case 'GR':
      return globalRandomTerms(o.batch);
    case 'GD-':
      return globalDMinusTerms(part);
    case 'GD':
      return globalDTerms(o.volumes, o.partitions);
    case 'LR':
      return localRandomTerms(o.batch, o.table!);
    case 'LD':
      return localDTerms(part, o.table!, o.crossPartition ?? false);
  }
}

/** One batch of images [count, S, S] for a strategy, in the order of strategyTerms. */
export function strategyBatch(
  strategy: GlobalStrategy | LocalStrategy,
  vols: PretrainVolume[],
  views: ViewMaker,
  rng: Rng,
  o: { batch: number; volumes: number; partitions: number },
): PretrainBatch {
  const S = views.S,
    P = S * S,
    imgs: Float32Array[] = [];
  const slice = (s: { vol: number; slice: number }) => sliceOf(vols, s.vol, s.slice, S);
  const group = () => sampleVolumeGroup(vols, o.volumes, o.partitions, rng).map(slice);
  // global strategies take global views, local ones intensity views: one augmentation draw per view, in this order
  const view = (x: Float32Array) => (strategy[0] === 'L' ? views.localView(x, rng) : views.globalView(x, rng));
  switch (strategy) {
    case 'GR':
    case 'LR': // two views per slice, interleaved
      for (const x of sampleSlices(vols, o.batch, rng).map(slice)) imgs.push(view(x), view(x));
      break;
    case 'GD-': {
      // [originals, view 1, view 2] of one volume group
      const g = group();
      imgs.push(...g.map((x) => x.slice()), ...g.map(view), ...g.map(view));
      break;
    }
    case 'GD': // per slice (volume-major, partition-minor): the original and one view
      for (const x of group()) imgs.push(x.slice(), view(x));
      break;
    case 'LD': {
      // [view 1, view 2] of one volume group
      const g = group();
      imgs.push(...g.map(view), ...g.map(view));
      break;
    }
  }
  const images = new Float32Array(imgs.length * P);
  imgs.forEach((x, i) => images.set(x, i * P));
  return { images, count: imgs.length };
}
