// A training batch too large for the adapter's binding limit, run as pieces along the batch axis. The UNet and
// the tape run unchanged on this backend: per-sample ops map over the pieces; what couples samples is combined
// across them — batch-norm statistics and their gradient sums, bias-gradient sums and the Dice sums go into one
// partial buffer and through the same fixed-order reduction as the unsplit batch (bit for bit when each piece's
// rows are a multiple of CHUNK.rows), weight gradients are summed piece by piece (equal up to rounding order).
// Parameters stay whole: a model on this backend is a view of a model on the GPU backend (model/unet.ts splitView).

import type { UnaryAttrValues, UnaryName } from './table.ts';
import type { AdamOptions, AdamSet, Backend, BatchNormOptions, BatchNormParams, ConvSpec, Shape } from './backend.ts';
import type { GpuBackend } from './webgpu.ts';
import type { GpuTensor } from '../runtime/runtime.ts';
import { concatFloat32 } from '../util/arrays.ts';

/** A tensor of the split backend: one GPU tensor, or pieces of a batch along axis 0. */
export class Split {
  private constructor(
    readonly shape: Shape,
    readonly whole: GpuTensor | null,
    readonly pieces: GpuTensor[] | null,
  ) {}
  static whole(t: GpuTensor): Split {
    return new Split(t.shape, t, null);
  }
  static pieces(ts: GpuTensor[]): Split {
    return new Split([ts.reduce((a, t) => a + t.shape[0], 0), ...ts[0].shape.slice(1)], null, ts);
  }
  get w(): GpuTensor {
    if (!this.whole) throw new Error(`split backend: a whole tensor was expected, got pieces of [${this.shape}]`);
    return this.whole;
  }
}

/** A batch norm's parameters and statistics, which are never in pieces, as the inner backend's tensors. */
const wholeBn = (bn: BatchNormParams<Split>): BatchNormParams<GpuTensor> => ({
  gamma: bn.gamma.w,
  beta: bn.beta.w,
  runMean: bn.runMean.w,
  runVar: bn.runVar.w,
});

const unsupported = (op: string) =>
  new Error(`split backend: ${op} of a batch in pieces is not supported (only the segmentation step is split)`);

export class SplitBackend implements Backend<Split> {
  readonly name = 'webgpu (batch in pieces)';
  /** `sizes`: slices per piece, summing to the training batch */
  constructor(
    readonly inner: GpuBackend,
    readonly sizes: number[],
  ) {}
  get maxTensorBytes(): number {
    return this.inner.maxTensorBytes;
  }

  /** A batch-major host array [B, ...] as pieces of `sizes`. */
  fromHostPieces(data: Float32Array, shape: Shape): Split {
    const per = data.length / shape[0];
    let b0 = 0;
    return Split.pieces(
      this.sizes.map((n) => {
        const t = this.inner.fromHost(data.subarray(b0 * per, (b0 + n) * per), [n, ...shape.slice(1)]);
        b0 += n;
        return t;
      }),
    );
  }

  private map(x: Split, f: (t: GpuTensor) => GpuTensor): Split {
    return x.pieces ? Split.pieces(x.pieces.map(f)) : Split.whole(f(x.w));
  }
  private zip(a: Split, b: Split, f: (x: GpuTensor, y: GpuTensor) => GpuTensor): Split {
    if (!a.pieces || !b.pieces) return Split.whole(f(a.w, b.w));
    return Split.pieces(a.pieces.map((x, i) => f(x, b.pieces![i])));
  }
  private sum(parts: GpuTensor[]): GpuTensor {
    const acc = parts[0];
    for (const g of parts.slice(1)) {
      this.inner.accumulate(acc, g);
      this.inner.release(g);
    }
    return acc;
  }

  shape(t: Split): Shape {
    return t.shape;
  }
  fromHost(data: ArrayLike<number>, shape: Shape): Split {
    return Split.whole(this.inner.fromHost(data, shape));
  }
  async toHost(t: Split): Promise<Float32Array> {
    return (await this.toHostAll([t]))[0];
  }
  /** Every piece of every tensor in one read of the inner backend, joined again per tensor. */
  async toHostAll(ts: Split[]): Promise<Float32Array[]> {
    const parts = ts.map((t) => t.pieces ?? [t.w]);
    const host = await this.inner.toHostAll(parts.flat());
    let k = 0;
    return parts.map((p) => {
      k += p.length;
      return concatFloat32(host.slice(k - p.length, k));
    });
  }
  assign(t: Split, data: ArrayLike<number>): void {
    this.inner.assign(t.w, data);
  }
  full(shape: Shape, value: number): Split {
    return Split.whole(this.inner.full(shape, value));
  }
  reshape(t: Split, shape: Shape): Split {
    if (t.pieces) throw unsupported('reshape');
    return Split.whole(this.inner.reshape(t.w, shape));
  }
  release(t: Split): void {
    for (const p of t.pieces ?? [t.w]) this.inner.release(p);
  }

