// The contrastive losses of the paper (paper-spec §3, §4) as lists of InfoNCE terms over one batch of
// embeddings: each term is (anchor, positive, negatives), all indices into the batch. The GPU kernels
// (wgsl/contrastive_*.wgsl) and the float64 reference evaluate any such list, so a strategy is only its list.
//
// Deviations from the released code (paper-spec §8), on purpose: no all-zero padding images in G^D (the batch
// is filled with real slices); every image gets its own augmentation draw (done by the view builder); G^D uses
// every image as an anchor with all its positives, as the clean reading of §3.8.

import type { Backend } from '../ops/backend.ts';
import type { TermTensors } from '../autodiff/ops.ts';
/** A strategy's terms for a batch of `n` embeddings. */
export interface ContrastiveTerms {
  n: number;
  /** anchor, positive of each term */
  pairs: Int32Array;
  /** [T, n]: 1 where the column is a negative of the term */
  mask: Uint8Array;
  /** the loss is scale · Σ terms (the reference's normalisation) */
  scale: number;
}

class Builder {
  private pairs: number[] = [];
  private masks: Uint8Array[] = [];
  constructor(readonly n: number) {}
  term(anchor: number, positive: number, negatives: Iterable<number>): void {
    const m = new Uint8Array(this.n);
    for (const j of negatives) {
      if (j === anchor || j === positive)
        throw new Error(`contrastive terms: ${j} is the anchor or positive of its own term`);
      m[j] = 1;
    }
    this.pairs.push(anchor, positive);
    this.masks.push(m);
  }
  done(scale: number | ((terms: number) => number)): ContrastiveTerms {
    const T = this.masks.length,
      mask = new Uint8Array(T * this.n);
    this.masks.forEach((m, t) => mask.set(m, t * this.n));
    return { n: this.n, pairs: Int32Array.from(this.pairs), mask, scale: typeof scale === 'number' ? scale : scale(T) };
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * G^R (SimCLR NT-Xent, §3.4): B slices, two views interleaved (2k, 2k + 1). Every image is an anchor whose
 * positive is its other view; the denominator runs over all 2B − 1 other images. Sum ÷ 2B.
 */
export function globalRandomTerms(B: number): ContrastiveTerms {
  const b = new Builder(2 * B);
  for (let i = 0; i < 2 * B; i++) {
    const p = i ^ 1;
    b.term(
      i,
      p,
      range(2 * B).filter((j) => j !== i && j !== p),
    );
  }
  return b.done(1 / (2 * B));
}

/**
 * G^{D−} (§3.5): `partition[k]` is the partition of slice k (B slices); images [originals(B), view1(B),
 * view2(B)]. Positives: the 3 images of a slice among themselves, both directions (6 terms per slice);
 * negatives: every image of another partition. Same-partition images of other volumes are neither. Sum ÷ 3B.
 */
export function globalDMinusTerms(partition: number[]): ContrastiveTerms {
  const B = partition.length,
    N = 3 * B,
    part = (i: number) => partition[i % B];
  const b = new Builder(N);
  for (let k = 0; k < B; k++) {
    const imgs = [k, B + k, 2 * B + k];
    for (const a of imgs)
      for (const p of imgs) {
        if (a !== p)
          b.term(
            a,
            p,
            range(N).filter((j) => part(j) !== part(k)),
          );
      }
  }
  return b.done(1 / N);
}

/**
 * G^D (§3.6, clean form §3.8): V volumes (V even; volume 2u is paired with 2u + 1) × S partitions, two views
 * per slice: image (v·S + s)·2 + view. The four images of a slice and of the same partition of the paired
 * volume are mutually positive (12 ordered terms per quad); negatives: every image of another partition;
 * same-partition images of other pairs are neither. Mean over terms.
 */
export function globalDTerms(V: number, S: number): ContrastiveTerms {
  if (V % 2 !== 0 || V < 2) throw new Error(`G^D needs an even number of volumes, got ${V}`);
  const N = V * S * 2,
    img = (v: number, s: number, view: number) => (v * S + s) * 2 + view;
  const partOf = (i: number) => Math.floor(i / 2) % S;
  const b = new Builder(N);
  for (let v = 0; v < V; v++)
    for (let s = 0; s < S; s++)
      for (let view = 0; view < 2; view++) {
        const a = img(v, s, view),
          mate = v ^ 1;
        const negatives = range(N).filter((j) => partOf(j) !== s);
        for (const p of [img(v, s, 1 - view), img(mate, s, 0), img(mate, s, 1)]) b.term(a, p, negatives);
      }
  return b.done((T) => 1 / T);
}

// ------------------------------------------------------------------------------------------------ local

/** Region positions of §4.3 on a W × W map: the 13 anchors and each anchor's 5 negatives (3×3 or 1×1 regions). */
export interface RegionTable {
  /** distinct window positions (row, col), anchors first */
  positions: [number, number][];
  /** per anchor: its index in positions and its negatives' indices */
  anchors: { pos: number; negatives: number[] }[];
  /** window side: 3 or 1 */
  size: number;
  /** negatives per anchor that L^D uses (the reference: the first 4 of the 5) */
  ldNegatives: number;
}

type Sym = '0' | 'q' | 'h' | 't' | 'f';
const ANCHORS: [Sym, Sym][] = [
  ['0', '0'],
  ['0', 'h'],
  ['0', 'f'],
  ['h', '0'],
  ['h', 'h'],
  ['h', 'f'],
  ['f', '0'],
  ['f', 'h'],
  ['f', 'f'],
  ['q', 'q'],
  ['q', 't'],
  ['t', 'q'],
  ['t', 't'],
];
const NEG3: string[] = [
  '0h qq qh h0 hq',
  '00 0f qq qt hh',
  '0h qh qt ht hf',
  '00 qq hh f0 tq',
  'qq qt tq tt h0',
  '0f hh ff qt tt',
  'h0 hq fh tq th',
  'hh f0 ff tq tt',
  'ht hf fh tt th',
  '00 0h h0 hh qt',
  '0h 0f qq hh hf',
  'h0 hh f0 fh tt',
  'hh hf fh ff tq',
];
const NEG1: string[] = [
  '0h h0 hh qq qt',
  '00 0f hh qq qt',
  '0h hh hf tq qt',
  '00 hh f0 qq tq',
  'qq qt tq tt h0',
  '0f hh ff qt tt',
  'h0 hh fh tq qq',
  'hh f0 ff tq tt',
  'hh hf fh tt tq',
  '00 0h h0 hh qt',
  '0h 0f hh hf tt',
  'h0 hh f0 0h qq',
  'hh hf fh ff qt',
];

/** The reference's 13 regions and negatives (paper-spec §4.3) on a map of side W; `size` 3 (default) or 1. */
export function regionTable(W: number, size: 3 | 1 = 3): RegionTable {
  const f = size === 3 ? W - 4 : W - 1;
  if (f < 4) throw new Error(`local loss: a ${W}×${W} map is too small for the 13 regions`);
  const val: Record<Sym, number> = {
    '0': 0,
    q: Math.floor(f / 4),
    h: Math.floor(f / 2),
    t: Math.floor((3 * f) / 4),
    f,
  };
  const positions: [number, number][] = [];
  const index = (r: Sym, c: Sym) => {
    const rc: [number, number] = [val[r], val[c]];
    let i = positions.findIndex((p) => p[0] === rc[0] && p[1] === rc[1]);
    if (i < 0) i = positions.push(rc) - 1;
    return i;
  };
  const anchorPos = ANCHORS.map(([r, c]) => index(r, c));
  const table = size === 3 ? NEG3 : NEG1;
  const anchors = anchorPos.map((pos, a) => ({
    pos,
    negatives: table[a].split(' ').map((rc) => index(rc[0] as Sym, rc[1] as Sym)),
  }));
  return { positions, anchors, size, ldNegatives: 4 };
}

/**
 * A denser sampling than the reference's 13 regions (the option): anchors on a grid of step `stride`
 * over the valid window positions, each with every other anchor as a negative (in both maps; L^D too).
 */
export function denseRegionTable(W: number, size: 3 | 1 = 3, stride = 4): RegionTable {
  const f = W - size;
  if (f < stride) throw new Error(`local loss: a ${W}×${W} map is too small for a grid of step ${stride}`);
  const steps = Array.from({ length: Math.floor(f / stride) + 1 }, (_, i) => i * stride);
  const positions = steps.flatMap((r) => steps.map((c): [number, number] => [r, c]));
  const all = positions.map((_, i) => i);
  return {
    positions,
    anchors: all.map((pos) => ({ pos, negatives: all.filter((j) => j !== pos) })),
    size,
    ldNegatives: positions.length,
  };
}

/**
 * L^R (§4.4): B slices, two intensity views interleaved (2k, 2k + 1); embeddings per image at every table
 * position: embedding (img·P + position). Per pair and anchor region r, both directions: positive the same
 * region of the other view, negatives the 5 negative regions of both views. Sum ÷ 13 ÷ 2B.
 */
export function localRandomTerms(B: number, table: RegionTable): ContrastiveTerms {
  const P = table.positions.length,
    b = new Builder(2 * B * P),
    e = (img: number, pos: number) => img * P + pos;
  for (let k = 0; k < B; k++)
    for (const [one, two] of [
      [2 * k, 2 * k + 1],
      [2 * k + 1, 2 * k],
    ]) {
      for (const r of table.anchors) {
        b.term(
          e(one, r.pos),
          e(two, r.pos),
          r.negatives.flatMap((n) => [e(one, n), e(two, n)]),
        );
      }
    }
  return b.done(1 / (table.anchors.length * 2 * B));
}

/**
 * L^D (§4.5): `partition[k]` of B slices (3 volumes × 4 partitions in the reference); images [view1(B),
 * view2(B)]. For slice i in view 1 (anchor direction only) and each anchor region: positives the same region
 * of (i, view 2) and of the same-partition slices of the other volumes in view 1; each term's negatives are the
 * first table.ldNegatives (4) negative regions in the anchor's map and the partner's map. Sum ÷ 13 ÷ 2B (the
 * reference's; with a dense table, ÷ anchors ÷ 2B).
 *
 * `crossPartition` (a deviation, off by default): each term also takes as negatives the same region in every
 * image of another partition (both views). The reference's negatives are all other positions, so a decoder
 * that encodes absolute position solves L^D without anatomy (docs/experiments.md); these negatives sit at
 * the anchor's own position, where only content can tell them apart.
 */
export function localDTerms(partition: number[], table: RegionTable, crossPartition = false): ContrastiveTerms {
  const B = partition.length,
    P = table.positions.length,
    b = new Builder(2 * B * P),
    e = (img: number, pos: number) => img * P + pos;
  for (let i = 0; i < B; i++) {
    const partners = [B + i, ...range(B).filter((j) => j !== i && partition[j] === partition[i])];
    const otherParts = range(2 * B).filter((j) => partition[j % B] !== partition[i]);
    for (const partner of partners)
      for (const r of table.anchors) {
        const negatives = r.negatives.slice(0, table.ldNegatives).flatMap((n) => [e(i, n), e(partner, n)]);
        if (crossPartition) negatives.push(...otherParts.map((j) => e(j, r.pos)));
        b.term(e(i, r.pos), e(partner, r.pos), negatives);
      }
  }
  return b.done(1 / (table.anchors.length * 2 * B));
}

/** The terms of each anchor row, for the backward kernel: N + 1 offsets, then term ids in increasing order. */
export function termRows(t: ContrastiveTerms): Float32Array {
  const T = t.pairs.length / 2,
    counts = new Int32Array(t.n);
  for (let k = 0; k < T; k++) counts[t.pairs[2 * k]]++;
  const rows = new Float32Array(t.n + 1 + T),
    next = new Int32Array(t.n);
  for (let i = 0; i < t.n; i++) rows[i + 1] = rows[i] + counts[i];
  for (let i = 0; i < t.n; i++) next[i] = rows[i];
  for (let k = 0; k < T; k++) {
    const a = t.pairs[2 * k];
    rows[t.n + 1 + next[a]++] = k;
  }
  return rows;
}

/** A strategy's terms on the backend, for the contrastive loss (uploaded once, reused every step). */
export function uploadTerms<T>(be: Backend<T>, t: ContrastiveTerms): TermTensors<T> {
  const T = t.pairs.length / 2;
  return {
    pairs: be.fromHost(t.pairs, [T, 2]),
    mask: be.fromHost(t.mask, [T, t.n]),
    rows: be.fromHost(termRows(t), [t.n + 1 + T]),
    scale: t.scale,
    n: t.n,
  };
}

export function releaseTerms<T>(be: Backend<T>, t: TermTensors<T>): void {
  for (const x of [t.pairs, t.mask, t.rows]) be.release(x);
}
