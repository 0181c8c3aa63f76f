// Every kernel against the float64 reference: random non-zero inputs, several shapes (including sizes that are
// not multiples of the tiles and reductions over several chunks), forward and every gradient, with each output
// filled with NaN before its kernel runs (poison mode). The cases run on the WGSL backend, and those that are not
// about GPU kernel paths again on the WebAssembly backend ('wasm: …'), which has its own cases below.

import { type TestCase, type TestEnv, assertClose, assertBitwise, f32, assert } from '../harness.ts';
import { type Backend, type ConvSpec, sameConv, ADAM_DEFAULTS, BN_DEFAULTS } from '../../src/ops/backend.ts';
import type { GpuTensor } from '../../src/runtime/runtime.ts';
import type { RefTensor } from '../../src/ops/reference.ts';
import type { WasmTensor } from '../../src/ops/wasm.ts';
import { Rng } from '../../src/util/random.ts';
import { CHUNK, gemmTile, type TileChoice } from '../../src/ops/webgpu.ts';
import { UNARY, type UnaryName, unaryNames } from '../../src/ops/table.ts';

/** A tensor of a backend under test: both free their storage with release(). */
type Tensor = GpuTensor | WasmTensor;
export type Pair<T extends Tensor = GpuTensor> = { g: T; r: RefTensor };

/** Upload the same float32-rounded values to a backend under test and to the reference. */
function pairOf<T extends Tensor>(env: TestEnv, be: Backend<T>, data: ArrayLike<number>, shape: number[]): Pair<T> {
  return { g: be.fromHost(data, shape), r: env.ref.fromHost(data, shape) };
}

const randomData = (rng: Rng, shape: number[], lo: number, hi: number) =>
  f32(
    rng.array(
      shape.reduce((a, b) => a * b, 1),
      lo,
      hi,
      0.01,
    ),
  );

function onehotData(rng: Rng, shape: number[]): Float64Array {
  const K = shape[shape.length - 1],
    rows = shape.reduce((a, b) => a * b, 1) / K;
  const data = new Float64Array(rows * K);
  for (let r = 0; r < rows; r++) data[r * K + rng.int(K)] = 1;
  return data;
}

async function checkOn<T extends Tensor>(be: Backend<T>, what: string, g: T, r: RefTensor, tol = 1e-4): Promise<void> {
  assert(be.shape(g).join() === r.shape.join(), `${what}: shape [${be.shape(g)}] vs reference [${r.shape}]`);
  assertClose(what, await be.toHost(g), r.data, tol);
}

/** The helpers of one backend under test. */
interface Kit<T extends Tensor> {
  be: Backend<T>;
  input(rng: Rng, shape: number[], lo?: number, hi?: number): Pair<T>;
  onehot(rng: Rng, shape: number[]): Pair<T>;
  check(what: string, g: T, r: RefTensor, tol?: number): Promise<void>;
}

export function kit<T extends Tensor>(env: TestEnv, be: Backend<T>): Kit<T> {
  return {
    be,
    input: (rng, shape, lo = -1, hi = 1) => pairOf(env, be, randomData(rng, shape, lo, hi), shape),
    onehot: (rng, shape) => pairOf(env, be, onehotData(rng, shape), shape),
    check: (what, g, r, tol) => checkOn(be, what, g, r, tol),
  };
}

/** A backend the generic cases run on, and the prefix of their names there. */
export interface Side {
  prefix: string;
  be(env: TestEnv): Backend<Tensor>;
}
export const GPU_SIDE: Side = { prefix: '', be: (env) => env.gpu as Backend<Tensor> };
export const WASM_SIDE: Side = { prefix: 'wasm: ', be: (env) => env.wasm as Backend<Tensor> };

export function input(env: TestEnv, rng: Rng, shape: number[], lo = -1, hi = 1): Pair {
  return pairOf(env, env.gpu, randomData(rng, shape, lo, hi), shape);
}

export async function check(env: TestEnv, what: string, g: GpuTensor, r: RefTensor, tol = 1e-4): Promise<void> {
  return checkOn(env.gpu, what, g, r, tol);
}

export function release(...ps: (Pair<Tensor> | Tensor)[]): void {
  for (const p of ps) ('g' in p ? p.g : p).release();
}

