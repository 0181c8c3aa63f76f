// The wasm backend's 3×3 convolutions by Winograd F(2×2, 3×3) against the implicit GEMM, side by side in one
// run: forward, input gradient and weight gradient of the paper UNet's conv shapes at 96² batch 4 (width 1), each
// its best of `--reps` calls after `--warmup` calls, on `--threads` threads (the same for both). One backend per
// algorithm serves every shape, so its workers' code is warm (V8 tiers wasm up in the background).
//   node dist/bench/conv3x3.js [--threads N] [--reps R] [--warmup W] [--net paper|quick|wide]
// --net quick / wide: every distinct 3×3 conv of the quickstart's UNet (96² b8, width ×0.25) or `wide`'s (128² b8,
// ×0.5), with how many times the network has it, and the sums of each algorithm and of the faster one per conv
// --step S,B,W: whole train steps instead (S² batch B, width W) by auto, Winograd and GEMM, one backend each made
// first, then warm-up and timed steps interleaved round by round, so tier-up and machine noise fall on all three;
// with --profile also each backend's wall ms per step by kernel (WasmBackend's kernelTimes, timed rounds only) and
// how much of it the calling thread spent waiting for pieces a worker had started (waitedMs)
// --bits: no timing; a SHA-256 of the three ops' outputs on seeded inputs at every distinct 3×3 conv of the
// quickstart's and wide's UNets and a few odd shapes, per algorithm, as JSON (scripts/same-bits.mjs keeps them)

import { sameConv } from '../src/ops/backend.ts';
import { WasmBackend } from '../src/ops/wasm.ts';
import { paperUNet } from '../src/model/unet.ts';
import { trainStep } from './glocal.ts';
import { Rng } from '../src/util/random.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const threads = arg('--threads', 1),
  reps = arg('--reps', 7),
  warmup = arg('--warmup', 3);
