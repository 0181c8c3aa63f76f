// The wasm backend's 3×3 convolutions by Winograd F(2×2, 3×3) and by implicit GEMM (--conv3x3 winograd|gemm;
// the default, auto, takes one or the other per conv, by its channels): both against the float64 reference, forward (with and without bias) and both gradients, with outputs
// poisoned first; the fused conv block at inference against conv then BN, by each; and the same bits on 1 and 2
// threads (the threads change which thread runs which block, and at few tiles the Winograd block size).

import { type TestCase, assert, assertBitwise, assertClose, f32 } from '../harness.ts';
import { BN_DEFAULTS, type Shape, sameConv } from '../../src/ops/backend.ts';
import {
  type Conv3x3,
  WINOGRAD_MIN_CHANNELS,
  WasmBackend,
  type WasmBackendOptions,
  type WasmTensor,
} from '../../src/ops/wasm.ts';
import { Rng } from '../../src/util/random.ts';
import { threadsExpected } from './network.ts';

// odd sizes (tiles that overhang the image), one input channel, outputs beyond one 8-wide panel, and a weight
// gradient over several 256-tile chunks (2·20·18 = 720 tiles)
const shapes = [
  { B: 2, H: 5, W: 7, Ci: 3, Co: 5 },
  { B: 1, H: 12, W: 11, Ci: 1, Co: 70 },
  { B: 3, H: 4, W: 4, Ci: 16, Co: 12 },
  { B: 2, H: 40, W: 36, Ci: 5, Co: 9 },
  { B: 1, H: 3, W: 3, Ci: 9, Co: 17 },
];

type ConvShape = (typeof shapes)[number];

/** fn on a wasm backend of its own, destroyed afterwards (its worker threads stopped). */
async function withWasm<T>(o: WasmBackendOptions, fn: (be: WasmBackend) => Promise<T>): Promise<T> {
  const be = await WasmBackend.create(o);
  try {
    return await fn(be);
  } finally {
    be.destroy();
  }
}

function inputs({ B, H, W, Ci, Co }: ConvShape, seed: number) {
  const rng = new Rng(seed),
    draw = (n: number) => f32(rng.array(n, -1, 1, 0.05));
  return { x: draw(B * H * W * Ci), w: draw(9 * Ci * Co), b: draw(Co), dy: draw(B * H * W * Co) };
}

/** conv2d, its input gradient, its weight gradient and conv2d without bias, of one shape on `be`. */
async function convOutputs(be: WasmBackend, s: ConvShape, seed: number): Promise<Float32Array[]> {
  const d = inputs(s, seed),
    spec = sameConv(3);
  const put = (a: ArrayLike<number>, shape: Shape) => be.fromHost(a, shape);
  const x = put(d.x, [s.B, s.H, s.W, s.Ci]),
    w = put(d.w, [3, 3, s.Ci, s.Co]),
    b = put(d.b, [s.Co]),
    dy = put(d.dy, [s.B, s.H, s.W, s.Co]);
  const outs: WasmTensor[] = [
    be.conv2d(x, w, b, spec),
    be.conv2dInputGrad(dy, w, spec),
    be.conv2dWeightGrad(x, dy, spec),
    be.conv2d(x, w, null, spec),
  ];
  const host = await Promise.all(outs.map((t) => be.toHost(t)));
  for (const t of [x, w, b, dy, ...outs]) t.release();
  return host;
}

const PARTS = ['forward', 'input gradient', 'weight gradient', 'forward without bias'];

const againstReference = (conv3x3: Conv3x3): TestCase => ({
  name: `wasm: 3×3 convolutions by ${conv3x3} (--conv3x3 ${conv3x3}): forward, input and weight gradients against the float64 reference`,
  run: (env) =>
    withWasm({ poison: true, conv3x3 }, async (be) => {
      for (const [i, s] of shapes.entries()) {
        const d = inputs(s, 100 + i),
          spec = sameConv(3),
          r = env.ref;
        const x = r.fromHost(d.x, [s.B, s.H, s.W, s.Ci]),
          w = r.fromHost(d.w, [3, 3, s.Ci, s.Co]);
        const b = r.fromHost(d.b, [s.Co]),
          dy = r.fromHost(d.dy, [s.B, s.H, s.W, s.Co]);
        const want = [
          r.conv2d(x, w, b, spec),
          r.conv2dInputGrad(dy, w, spec),
          r.conv2dWeightGrad(x, dy, spec),
          r.conv2d(x, w, null, spec),
        ];
        const got = await convOutputs(be, s, 100 + i),
          what = `${conv3x3} B${s.B} ${s.H}x${s.W} ${s.Ci}->${s.Co}`;
        for (const [k, part] of PARTS.entries()) assertClose(`${what}: ${part}`, got[k], want[k].data);
      }
    }),
});