// tiles: also check the tile variants bitwise (checkTiles; each variant compiles pipelines, slow under Deno on lavapipe)
const convShapes: { B: number; H: number; W: number; Ci: number; Co: number; k: number; tiles?: boolean }[] = [
  // 3×3 pad 1
  { B: 2, H: 5, W: 7, Ci: 3, Co: 5, k: 3 },
  { B: 1, H: 9, W: 6, Ci: 8, Co: 16, k: 3, tiles: true },
  { B: 3, H: 4, W: 4, Ci: 16, Co: 12, k: 3 },
  { B: 2, H: 34, W: 33, Ci: 4, Co: 8, k: 3, tiles: true }, // 2244 pixels: the weight gradient sums two K-chunks
  { B: 1, H: 12, W: 11, Ci: 1, Co: 70, k: 3, tiles: true }, // Cout beyond one 64-wide tile
  { B: 2, H: 35, W: 31, Ci: 6, Co: 3, k: 3 }, // thin output over two weight-gradient chunks (direct kernel)
  // 2×2 TF SAME (pad 0 before, 1 after)
  { B: 2, H: 6, W: 5, Ci: 6, Co: 4, k: 2 },
  { B: 1, H: 7, W: 8, Ci: 12, Co: 9, k: 2 },
  { B: 3, H: 4, W: 6, Ci: 5, Co: 32, k: 2, tiles: true },
  // 1×1
  { B: 2, H: 5, W: 5, Ci: 7, Co: 3, k: 1 },
  { B: 1, H: 8, W: 3, Ci: 16, Co: 16, k: 1 },
  { B: 2, H: 3, W: 9, Ci: 4, Co: 40, k: 1 },
];

/** Tiles other than gemmTile's (what bench/tiles.ts sweeps): k-fastest A loads, thin and wide tiles, short k-steps. */
const tileVariants = [
  { WX: 4, WY: 16, RB: 4, TK: 8, AK: true },
  { WX: 8, WY: 8, RB: 2, TK: 16, AK: true },
  { WX: 2, WY: 32, RB: 1, TK: 32, AK: false },
  { WX: 16, WY: 4, RB: 4, TK: 4, AK: true },
];

/**
 * The GEMM path's outputs under each tile variant are bit-identical to gemmTile's: a tile only changes which
 * thread computes an output, never the order of its additions (so a tuned tile table keeps seeded runs' bits).
 */
async function checkTiles(env: TestEnv, outputs: () => GpuTensor[]): Promise<void> {
  const saved = { choice: env.gpu.convChoice, tiles: env.gpu.tileChoice };
  env.gpu.convChoice = { directForward: () => false, directInputGrad: () => false, directWeightGrad: () => false };
  try {
    const base = outputs();
    const want = await Promise.all(base.map((t) => env.gpu.toHost(t)));
    base.forEach((t) => t.release());
    // the variants, and a GPU's default tiles (cpuAdapter false) on whatever adapter runs the tests. In a browser
    // only the latter: browsers on a GPU run it, the variants serve bench/tiles.ts in Node and Deno (checked
    // there), and each variant's pipelines take SwiftShader seconds to compile (the CI's time limit)
    const variants = env.rt.gpu.info.runtime === 'browser' ? [] : tileVariants;
    const choices: [string, TileChoice][] = [
      ...variants.map((v): [string, TileChoice] => [JSON.stringify(v), () => v]),
      ['GPU default', (_, m, n, k) => gemmTile(m, n, k, 256, 1, false)],
    ];
    for (const [v, choice] of choices) {
      env.gpu.tileChoice = choice;
      const got = outputs();
      for (let i = 0; i < got.length; i++) {
        const g = await env.gpu.toHost(got[i]);
        const j = g.findIndex((x, k) => !Object.is(x, want[i][k]));
        assert(j < 0, `tile ${v}, output ${i}: element ${j} is ${g[j]}, gemmTile's tile gave ${want[i][j]}`);
      }
      got.forEach((t) => t.release());
    }
  } finally {
    env.gpu.convChoice = saved.choice;
    env.gpu.tileChoice = saved.tiles;
  }
}

type ConvShape = (typeof convShapes)[number];

