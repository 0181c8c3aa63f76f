// Every kernel against the float64 reference: random non-zero inputs, several shapes (including sizes that are
// not multiples of the tiles and reductions over several chunks), forward and every gradient, with each output
// filled with NaN before its kernel runs (poison mode). The cases are the op table's (src/ops/primitives.ts),
// each on the WGSL backend and on the WebAssembly backend ('wasm: …'); each backend's kernel paths (direct and
// GEMM convolutions, tiles, fused blocks) are checked on the same inputs after them (EXTRAS).

import { type TestCase, type TestEnv, assertClose, assertBitwise, f32, assert } from '../harness.ts';
import {
  type Backend,
  type BatchNormParams,
  type ConvSpec,
  ADAM_DEFAULTS,
  BN_DEFAULTS,
} from '../../src/ops/backend.ts';
import type { GpuTensor } from '../../src/runtime/runtime.ts';
import { RefTensor } from '../../src/ops/reference.ts';
import type { WasmTensor } from '../../src/ops/wasm.ts';
import { Rng } from '../../src/util/random.ts';
import { CHUNK, gemmTile, type TileChoice } from '../../src/ops/webgpu.ts';
import {
  type OpCase,
  PRIMITIVES,
  type Primitive,
  type TensorSpec,
  primaryOf,
  primitiveNames,
} from '../../src/ops/primitives.ts';

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

// ---- the op table's cases ------------------------------------------------------------------------------

/** Test arguments drawn on a backend under test and on the reference: the same float32 values on both. */
interface Drawn<T extends Tensor> {
  g: unknown[];
  r: unknown[];
  /** Every tensor argument by its path ('1.gamma'), to compare after the call (in-place updates). */
  tensors: [string, Pair<T>][];
}

const isSpec = (v: object): v is TensorSpec => 'tensor' in v || 'onehot' in v || 'ints' in v;

function drawSpec<T extends Tensor>(env: TestEnv, be: Backend<T>, rng: Rng, v: TensorSpec): Pair<T> {
  if ('tensor' in v) return pairOf(env, be, randomData(rng, v.tensor, v.lo ?? -1, v.hi ?? 1), v.tensor);
  if ('onehot' in v) return pairOf(env, be, onehotData(rng, v.onehot), v.onehot);
  const n = v.ints.reduce((a, b) => a * b, 1);
  return pairOf(
    env,
    be,
    Float64Array.from({ length: n }, () => rng.int(v.below)),
    v.ints,
  );
}

/** Draw a case's arguments in order: tensors where the spec says, values passed as they are. */
function draw<T extends Tensor>(env: TestEnv, be: Backend<T>, rng: Rng, specs: readonly unknown[]): Drawn<T> {
  const tensors: [string, Pair<T>][] = [];
  const walk = (v: unknown, path: string): { g: unknown; r: unknown } => {
    if (v === null || typeof v !== 'object') return { g: v, r: v };
    if (isSpec(v)) {
      const p = drawSpec(env, be, rng, v);
      tensors.push([path, p]);
      return p;
    }
    if (Array.isArray(v) && v.every((e) => typeof e === 'number')) return { g: v, r: v };
    const parts = Object.entries(v).map(([k, e]) => [k, walk(e, `${path}.${k}`)] as const);
    const pick = (side: 'g' | 'r') => {
      const o = Object.fromEntries(parts.map(([k, e]) => [k, e[side]]));
      return Array.isArray(v) ? Object.values(o) : o;
    };
    return { g: pick('g'), r: pick('r') };
  };
  const drawn = specs.map((v, i) => walk(v, `${i}`));
  return { g: drawn.map((d) => d.g), r: drawn.map((d) => d.r), tensors };
}

/** An op's outputs by name: 'out' for a lone tensor, else the result's fields (nothing for an in-place op). */
function outputs(out: unknown): [string, unknown][] {
  if (out === undefined) return [];
  return out instanceof RefTensor || primaryOf(out) === out ? [['out', out]] : Object.entries(out as object);
}

