// The primitive ops every backend implements: the WGSL one (ops/webgpu.ts) and the float64 CPU reference
// (ops/reference.ts) that checks it. Layouts: activations NHWC, conv weights HWIO [KH, KW, Cin, Cout],
// dense weights [in, out]. The autodiff tape (autodiff/tape.ts) is written once against this interface.

import type { UnaryAttrValues, UnaryName } from './table.ts';

export type Shape = readonly number[];

/** Stride-1 convolution whose output has the input's spatial size (TF "SAME"). */
export interface ConvSpec {
  kh: number;
  kw: number;
  /** Zero rows/columns before the input; SAME pads (k-1)/2 before and the rest after. */
  padT: number;
  padL: number;
}

/** TF "SAME" padding for stride 1: floor((k-1)/2) before, the rest after (2×2: 0 before, 1 after). */
export function sameConv(kh: number, kw = kh): ConvSpec {
  return { kh, kw, padT: Math.floor((kh - 1) / 2), padL: Math.floor((kw - 1) / 2) };
}

export interface BatchNormOptions {
  eps: number;
  decay: number;
}

export const BN_DEFAULTS: BatchNormOptions = { eps: 1e-3, decay: 0.99 };

/** A batch norm's scale and shift and its moving statistics (training updates runMean and runVar in place). */
export interface BatchNormParams<T> {
  gamma: T;
  beta: T;
  runMean: T;
  runVar: T;
}

export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export const ADAM_DEFAULTS: AdamOptions = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/** A parameter tensor p with its gradient g and Adam moments m, v. */
export interface AdamSet<T> {
  p: T;
  g: T;
  m: T;
  v: T;
}

/** The sizes of op(a) · op(b) for a matmul of 2-D tensors, op transposing where asked; the inner sizes must agree. */
export function matmulSizes(a: Shape, b: Shape, transA: boolean, transB: boolean): { M: number; N: number; K: number } {
  const [M, K] = transA ? [a[1], a[0]] : [a[0], a[1]],
    [Kb, N] = transB ? [b[1], b[0]] : [b[0], b[1]];
  if (K !== Kb)
    throw new Error(
      `matmul: inner sizes ${K} and ${Kb} differ ([${a}]${transA ? 'ᵀ' : ''} · [${b}]${transB ? 'ᵀ' : ''})`,
    );
  return { M, N, K };
}

/** TF 1.x Adam folds the bias corrections into the step size. */
export function adamStepSize(o: AdamOptions, t: number): number {
  return (o.lr * Math.sqrt(1 - Math.pow(o.beta2, t))) / (1 - Math.pow(o.beta1, t));
}

export interface Backend<T> {
  readonly name: string;
  /** The largest tensor one kernel can bind (the GPU's limits); unbounded when absent. */
  readonly maxTensorBytes?: number;
  shape(t: T): Shape;
  fromHost(data: ArrayLike<number>, shape: Shape): T;
  /** A copy on the host, taken (the GPU: queued and submitted) before it returns: `t` may be released at once. */
  toHost(t: T): Promise<Float64Array | Float32Array>;
  /** Copies of several tensors, taken together (the GPU: one submit and a map per 64 MiB, not one per tensor). */
  toHostAll(ts: T[]): Promise<(Float64Array | Float32Array)[]>;
  /** Overwrite a tensor's values from the host (same element count). */
  assign(t: T, data: ArrayLike<number>): void;
  /** A new tensor filled with one value (recorded on the device: no host upload). */
  full(shape: Shape, value: number): T;
  /** A new tensor sharing the storage (the owner keeps the storage alive). */
  reshape(t: T, shape: Shape): T;
  release(t: T): void;

  conv2d(x: T, w: T, bias: T | null, spec: ConvSpec): T;
  conv2dInputGrad(dy: T, w: T, spec: ConvSpec): T;
  conv2dWeightGrad(x: T, dy: T, spec: ConvSpec): T;
  /** Sum over every axis but the last (bias gradients). */
  channelSum(t: T): T;

