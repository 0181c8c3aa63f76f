// The op table: one entry per primitive op of Backend (ops/backend.ts), naming its WebGPU kernels (the registry's
// declarations), its WebAssembly kernels (kernels/nn exports), its float64 reference (RefBackend's method), its
// gradient rule and its kernel-suite cases. The autodiff ops (autodiff/ops.ts) record the rules read from here
// and the kernel suite (test/suites/kernels.ts) generates its cases from here. Element-wise ops are one
// primitive, `unary`, whose ops are the UNARY table (ops/table.ts).
//
// The table is typed { [P in Primitive]: OpEntry<P> }: a Backend op without an entry, or an entry without one of
// its parts, does not compile (test/suites/op-table.ts shows it).

import type { Backend, BatchNormOptions, BatchNormParams, Shape } from './backend.ts';
import { sameConv, BN_DEFAULTS } from './backend.ts';
import { RefBackend } from './reference.ts';
import { UNARY, type UnaryName, unaryKernels, unaryNames } from './table.ts';
import type { KernelDecl } from '../runtime/wgsl-kernel.ts';
import { WGSL } from '../runtime/wgsl-registry.ts';

/** Backend members that move or describe tensors rather than compute on them. */
type Plumbing =
  | 'name'
  | 'maxTensorBytes'
  | 'shape'
  | 'fromHost'
  | 'toHost'
  | 'toHostAll'
  | 'assign'
  | 'reshape'
  | 'release';
export type Primitive = Exclude<keyof Backend<unknown>, Plumbing>;

/** A tensor of no backend in particular: the rules are written once for every backend's tensors. */
export interface Tensor {
  readonly opaque: 'tensor';
}
type Op<P extends Primitive> = NonNullable<Backend<Tensor>[P]>;
export type OpArgs<P extends Primitive> = Parameters<Op<P>>;
export type OpResult<P extends Primitive> = ReturnType<Op<P>>;

/**
 * The kernels/nn exports the table may name (a test checks the compiled module exports each). The element-wise
 * kernels are not here: UNARY names its own, so that an element-wise op stays one entry there.
 */
export const NN_KERNELS = [
  'packPanels',
  'packFlipped',
  'padImage',
  'transpose',
  'convGemm',
  'convWgrad',
  'sumChunks',
  'fill',
  'accumulate',
  'adam',
  'maxPool2',
  'maxPool2Backward',
  'upsample2',
  'upsample2Backward',
  'concat',
  'sliceChannels',
  'regionGather',
  'regionScatter',
  'softmax',
  'argmax',
  'diceLoss',
  'diceBackward',
  'crossEntropy',
  'crossEntropyBackward',
  'l2normalize',
  'l2normalizeBackward',
  'contrastiveLoss',
  'contrastiveBackward',
  'mseLoss',
  'mseBackward',
  'colSums',
  'colSquaredDeviations',
  'bnFinish',
  'bnInvstd',
  'bnApply',
  'bnGradSums',
  'bnGradApply',
  'winogradWeights',
  'winogradConv',
  'winogradGradChunks',
  'winogradWeightsBack',
] as const;
export type NnKernel = (typeof NN_KERNELS)[number];

/** Inputs a rule needs that are not the op's arguments (the contrastive terms' row index). */
interface GradExtra {
  contrastiveLoss: { rows: Tensor };
}
export type GradExtraOf<P extends Primitive> = P extends keyof GradExtra ? GradExtra[P] : undefined;

/**
 * A gradient rule: the gradients of the op's inputs, by name, from its arguments, its result and the gradient
 * `g` of its primary output (primaryOf). `needs(name)` says which are wanted; a rule may skip the others.
 */
export type GradRule<P extends Primitive> = (
  be: Backend<Tensor>,
  a: { args: OpArgs<P>; out: OpResult<P>; g: Tensor; needs: (input: string) => boolean; extra: GradExtraOf<P> },
) => Record<string, Tensor>;

/** The output a gradient flows into: the op's result, or its `y` / `loss`; the other outputs are saved values. */
export function primaryOf(out: unknown): Tensor {
  const o = out as { y?: Tensor; loss?: Tensor };
  return o.y ?? o.loss ?? (out as Tensor);
}

/** A test tensor: random values in [lo, hi] (default [-1, 1]), one-hot rows, or integers in [0, below). */
export type TensorSpec =
  | { tensor: number[]; lo?: number; hi?: number }
  | { onehot: number[] }
  | { ints: number[]; below: number };