const call = <T>(be: Backend<T>, op: Primitive, args: unknown[]): unknown =>
  (be[op] as (...a: unknown[]) => unknown).apply(be, args);

/** A GPU- or wasm-specific check of a case (kernel paths, tiles, fusion) after the table's checks. */
type Extra = (
  env: TestEnv,
  side: Side,
  c: { d: Drawn<Tensor>; want: unknown; rng: Rng; tiles: boolean },
) => Promise<void>;

/**
 * One case of the op table: the op on the backend under test and on the reference (outputs poisoned first by
 * the harness's backends), every output and every tensor argument compared; then its gradient rule on both
 * from a random output gradient, every input gradient compared.
 */
async function runTableCase(env: TestEnv, side: Side, op: Primitive, i: number): Promise<void> {
  const entry = PRIMITIVES[op],
    tests = entry.tests as { cases: OpCase<Primitive>[]; opaque?: string[] },
    c = tests.cases[i];
  const on = kit(env, side.be(env));
  const rng = new Rng([...op].reduce((a, ch) => a * 31 + ch.charCodeAt(0), i + 1) % 2147483647);
  const d = draw(env, on.be, rng, c.args as unknown as unknown[]);
  const got = call(on.be, op, d.g),
    want = call(env.ref, op, d.r);
  const made: Tensor[] = [];
  const gotOut = new Map(outputs(got) as [string, Tensor][]);
  for (const [name, w] of outputs(want) as [string, RefTensor][]) {
    const t = gotOut.get(name) as Tensor;
    made.push(t);
    if (!tests.opaque?.includes(name)) await on.check(name, t, w);
  }
  for (const [path, p] of d.tensors) await on.check(`argument ${path} after the call`, p.g, p.r);
  if (entry.grad) {
    const rule = entry.grad as unknown as (be: Backend<unknown>, a: object) => Record<string, Tensor | RefTensor>;
    const dy = on.input(rng, [...(primaryOf(want) as unknown as RefTensor).shape]);
    const a = { needs: () => true, extra: undefined };
    const gg = rule(on.be as Backend<unknown>, { ...a, args: d.g, out: got, g: dy.g });
    const gr = rule(env.ref as Backend<unknown>, { ...a, args: d.r, out: want, g: dy.r });
    assert(Object.keys(gg).join() === Object.keys(gr).join(), `gradients of ${Object.keys(gg)} vs ${Object.keys(gr)}`);
    for (const [name, t] of Object.entries(gg)) {
      made.push(t as Tensor);
      await on.check(`gradient of ${name}`, t as Tensor, gr[name] as RefTensor);
    }
    release(dy);
  }
  await EXTRAS[side === GPU_SIDE ? 'gpu' : 'wasm'][op]?.(env, side, { d, want, rng, tiles: c.tiles ?? false });
  release(...made, ...d.tensors.map(([, p]) => p));
}

/** Every case of the op table, on one side. */
const tableCases = (side: Side): TestCase[] =>
  primitiveNames.flatMap((op) => {
    const tests = PRIMITIVES[op].tests;
    if (!('cases' in tests)) return [];
    return (tests.cases as OpCase<Primitive>[]).map((c, i) => ({
      name: `${side.prefix}${op} ${c.label}: every output and gradient (op table)`,
      run: (env: TestEnv) => runTableCase(env, side, op, i),
    }));
  });

// ---- GPU and wasm kernel paths ---------------------------------------------------------------------------

const allDirect = (direct: boolean) => ({
  directForward: () => direct,
  directInputGrad: () => direct,
  directWeightGrad: () => direct,
});

/**
 * Every WGSL conv path on every shape: the direct kernels (weights staged in workgroup memory or read from the
 * buffer), and the GEMM with 1, 2 and 4 row groups per thread; then the tile variants bitwise.
 */
