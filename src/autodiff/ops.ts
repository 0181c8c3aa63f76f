// Differentiable ops: forward through the backend, backward recorded on the tape.

import type { BatchNormOptions, BatchNormParams, ConvSpec, Shape } from '../ops/backend.ts';
import type { UnaryAttrValues, UnaryName } from '../ops/table.ts';
import { type Tape, Var } from './tape.ts';

export function conv2d<T>(tp: Tape<T>, x: Var<T>, w: Var<T>, b: Var<T> | null, spec: ConvSpec): Var<T> {
  const be = tp.be;
  const out = tp.result(be.conv2d(x.value, w.value, b?.value ?? null, spec), [x, w, b]);
  tp.record(out, (g) => {
    if (x.requiresGrad) tp.addGrad(x, be.conv2dInputGrad(g, w.value, spec));
    if (w.requiresGrad) tp.addGrad(w, be.conv2dWeightGrad(x.value, g, spec));
    if (b?.requiresGrad) tp.addGrad(b, be.channelSum(g));
  });
  return out;
}

/**
 * conv2d(upsample2(x)) (a decoder's up-conv) as one tape entry that does not keep the upsampled map: it is
 * dropped after the forward conv and made again, one copy pass, for the weight gradient. The same kernels on the
 * same inputs as upsample2 then conv2d, so the same bits; and the largest decoder tensors (a ×2 map per decoder
 * block: bench/NOTES.md, "What a train step holds at its peak") are not held until the step ends.
 */
export function upsampleConv2d<T>(tp: Tape<T>, x: Var<T>, w: Var<T>, b: Var<T> | null, spec: ConvSpec): Var<T> {
  const be = tp.be;
  const up = be.upsample2(x.value);
  const out = tp.result(be.conv2d(up, w.value, b?.value ?? null, spec), [x, w, b]);
  be.release(up);
  tp.record(out, (g) => {
    if (x.requiresGrad) {
      const dUp = be.conv2dInputGrad(g, w.value, spec);
      tp.addGrad(x, be.upsample2Backward(dUp));
      be.release(dUp);
    }
    if (w.requiresGrad) {
      const again = be.upsample2(x.value);
      tp.addGrad(w, be.conv2dWeightGrad(again, g, spec));
      be.release(again);
    }
    if (b?.requiresGrad) tp.addGrad(b, be.channelSum(g));
  });
  return out;
}

/** Batch-norm state that is not trained by gradients: the moving averages. */
export interface BatchNormState<T> {
  gamma: Var<T>;
  beta: Var<T>;
  movingMean: T;
  movingVar: T;
}

/** The values a backend's batch-norm ops take. */
export function bnParams<T>(bn: BatchNormState<T>): BatchNormParams<T> {
  return { gamma: bn.gamma.value, beta: bn.beta.value, runMean: bn.movingMean, runVar: bn.movingVar };
}

/**
 * relu(batchNorm(x)) as one tape entry and one pass each way (batch norm trains with batch statistics and updates
 * the moving averages, infers with them). The backward pass needs only x and the ReLU output (y > 0 exactly where
 * the BN output is), so the BN output is never stored, and the ReLU's mask is applied as the BN backward kernels
 * read the gradient: the same arithmetic as BN, ReLU and their gradients one after the other, so the same bits.
 */
export function batchNormRelu<T>(
  tp: Tape<T>,
  x: Var<T>,
  bn: BatchNormState<T>,
  training: boolean,
  o: BatchNormOptions,
): Var<T> {
  const be = tp.be;
  if (!training) return tp.result(be.batchNormInfer(x.value, bnParams(bn), o, true), []);
  const r = be.batchNormTrain(x.value, bnParams(bn), o, true);
  tp.keep(r.mean);
  tp.keep(r.invstd);
  const out = tp.result(r.y, [x, bn.gamma, bn.beta]);
  tp.record(out, (g) => {
    const d = be.batchNormBackward(x.value, g, bn.gamma.value, r.mean, r.invstd, r.y);
    tp.addGrad(x, d.dx);
    tp.addGrad(bn.gamma, d.dgamma);
    tp.addGrad(bn.beta, d.dbeta);
  });
  return out;
}

/** An element-wise op of the op table (ops/table.ts); its gradient is taken from its output. */
export function unary<T, P extends UnaryName>(tp: Tape<T>, op: P, x: Var<T>, attrs: UnaryAttrValues<P>): Var<T> {
  const be = tp.be;
  const out = tp.result(be.unary(op, x.value, attrs), [x]);
  tp.record(out, (g) => tp.addGrad(x, be.unaryGrad(op, out.value, g, attrs)));
  return out;
}

export function relu<T>(tp: Tape<T>, x: Var<T>): Var<T> {
  return unary(tp, 'relu', x, {});
}

export function maxPool2<T>(tp: Tape<T>, x: Var<T>): Var<T> {
  const be = tp.be;
  const { y, arg } = be.maxPool2(x.value);
  tp.keep(arg);
  const out = tp.result(y, [x]);
  tp.record(out, (g) => tp.addGrad(x, be.maxPool2Backward(g, arg, be.shape(x.value))));
  return out;
}

export function upsample2<T>(tp: Tape<T>, x: Var<T>): Var<T> {
  const be = tp.be;
  const out = tp.result(be.upsample2(x.value), [x]);
  tp.record(out, (g) => tp.addGrad(x, be.upsample2Backward(g)));
  return out;
}