const convCases = (side: Side): TestCase[] =>
  convShapes.map((s) => ({
    name: `${side.prefix}conv2d ${s.k}x${s.k} B${s.B} ${s.H}x${s.W} ${s.Ci}->${s.Co}: forward, input/weight/bias gradients`,
    async run(env) {
      const on = kit(env, side.be(env)),
        be = on.be;
      const rng = new Rng(s.B * 1000 + s.H * 100 + s.Ci * 10 + s.Co + s.k);
      const spec: ConvSpec = sameConv(s.k);
      const x = on.input(rng, [s.B, s.H, s.W, s.Ci]);
      const w = on.input(rng, [s.k, s.k, s.Ci, s.Co]);
      const b = on.input(rng, [s.Co]);
      const dy = on.input(rng, [s.B, s.H, s.W, s.Co]);
      const yg = be.conv2d(x.g, w.g, b.g, spec),
        yr = env.ref.conv2d(x.r, w.r, b.r, spec);
      await on.check('forward', yg, yr);
      const y0g = be.conv2d(x.g, w.g, null, spec),
        y0r = env.ref.conv2d(x.r, w.r, null, spec);
      await on.check('forward without bias', y0g, y0r);
      if (side === GPU_SIDE) await gpuConvPaths(env, s, spec, [x, w, b, dy] as Pair[], yr);
      const dxg = be.conv2dInputGrad(dy.g, w.g, spec);
      await on.check('input gradient', dxg, env.ref.conv2dInputGrad(dy.r, w.r, spec));
      const dwg = be.conv2dWeightGrad(x.g, dy.g, spec);
      await on.check('weight gradient', dwg, env.ref.conv2dWeightGrad(x.r, dy.r, spec));
      const dbg = be.channelSum(dy.g);
      await on.check('bias gradient', dbg, env.ref.channelSum(dy.r));
      release(x, w, b, dy, yg, y0g, dxg, dwg, dbg);
    },
  }));

/**
 * Every WGSL kernel path on every shape: the direct kernels (weights staged in workgroup memory or read from the
 * buffer), and the GEMM with 1, 2 and 4 row groups per thread; then the tile variants bitwise.
 */
async function gpuConvPaths(
  env: TestEnv,
  s: ConvShape,
  spec: ConvSpec,
  [x, w, b, dy]: Pair[],
  yr: RefTensor,
): Promise<void> {
  const saved = { options: { ...env.gpu.options }, choice: env.gpu.convChoice };
  const paths = [
    ['direct, staged', true, true, 4],
    ['direct', true, false, 4],
    ['GEMM, RB=1', false, false, 1],
    ['GEMM, RB=2', false, false, 2],
    ['GEMM, RB=4', false, false, 4],
  ] as const;
  try {
    for (const [label, direct, staged, rb] of paths) {
      env.gpu.convChoice = {
        directForward: () => direct,
        directInputGrad: () => direct,
        directWeightGrad: () => direct,
      };
      Object.assign(env.gpu.options, { directStaging: staged, gemmRows: rb });
      const yk = env.gpu.conv2d(x.g, w.g, b.g, spec);
      await check(env, `forward (${label})`, yk, yr);
      const dk = env.gpu.conv2dInputGrad(dy.g, w.g, spec);
      await check(env, `input gradient (${label})`, dk, env.ref.conv2dInputGrad(dy.r, w.r, spec));
      const wk = env.gpu.conv2dWeightGrad(x.g, dy.g, spec);
      await check(env, `weight gradient (${label})`, wk, env.ref.conv2dWeightGrad(x.r, dy.r, spec));
      [yk, dk, wk].forEach((t) => t.release());
    }
  } finally {
    Object.assign(env.gpu.options, saved.options);
    env.gpu.convChoice = saved.choice;
  }
  if (s.tiles)
    await checkTiles(env, () => [
      env.gpu.conv2d(x.g, w.g, b.g, spec),
      env.gpu.conv2dInputGrad(dy.g, w.g, spec),
      env.gpu.conv2dWeightGrad(x.g, dy.g, spec),
    ]);
}

const bnShapes = [
  [2, 3, 5, 6],
  [1, 7, 7, 20],
  [4, 1, 3, 5],
  [2, 20, 20, 3],
  [3, 25, 23, 4],
]; // 800 rows: 13 chunks of 64, summed per invocation; 1725 rows: 27 chunks, a workgroup per channel (WIDE)

