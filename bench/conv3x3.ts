// The wasm backend's 3×3 convolutions by Winograd F(2×2, 3×3) against the implicit GEMM, side by side in one
// run: forward, input gradient and weight gradient of the paper UNet's conv shapes at 96² batch 4 (width 1), each
// its best of `--reps` calls after `--warmup` calls, on `--threads` threads (the same for both). One backend per
// algorithm serves every shape, so its workers' code is warm (V8 tiers wasm up in the background).
//   node dist/bench/conv3x3.js [--threads N] [--reps R] [--warmup W]

import { sameConv } from '../src/ops/backend.ts';
import { WasmBackend } from '../src/ops/wasm.ts';
import { Rng } from '../src/util/random.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const threads = arg('--threads', 1),
  reps = arg('--reps', 7),
  warmup = arg('--warmup', 3);
// [B, H, W, Ci, Co]: one conv of each UNet level at 96² b4 (levels halve the size and double the channels)
const shapes = [
  [4, 96, 96, 16, 16],
  [4, 48, 48, 32, 32],
  [4, 24, 24, 64, 64],
  [4, 12, 12, 128, 128],
  [4, 6, 6, 256, 256],
];

function times(be: WasmBackend, [B, H, W, Ci, Co]: number[]): number[] {
  const rng = new Rng(1),
    spec = sameConv(3);
  const put = (n: number, shape: number[]) => be.fromHost(rng.array(n), shape);
  const x = put(B * H * W * Ci, [B, H, W, Ci]),
    w = put(9 * Ci * Co, [3, 3, Ci, Co]),
    dy = put(B * H * W * Co, [B, H, W, Co]);
  const ops = [
    () => be.conv2d(x, w, null, spec),
    () => be.conv2dInputGrad(dy, w, spec),
    () => be.conv2dWeightGrad(x, dy, spec),
  ];
  const best = ops.map((op) => {
    let ms = Infinity;
    for (let r = 0; r < warmup + reps; r++) {
      const t0 = performance.now();
      be.release(op());
      if (r >= warmup) ms = Math.min(ms, performance.now() - t0);
    }
    return ms;
  });
  for (const t of [x, w, dy]) be.release(t);
  return best;
}

const { cpus } = await import('node:os');
console.log(
  `${cpus()[0]?.model.trim()}, ${threads} thread(s), best of ${reps} after ${warmup}; ms forward / input grad / weight grad`,
);
const gemm = await WasmBackend.create({ threads, conv3x3: 'gemm' }),
  winograd = await WasmBackend.create({ threads, conv3x3: 'winograd' });
console.log('| shape B×H×W, Ci→Co | implicit GEMM | Winograd | GEMM ÷ Winograd |');
console.log('|---|---|---|---|');
for (const s of shapes) {
  const g = times(gemm, s),
    w = times(winograd, s);
  const f = (a: number[]) => a.map((v) => v.toFixed(2)).join(' / ');
  console.log(
    `| ${s[0]}×${s[1]}×${s[2]}, ${s[3]}→${s[4]} | ${f(g)} | ${f(w)} | ${g.map((v, i) => (v / w[i]).toFixed(2)).join(' / ')} |`,
  );
}
gemm.destroy();
winograd.destroy();