/** A test argument: a TensorSpec where the op takes a tensor, the value itself elsewhere. */
type SpecOf<A> = A extends Tensor
  ? TensorSpec
  : A extends readonly number[]
    ? A
    : A extends object
      ? { [K in keyof A]: SpecOf<A[K]> }
      : A;
export type TestArgs<P extends Primitive> = { [K in keyof OpArgs<P>]: SpecOf<OpArgs<P>[K]> };

export interface OpCase<P extends Primitive> {
  label: string;
  args: TestArgs<P>;
  /** Also check the WebGPU GEMM tile variants bitwise (slow: each variant compiles its pipelines). */
  tiles?: boolean;
}

/**
 * The kernel suite's cases: each runs on both backends against the reference, every output and every tensor
 * argument (in-place updates) compared, then the rule's gradients. `with`: a gradient op, checked through the
 * rule of that op; `in`: checked by the named suite (its inputs need more than random tensors).
 */
export type OpTests<P extends Primitive> =
  | {
      cases: OpCase<P>[];
      /** Outputs in the backend's own layout, saved for the gradient (compared through it, not directly). */
      opaque?: string[];
    }
  | { with: Primitive }
  | { in: string };

export type OpEntry<P extends Primitive> = {
  /** The WebGPU kernels the op dispatches (its paths and reductions). */
  webgpu: readonly KernelDecl[];
  /** The kernels/nn exports the WebAssembly backend calls. */
  wasm: readonly NnKernel[];
  /** The float64 reference; null where a backend may leave the op out (the test then names what checks it). */
  reference: P extends keyof RefBackend ? RefBackend[P] : null;
  tests: OpTests<P>;
} & ({ grad: GradRule<P> } | { grad: null; noGrad: string });

const ref = RefBackend.prototype;
const unaryWgsl = (part: 'forward' | 'grad') => unaryNames.map((op: UnaryName) => unaryKernels(op)[part]);

/** A conv test: x [B, H, W, Ci], w [k, k, Ci, Co], bias [Co]. */
const convCase = (B: number, H: number, W: number, Ci: number, Co: number, k: number, tiles = false) => ({
  label: `${k}x${k} B${B} ${H}x${W} ${Ci}->${Co}`,
  args: [{ tensor: [B, H, W, Ci] }, { tensor: [k, k, Ci, Co] }, { tensor: [Co] }, sameConv(k)] as TestArgs<'conv2d'>,
  tiles,
});

/** Each conv case, and the same without a bias. */
const withoutBias = (cs: ReturnType<typeof convCase>[]) => [
  ...cs,
  ...cs.map((c) => ({
    ...c,
    label: `${c.label} without bias`,
    args: [c.args[0], c.args[1], null, c.args[3]] as TestArgs<'conv2d'>,
  })),
];

/** A batch norm's parameters: gamma near 1, moving statistics of a plausible size. */
const bnParams = (C: number): BatchNormParams<TensorSpec> => ({
  gamma: { tensor: [C], lo: 0.5, hi: 1.5 },
  beta: { tensor: [C] },
  runMean: { tensor: [C], lo: -0.5, hi: 0.5 },
  runVar: { tensor: [C], lo: 0.5, hi: 1.5 },
});
// 800 rows: 13 chunks of 64, summed per invocation; 1725 rows: 27 chunks, a workgroup per channel (WIDE)
const bnShapes = [
  [2, 3, 5, 6],
  [1, 7, 7, 20],
  [4, 1, 3, 5],
  [2, 20, 20, 3],
  [3, 25, 23, 4],
];
const bnCases = (relu: boolean) =>
  bnShapes.flatMap((s) => ({
    label: `[${s}]${relu ? ' fused with ReLU' : ''}`,
    args: [{ tensor: s, lo: -2, hi: 3 }, bnParams(s[3]), BN_DEFAULTS, relu] as [
      TensorSpec,
      BatchNormParams<TensorSpec>,
      BatchNormOptions,
      boolean,
    ],
  }));