const bnCases = (side: Side): TestCase[] =>
  bnShapes.map((shape) => ({
    name:
      side.prefix +
      `batch norm [${shape}]: training forward + moving averages, gradients, inference; the same fused with ReLU`,
    async run(env) {
      const on = kit(env, side.be(env));
      const rng = new Rng(shape.reduce((a, b) => a * 7 + b, 3));
      const C = shape[3];
      const x = on.input(rng, shape, -2, 3);
      const gamma = on.input(rng, [C], 0.5, 1.5),
        beta = on.input(rng, [C]);
      const rm = on.input(rng, [C], -0.5, 0.5),
        rv = on.input(rng, [C], 0.5, 1.5);
      const bnG = { gamma: gamma.g, beta: beta.g, runMean: rm.g, runVar: rv.g },
        bnR = { gamma: gamma.r, beta: beta.r, runMean: rm.r, runVar: rv.r };
      const dy = on.input(rng, shape);
      const tg = on.be.batchNormTrain(x.g, bnG, BN_DEFAULTS);
      const tr = env.ref.batchNormTrain(x.r, bnR, BN_DEFAULTS);
      await on.check('y', tg.y, tr.y);
      await on.check('batch mean', tg.mean, tr.mean);
      await on.check('1/sqrt(var + eps)', tg.invstd, tr.invstd);
      await on.check('moving mean', rm.g, rm.r);
      await on.check('moving variance', rv.g, rv.r);
      const bg = on.be.batchNormBackward(x.g, dy.g, gamma.g, tg.mean, tg.invstd);
      const br = env.ref.batchNormBackward(x.r, dy.r, gamma.r, tr.mean, tr.invstd);
      await on.check('dx', bg.dx, br.dx);
      await on.check('dgamma', bg.dgamma, br.dgamma);
      await on.check('dbeta', bg.dbeta, br.dbeta);
      const ig = on.be.batchNormInfer(x.g, bnG, BN_DEFAULTS);
      await on.check('inference y', ig, env.ref.batchNormInfer(x.r, bnR, BN_DEFAULTS));
      // BN + ReLU fused (a conv block): about half of x·gamma + beta is negative here, so the mask cuts both ways
      const fg = on.be.batchNormTrain(x.g, bnG, BN_DEFAULTS, true);
      const fr = env.ref.batchNormTrain(x.r, bnR, BN_DEFAULTS, true);
      await on.check('relu(y)', fg.y, fr.y);
      await on.check('moving variance after a second step', rv.g, rv.r);
      const fbg = on.be.batchNormBackward(x.g, dy.g, gamma.g, fg.mean, fg.invstd, fg.y);
      const fbr = env.ref.batchNormBackward(x.r, dy.r, gamma.r, fr.mean, fr.invstd, fr.y);
      await on.check('dx through the relu', fbg.dx, fbr.dx);
      await on.check('dgamma through the relu', fbg.dgamma, fbr.dgamma);
      await on.check('dbeta through the relu', fbg.dbeta, fbr.dbeta);
      const fig = on.be.batchNormInfer(x.g, bnG, BN_DEFAULTS, true);
      await on.check('inference relu(y)', fig, env.ref.batchNormInfer(x.r, bnR, BN_DEFAULTS, true));
      release(x, gamma, beta, rm, rv, dy, tg.y, tg.mean, tg.invstd, bg.dx, bg.dgamma, bg.dbeta, ig);
      release(fg.y, fg.mean, fg.invstd, fbg.dx, fbg.dgamma, fbg.dbeta, fig);
    },
  }));

// conv block at inference (conv → BN with moving statistics → ReLU), fused on the GEMM path: one chunk (the GEMM's
// epilogue), a split K (the epilogue of the chunks' sum), and a K split into more chunks than a plain sum takes
// (the wide order, run unfused); the direct kernels run it unfused
interface InferBlockShape {
  B: number;
  H: number;
  W: number;
  Ci: number;
  Co: number;
  k: number;
  tiles?: boolean;
}
const inferBlockShapes: InferBlockShape[] = [
  { B: 2, H: 5, W: 6, Ci: 3, Co: 5, k: 3 },
  { B: 2, H: 6, W: 5, Ci: 32, Co: 8, k: 3, tiles: true }, // K = 288: two chunks (tile variants and one image alone, bitwise)
  { B: 1, H: 4, W: 3, Ci: 6, Co: 70, k: 2 },
  { B: 1, H: 3, W: 3, Ci: 512, Co: 4, k: 3 }, // K = 4608: 32 chunks, summed in the wide order
];

/** A conv block's inputs (drawn in one order on either backend), its batch norm, and the reference's output. */
function inferBlock<T extends Tensor>(env: TestEnv, on: Kit<T>, s: InferBlockShape) {
  const rng = new Rng(s.B * 1000 + s.H * 100 + s.Ci * 10 + s.Co + s.k + 7);
  const x = on.input(rng, [s.B, s.H, s.W, s.Ci]),
    w = on.input(rng, [s.k, s.k, s.Ci, s.Co], -0.3, 0.3),
    b = on.input(rng, [s.Co]);
  const gamma = on.input(rng, [s.Co], 0.5, 1.5),
    beta = on.input(rng, [s.Co]);
  const rm = on.input(rng, [s.Co], -0.5, 0.5),
    rv = on.input(rng, [s.Co], 0.5, 1.5);
  const bnR = { gamma: gamma.r, beta: beta.r, runMean: rm.r, runVar: rv.r };
  const want = env.ref.conv2dBnReluInfer(x.r, w.r, b.r, bnR, sameConv(s.k), BN_DEFAULTS);
  const zeros = want.data.filter((v) => v === 0).length;
  assert(
    zeros > 0 && zeros < want.size,
    `the ReLU should cut some outputs and keep others (${zeros} of ${want.size} are 0)`,
  );
  const bnG = { gamma: gamma.g, beta: beta.g, runMean: rm.g, runVar: rv.g };
  return { x, w, b, bnG, want, inputs: [x, w, b, gamma, beta, rm, rv] };
}

