// A probe of pre-trained encoders (docs/experiments.md): does an encoder already tell where along the long axis
// a slice lies, across subjects? G^D's positives are the same partition of other volumes (§3.2); if G^R's instance
// discrimination (or a random init) already groups slices by partition, G^D's positives have little to add.

import type { Backend } from '../ops/backend.ts';
import { Tape, Var } from '../autodiff/tape.ts';
import type { UNet } from '../model/unet.ts';
import type { PretrainVolume } from '../contrastive/batches.ts';

/** Which slices the volume-group sampler draws from (§3.2): partition p holds slices p·⌊nz/S⌋ … (p+1)·⌊nz/S⌋ − 1. */
export function partitionOf(slice: number, nz: number, partitions: number): number | null {
  const size = Math.floor(nz / partitions),
    p = Math.floor(slice / size);
  return size > 0 && p < partitions ? p : null;
}

export interface RetrievalScore {
  /** slices that have a most similar slice in another volume */
  slices: number;
  /** the fraction whose most cosine-similar slice of another volume lies in the same partition */
  accuracy: number;
  /** what picking a slice of another volume at random would score */
  chance: number;
  /** mean cosine similarity of same-partition pairs minus that of different-partition pairs (different volumes only) */
  margin: number;
}

/** Partition retrieval across volumes from per-slice embeddings (f64 arithmetic, ties to the first slice). */
export function partitionRetrieval(emb: ArrayLike<number>[], volume: number[], partition: number[]): RetrievalScore {
  const n = emb.length;
  if (volume.length !== n || partition.length !== n)
    throw new Error('partitionRetrieval: one volume and one partition per embedding');
  const norm = emb.map((e) => {
    let s = 0;
    for (let k = 0; k < e.length; k++) s += e[k] * e[k];
    return Math.sqrt(s) || 1;
  });
  // each pair of different volumes once (the dot product and the norms' product are symmetric, bit for bit)
  const cosines = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (volume[i] === volume[j]) continue;
      let s = 0;
      for (let k = 0; k < emb[i].length; k++) s += emb[i][k] * emb[j][k];
      cosines[i * n + j] = cosines[j * n + i] = s / (norm[i] * norm[j]);
    }
  }
  // cosine sums (and counts) over pairs of the same and of different partitions, for the margin
  const sums = { same: 0, sameN: 0, diff: 0, diffN: 0 };
  let hits = 0,
    counted = 0,
    chance = 0;
  for (let i = 0; i < n; i++) {
    let best = -Infinity,
      bestJ = -1,
      others = 0,
      matching = 0;
    for (let j = 0; j < n; j++) {
      if (volume[j] === volume[i]) continue;
      const c = cosines[i * n + j];
      others++;
      if (partition[j] === partition[i]) {
        matching++;
        sums.same += c;
        sums.sameN++;
      } else {
        sums.diff += c;
        sums.diffN++;
      }
      if (c > best) {
        best = c;
        bestJ = j;
      }
    }
    if (bestJ < 0) continue;
    counted++;
    chance += matching / others;
    if (partition[bestJ] === partition[i]) hits++;
  }
  if (!counted) throw new Error('partitionRetrieval: needs slices of at least two volumes');
  return {
    slices: counted,
    accuracy: hits / counted,
    chance: chance / counted,
    margin: sums.same / Math.max(sums.sameN, 1) - sums.diff / Math.max(sums.diffN, 1),
  };
}

/**
 * Every encoder level's flattened features (the last: the bottleneck, what g1 reads) and g1's output of every slice
 * the sampler draws from, in one batch, so that batch norm (in training mode, as in pre-training and fine-tuning)
 * normalises over the whole probe set whatever the method.
 */
export async function sliceEmbeddings<T>(
  model: UNet<T>,
  vols: PretrainVolume[],
  S: number,
  partitions: number,
): Promise<{ levels: ArrayLike<number>[][]; head: ArrayLike<number>[]; volume: number[]; partition: number[] }> {
  const be: Backend<T> = model.be,
    P = S * S,
    picked: { v: number; z: number; p: number }[] = [];
  vols.forEach((vol, v) => {
    for (let z = 0; z < vol.nz; z++) {
      const p = partitionOf(z, vol.nz, partitions);
      if (p !== null) picked.push({ v, z, p });
    }
  });
  const images = new Float32Array(picked.length * P);
  picked.forEach((s, i) => images.set(vols[s.v].slices.subarray(s.z * P, (s.z + 1) * P), i * P));
  const x = be.fromHost(images, [picked.length, S, S, 1]),
    tp = new Tape(be);
  try {
    const levels = model.encode(tp, new Var(x, false), true),
      head = model.globalHead(tp, levels[levels.length - 1]);
    const split = (a: Float32Array | Float64Array) =>
      picked.map((_, i) => a.slice(i * (a.length / picked.length), (i + 1) * (a.length / picked.length)));
    const features: ArrayLike<number>[][] = [];
    for (const l of levels) features.push(split(await be.toHost(l.value)));
    return {
      levels: features,
      head: split(await be.toHost(head.value)),
      volume: picked.map((s) => s.v),
      partition: picked.map((s) => s.p),
    };
  } finally {
    tp.dispose();
    be.release(x);
  }
}
