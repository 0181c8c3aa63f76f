// Whole-network checks on a tiny UNet (2 levels, skip fan-out, concat, BN, 2×2 up-conv): gradients against
// the float64 reference (itself checked by finite differences), training, determinism, allocation; and the
// seeded run of the paper's UNet whose loss curve the runners compare across runtimes.

import { type TestCase, type TestEnv, assert, assertBitwise, relErr } from '../harness.ts';
import type { Backend } from '../../src/ops/backend.ts';
import { UNet, paperUNet, tinyUNet } from '../../src/model/unet.ts';
import { SegmentationTrainer } from '../../src/train/segmentation.ts';
import { RefBackend } from '../../src/ops/reference.ts';
import type { GpuTensor } from '../../src/runtime/runtime.ts';
import type { GpuBackend } from '../../src/ops/webgpu.ts';
import { detectRuntime } from '../../src/runtime/device.ts';
import { Rng } from '../../src/util/random.ts';
import { concatFloat32 } from '../../src/util/arrays.ts';
import { Tape, Var } from '../../src/autodiff/tape.ts';
import * as op from '../../src/autodiff/ops.ts';
import { sameConv } from '../../src/ops/backend.ts';
import { WasmBackend } from '../../src/ops/wasm.ts';
import { READBACK_KEEP_BYTES } from '../../src/runtime/pool.ts';
import { type Side, GPU_SIDE, WASM_SIDE } from './kernels.ts';

const SEED = 7;
const K = 3;

/** A fixed tiny batch: bright discs (class 1) and dark squares (class 2) on a noisy background. */
export function tinyBatch(B: number, S: number): { x: Float32Array; y: Float32Array } {
  const x = new Float32Array(B * S * S),
    y = new Float32Array(B * S * S * K);
  let s = 12345;
  const noise = () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return (s / 4294967296 - 0.5) * 0.2;
  };
  for (let b = 0; b < B; b++) {
    const cx = S * (0.3 + 0.1 * b),
      cy = S * (0.4 + 0.05 * b),
      r = S * 0.2;
    const q0 = Math.floor(S * 0.55),
      q1 = Math.floor(S * (0.8 + 0.05 * (b % 2)));
    for (let i = 0; i < S; i++)
      for (let j = 0; j < S; j++) {
        const p = (b * S + i) * S + j;
        let cls = 0;
        if ((i - cy) ** 2 + (j - cx) ** 2 < r * r) cls = 1;
        else if (i >= q0 && i < q1 && j >= q0 && j < q1) cls = 2;
        x[p] = [0.3, 0.9, 0.05][cls] + noise();
        y[p * K + cls] = 1;
      }
  }
  return { x, y };
}

function setup<T>(be: Backend<T>, B: number, S: number) {
  const model = new UNet(be, tinyUNet(K), SEED);
  const { x, y } = tinyBatch(B, S);
  const trainer = new SegmentationTrainer(model);
  return { model, trainer, x: be.fromHost(x, [B, S, S, 1]), y: be.fromHost(y, [B, S, S, K]) };
}

async function grads<T>(be: Backend<T>, model: UNet<T>): Promise<Map<string, Float64Array | Float32Array>> {
  const out = new Map<string, Float64Array | Float32Array>();
  for (const s of model.params.slots) if (s.v.grad) out.set(s.name, await be.toHost(s.v.grad));
  model.params.dropGrads();
  return out;
}

const gradientCase = (side: Side): TestCase => ({
  name: `${side.prefix}tiny UNet: every parameter gradient matches the float64 reference (first step)`,
  async run(env) {
    const be = side.be(env),
      g = setup(be, 2, 16),
      r = setup(env.ref, 2, 16);
    const lossG = await g.trainer.gradients(g.x, g.y),
      lossR = await r.trainer.gradients(r.x, r.y);
    assert(Math.abs(lossG - lossR) / lossR < 1e-5, `first-step loss ${lossG} vs reference ${lossR}`);
    const gg = await grads(be, g.model),
      gr = await grads(env.ref, r.model);
    let worst = 0,
      worstName = '',
      checked = 0;
    const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));
    const scale = Math.max(...[...gr.values()].map(norm));
    for (const [name, want] of gr) {
      const got = gg.get(name)!;
      if (norm(want) < 1e-9 * scale) {
        // A conv bias followed by batch norm has a zero gradient (BN removes the mean): check it is ~0.
        assert(norm(got) < 1e-5 * scale, `${name}: gradient should vanish, |g| = ${norm(got)}`);
        continue;
      }
      const e = relErr(got, want);
      if (e > worst) [worst, worstName] = [e, name];
      checked++;
    }
    const report = {
      firstStepLoss: { gpu: lossG, reference: lossR },
      worstGradientError: { param: worstName, relErr: worst, paramsChecked: checked },
    };
    if (side === GPU_SIDE) Object.assign(env.report, report);
    else env.report.wasmGradients = report;
    assert(worst < 1e-3, `gradient of ${worstName}: relative error ${worst.toExponential(3)} >= 1e-3`);
    assert(checked >= 20, `only ${checked} parameters had non-vanishing gradients`);
  },
});