const inferBlockCases: TestCase[] = inferBlockShapes.map((s) => ({
  name: `conv block at inference ${s.k}x${s.k} B${s.B} ${s.H}x${s.W} ${s.Ci}->${s.Co}: relu(BN(conv + bias)) fused and unfused`,
  async run(env) {
    const spec: ConvSpec = sameConv(s.k);
    const { x, w, b, bnG, want, inputs } = inferBlock(env, kit(env, env.gpu), s);
    const saved = env.gpu.convChoice;
    try {
      for (const direct of [true, false]) {
        env.gpu.convChoice = {
          directForward: () => direct,
          directInputGrad: () => direct,
          directWeightGrad: () => direct,
        };
        const got = env.gpu.conv2dBnReluInfer(x.g, w.g, b.g, bnG, spec, BN_DEFAULTS);
        await check(env, direct ? 'direct kernels' : 'GEMM', got, want);
        got.release();
      }
    } finally {
      env.gpu.convChoice = saved;
    }
    if (s.tiles) {
      const block = (input: GpuTensor) => env.gpu.conv2dBnReluInfer(input, w.g, b.g, bnG, spec, BN_DEFAULTS);
      await checkTiles(env, () => [block(x.g)]);
      // the K-chunks follow the layer, not the batch: the last image alone gives its bits in the batch (GEMM path),
      // with the partials' budget set to exactly one image's two chunks, so that a rule counting the batch's pixels would differ
      env.gpu.convChoice = { directForward: () => false, directInputGrad: () => false, directWeightGrad: () => false };
      const budget = CHUNK.rowSplitOutputs;
      CHUNK.rowSplitOutputs = 2 * s.H * s.W * s.Co;
      try {
        const per = s.H * s.W * s.Ci,
          last = env.gpu.fromHost((await env.gpu.toHost(x.g)).subarray((s.B - 1) * per), [1, s.H, s.W, s.Ci]);
        const [whole, alone] = [block(x.g), block(last)];
        const out = s.H * s.W * s.Co;
        assertBitwise(
          'the last image alone vs in the batch',
          await env.gpu.toHost(alone),
          (await env.gpu.toHost(whole)).subarray((s.B - 1) * out),
        );
        [last, whole, alone].forEach((t) => t.release());
      } finally {
        env.gpu.convChoice = saved;
        CHUNK.rowSplitOutputs = budget;
      }
    }
    release(...inputs);
  },
}));

const layoutShapes = [
  [2, 4, 6, 3],
  [1, 5, 7, 8],
  [3, 8, 2, 5],
];

const layoutCases = (side: Side): TestCase[] =>
  layoutShapes.map((shape) => ({
    name: `${side.prefix}max-pool 2x2, upsample x2, concat [${shape}]: forward and gradients`,
    async run(env) {
      const on = kit(env, side.be(env));
      const rng = new Rng(shape.reduce((a, b) => a * 5 + b, 11));
      const [B, H, W, C] = shape;
      const x = on.input(rng, shape);
      // max-pool (odd sizes use TF SAME: the last window is clipped)
      const pg = on.be.maxPool2(x.g),
        pr = env.ref.maxPool2(x.r);
      await on.check('max-pool', pg.y, pr.y);
      const dp = on.input(rng, [...pr.y.shape]);
      const dpg = on.be.maxPool2Backward(dp.g, pg.arg, shape);
      await on.check('max-pool gradient', dpg, env.ref.maxPool2Backward(dp.r, pr.arg, shape));
      // upsample
      const ug = on.be.upsample2(x.g),
        ur = env.ref.upsample2(x.r);
      await on.check('upsample', ug, ur);
      const du = on.input(rng, [B, 2 * H, 2 * W, C]);
      const dug = on.be.upsample2Backward(du.g);
      await on.check('upsample gradient', dug, env.ref.upsample2Backward(du.r));
      // concat and its gradient (channel slices)
      const z = on.input(rng, [B, H, W, C + 2]);
      const cg = on.be.concat(x.g, z.g),
        cr = env.ref.concat(x.r, z.r);
      await on.check('concat', cg, cr);
      const s1g = on.be.sliceChannels(cg, 0, C),
        s2g = on.be.sliceChannels(cg, C, C + 2);
      await on.check('slice (first input)', s1g, env.ref.sliceChannels(cr, 0, C));
      await on.check('slice (second input)', s2g, env.ref.sliceChannels(cr, C, C + 2));
      release(x, pg.y, pg.arg, dp, dpg, ug, du, dug, z, cg, s1g, s2g);
    },
  }));

