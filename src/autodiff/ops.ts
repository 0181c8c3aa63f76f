// Differentiable ops: forward through the backend, backward recorded on the tape.

import type { BatchNormOptions, ConvSpec, Shape } from '../ops/backend.ts';
import { Tape, Var } from './tape.ts';

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

/** Batch-norm state that is not trained by gradients: the moving averages. */
export interface BatchNormState<T> {
  gamma: Var<T>;
  beta: Var<T>;
  movingMean: T;
  movingVar: T;
}

/** Training mode normalises with batch statistics and updates the moving averages; inference uses them. */
export function batchNorm<T>(tp: Tape<T>, x: Var<T>, bn: BatchNormState<T>, training: boolean, o: BatchNormOptions): Var<T> {
  const be = tp.be;
  if (!training) {
    const y = be.batchNormInfer(x.value, bn.gamma.value, bn.beta.value, bn.movingMean, bn.movingVar, o);
    return tp.result(y, []);
  }
  const r = be.batchNormTrain(x.value, bn.gamma.value, bn.beta.value, bn.movingMean, bn.movingVar, o);
  tp.keep(r.mean);
  tp.keep(r.invstd);
  const out = tp.result(r.y, [x, bn.gamma, bn.beta]);
  tp.record(out, (g) => {
    const d = be.batchNormBackward(x.value, g, bn.gamma.value, r.mean, r.invstd);
    tp.addGrad(x, d.dx);
    tp.addGrad(bn.gamma, d.dgamma);
    tp.addGrad(bn.beta, d.dbeta);
  });
  return out;
}

export function relu<T>(tp: Tape<T>, x: Var<T>): Var<T> {
  const be = tp.be;
  const out = tp.result(be.relu(x.value), [x]);
  tp.record(out, (g) => tp.addGrad(x, be.reluBackward(out.value, g)));
  return out;
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
  const ca = channels(be.shape(a.value)), cb = channels(be.shape(b.value));
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