const gpuConvPaths: Extra = async (env, _side, { d, want, rng, tiles }) => {
  const [x, w, b] = d.tensors.map(([, p]) => p as Pair);
  const spec = d.g[3] as ConvSpec;
  if (!b) return; // the without-bias cases: the paths ran with bias on the same shapes
  const dy = input(env, rng, [...(want as RefTensor).shape]);
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
      env.gpu.convChoice = allDirect(direct);
      Object.assign(env.gpu.options, { directStaging: staged, gemmRows: rb });
      const yk = env.gpu.conv2d(x.g, w.g, b.g, spec);
      await check(env, `forward (${label})`, yk, want as RefTensor);
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
  if (tiles)
    await checkTiles(env, () => [
      env.gpu.conv2d(x.g, w.g, b.g, spec),
      env.gpu.conv2dInputGrad(dy.g, w.g, spec),
      env.gpu.conv2dWeightGrad(x.g, dy.g, spec),
    ]);
  release(dy);
};

/** The three matmuls of a dense layer on the direct kernels and the GEMM with 1, 2 and 4 row groups. */
const gpuMatmulPaths: Extra = async (env, _side, { d, rng, tiles }) => {
  const [x, w] = d.tensors.map(([, p]) => p as Pair);
  const dy = input(env, rng, [x.r.shape[0], w.r.shape[1]]);
  const saved = { rows: env.gpu.options.gemmRows, choice: env.gpu.convChoice };
  try {
    for (const [label, direct, rb] of [
      ['direct', true, 4],
      ['GEMM, RB=1', false, 1],
      ['GEMM, RB=2', false, 2],
      ['GEMM, RB=4', false, 4],
    ] as const) {
      env.gpu.convChoice = allDirect(direct);
      env.gpu.options.gemmRows = rb;
      const yg = env.gpu.matmul(x.g, w.g, false, false);
      await check(env, `x·w (${label})`, yg, env.ref.matmul(x.r, w.r, false, false));
      const dxg = env.gpu.matmul(dy.g, w.g, false, true);
      await check(env, `dy·wᵀ (${label})`, dxg, env.ref.matmul(dy.r, w.r, false, true));
      const dwg = env.gpu.matmul(x.g, dy.g, true, false);
      await check(env, `xᵀ·dy (${label})`, dwg, env.ref.matmul(x.r, dy.r, true, false));
      release(yg, dxg, dwg);
    }
  } finally {
    env.gpu.options.gemmRows = saved.rows;
    env.gpu.convChoice = saved.choice;
  }
  if (tiles)
    await checkTiles(env, () => [
      env.gpu.matmul(x.g, w.g, false, false),
      env.gpu.matmul(dy.g, w.g, false, true),
      env.gpu.matmul(x.g, dy.g, true, false),
    ]);
  release(dy);
};

/** A conv block's drawn arguments (conv2dBnReluInfer's), and a check that its ReLU cuts some outputs. */
function inferBlockArgs(d: Drawn<Tensor>, want: RefTensor) {
  const zeros = want.data.filter((v) => v === 0).length;
  assert(
    zeros > 0 && zeros < want.size,
    `the ReLU should cut some outputs and keep others (${zeros} of ${want.size} are 0)`,
  );
  const [x, w, b] = d.tensors.map(([, p]) => p);
  const [B, H, W, Ci] = x.r.shape,
    Co = w.r.shape[3];
  const bnG = d.g[3] as BatchNormParams<Tensor>;
  return { x, w, b, bnG, spec: d.g[4] as ConvSpec, B, H, W, Ci, Co };
}