const finiteDifferenceCase: TestCase = {
  name: 'float64 reference: tiny UNet gradients agree with central finite differences',
  async run() {
    const be = new RefBackend();
    const { model, trainer, x, y } = setup(be, 2, 8);
    await trainer.gradients(x, y);
    const analytic = new Map(model.params.slots.map((s) => [s.name, Float64Array.from(s.v.grad!.data)]));
    model.params.dropGrads();
    const h = 1e-6;
    let checked = 0;
    for (const s of model.params.slots) {
      if (s.name.endsWith('/b') && !s.name.startsWith('logits')) continue; // vanishing (bias before BN)
      const data = s.v.value.data;
      for (const i of [0, Math.floor(data.length / 2), data.length - 1]) {
        const keep = data[i];
        data[i] = keep + h;
        const lp = await trainer.step(x, y, false);
        data[i] = keep - h;
        const lm = await trainer.step(x, y, false);
        data[i] = keep;
        const fd = (lp - lm) / (2 * h),
          an = analytic.get(s.name)![i];
        const err = Math.abs(fd - an) / Math.max(Math.abs(an), 1e-6);
        assert(err < 1e-4, `${s.name}[${i}]: analytic ${an} vs finite difference ${fd}`);
        checked++;
      }
    }
    assert(checked > 40, `only ${checked} entries checked`);
  },
};

const trainingCase: TestCase = {
  name: 'tiny UNet: Dice loss falls by >= 50% in 50 Adam steps on a fixed batch (curve reported)',
  async run(env) {
    const g = setup(env.gpu, 2, 16);
    const curve: number[] = [];
    for (let i = 0; i < 50; i++) curve.push(await g.trainer.step(g.x, g.y));
    env.report.lossCurve = curve;
    const drop = 1 - curve[49] / curve[0];
    assert(
      drop >= 0.5,
      `loss went ${curve[0].toFixed(4)} -> ${curve[49].toFixed(4)}, a ${(100 * drop).toFixed(1)}% drop`,
    );
  },
};

async function weights(env: TestEnv, model: UNet<GpuTensor>): Promise<Float32Array> {
  return concatFloat32(await env.rt.read(...model.params.slots.map((s) => s.v.value)));
}

const determinismCase: TestCase = {
  name: 'determinism: conv weight gradient and a whole tiny-UNet train step give the same bits three times',
  async run(env) {
    const rng = new Rng(99);
    const x = env.gpu.fromHost(rng.array(2 * 34 * 33 * 8), [2, 34, 33, 8]);
    const dy = env.gpu.fromHost(rng.array(2 * 34 * 33 * 16), [2, 34, 33, 16]);
    const runs: Float32Array[] = [];
    for (let i = 0; i < 3; i++) {
      const dw = env.gpu.conv2dWeightGrad(x, dy, { kh: 3, kw: 3, padT: 1, padL: 1 });
      runs.push(await env.rt.read1(dw));
      dw.release();
    }
    assertBitwise('weight gradient, run 2', runs[1], runs[0]);
    assertBitwise('weight gradient, run 3', runs[2], runs[0]);
    x.release();
    dy.release();
    const after: Float32Array[] = [],
      losses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const g = setup(env.gpu, 2, 16);
      losses.push(await g.trainer.step(g.x, g.y));
      losses.push(await g.trainer.step(g.x, g.y));
      after.push(await weights(env, g.model));
    }
    assert(losses[0] === losses[2] && losses[2] === losses[4], `first-step losses differ: ${losses}`);
    assert(losses[1] === losses[3] && losses[3] === losses[5], `second-step losses differ: ${losses}`);
    assertBitwise('weights after two steps, run 2', after[1], after[0]);
    assertBitwise('weights after two steps, run 3', after[2], after[0]);
  },
};