  conv2d(x: Split, w: Split, bias: Split | null, s: ConvSpec): Split {
    return this.map(x, (t) => this.inner.conv2d(t, w.w, bias?.w ?? null, s));
  }
  conv2dInputGrad(dy: Split, w: Split, s: ConvSpec): Split {
    return this.map(dy, (t) => this.inner.conv2dInputGrad(t, w.w, s));
  }
  conv2dWeightGrad(x: Split, dy: Split, s: ConvSpec): Split {
    if (!x.pieces) return Split.whole(this.inner.conv2dWeightGrad(x.w, dy.w, s));
    return Split.whole(this.sum(x.pieces.map((p, i) => this.inner.conv2dWeightGrad(p, dy.pieces![i], s))));
  }
  channelSum(t: Split): Split {
    return Split.whole(t.pieces ? this.inner.channelSumPieces(t.pieces) : this.inner.channelSum(t.w));
  }

  batchNormTrain(x: Split, bn: BatchNormParams<Split>, o: BatchNormOptions, relu = false) {
    const r = this.inner.batchNormTrainPieces(x.pieces ?? [x.w], wholeBn(bn), o, relu);
    return {
      y: x.pieces ? Split.pieces(r.ys) : Split.whole(r.ys[0]),
      mean: Split.whole(r.mean),
      invstd: Split.whole(r.invstd),
    };
  }
  batchNormInfer(x: Split, bn: BatchNormParams<Split>, o: BatchNormOptions, relu = false): Split {
    const inner = wholeBn(bn);
    return this.map(x, (t) => this.inner.batchNormInfer(t, inner, o, relu));
  }
  conv2dBnReluInfer(
    x: Split,
    w: Split,
    b: Split | null,
    bn: BatchNormParams<Split>,
    s: ConvSpec,
    o: BatchNormOptions,
  ): Split {
    const inner = wholeBn(bn);
    return this.map(x, (t) => this.inner.conv2dBnReluInfer(t, w.w, b?.w ?? null, inner, s, o));
  }
  batchNormBackward(x: Split, dy: Split, gamma: Split, mean: Split, invstd: Split, reluOut?: Split) {
    const zs = reluOut && (reluOut.pieces ?? [reluOut.w]);
    const r = this.inner.batchNormBackwardPieces(x.pieces ?? [x.w], dy.pieces ?? [dy.w], gamma.w, mean.w, invstd.w, zs);
    return {
      dx: x.pieces ? Split.pieces(r.dxs) : Split.whole(r.dxs[0]),
      dgamma: Split.whole(r.dgamma),
      dbeta: Split.whole(r.dbeta),
    };
  }

  unary<P extends UnaryName>(op: P, x: Split, a: UnaryAttrValues<P>): Split {
    return this.map(x, (t) => this.inner.unary(op, t, a));
  }
  unaryGrad<P extends UnaryName>(op: P, y: Split, dy: Split, a: UnaryAttrValues<P>): Split {
    return this.zip(y, dy, (s, d) => this.inner.unaryGrad(op, s, d, a));
  }
  maxPool2(x: Split) {
    if (!x.pieces) {
      const r = this.inner.maxPool2(x.w);
      return { y: Split.whole(r.y), arg: Split.whole(r.arg) };
    }
    const rs = x.pieces.map((t) => this.inner.maxPool2(t));
    return { y: Split.pieces(rs.map((r) => r.y)), arg: Split.pieces(rs.map((r) => r.arg)) };
  }
  maxPool2Backward(dy: Split, arg: Split, inputShape: Shape): Split {
    return this.zip(dy, arg, (g, a) => this.inner.maxPool2Backward(g, a, [g.shape[0], ...inputShape.slice(1)]));
  }
  upsample2(x: Split): Split {
    return this.map(x, (t) => this.inner.upsample2(t));
  }
  upsample2Backward(dy: Split): Split {
    return this.map(dy, (t) => this.inner.upsample2Backward(t));
  }
  concat(a: Split, b: Split): Split {
    return this.zip(a, b, (x, y) => this.inner.concat(x, y));
  }
  sliceChannels(t: Split, offset: number, count: number): Split {
    return this.map(t, (x) => this.inner.sliceChannels(x, offset, count));
  }