const fusedBlockCase = (conv3x3: Conv3x3): TestCase => ({
  name: `wasm: the conv block at inference by ${conv3x3}, relu(BN(conv + bias)) fused, has the bits of conv then BN`,
  run: () =>
    withWasm({ conv3x3 }, async (be) => {
      const s = { B: 2, H: 9, W: 10, Ci: 6, Co: 11 },
        d = inputs(s, 7),
        rng = new Rng(8);
      const stats = {
        gamma: be.fromHost(f32(rng.array(s.Co, 0.5, 1.5)), [s.Co]),
        beta: be.fromHost(f32(rng.array(s.Co, -0.5, 0.5)), [s.Co]),
        runMean: be.fromHost(f32(rng.array(s.Co, -0.5, 0.5)), [s.Co]),
        runVar: be.fromHost(f32(rng.array(s.Co, 0.5, 2)), [s.Co]),
      };
      const x = be.fromHost(d.x, [s.B, s.H, s.W, s.Ci]),
        w = be.fromHost(d.w, [3, 3, s.Ci, s.Co]),
        b = be.fromHost(d.b, [s.Co]);
      const fused = be.conv2dBnReluInfer(x, w, b, stats, sameConv(3), BN_DEFAULTS);
      const conv = be.conv2d(x, w, b, sameConv(3)),
        unfused = be.batchNormInfer(conv, stats, BN_DEFAULTS, true);
      const got = await be.toHost(fused);
      assertBitwise('fused vs conv then BN + ReLU', got, await be.toHost(unfused));
      assert(
        got.some((v) => v === 0) && got.some((v) => v > 0),
        'the ReLU cut nothing or everything: the check would prove little',
      );
      for (const t of [x, w, b, fused, conv, unfused, ...Object.values(stats)]) t.release();
    }),
});

const threadsCase: TestCase = {
  name: 'wasm: 3×3 convolutions by Winograd give the same bits on 1 and 2 threads (other splits; at 24 tiles other block sizes)',
  run: () =>
    withWasm({ threads: 1, conv3x3: 'winograd' }, (one) =>
      withWasm({ threads: 2, conv3x3: 'winograd' }, async (two) => {
        assert(two.threads === 2 || !threadsExpected(), `asked for 2 threads, got ${two.threads}`);
        // 24 tiles: blocks of 8 tiles on 1 thread, of 4 on 2; 720 and 576 tiles: blocks of 64, split differently
        for (const [i, s] of [shapes[0], shapes[3], { B: 4, H: 24, W: 24, Ci: 32, Co: 32 }].entries()) {
          const a = await convOutputs(one, s, 200 + i),
            b = await convOutputs(two, s, 200 + i);
          for (const [k, what] of PARTS.entries())
            assertBitwise(`${s.H}x${s.W} ${s.Ci}->${s.Co} ${what}, ${two.threads} threads vs 1`, b[k], a[k]);
        }
      }),
    ),
};

const autoCase: TestCase = {
  name: `wasm: --conv3x3 auto (the default) takes the implicit GEMM below ${WINOGRAD_MIN_CHANNELS} channels on either side and Winograd from there, bit for bit`,
  run: () =>
    withWasm({}, (auto) =>
      withWasm({ conv3x3: 'gemm' }, (gemm) =>
        withWasm({ conv3x3: 'winograd' }, async (winograd) => {
          const m = WINOGRAD_MIN_CHANNELS;
          assert(auto.conv3x3 === 'auto' && auto.describe().includes(`Winograd from ${m} channels`), auto.describe());
          const cases: [ConvShape, WasmBackend][] = [
            [{ B: 2, H: 6, W: 6, Ci: m - 1, Co: 2 * m }, gemm],
            [{ B: 2, H: 6, W: 6, Ci: 2 * m, Co: m - 1 }, gemm],
            [{ B: 2, H: 6, W: 6, Ci: m, Co: m }, winograd],
          ];
          for (const [i, [s, want]] of cases.entries()) {
            const a = await convOutputs(auto, s, 300 + i),
              b = await convOutputs(want, s, 300 + i);
            for (const [k, what] of PARTS.entries())
              assertBitwise(`${s.Ci}->${s.Co} ${what}: auto vs ${want.conv3x3}`, a[k], b[k]);
          }
        }),
      ),
    ),
};

export const winogradCases: TestCase[] = [
  againstReference('winograd'),
  againstReference('gemm'),
  fusedBlockCase('winograd'),
  fusedBlockCase('gemm'),
  threadsCase,
  autoCase,
];