/** Batch `step` of the seeded run: B images of S² px with a disc (class 1) and a ring (class 2), drawn from Rng(seed + step). */
function seededBatch(seed: number, step: number, B: number, S: number): { x: Float32Array; y: Float32Array } {
  const rng = new Rng(seed * 1000 + step),
    x = new Float32Array(B * S * S),
    y = new Float32Array(B * S * S * K);
  for (let b = 0; b < B; b++) {
    const cx = rng.uniform(0.35, 0.65) * S,
      cy = rng.uniform(0.35, 0.65) * S,
      r = rng.uniform(0.1, 0.2) * S,
      w = rng.uniform(0.06, 0.1) * S;
    const level = [rng.uniform(0, 0.2), rng.uniform(0.7, 1), rng.uniform(0.3, 0.5)];
    for (let i = 0; i < S; i++)
      for (let j = 0; j < S; j++) {
        const d = Math.hypot(i - cy, j - cx),
          p = (b * S + i) * S + j,
          cls = d < r ? 1 : d < r + w ? 2 : 0;
        x[p] = level[cls] + 0.05 * rng.normal();
        y[p * K + cls] = 1;
      }
  }
  return { x, y };
}

/** The seeded run of issue 5: the paper's UNet (width 0.05), 32 px, batch 2, 20 Adam steps on fresh batches. */
async function seededRun<T>(be: Backend<T>): Promise<{ losses: number[]; weights: Float32Array }> {
  const model = new UNet(be, paperUNet(K, 0.05), SEED),
    trainer = new SegmentationTrainer(model),
    losses: number[] = [];
  for (let step = 0; step < 20; step++) {
    const { x, y } = seededBatch(SEED, step, 2, 32);
    const xs = be.fromHost(x, [2, 32, 32, 1]),
      ys = be.fromHost(y, [2, 32, 32, K]);
    losses.push(await trainer.step(xs, ys));
    be.release(xs);
    be.release(ys);
  }
  const values = model.params.slots.map((s) => s.v.value);
  // the GPU reads every tensor in one readback
  const parts =
    be instanceof WasmBackend
      ? await Promise.all(values.map((v) => be.toHost(v)))
      : await (be as unknown as GpuBackend).rt.read(...(values as unknown as GpuTensor[]));
  return { losses, weights: concatFloat32(parts) };
}

const seededRunCase: TestCase = {
  name: 'same numbers: a seeded 20-step run (paper UNet, 32 px, batch 2) is bitwise repeatable; its loss curve is reported',
  async run(env) {
    const a = await seededRun(env.gpu),
      b = await seededRun(env.gpu);
    assertBitwise('seeded run, losses of the second run', Float32Array.from(b.losses), Float32Array.from(a.losses));
    assertBitwise('seeded run, weights after 20 steps', b.weights, a.weights);
    assert(a.losses[19] < a.losses[0], `the seeded run did not learn: loss ${a.losses[0]} -> ${a.losses[19]}`);
    env.report.seededRun = a.losses;
  },
};