/** Every op of the element-wise op table on its own test shapes: forward and gradient against the reference. */
const unaryCases = (side: Side): TestCase[] =>
  unaryNames.flatMap((op: UnaryName) =>
    UNARY[op].tests.shapes.map((shape) => ({
      name: `${side.prefix}${op} [${shape}]: forward and gradient (op table)`,
      async run(env: TestEnv) {
        const on = kit(env, side.be(env)),
          attrs = UNARY[op].tests.attrs;
        const rng = new Rng(shape.reduce((a, b) => a * 5 + b, op.length));
        const x = on.input(rng, shape),
          dy = on.input(rng, shape);
        const yg = on.be.unary(op, x.g, attrs),
          yr = env.ref.unary(op, x.r, attrs);
        await on.check(op, yg, yr);
        const dxg = on.be.unaryGrad(op, yg, dy.g, attrs);
        await on.check(`${op} gradient`, dxg, env.ref.unaryGrad(op, yr, dy.r, attrs));
        release(x, dy, yg, dxg);
      },
    })),
  );

const matmulShapes = [
  [3, 5, 4],
  [17, 33, 9],
  [70, 20, 130],
  [2100, 6, 5],
]; // M, K, N; the last: two K-chunks in xᵀ·dy

const denseCases: TestCase[] = matmulShapes.map(([M, K, N]) => ({
  name: `dense ${M}x${K} · ${K}x${N}: forward, input and weight gradients (transposed matmuls)`,
  async run(env) {
    const rng = new Rng(M * 31 + K * 7 + N);
    const x = input(env, rng, [M, K]),
      w = input(env, rng, [K, N]),
      dy = input(env, rng, [M, N]);
    const saved = { rows: env.gpu.options.gemmRows, choice: env.gpu.convChoice };
    let yg!: GpuTensor, dxg!: GpuTensor, dwg!: GpuTensor;
    try {
      for (const [label, direct, rb] of [
        ['direct', true, 4],
        ['GEMM, RB=1', false, 1],
        ['GEMM, RB=2', false, 2],
        ['GEMM, RB=4', false, 4],
      ] as const) {
        env.gpu.convChoice = {
          directForward: () => direct,
          directInputGrad: () => direct,
          directWeightGrad: () => direct,
        };
        env.gpu.options.gemmRows = rb;
        if (yg) [yg, dxg, dwg].forEach((t) => t.release());
        yg = env.gpu.matmul(x.g, w.g, false, false);
        await check(env, `x·w (${label})`, yg, env.ref.matmul(x.r, w.r, false, false));
        dxg = env.gpu.matmul(dy.g, w.g, false, true);
        await check(env, `dy·wᵀ (${label})`, dxg, env.ref.matmul(dy.r, w.r, false, true));
        dwg = env.gpu.matmul(x.g, dy.g, true, false);
        await check(env, `xᵀ·dy (${label})`, dwg, env.ref.matmul(x.r, dy.r, true, false));
      }
    } finally {
      env.gpu.options.gemmRows = saved.rows;
      env.gpu.convChoice = saved.choice;
    }
    if (M === 70 || M === 2100)
      await checkTiles(env, () => [
        env.gpu.matmul(x.g, w.g, false, false),
        env.gpu.matmul(dy.g, w.g, false, true),
        env.gpu.matmul(x.g, dy.g, true, false),
      ]);
    release(x, w, dy, yg, dxg, dwg);
  },
}));