export function concat<T>(tp: Tape<T>, a: Var<T>, b: Var<T>): Var<T> {
  const be = tp.be;
  const ca = channels(be.shape(a.value)),
    cb = channels(be.shape(b.value));
  const out = tp.result(be.concat(a.value, b.value), [a, b]);
  tp.record(out, (g) => {
    if (a.requiresGrad) tp.addGrad(a, be.sliceChannels(g, 0, ca));
    if (b.requiresGrad) tp.addGrad(b, be.sliceChannels(g, ca, cb));
  });
  return out;
}

/** A view with another shape (same element count); its gradient is the reshaped gradient. */
export function reshape<T>(tp: Tape<T>, x: Var<T>, shape: Shape): Var<T> {
  const be = tp.be;
  const xs = be.shape(x.value);
  const out = new Var(be.reshape(x.value, shape), tp.recording && x.requiresGrad);
  tp.record(out, (g) => {
    // The gradient view shares g's storage, which the tape releases after this closure: copy it.
    const view = be.reshape(g, xs);
    const copy = be.full(xs, 0);
    be.accumulate(copy, view);
    be.release(view);
    tp.addGrad(x, copy);
  });
  return out;
}

/** x [rows, in] · w [in, out] (no bias: the paper's projection heads have none). */
export function dense<T>(tp: Tape<T>, x: Var<T>, w: Var<T>): Var<T> {
  const be = tp.be;
  const out = tp.result(be.matmul(x.value, w.value, false, false), [x, w]);
  tp.record(out, (g) => {
    if (x.requiresGrad) tp.addGrad(x, be.matmul(g, w.value, false, true));
    if (w.requiresGrad) tp.addGrad(w, be.matmul(x.value, g, true, false));
  });
  return out;
}

export function l2normalize<T>(tp: Tape<T>, x: Var<T>): Var<T> {
  const be = tp.be;
  const { y, norms } = be.l2normalize(x.value);
  tp.keep(norms);
  const out = tp.result(y, [x]);
  tp.record(out, (g) => tp.addGrad(x, be.l2normalizeBackward(y, norms, g)));
  return out;
}

/** Soft Dice loss (per image and class, background included) on logits; the target is not differentiated. */
export function softmaxDiceLoss<T>(tp: Tape<T>, logits: Var<T>, target: T, eps = 1e-10): Var<T> {
  const be = tp.be;
  const r = be.diceLoss(logits.value, target, eps);
  tp.keep(r.probs);
  tp.keep(r.stats);
  const out = tp.result(r.loss, [logits]);
  tp.record(out, (g) => tp.addGrad(logits, be.diceBackward(r.probs, target, r.stats, g)));
  return out;
}

/** Class-weighted pixel cross-entropy, mean over pixels. */
export function softmaxCrossEntropy<T>(tp: Tape<T>, logits: Var<T>, target: T, classWeights: T): Var<T> {
  const be = tp.be;
  const r = be.crossEntropy(logits.value, target, classWeights);
  tp.keep(r.probs);
  const out = tp.result(r.loss, [logits]);
  tp.record(out, (g) => tp.addGrad(logits, be.crossEntropyBackward(r.probs, target, classWeights, g)));
  return out;
}

const channels = (s: Shape) => s[s.length - 1];

/** Mean squared error between y and a target (not differentiated): the restoration pretext tasks' loss. */
export function mseLoss<T>(tp: Tape<T>, y: Var<T>, target: T): Var<T> {
  const be = tp.be;
  const out = tp.result(be.mseLoss(y.value, target), [y]);
  tp.record(out, (g) => tp.addGrad(y, be.mseBackward(y.value, target, g)));
  return out;
}

/** x [N, D] · xᵀ: the Gram matrix [N, N] (cosine similarities when the rows are unit vectors). */
export function gram<T>(tp: Tape<T>, x: Var<T>): Var<T> {
  const be = tp.be;
  const out = tp.result(be.matmul(x.value, x.value, false, true), [x]);
  tp.record(out, (g) => {
    // d(x·xᵀ) = (g + gᵀ)·x
    const a = be.matmul(g, x.value, false, false),
      b = be.matmul(g, x.value, true, false);
    be.accumulate(a, b);
    be.release(b);
    tp.addGrad(x, a);
  });
  return out;
}

/** A strategy's contrastive terms on the backend (contrastive/terms.ts uploadTerms: once, reused every step). */
export interface TermTensors<T> {
  pairs: T;
  mask: T;
  rows: T;
  scale: number;
  n: number;
}

/** InfoNCE over embeddings z [N, D]: cosine similarities at temperature τ, terms of one strategy (§3.1). */
export function contrastiveLoss<T>(tp: Tape<T>, z: Var<T>, terms: TermTensors<T>, tau: number): Var<T> {
  const be = tp.be;
  const n = be.shape(z.value)[0];
  if (n !== terms.n) throw new Error(`contrastive loss: ${n} embeddings for terms over ${terms.n}`);
  const s = gram(tp, l2normalize(tp, z));
  const r = be.contrastiveLoss(s.value, terms.pairs, terms.mask, 1 / tau, terms.scale);
  tp.keep(r.lse);
  const out = tp.result(r.loss, [s]);
  tp.record(out, (g) =>
    tp.addGrad(s, be.contrastiveBackward(s.value, terms.pairs, terms.mask, r.lse, terms.rows, g, 1 / tau, terms.scale)),
  );
  return out;
}

/** The R×R windows at `positions` [P, 2] of every map of x [B, H, W, C], flattened: [B·P, R·R·C] (§2.6). */
export function regions<T>(tp: Tape<T>, x: Var<T>, positions: T, R: number): Var<T> {
  const be = tp.be;
  const xs = be.shape(x.value);
  const out = tp.result(be.regionGather(x.value, positions, R), [x]);
  tp.record(out, (g) => tp.addGrad(x, be.regionScatter(g, positions, R, xs)));
  return out;
}