  matmul(a: Split, b: Split, transA: boolean, transB: boolean): Split {
    if (a.pieces || b.pieces) throw unsupported('matmul');
    return Split.whole(this.inner.matmul(a.w, b.w, transA, transB));
  }
  softmax(z: Split): Split {
    return this.map(z, (t) => this.inner.softmax(t));
  }
  argmax(z: Split): Split {
    return this.map(z, (t) => this.inner.argmax(t));
  }
  diceLoss(z: Split, y: Split, eps: number) {
    const r = this.inner.diceLossPieces(z.pieces ?? [z.w], y.pieces ?? [y.w], eps);
    return {
      loss: Split.whole(r.loss),
      probs: z.pieces ? Split.pieces(r.probs) : Split.whole(r.probs[0]),
      stats: Split.whole(r.stats),
    };
  }
  diceBackward(probs: Split, y: Split, stats: Split, dloss: Split): Split {
    if (!probs.pieces) return Split.whole(this.inner.diceBackward(probs.w, y.w, stats.w, dloss.w));
    let first = 0;
    return Split.pieces(
      probs.pieces.map((p, i) => {
        const dz = this.inner.diceBackwardPiece(p, y.pieces![i], stats.w, dloss.w, first);
        first += p.shape[0];
        return dz;
      }),
    );
  }
  crossEntropy(z: Split, y: Split, w: Split) {
    if (z.pieces) throw unsupported('cross-entropy');
    const r = this.inner.crossEntropy(z.w, y.w, w.w);
    return { loss: Split.whole(r.loss), probs: Split.whole(r.probs) };
  }
  crossEntropyBackward(probs: Split, y: Split, w: Split, dloss: Split): Split {
    return Split.whole(this.inner.crossEntropyBackward(probs.w, y.w, w.w, dloss.w));
  }
  l2normalize(x: Split) {
    const r = this.inner.l2normalize(x.w);
    return { y: Split.whole(r.y), norms: Split.whole(r.norms) };
  }
  l2normalizeBackward(y: Split, norms: Split, dy: Split): Split {
    return Split.whole(this.inner.l2normalizeBackward(y.w, norms.w, dy.w));
  }
  contrastiveLoss(s: Split, pairs: Split, mask: Split, invTau: number, scale: number) {
    const r = this.inner.contrastiveLoss(s.w, pairs.w, mask.w, invTau, scale);
    return { loss: Split.whole(r.loss), lse: Split.whole(r.lse) };
  }
  contrastiveBackward(
    s: Split,
    pairs: Split,
    mask: Split,
    lse: Split,
    rows: Split,
    dloss: Split,
    invTau: number,
    scale: number,
  ): Split {
    return Split.whole(this.inner.contrastiveBackward(s.w, pairs.w, mask.w, lse.w, rows.w, dloss.w, invTau, scale));
  }
  mseLoss(y: Split, t: Split): Split {
    return Split.whole(this.inner.mseLoss(y.w, t.w));
  }
  mseBackward(y: Split, t: Split, dloss: Split): Split {
    return Split.whole(this.inner.mseBackward(y.w, t.w, dloss.w));
  }
  regionGather(x: Split, positions: Split, R: number): Split {
    return Split.whole(this.inner.regionGather(x.w, positions.w, R));
  }
  regionScatter(dout: Split, positions: Split, R: number, xShape: Shape): Split {
    return Split.whole(this.inner.regionScatter(dout.w, positions.w, R, xShape));
  }

  accumulate(acc: Split, g: Split): void {
    if (!acc.pieces) {
      this.inner.accumulate(acc.w, g.w);
      return;
    }
    acc.pieces.forEach((a, i) => this.inner.accumulate(a, g.pieces![i]));
  }
  adam(sets: AdamSet<Split>[], t: number, o: AdamOptions): void {
    this.inner.adam(
      sets.map((s) => ({ p: s.p.w, g: s.g.w, m: s.m.w, v: s.v.w })),
      t,
      o,
    );
  }
}