/** The three matmuls of a dense layer on the wasm backend (one kernel path: the packed GEMM). */
const wasmDenseCases: TestCase[] = matmulShapes.map(([M, K, N]) => ({
  name: `wasm: dense ${M}x${K} · ${K}x${N}: forward, input and weight gradients (transposed matmuls)`,
  async run(env) {
    const on = kit(env, env.wasm),
      rng = new Rng(M * 31 + K * 7 + N);
    const x = on.input(rng, [M, K]),
      w = on.input(rng, [K, N]),
      dy = on.input(rng, [M, N]);
    const yg = env.wasm.matmul(x.g, w.g, false, false);
    await on.check('x·w', yg, env.ref.matmul(x.r, w.r, false, false));
    const dxg = env.wasm.matmul(dy.g, w.g, false, true);
    await on.check('dy·wᵀ', dxg, env.ref.matmul(dy.r, w.r, false, true));
    const dwg = env.wasm.matmul(x.g, dy.g, true, false);
    await on.check('xᵀ·dy', dwg, env.ref.matmul(x.r, dy.r, true, false));
    release(x, w, dy, yg, dxg, dwg);
  },
}));

/**
 * The wasm conv block at inference: the GEMM's epilogue gives the bits of conv2d then batchNormInfer with ReLU,
 * and an image's output does not depend on the batch around it.
 */
const wasmInferBlockCases: TestCase[] = inferBlockShapes.map((s) => ({
  name: `wasm: conv block at inference ${s.k}x${s.k} B${s.B} ${s.H}x${s.W} ${s.Ci}->${s.Co}: relu(BN(conv + bias)) fused and unfused`,
  async run(env) {
    const on = kit(env, env.wasm),
      be = env.wasm;
    const spec: ConvSpec = sameConv(s.k);
    const { x, w, b, bnG, want, inputs } = inferBlock(env, on, s);
    const block = (t: WasmTensor) => be.conv2dBnReluInfer(t, w.g, b.g, bnG, spec, BN_DEFAULTS);
    const fused = block(x.g);
    await on.check('fused', fused, want);
    const conv = be.conv2d(x.g, w.g, b.g, spec),
      unfused = be.batchNormInfer(conv, bnG, BN_DEFAULTS, true);
    assertBitwise('fused vs conv2d then batchNormInfer', await be.toHost(fused), await be.toHost(unfused));
    const per = s.H * s.W * s.Ci,
      out = s.H * s.W * s.Co;
    const last = be.fromHost((await be.toHost(x.g)).subarray((s.B - 1) * per), [1, s.H, s.W, s.Ci]),
      alone = block(last);
    assertBitwise(
      'the last image alone vs in the batch',
      await be.toHost(alone),
      (await be.toHost(fused)).subarray((s.B - 1) * out),
    );
    release(...inputs, fused, conv, unfused, last, alone);
  },
}));

const lossShapes = [
  [2, 5, 6, 4],
  [3, 33, 33, 3],
  [1, 7, 4, 8],
]; // the second: 1089 pixels per image, two chunks

const lossCases = (side: Side): TestCase[] =>
  lossShapes.map((shape) => ({
    name: `${side.prefix}softmax, argmax, soft Dice, weighted cross-entropy, MSE [${shape}]: loss and logit gradients`,
    async run(env) {
      const on = kit(env, side.be(env));
      const rng = new Rng(shape.reduce((a, b) => a * 3 + b, 17));
      const K = shape[3];
      const z = on.input(rng, shape, -3, 3),
        y = on.onehot(rng, shape);
      const sg = on.be.softmax(z.g);
      await on.check('softmax', sg, env.ref.softmax(z.r));
      const ag = on.be.argmax(z.g);
      await on.check('argmax', ag, env.ref.argmax(z.r));
      const dl = on.input(rng, [1], 0.5, 2);
      const dg = on.be.diceLoss(z.g, y.g, 1e-10),
        dr = env.ref.diceLoss(z.r, y.r, 1e-10);
      await on.check('dice loss', dg.loss, dr.loss);
      const ddg = on.be.diceBackward(dg.probs, y.g, dg.stats, dl.g);
      await on.check('dice gradient', ddg, env.ref.diceBackward(dr.probs, y.r, dr.stats, dl.r));
      const mt = on.input(rng, shape, -2, 2);
      const mg = on.be.mseLoss(z.g, mt.g),
        mdg = on.be.mseBackward(z.g, mt.g, dl.g);
      await on.check('mse loss', mg, env.ref.mseLoss(z.r, mt.r));
      await on.check('mse gradient', mdg, env.ref.mseBackward(z.r, mt.r, dl.r));
      release(mt, mg, mdg);
      const wts = on.input(rng, [K], 0.1, 1);
      const cg = on.be.crossEntropy(z.g, y.g, wts.g),
        cr = env.ref.crossEntropy(z.r, y.r, wts.r);
      await on.check('cross-entropy loss', cg.loss, cr.loss);
      const dcg = on.be.crossEntropyBackward(cg.probs, y.g, wts.g, dl.g);
      await on.check('cross-entropy gradient', dcg, env.ref.crossEntropyBackward(cr.probs, y.r, wts.r, dl.r));
      release(z, y, sg, ag, dl, dg.loss, dg.probs, dg.stats, ddg, wts, cg.loss, cg.probs, dcg);
    },
  }));