/** FNV-1a of the float32 bits: one number that says whether two runs' weights are bitwise equal. */
function bitsHash(a: Float32Array): string {
  let h = 0x811c9dc5;
  for (const w of new Uint32Array(a.buffer, a.byteOffset, a.length)) h = Math.imul(h ^ w, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** Worker threads with shared memory are expected here: Node, Deno, and a cross-origin isolated page. */
export const threadsExpected = () =>
  detectRuntime() !== 'browser' || (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;

const seededRunWasmCase: TestCase = {
  name: 'wasm: the seeded 20-step run is bitwise repeatable and gives the same bits on 2 threads; losses and a weight hash reported',
  async run(env) {
    const a = await seededRun(env.wasm),
      b = await seededRun(env.wasm);
    assertBitwise(
      'wasm seeded run, losses of the second run',
      Float32Array.from(b.losses),
      Float32Array.from(a.losses),
    );
    assertBitwise('wasm seeded run, weights after 20 steps', b.weights, a.weights);
    assert(a.losses[19] < a.losses[0], `the wasm seeded run did not learn: loss ${a.losses[0]} -> ${a.losses[19]}`);
    const two = await WasmBackend.create({ threads: 2 });
    try {
      assert(two.threads === 2 || !threadsExpected(), `asked for 2 threads, got ${two.threads}`);
      const c = await seededRun(two);
      assertBitwise(
        `wasm seeded run on ${two.threads} threads vs 1, losses`,
        Float32Array.from(c.losses),
        Float32Array.from(a.losses),
      );
      assertBitwise(`wasm seeded run on ${two.threads} threads vs 1, weights`, c.weights, a.weights);
      env.report.seededRunWasm = { losses: a.losses, weights: bitsHash(a.weights), threadsCompared: two.threads };
    } finally {
      two.destroy();
    }
  },
};

const upConvCase: TestCase = {
  name: 'up-conv: conv2d(upsample2(x)) as one tape entry gives the bits of the two ops, and holds no ×2 map after the forward pass',
  async run(env) {
    const be = env.gpu,
      rng = new Rng(SEED),
      spec = sameConv(2);
    const [B, H, W, C, O] = [2, 5, 6, 3, 4];
    const host = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
    const x = be.fromHost(host(B * H * W * C), [B, H, W, C]),
      w = be.fromHost(host(4 * C * O), [2, 2, C, O]);
    const bias = be.fromHost(host(O), [O]),
      target = be.fromHost(host(B * 4 * H * W * O), [B, 2 * H, 2 * W, O]);
    const run = async (oneEntry: boolean) => {
      const tp = new Tape(be),
        xv = new Var(x, true),
        wv = new Var(w, true),
        bv = new Var(bias, true);
      const live0 = env.rt.pool.stats.liveRequestedBytes;
      const y = oneEntry ? op.upsampleConv2d(tp, xv, wv, bv, spec) : op.conv2d(tp, op.upsample2(tp, xv), wv, bv, spec);
      const held = env.rt.pool.stats.liveRequestedBytes - live0;
      tp.backward(op.mseLoss(tp, y, target));
      const out = {
        y: await be.toHost(y.value),
        dx: await be.toHost(xv.grad!),
        dw: await be.toHost(wv.grad!),
        db: await be.toHost(bv.grad!),
        held,
      };
      for (const v of [xv, wv, bv]) be.release(v.grad!);
      tp.dispose();
      return out;
    };
    const two = await run(false),
      one = await run(true);
    for (const k of ['y', 'dx', 'dw', 'db'] as const) assertBitwise(`up-conv ${k}`, one[k], two[k]);
    const upBytes = B * 4 * H * W * C * 4;
    assert(
      two.held - one.held === upBytes,
      `held after the forward pass: ${one.held} bytes as one entry, ${two.held} as two ops (the ×2 map is ${upBytes})`,
    );
    for (const t of [x, w, bias, target]) be.release(t);
  },
};

const packedReadCase: TestCase = {
  name: 'runtime: a read of many tensors packs them into staging buffers of at most readPackBytes (a larger one alone), values exact; toHostAll of every backend agrees with toHost; staging over READBACK_KEEP_BYTES is not kept',
  async run(env) {
    const rng = new Rng(7),
      sizes = [1, 5, 1000, 3, 5000, 2, 1024, 999, 1];
    const host = sizes.map((n) => Float32Array.from({ length: n }, () => rng.normal() * 100));
    const ts = host.map((h) => env.rt.upload(h, [h.length]));
    const saved = env.rt.readPackBytes;
    try {
      for (const pack of [4096, 4, 64 << 20]) {
        env.rt.readPackBytes = pack; // 4096 B: packs break inside the list; 4 B: every tensor alone
        const got = await env.rt.read(...ts);
        assert(got.length === ts.length, `pack ${pack}: ${got.length} arrays for ${ts.length} tensors`);
        got.forEach((g, i) => assertBitwise(`pack ${pack}, tensor ${i} (${sizes[i]} values)`, g, host[i]));
      }
    } finally {
      env.rt.readPackBytes = saved;
    }
    assert((await env.rt.read()).length === 0, 'an empty read');
    // a checkpoint-sized read leaves no staging buffer over the keep limit behind; a small one stays for reuse
    const big = env.rt.upload(new Float32Array((READBACK_KEEP_BYTES >> 2) + 1024).fill(1.5), [
      (READBACK_KEEP_BYTES >> 2) + 1024,
    ]);
    const before = env.rt.readbackPool.freeBytes;
    const [back] = await env.rt.read(big);
    assert(back[0] === 1.5 && back.at(-1) === 1.5, 'the large read');
    assert(
      env.rt.readbackPool.freeBytes === before,
      `free staging ${before} -> ${env.rt.readbackPool.freeBytes} bytes after a large read`,
    );
    const created = env.rt.readbackPool.stats.createdBuffers;
    await env.rt.read(ts[0]);
    assert(env.rt.readbackPool.stats.createdBuffers === created, 'a small read makes a staging buffer: none was kept');
    env.gpu.release(big);
    for (const be of [env.gpu, env.wasm, new RefBackend()] as Backend<unknown>[]) {
      const xs = host.map((h) => be.fromHost(h, [h.length]));
      const all = await be.toHostAll(xs);
      for (let i = 0; i < xs.length; i++) {
        const one = await be.toHost(xs[i]);
        assert(
          all[i].length === one.length && all[i].every((v, k) => Object.is(v, one[k])),
          `${be.name}: toHostAll[${i}] differs from toHost`,
        );
      }
      xs.forEach((x) => be.release(x));
    }
    ts.forEach((t) => env.gpu.release(t));
  },
};

const allocationCase: TestCase = {
  name: 'runtime: no buffer, pipeline or bind group created per step after warm-up; live bytes constant',
  async run(env) {
    const g = setup(env.gpu, 2, 16);
    for (let i = 0; i < 3; i++) await g.trainer.step(g.x, g.y);
    const s0 = { ...env.rt.pool.stats },
      p0 = env.rt.pipelinesCreated,
      b0 = env.rt.bindGroupsCreated,
      d0 = env.rt.dispatchCount;
    (globalThis as any).__bgLog = [];
    for (let i = 0; i < 5; i++) await g.trainer.step(g.x, g.y);
    console.log((globalThis as any).__bgLog.slice(0, 40).join('\n'));
    const made = env.rt.bindGroupsCreated - b0;
    assert(made === 0, `${made} bind groups created in 5 steps after warm-up (each holds driver memory until GC)`);
    const s1 = env.rt.pool.stats;
    assert(
      s1.createdBuffers === s0.createdBuffers,
      `${s1.createdBuffers - s0.createdBuffers} buffers created after warm-up`,
    );
    assert(env.rt.pipelinesCreated === p0, `${env.rt.pipelinesCreated - p0} pipelines created after warm-up`);
    assert(
      s1.liveBuffers === s0.liveBuffers && s1.liveBytes === s0.liveBytes,
      `live buffers ${s0.liveBuffers} -> ${s1.liveBuffers}, bytes ${s0.liveBytes} -> ${s1.liveBytes}`,
    );
    env.report.dispatchesPerStep = (env.rt.dispatchCount - d0) / 5;
    env.report.pool = { ...s1 };
  },
};

const timingCase: TestCase = {
  name: 'runtime: GPU timestamps of a train step, in total and per kernel (one pass per dispatch)',
  async run(env) {
    const g = setup(env.gpu, 2, 16);
    await g.trainer.step(g.x, g.y);
    const d0 = env.rt.dispatchCount;
    const total = await env.rt.gpuTime(() => g.trainer.step(g.x, g.y));
    const dispatches = env.rt.dispatchCount - d0;
    if (!env.rt.gpu.features.timestampQuery) {
      assert(total === null, 'gpuTime returns null without timestamp-query');
      env.report.timestamps = 'timestamp-query not offered by this adapter';
      return;
    }
    assert(total !== null && total.ms > 0 && total.byKernel.size === 0, `total ${total?.ms} ms`);
    const prof = (await env.rt.gpuTime(() => g.trainer.step(g.x, g.y), { perKernel: true }))!;
    const counted = [...prof.byKernel.values()].reduce((a, k) => a + k.count, 0);
    assert(counted === dispatches, `${counted} timed dispatches, ${dispatches} recorded in a step`);
    assert(prof.byKernel.has('adam{}') && prof.ms > 0, `kernels: ${[...prof.byKernel.keys()].join(', ')}`);
    // Dawn's default rounds every timestamp down to a multiple of 65.536 µs, which hides short kernels: each
    // kernel's total would be a whole number of those steps
    const ns = [...prof.byKernel.values()].map((k) => Math.round(k.ms * 1e6));
    assert(
      ns.some((t) => t % 65536 !== 0),
      `every kernel's time is a multiple of 65.536 µs (quantized timestamps): ${ns.join(', ')} ns`,
    );
    env.report.stepGpuMs = { total: total.ms, profiled: prof.ms, kernels: prof.byKernel.size };
  },
};

const pollingCase: TestCase = {
  name: "runtime: in Node on a software adapter, a long wait of dawn.node's polls about once a millisecond (the CPU stays with the adapter)",
  async run(env) {
    const { detectRuntime, isSoftwareAdapter } = await import('../../src/runtime/device.ts');
    if (detectRuntime() !== 'node' || !isSoftwareAdapter(env.rt.gpu.info)) {
      env.report.polling = 'not applicable (only dawn.node on a software adapter polls from setImmediate)';
      return;
    }
    const g = globalThis as any,
      installed = g.setImmediate;
    let ticks = 0;
    // count dawn.node's ticks (nameless native functions) through whatever setImmediate is installed
    g.setImmediate = (fn: any, ...a: unknown[]) => {
      if (fn?.name === '' && Function.prototype.toString.call(fn).includes('[native code]')) ticks++;
      return installed(fn, ...a);
    };
    const gr = setup(env.gpu, 4, 32);
    let ms = 0;
    try {
      await gr.trainer.step(gr.x, gr.y);
      const t0 = performance.now();
      for (let i = 0; i < 3; i++) await gr.trainer.step(gr.x, gr.y); // each step ends in a wait for its loss
      ms = performance.now() - t0;
    } finally {
      g.setImmediate = installed;
    }
    // a wait polls freely for its first 2 ms (a few hundred ticks), then once a millisecond; busy polling
    // throughout ticks every few microseconds: tens of thousands in a few hundred ms
    const waits = 3;
    assert(ticks > 0 && ticks <= ms + 1000 * waits, `${ticks} polling ticks in ${ms.toFixed(0)} ms of ${waits} steps`);
    env.report.polling = { ticks, ms };
  },
};

/** A scalar loss on the head outputs: cross-entropy of g1's z and of every pixel of g2's map, as logits. */
async function headGradients<T>(be: Backend<T>): Promise<Map<string, Float64Array | Float32Array>> {
  const { Tape, Var } = await import('../../src/autodiff/tape.ts');
  const op = await import('../../src/autodiff/ops.ts');
  const model = new UNet(be, tinyUNet(K), SEED, { global: { inputSize: 16, hidden: 24, out: 6 }, local: { block: 1 } });
  const { x } = tinyBatch(2, 16);
  const w = (n: number) => be.fromHost(Array(n).fill(1), [n]);
  const input = be.fromHost(x, [2, 16, 16, 1]);
  // g1: z as 6-class logits of 2 images
  const tp = new Tape(be);
  const levels = model.encode(tp, new Var(input, false), true);
  const z = model.globalHead(tp, levels[levels.length - 1]);
  tp.backward(
    op.softmaxCrossEntropy(
      tp,
      op.reshape(tp, z, [2, 1, 1, 6]),
      be.fromHost([1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], [2, 1, 1, 6]),
      w(6),
    ),
  );
  tp.dispose();
  // g2 on decoder block 1: every pixel as C-class logits (gradients add to g1's in the shared encoder)
  const tp2 = new Tape(be);
  const f = model.localHead(tp2, model.decode(tp2, model.encode(tp2, new Var(input, false), true), true, 1)[0]);
  const fs = be.shape(f.value),
    ft = new Float32Array(fs[0] * fs[1] * fs[2] * fs[3]);
  for (let i = 0; i < ft.length; i += fs[3]) ft[i + ((i / fs[3]) % fs[3])] = 1;
  tp2.backward(op.softmaxCrossEntropy(tp2, f, be.fromHost(ft, fs), w(fs[3])));
  tp2.dispose();
  return grads(be, model);
}

const headsCase: TestCase = {
  name: 'tiny UNet with the projection heads g1 (dense) and g2 (1x1 convs + BN): gradients match the float64 reference',
  async run(env) {
    const gg = await headGradients(env.gpu),
      gr = await headGradients(env.ref);
    let checked = 0;
    for (const [name, want] of gr) {
      if (!/^(g1|g2|enc)/.test(name) || name.endsWith('/b')) continue;
      const e = relErr(gg.get(name)!, want);
      assert(e < 1e-3, `${name}: relative error ${e.toExponential(3)}`);
      checked++;
    }
    assert(checked >= 10, `only ${checked} head/encoder parameters checked`);
  },
};

export const networkCases: TestCase[] = [
  finiteDifferenceCase,
  headsCase,
  gradientCase(GPU_SIDE),
  upConvCase,
  trainingCase,
  determinismCase,
  seededRunCase,
  allocationCase,
  packedReadCase,
  timingCase,
  pollingCase,
  gradientCase(WASM_SIDE),
  seededRunWasmCase,
];