// conv block at inference (conv → BN with moving statistics → ReLU), fused on the GEMM path: one chunk (the GEMM's
// epilogue), a split K (the epilogue of the chunks' sum), and a K split into more chunks than a plain sum takes
// (the wide order, run unfused); the direct kernels run it unfused
const gpuInferBlock: Extra = async (env, _side, { d, want, tiles }) => {
  const a = inferBlockArgs(d, want as RefTensor);
  const [x, w, b, bnG] = [a.x.g, a.w.g, a.b.g, a.bnG] as [GpuTensor, GpuTensor, GpuTensor, BatchNormParams<GpuTensor>];
  const saved = env.gpu.convChoice;
  const block = (t: GpuTensor) => env.gpu.conv2dBnReluInfer(t, w, b, bnG, a.spec, BN_DEFAULTS);
  try {
    for (const direct of [true, false]) {
      env.gpu.convChoice = allDirect(direct);
      const got = block(x);
      await check(env, direct ? 'direct kernels' : 'GEMM', got, want as RefTensor);
      got.release();
    }
  } finally {
    env.gpu.convChoice = saved;
  }
  if (!tiles) return;
  await checkTiles(env, () => [block(x)]);
  // the K-chunks follow the layer, not the batch: the last image alone gives its bits in the batch (GEMM path),
  // with the partials' budget set to exactly one image's two chunks, so that a rule counting the batch's pixels would differ
  env.gpu.convChoice = allDirect(false);
  const budget = CHUNK.rowSplitOutputs;
  CHUNK.rowSplitOutputs = 2 * a.H * a.W * a.Co;
  try {
    const per = a.H * a.W * a.Ci,
      last = env.gpu.fromHost((await env.gpu.toHost(x)).subarray((a.B - 1) * per), [1, a.H, a.W, a.Ci]);
    const [whole, alone] = [block(x), block(last)];
    const out = a.H * a.W * a.Co;
    assertBitwise(
      'the last image alone vs in the batch',
      await env.gpu.toHost(alone),
      (await env.gpu.toHost(whole)).subarray((a.B - 1) * out),
    );
    [last, whole, alone].forEach((t) => t.release());
  } finally {
    env.gpu.convChoice = saved;
    CHUNK.rowSplitOutputs = budget;
  }
};

/**
 * The wasm conv block at inference: the GEMM's epilogue gives the bits of conv2d then batchNormInfer with ReLU,
 * and an image's output does not depend on the batch around it.
 */
const wasmInferBlock: Extra = async (env, _side, { d, want }) => {
  const a = inferBlockArgs(d, want as RefTensor),
    be = env.wasm;
  const [x, w, b, bnG] = [a.x.g, a.w.g, a.b.g, a.bnG] as [
    WasmTensor,
    WasmTensor,
    WasmTensor,
    BatchNormParams<WasmTensor>,
  ];
  const block = (t: WasmTensor) => be.conv2dBnReluInfer(t, w, b, bnG, a.spec, BN_DEFAULTS);
  const fused = block(x);
  const conv = be.conv2d(x, w, b, a.spec),
    unfused = be.batchNormInfer(conv, bnG, BN_DEFAULTS, true);
  assertBitwise('fused vs conv2d then batchNormInfer', await be.toHost(fused), await be.toHost(unfused));
  const per = a.H * a.W * a.Ci,
    out = a.H * a.W * a.Co;
  const last = be.fromHost((await be.toHost(x)).subarray((a.B - 1) * per), [1, a.H, a.W, a.Ci]),
    alone = block(last);
  assertBitwise(
    'the last image alone vs in the batch',
    await be.toHost(alone),
    (await be.toHost(fused)).subarray((a.B - 1) * out),
  );
  release(fused, conv, unfused, last, alone);
};

/** Checks of one backend's kernel paths, by op (the table's checks hold for every backend). */
const EXTRAS: Record<'gpu' | 'wasm', Partial<Record<Primitive, Extra>>> = {
  gpu: { conv2d: gpuConvPaths, matmul: gpuMatmulPaths, conv2dBnReluInfer: gpuInferBlock },
  wasm: { conv2dBnReluInfer: wasmInferBlock },
};

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

/** Every kernel case on one side. */
const sideCases = (side: Side): TestCase[] => [...tableCases(side), adamCase(side)];

export const kernelCases: TestCase[] = [...sideCases(GPU_SIDE), ...sideCases(WASM_SIDE)];