const l2Shapes = [
  [3, 7],
  [12, 128],
  [40, 33],
];

const l2Cases = (side: Side): TestCase[] =>
  l2Shapes.map(([rows, D]) => ({
    name: `${side.prefix}L2 normalisation ${rows}x${D}: forward and gradient`,
    async run(env) {
      const on = kit(env, side.be(env));
      const rng = new Rng(rows * 100 + D);
      const x = on.input(rng, [rows, D]),
        dy = on.input(rng, [rows, D]);
      const g = on.be.l2normalize(x.g),
        r = env.ref.l2normalize(x.r);
      await on.check('y', g.y, r.y);
      const dxg = on.be.l2normalizeBackward(g.y, g.norms, dy.g);
      await on.check('dx', dxg, env.ref.l2normalizeBackward(r.y, r.norms, dy.r));
      release(x, dy, g.y, g.norms, dxg);
    },
  }));

const adamCase = (side: Side): TestCase => ({
  name:
    side.prefix +
    'Adam (TF 1.x form, lr 1e-3): three steps on one, two and five tensors per call; four per dispatch give the bits of one',
  async run(env) {
    const on = kit(env, side.be(env)),
      be = on.be;
    const read = (...ts: Tensor[]) => Promise.all(ts.map(async (t) => Float32Array.from(await be.toHost(t))));
    for (const sizes of [[5], [300, 1027], [1027, 5, 300, 64, 1]]) {
      const rng = new Rng(sizes.reduce((a, b) => a * 3 + b, 1));
      const sets = sizes.map((n) => ({
        p: on.input(rng, [n]),
        m: on.input(rng, [n], 0, 0.1),
        v: on.input(rng, [n], 0, 0.1),
      }));
      // the same start one tensor per call (adam.wgsl only), to compare bit for bit with the batched call
      const alone = await Promise.all(
        sets.map(async (s) => {
          const [p, m, v] = await read(s.p.g, s.m.g, s.v.g);
          return { p: be.fromHost(p, [p.length]), m: be.fromHost(m, [m.length]), v: be.fromHost(v, [v.length]) };
        }),
      );
      for (let t = 1; t <= 3; t++) {
        const gs = sizes.map((n) => on.input(rng, [n]));
        be.adam(
          sets.map((s, k) => ({ p: s.p.g, g: gs[k].g, m: s.m.g, v: s.v.g })),
          t,
          ADAM_DEFAULTS,
        );
        env.ref.adam(
          sets.map((s, k) => ({ p: s.p.r, g: gs[k].r, m: s.m.r, v: s.v.r })),
          t,
          ADAM_DEFAULTS,
        );
        alone.forEach((s, k) => be.adam([{ p: s.p, g: gs[k].g, m: s.m, v: s.v }], t, ADAM_DEFAULTS));
        release(...gs);
      }
      for (const [k, s] of sets.entries()) {
        const n = sizes[k];
        await on.check(`p (n=${n} of ${sizes})`, s.p.g, s.p.r, 1e-6);
        await on.check(`m (n=${n} of ${sizes})`, s.m.g, s.m.r);
        await on.check(`v (n=${n} of ${sizes})`, s.v.g, s.v.r);
        const [a, b] = [await read(s.p.g, s.m.g, s.v.g), await read(alone[k].p, alone[k].m, alone[k].v)];
        a.forEach((x, j) => assertBitwise(`${['p', 'm', 'v'][j]} (n=${n} of ${sizes}) batched vs alone`, x, b[j]));
        release(s.p, s.m, s.v);
        [alone[k].p, alone[k].m, alone[k].v].forEach((t) => t.release());
      }
    }
  },
});

/** Every kernel case on one side; the GEMM-tiled dense and fused inference-block cases are written per backend. */
const sideCases = (side: Side, inferBlock: TestCase[], dense: TestCase[]): TestCase[] => [
  ...convCases(side),
  ...bnCases(side),
  ...inferBlock,
  ...layoutCases(side),
  ...unaryCases(side),
  ...dense,
  ...lossCases(side),
  ...l2Cases(side),
  adamCase(side),
];

export const kernelCases: TestCase[] = [
  ...sideCases(GPU_SIDE, inferBlockCases, denseCases),
  ...sideCases(WASM_SIDE, wasmInferBlockCases, wasmDenseCases),
];