const net = process.argv.includes('--net') ? process.argv[process.argv.indexOf('--net') + 1] : 'paper';
/** [B, H, W, Ci, Co, count] of each distinct 3×3 conv of paperUNet(4, width) at S² (as UNet builds them). */
function unetShapes(B: number, S: number, width: number): number[][] {
  const cfg = paperUNet(4, width),
    counts = new Map<string, number>();
  const add = (level: number, ci: number, co: number) => {
    const k = [B, S >> level, S >> level, ci, co].join();
    counts.set(k, (counts.get(k) ?? 0) + 1);
  };
  let c = cfg.inChannels;
  cfg.encoder.forEach((convs, l) => {
    for (const co of convs) {
      add(l, c, co);
      c = co;
    }
  });
  cfg.decoder.forEach((d, j) => {
    const level = cfg.encoder.length - 2 - j;
    c = d.up + cfg.encoder[level].at(-1)!; // the 2×2 up-conv is not 3×3; the concat feeds the convs
    for (const co of d.convs) {
      add(level, c, co);
      c = co;
    }
  });
  for (const co of [...cfg.head, cfg.numClasses]) {
    add(0, c, co);
    c = co;
  }
  return [...counts].map(([k, n]) => [...k.split(',').map(Number), n]);
}
// [B, H, W, Ci, Co]; paper: one conv of each UNet level at 96² b4
const shapes =
  net === 'quick'
    ? unetShapes(8, 96, 0.25)
    : net === 'wide'
      ? unetShapes(8, 128, 0.5)
      : [
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

if (process.argv.includes('--bits')) {
  const { createHash } = await import('node:crypto');
  const odd = [
    [3, 7, 7, 5, 12],
    [2, 33, 31, 9, 6],
  ];
  const all = [...unetShapes(8, 96, 0.25), ...unetShapes(8, 128, 0.5), ...odd].map((s) => s.slice(0, 5).join('x'));
  const out: Record<string, string> = {};
  for (const conv3x3 of ['winograd', 'gemm'] as const) {
    const be = await WasmBackend.create({ threads, conv3x3 });
    for (const key of [...new Set(all)]) {
      const [B, H, W, Ci, Co] = key.split('x').map(Number),
        rng = new Rng(B * 7 + H * 5 + Ci * 3 + Co),
        spec = sameConv(3);
      const put = (shape: number[]) => be.fromHost(rng.array(shape.reduce((a, b) => a * b)), shape);
      const x = put([B, H, W, Ci]),
        w = put([3, 3, Ci, Co]),
        dy = put([B, H, W, Co]);
      const hash = createHash('sha256');
      for (const y of [
        be.conv2d(x, w, null, spec),
        be.conv2dInputGrad(dy, w, spec),
        be.conv2dWeightGrad(x, dy, spec),
      ]) {
        const v = await be.toHost(y);
        hash.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
        be.release(y);
      }
      for (const t of [x, w, dy]) be.release(t);
      out[`wasm-${conv3x3} conv3x3 ${B}×${H}×${W} ${Ci}→${Co}`] = hash.digest('hex');
    }
    be.destroy();
  }
  console.log(JSON.stringify(out));
  process.exit(0);
}

if (process.argv.includes('--step')) {
  const [size, batch, width] = process.argv[process.argv.indexOf('--step') + 1].split(',').map(Number);
  const algos = ['auto', 'winograd', 'gemm'] as const,
    rounds = reps * 3;
  const profile = process.argv.includes('--profile');
  const bes = await Promise.all(algos.map((conv3x3) => WasmBackend.create({ threads, conv3x3, profile })));
  const steps = bes.map((be) => trainStep(be, { size, batch, width }, new Rng(7)).step);
  const ms: number[][] = algos.map(() => []);
  for (let r = 0; r < warmup * 3 + rounds; r++)
    for (const [i, step] of steps.entries()) {
      if (r === warmup * 3) bes[i].clearProfile();
      const t0 = performance.now();
      await step();
      if (r >= warmup * 3) ms[i].push(performance.now() - t0);
    }
  const { cpus } = await import('node:os');
  console.log(
    `${cpus()[0]?.model.trim()}, ${threads} thread(s): train step ${size}² b${batch} ×${width}, ms over ${rounds} interleaved rounds after ${warmup * 3}`,
  );
  for (const [i, be] of bes.entries()) {
    const t = [...ms[i]].sort((a, b) => a - b);
    console.log(
      `${be.describe()}: median ${t[t.length >> 1].toFixed(1)}, min ${t[0].toFixed(1)}, max ${t.at(-1)!.toFixed(1)}`,
    );
    const byKernel = [...(be.kernelTimes ?? [])].sort((a, b) => b[1].ms - a[1].ms);
    for (const [name, { ms, calls }] of byKernel)
      console.log(`  ${(ms / rounds).toFixed(2).padStart(7)} ms  ${String(calls / rounds).padStart(3)}×  ${name}`);
    if (be.waitedMs !== null)
      console.log(
        `  ${(be.waitedMs / rounds).toFixed(2).padStart(7)} ms of those: this thread waiting for workers' pieces`,
      );
    be.destroy();
  }
  process.exit(0);
}

const { cpus } = await import('node:os');
console.log(
  `${cpus()[0]?.model.trim()}, ${threads} thread(s), best of ${reps} after ${warmup}; ms forward / input grad / weight grad`,
);
const gemm = await WasmBackend.create({ threads, conv3x3: 'gemm' }),
  winograd = await WasmBackend.create({ threads, conv3x3: 'winograd' });
console.log('| shape B×H×W, Ci→Co | convs | implicit GEMM | Winograd | GEMM ÷ Winograd |');
console.log('|---|---|---|---|---|');
const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
const totals = { gemm: 0, winograd: 0, best: 0 };
for (const s of shapes) {
  const g = times(gemm, s),
    w = times(winograd, s),
    n = s[5] ?? 1;
  const f = (a: number[]) => a.map((v) => v.toFixed(2)).join(' / ');
  console.log(
    `| ${s[0]}×${s[1]}×${s[2]}, ${s[3]}→${s[4]} | ${n} | ${f(g)} | ${f(w)} | ${g.map((v, i) => (v / w[i]).toFixed(2)).join(' / ')} |`,
  );
  totals.gemm += n * sum(g);
  totals.winograd += n * sum(w);
  totals.best += n * Math.min(sum(g), sum(w));
}
console.log(
  `all three ops of every conv, times its count: GEMM ${totals.gemm.toFixed(1)} ms, Winograd ${totals.winograd.toFixed(1)} ms, ` +
    `the faster per conv ${totals.best.toFixed(1)} ms`,
);
gemm.destroy();
winograd.destroy();