// the second: 1089 pixels per image, two chunks
const lossShapes = [
  [2, 5, 6, 4],
  [3, 33, 33, 3],
  [1, 7, 4, 8],
];
const logits = (s: number[]): TensorSpec => ({ tensor: s, lo: -3, hi: 3 });
const layoutShapes = [
  [2, 4, 6, 3],
  [1, 5, 7, 8],
  [3, 8, 2, 5],
];
// M, K, N; the last: two K-chunks in xᵀ·dy
const matmulShapes = [
  [3, 5, 4],
  [17, 33, 9],
  [70, 20, 130],
  [2100, 6, 5],
];
const ADAM_TESTS = 'test/suites/kernels.ts adamCase: three steps on 1, 2 and 5 tensors per call, batched vs alone';
const REGION_TESTS = 'test/suites/contrastive.ts regionCase: positions from the local-region table';
const CONTRASTIVE_TESTS = 'test/suites/contrastive.ts: index tensors from each strategy';

export const PRIMITIVES: { [P in Primitive]: OpEntry<P> } = {
  conv2d: {
    webgpu: [WGSL.conv2d_forward, WGSL.conv2d_direct],
    wasm: ['padImage', 'packPanels', 'convGemm', 'winogradWeights', 'winogradConv'],
    reference: ref.conv2d,
    grad: (be, { args: [x, w, bias, spec], g, needs }) => ({
      ...(needs('x') && { x: be.conv2dInputGrad(g, w, spec) }),
      ...(needs('w') && { w: be.conv2dWeightGrad(x, g, spec) }),
      ...(bias && needs('bias') && { bias: be.channelSum(g) }),
    }),
    tests: {
      cases: withoutBias([
        // 3×3 pad 1; 2244 pixels: the weight gradient sums two K-chunks; Cout beyond one 64-wide tile; thin
        // output over two weight-gradient chunks (direct kernel)
        convCase(2, 5, 7, 3, 5, 3),
        convCase(1, 9, 6, 8, 16, 3, true),
        convCase(3, 4, 4, 16, 12, 3),
        convCase(2, 34, 33, 4, 8, 3, true),
        convCase(1, 12, 11, 1, 70, 3, true),
        convCase(2, 35, 31, 6, 3, 3),
        // 2×2 TF SAME (pad 0 before, 1 after)
        convCase(2, 6, 5, 6, 4, 2),
        convCase(1, 7, 8, 12, 9, 2),
        convCase(3, 4, 6, 5, 32, 2, true),
        // 1×1
        convCase(2, 5, 5, 7, 3, 1),
        convCase(1, 8, 3, 16, 16, 1),
        convCase(2, 3, 9, 4, 40, 1),
      ]),
    },
  },
  conv2dInputGrad: {
    webgpu: [WGSL.conv2d_input_grad, WGSL.conv2d_direct],
    wasm: ['padImage', 'packFlipped', 'convGemm', 'winogradWeights', 'winogradConv'],
    reference: ref.conv2dInputGrad,
    grad: null,
    noGrad: "conv2d's gradient (second derivatives are not taken)",
    tests: { with: 'conv2d' },
  },
  conv2dWeightGrad: {
    webgpu: [WGSL.conv2d_weight_grad, WGSL.conv2d_weight_grad_direct, WGSL.reduce_chunks],
    wasm: ['padImage', 'convWgrad', 'sumChunks', 'winogradGradChunks', 'winogradWeightsBack'],
    reference: ref.conv2dWeightGrad,
    grad: null,
    noGrad: "conv2d's gradient",
    tests: { with: 'conv2d' },
  },
  channelSum: {
    webgpu: [WGSL.channel_sums, WGSL.reduce_chunks],
    wasm: ['colSums', 'sumChunks'],
    reference: ref.channelSum,
    grad: null,
    noGrad: "conv2d's bias gradient",
    tests: { with: 'conv2d' },
  },
  batchNormTrain: {
    webgpu: [WGSL.bn_stats, WGSL.bn_finalize, WGSL.bn_apply],
    wasm: ['colSums', 'colSquaredDeviations', 'sumChunks', 'bnFinish', 'bnApply'],
    reference: ref.batchNormTrain,
    // with the fused ReLU, y > 0 exactly where BN's output is: the backward kernels mask g by it
    grad: (be, { args: [x, bn, , relu], out, g }) => {
      const d = be.batchNormBackward(x, g, bn.gamma, out.mean, out.invstd, relu ? out.y : undefined);
      return { x: d.dx, gamma: d.dgamma, beta: d.dbeta };
    },
    tests: { cases: [...bnCases(false), ...bnCases(true)] },
  },
  batchNormInfer: {
    webgpu: [WGSL.bn_apply],
    wasm: ['bnInvstd', 'bnApply'],
    reference: ref.batchNormInfer,
    grad: null,
    noGrad: 'inference only: the tape records no backward pass for it',
    tests: {
      cases: bnShapes.flatMap((s) =>
        [false, true].map((relu) => ({
          label: `[${s}]${relu ? ' fused with ReLU' : ''}`,
          args: [{ tensor: s, lo: -2, hi: 3 }, bnParams(s[3]), BN_DEFAULTS, relu] as TestArgs<'batchNormInfer'>,
        })),
      ),
    },
  },
  conv2dBnReluInfer: {
    webgpu: [WGSL.conv2d_forward, WGSL.conv2d_direct, WGSL.reduce_bn_relu, WGSL.bn_apply],
    wasm: ['padImage', 'packPanels', 'convGemm', 'bnInvstd', 'winogradWeights', 'winogradConv'],
    reference: ref.conv2dBnReluInfer,
    grad: null,
    noGrad: 'inference only',
    tests: {
      // one chunk (the GEMM's epilogue), a split K (K = 288: two chunks), and 32 chunks summed in the wide order
      cases: [
        [2, 5, 6, 3, 5, 3],
        [2, 6, 5, 32, 8, 3, 1],
        [1, 4, 3, 6, 70, 2],
        [1, 3, 3, 512, 4, 3],
      ].map(([B, H, W, Ci, Co, k, tiles]) => ({
        label: `${k}x${k} B${B} ${H}x${W} ${Ci}->${Co}`,
        args: [
          { tensor: [B, H, W, Ci] },
          { tensor: [k, k, Ci, Co], lo: -0.3, hi: 0.3 },
          { tensor: [Co] },
          bnParams(Co),
          sameConv(k),
          BN_DEFAULTS,
        ],
        tiles: tiles === 1,
      })),
    },
  },
  batchNormBackward: {
    webgpu: [WGSL.bn_grad_sums, WGSL.reduce_chunks, WGSL.bn_backward],
    wasm: ['bnGradSums', 'sumChunks', 'bnGradApply'],
    reference: ref.batchNormBackward,
    grad: null,
    noGrad: "batchNormTrain's gradient",
    tests: { with: 'batchNormTrain' },
  },
  unary: {
    webgpu: unaryWgsl('forward'),
    wasm: [],
    reference: ref.unary,
    grad: (be, { args: [op, , attrs], out, g }) => ({ x: be.unaryGrad(op, out, g, attrs) }),
    // each element-wise op on its UNARY entry's shapes and attributes
    tests: {
      cases: unaryNames.flatMap((op) =>
        UNARY[op].tests.shapes.map((s) => ({
          label: `${op} [${s}]`,
          args: [op, { tensor: s }, UNARY[op].tests.attrs] as TestArgs<'unary'>,
        })),
      ),
    },
  },
  unaryGrad: {
    webgpu: unaryWgsl('grad'),
    wasm: [],
    reference: ref.unaryGrad,
    grad: null,
    noGrad: "unary's gradient",
    tests: { with: 'unary' },
  },
  maxPool2: {
    webgpu: [WGSL.maxpool],
    wasm: ['maxPool2'],
    reference: ref.maxPool2,
    grad: (be, { args: [x], out, g }) => ({ x: be.maxPool2Backward(g, out.arg, be.shape(x)) }),
    // odd sizes use TF SAME: the last window is clipped
    tests: { cases: layoutShapes.map((s) => ({ label: `[${s}]`, args: [{ tensor: s }] })), opaque: ['arg'] },
  },
  maxPool2Backward: {
    webgpu: [WGSL.maxpool_backward],
    wasm: ['maxPool2Backward'],
    reference: ref.maxPool2Backward,
    grad: null,
    noGrad: "maxPool2's gradient",
    tests: { with: 'maxPool2' },
  },
  upsample2: {
    webgpu: [WGSL.upsample],
    wasm: ['upsample2'],
    reference: ref.upsample2,
    grad: (be, { g }) => ({ x: be.upsample2Backward(g) }),
    tests: { cases: layoutShapes.map((s) => ({ label: `[${s}]`, args: [{ tensor: s }] })) },
  },
  upsample2Backward: {
    webgpu: [WGSL.upsample_backward],
    wasm: ['upsample2Backward'],
    reference: ref.upsample2Backward,
    grad: null,
    noGrad: "upsample2's gradient",
    tests: { with: 'upsample2' },
  },
  concat: {
    webgpu: [WGSL.copy_channels],
    wasm: ['concat'],
    reference: ref.concat,
    grad: (be, { args: [a, b], g, needs }) => {
      const ca = channels(be.shape(a));
      return {
        ...(needs('a') && { a: be.sliceChannels(g, 0, ca) }),
        ...(needs('b') && { b: be.sliceChannels(g, ca, channels(be.shape(b))) }),
      };
    },
    tests: {
      cases: layoutShapes.map((s) => ({
        label: `[${s}]`,
        args: [{ tensor: s }, { tensor: [...s.slice(0, 3), s[3] + 2] }],
      })),
    },
  },
  sliceChannels: {
    webgpu: [WGSL.copy_channels],
    wasm: ['sliceChannels'],
    reference: ref.sliceChannels,
    grad: null,
    noGrad: "concat's gradient",
    tests: { with: 'concat' },
  },
  matmul: {
    webgpu: [WGSL.matmul, WGSL.conv2d_direct, WGSL.conv2d_weight_grad_direct, WGSL.reduce_chunks],
    wasm: ['transpose', 'packPanels', 'convGemm'],
    reference: ref.matmul,
    grad: (be, { args: [a, b, ta, tb], g, needs }) => ({
      // C = op(a)·op(b): d op(a) = g·op(b)ᵀ, d op(b) = op(a)ᵀ·g, transposed back where op transposed
      ...(needs('a') && { a: ta ? be.matmul(b, g, tb, true) : be.matmul(g, b, false, !tb) }),
      ...(needs('b') && { b: tb ? be.matmul(g, a, true, ta) : be.matmul(a, g, !ta, false) }),
    }),
    tests: {
      cases: matmulShapes.map(([M, K, N]) => ({
        label: `${M}x${K} · ${K}x${N}`,
        args: [{ tensor: [M, K] }, { tensor: [K, N] }, false, false],
        tiles: M >= 70,
      })),
    },
  },
  softmax: {
    webgpu: [WGSL.softmax],
    wasm: ['softmax'],
    reference: ref.softmax,
    grad: null,
    noGrad: 'not differentiated alone: the losses take logits and differentiate through their softmax',
    tests: { cases: lossShapes.map((s) => ({ label: `[${s}]`, args: [logits(s)] })) },
  },
  argmax: {
    webgpu: [WGSL.argmax],
    wasm: ['argmax'],
    reference: ref.argmax,
    grad: null,
    noGrad: 'piecewise constant: labels are not differentiated',
    tests: { cases: lossShapes.map((s) => ({ label: `[${s}]`, args: [logits(s)] })) },
  },
  argmaxU8: {
    webgpu: [WGSL.argmax_u8],
    wasm: [],
    reference: null,
    grad: null,
    noGrad: 'piecewise constant',
    tests: { in: "test/suites/inference.ts: against argmax's labels (the GPU's packing)" },
  },
  diceLoss: {
    webgpu: [WGSL.softmax, WGSL.dice_sums, WGSL.dice_loss],
    wasm: ['softmax', 'diceLoss'],
    reference: ref.diceLoss,
    grad: (be, { args: [, y], out, g }) => ({ z: be.diceBackward(out.probs, y, out.stats, g) }),
    tests: { cases: lossShapes.map((s) => ({ label: `[${s}]`, args: [logits(s), { onehot: s }, 1e-10] })) },
  },
  diceBackward: {
    webgpu: [WGSL.dice_backward],
    wasm: ['diceBackward'],
    reference: ref.diceBackward,
    grad: null,
    noGrad: "diceLoss's gradient",
    tests: { with: 'diceLoss' },
  },
  crossEntropy: {
    webgpu: [WGSL.softmax, WGSL.ce_sums, WGSL.ce_loss],
    wasm: ['softmax', 'crossEntropy'],
    reference: ref.crossEntropy,
    grad: (be, { args: [, y, wk], out, g }) => ({ z: be.crossEntropyBackward(out.probs, y, wk, g) }),
    tests: {
      cases: lossShapes.map((s) => ({
        label: `[${s}]`,
        args: [logits(s), { onehot: s }, { tensor: [s[3]], lo: 0.1, hi: 1 }],
      })),
    },
  },
  crossEntropyBackward: {
    webgpu: [WGSL.ce_backward],
    wasm: ['crossEntropyBackward'],
    reference: ref.crossEntropyBackward,
    grad: null,
    noGrad: "crossEntropy's gradient",
    tests: { with: 'crossEntropy' },
  },
  l2normalize: {
    webgpu: [WGSL.l2norm],
    wasm: ['l2normalize'],
    reference: ref.l2normalize,
    grad: (be, { out, g }) => ({ x: be.l2normalizeBackward(out.y, out.norms, g) }),
    tests: {
      cases: [
        [3, 7],
        [12, 128],
        [40, 33],
      ].map((s) => ({ label: `${s[0]}x${s[1]}`, args: [{ tensor: s }] })),
    },
  },
  l2normalizeBackward: {
    webgpu: [WGSL.l2norm_backward],
    wasm: ['l2normalizeBackward'],
    reference: ref.l2normalizeBackward,
    grad: null,
    noGrad: "l2normalize's gradient",
    tests: { with: 'l2normalize' },
  },
  contrastiveLoss: {
    webgpu: [WGSL.contrastive_loss, WGSL.reduce_chunks],
    wasm: ['contrastiveLoss'],
    reference: ref.contrastiveLoss,
    grad: (be, { args: [s, pairs, mask, invTau, scale], out, g, extra }) => ({
      s: be.contrastiveBackward(s, pairs, mask, out.lse, extra.rows, g, invTau, scale),
    }),
    tests: { in: CONTRASTIVE_TESTS },
  },
  contrastiveBackward: {
    webgpu: [WGSL.contrastive_backward],
    wasm: ['contrastiveBackward'],
    reference: ref.contrastiveBackward,
    grad: null,
    noGrad: "contrastiveLoss's gradient",
    tests: { in: CONTRASTIVE_TESTS },
  },
  mseLoss: {
    webgpu: [WGSL.mse_sums, WGSL.reduce_chunks],
    wasm: ['mseLoss'],
    reference: ref.mseLoss,
    grad: (be, { args: [y, t], g }) => ({ y: be.mseBackward(y, t, g) }),
    tests: { cases: lossShapes.map((s) => ({ label: `[${s}]`, args: [logits(s), { tensor: s, lo: -2, hi: 2 }] })) },
  },
  mseBackward: {
    webgpu: [WGSL.mse_backward],
    wasm: ['mseBackward'],
    reference: ref.mseBackward,
    grad: null,
    noGrad: "mseLoss's gradient",
    tests: { with: 'mseLoss' },
  },
  regionGather: {
    webgpu: [WGSL.region_gather],
    wasm: ['regionGather'],
    reference: ref.regionGather,
    grad: (be, { args: [x, positions, R], g }) => ({ x: be.regionScatter(g, positions, R, be.shape(x)) }),
    tests: { in: REGION_TESTS },
  },
  regionScatter: {
    webgpu: [WGSL.region_scatter],
    wasm: ['regionScatter'],
    reference: ref.regionScatter,
    grad: null,
    noGrad: "regionGather's gradient",
    tests: { in: REGION_TESTS },
  },
  accumulate: {
    webgpu: [WGSL.accumulate],
    wasm: ['accumulate'],
    reference: ref.accumulate,
    grad: null,
    noGrad: 'an in-place update: the tape uses it to add gradients',
    tests: {
      cases: [[7], [3, 1500]].map((s) => ({ label: `[${s}]`, args: [{ tensor: s }, { tensor: s }] })),
    },
  },
  adam: {
    webgpu: [WGSL.adam, WGSL.adam4],
    wasm: ['adam'],
    reference: ref.adam,
    grad: null,
    noGrad: 'the optimiser step',
    tests: { in: ADAM_TESTS },
  },
  full: {
    webgpu: [WGSL.fill],
    wasm: ['fill'],
    reference: ref.full,
    grad: null,
    noGrad: 'a constant',
    tests: { cases: [{ label: '[3, 700] = 0.25', args: [[3, 700], 0.25] }] },
  },
};

const channels = (s: Shape) => s[s.length - 1];

export const primitiveNames = Object.keys(PRIMITIVES) as Primitive[];