  /** `relu`: y = max(BN(x), 0) in the same pass (a conv block's BN + ReLU, one read and one write of the activation). */
  batchNormTrain(x: T, bn: BatchNormParams<T>, o: BatchNormOptions, relu?: boolean): { y: T; mean: T; invstd: T };
  batchNormInfer(x: T, bn: BatchNormParams<T>, o: BatchNormOptions, relu?: boolean): T;
  /** A conv block at inference: relu(batchNormInfer(conv2d(x, w) + b)), which a backend may run fused. */
  conv2dBnReluInfer(x: T, w: T, b: T | null, bn: BatchNormParams<T>, s: ConvSpec, o: BatchNormOptions): T;
  /** `reluOut`: the fused ReLU's output; dy is then the gradient after the ReLU, masked where reluOut ≤ 0. */
  batchNormBackward(x: T, dy: T, gamma: T, mean: T, invstd: T, reluOut?: T): { dx: T; dgamma: T; dbeta: T };

  /** An element-wise op of the op table (ops/table.ts), and its gradient from the op's output y. */
  unary<P extends UnaryName>(op: P, x: T, attrs: UnaryAttrValues<P>): T;
  unaryGrad<P extends UnaryName>(op: P, y: T, dy: T, attrs: UnaryAttrValues<P>): T;
  maxPool2(x: T): { y: T; arg: T };
  maxPool2Backward(dy: T, arg: T, inputShape: Shape): T;
  upsample2(x: T): T;
  upsample2Backward(dy: T): T;
  /** Concatenate along channels (last axis). */
  concat(a: T, b: T): T;
  /** Channels [offset, offset + count) of t. */
  sliceChannels(t: T, offset: number, count: number): T;

  /** op(a)·op(b) for row-major 2-D tensors. */
  matmul(a: T, b: T, transA: boolean, transB: boolean): T;
  softmax(z: T): T;
  /** Index of the largest logit over the last axis (ties: the lowest), as f32: [..., K] → [...]. */
  argmax(z: T): T;
  /** argmax's labels on the host as bytes (K ≤ 256), where a backend packs them before the copy (the GPU's). */
  argmaxU8?(z: T): Promise<Uint8Array>;
  /** Soft Dice loss over [B, H, W, K] logits and (soft) one-hot targets, background included. */
  diceLoss(z: T, y: T, eps: number): { loss: T; probs: T; stats: T };
  diceBackward(probs: T, y: T, stats: T, dloss: T): T;
  crossEntropy(z: T, y: T, classWeights: T): { loss: T; probs: T };
  crossEntropyBackward(probs: T, y: T, classWeights: T, dloss: T): T;
  l2normalize(x: T): { y: T; norms: T };
  l2normalizeBackward(y: T, norms: T, dy: T): T;
  /**
   * Masked InfoNCE over cosine similarities s [N, N]: term t has anchor pairs[t, 0], positive pairs[t, 1] and
   * negatives {n : mask[t, n] ≠ 0}; ℓ_t = log(exp(s_ap/τ) + Σ_n exp(s_an/τ)) − s_ap/τ. Returns scale · Σ_t ℓ_t
   * [1] and each term's log-sum-exp [T] (for the backward pass). Index tensors hold exact f32 integers.
   */
  contrastiveLoss(s: T, pairs: T, mask: T, invTau: number, scale: number): { loss: T; lse: T };
  /** d loss / d s; `rows` lists the terms of each anchor row: N + 1 offsets, then term ids in increasing order. */
  contrastiveBackward(s: T, pairs: T, mask: T, lse: T, rows: T, dloss: T, invTau: number, scale: number): T;
  /** Mean squared error mean((y − t)²) over all values [1], and its gradient with respect to y. */
  mseLoss(y: T, t: T): T;
  mseBackward(y: T, t: T, dloss: T): T;
  /** The R×R windows at positions [P, 2] (top-left row, col) of x [B, H, W, C]: [B·P, R·R·C], (dy, dx, c) order. */
  regionGather(x: T, positions: T, R: number): T;
  /** Gradient of regionGather: overlapping windows add. */
  regionScatter(dout: T, positions: T, R: number, xShape: Shape): T;

  /** acc += g, in place. */
  accumulate(acc: T, g: T): void;
  /** One Adam step in place on each set's p, m, v from its gradient g (step t counts from 1). */
  adam(sets: AdamSet<T>[], t: number, o: AdamOptions): void;
}
