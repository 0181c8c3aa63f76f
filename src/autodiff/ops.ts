// Differentiable ops: forward through the backend, backward recorded on the tape. A primitive's gradient is its
// rule in the op table (ops/primitives.ts); the composites below (up-conv, reshape, Gram) write their own.

import type { Backend, BatchNormOptions, BatchNormParams, ConvSpec, Shape } from '../ops/backend.ts';
import {
  type GradExtraOf,
  type OpArgs,
  PRIMITIVES,
  type Primitive,
  type Tensor,
  primaryOf,
} from '../ops/primitives.ts';
import type { UnaryAttrValues, UnaryName } from '../ops/table.ts';
import { type Tape, Var } from './tape.ts';

/**
 * Run primitive `op` on `args` and record its table rule; `inputs` names the Vars the rule's gradients go to (the
 * op's other outputs, e.g. batch statistics, are kept for the backward pass).
 */
function primitive<T, P extends Primitive>(
  tp: Tape<T>,
  op: P,
  args: unknown[],
  inputs: Record<string, Var<T> | null>,
  extra?: GradExtraOf<P>,
): Var<T> {
  const be = tp.be as unknown as Backend<Tensor>,
    entry = PRIMITIVES[op];
  const result: unknown = (be[op] as (...a: unknown[]) => unknown).apply(be, args);
  const y = primaryOf(result);
  if (y !== result) for (const t of Object.values(result as object)) if (t !== y) tp.keep(t as T);
  const out = tp.result(y as T, Object.values(inputs));
  if (entry.grad === null) return out;
  const rule = entry.grad as (b: Backend<Tensor>, a: object) => Record<string, Tensor>;
  tp.record(out, (g) => {
    const needs = (name: string) => inputs[name]?.requiresGrad === true;
    const grads = rule(be, { args: args as OpArgs<P>, out: result, g: g as Tensor, needs, extra });
    for (const [name, d] of Object.entries(grads)) tp.addGrad(inputs[name] as Var<T>, d as T);
  });
  return out;
}

export function conv2d<T>(tp: Tape<T>, x: Var<T>, w: Var<T>, b: Var<T> | null, spec: ConvSpec): Var<T> {
  return primitive(tp, 'conv2d', [x.value, w.value, b?.value ?? null, spec], { x, w, bias: b });
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
  if (!training) return tp.result(tp.be.batchNormInfer(x.value, bnParams(bn), o, true), []);
  return primitive(tp, 'batchNormTrain', [x.value, bnParams(bn), o, true], { x, gamma: bn.gamma, beta: bn.beta });
}

/** An element-wise op of the op table (ops/table.ts); its gradient is taken from its output. */
export function unary<T, P extends UnaryName>(tp: Tape<T>, op: P, x: Var<T>, attrs: UnaryAttrValues<P>): Var<T> {
  return primitive(tp, 'unary', [op, x.value, attrs], { x });
}

export function relu<T>(tp: Tape<T>, x: Var<T>): Var<T> {
  return unary(tp, 'relu', x, {});
}

export function maxPool2<T>(tp: Tape<T>, x: Var<T>): Var<T> {
  return primitive(tp, 'maxPool2', [x.value], { x });
}

export function upsample2<T>(tp: Tape<T>, x: Var<T>): Var<T> {
  return primitive(tp, 'upsample2', [x.value], { x });
}

export function concat<T>(tp: Tape<T>, a: Var<T>, b: Var<T>): Var<T> {
  return primitive(tp, 'concat', [a.value, b.value], { a, b });
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
  return primitive(tp, 'matmul', [x.value, w.value, false, false], { a: x, b: w });
}

export function l2normalize<T>(tp: Tape<T>, x: Var<T>): Var<T> {
  return primitive(tp, 'l2normalize', [x.value], { x });
}

/** Soft Dice loss (per image and class, background included) on logits; the target is not differentiated. */
export function softmaxDiceLoss<T>(tp: Tape<T>, logits: Var<T>, target: T, eps = 1e-10): Var<T> {
  return primitive(tp, 'diceLoss', [logits.value, target, eps], { z: logits });
}

/** Class-weighted pixel cross-entropy, mean over pixels. */
export function softmaxCrossEntropy<T>(tp: Tape<T>, logits: Var<T>, target: T, classWeights: T): Var<T> {
  return primitive(tp, 'crossEntropy', [logits.value, target, classWeights], { z: logits });
}

/** Mean squared error between y and a target (not differentiated): the restoration pretext tasks' loss. */
export function mseLoss<T>(tp: Tape<T>, y: Var<T>, target: T): Var<T> {
  return primitive(tp, 'mseLoss', [y.value, target], { y });
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
  const args = [s.value, terms.pairs, terms.mask, 1 / tau, terms.scale];
  return primitive(tp, 'contrastiveLoss', args, { s }, { rows: terms.rows as unknown as Tensor });
}

/** The R×R windows at `positions` [P, 2] of every map of x [B, H, W, C], flattened: [B·P, R·R·C] (§2.6). */
export function regions<T>(tp: Tape<T>, x: Var<T>, positions: T, R: number): Var<T> {
  return primitive(tp, 'regionGather', [x.value, positions, R], { x });
}
