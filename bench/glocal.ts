// The glocal side of the model benchmark, browser-safe (bench/model.ts runs it in Node and Deno, and in Chromium
// through bench/chromium-page.ts): one train step and inference latency of the paper's UNet, and the
// pre-training steps.

import type { Runtime } from '../src/runtime/runtime.ts';
import { GpuBackend } from '../src/ops/webgpu.ts';
import { UNet, paperUNet } from '../src/model/unet.ts';
import { SegmentationTrainer } from '../src/train/segmentation.ts';
import { predictLabels } from '../src/train/finetune.ts';
import { Rng } from '../src/util/random.ts';
import { PAPER_PRETRAIN, pretrain, pretrainModel } from '../src/contrastive/pretrain.ts';
import type { Specialisation } from '../src/runtime/runtime.ts';
import type { Backend } from '../src/ops/backend.ts';
import type { ConvKernelChoice, TileChoice } from '../src/ops/webgpu.ts';

/** One engine's measurements (times in ms; medians). */
export interface EngineResult {
  engine: string;
  train?: {
    batch: number;
    size: number;
    wallMs: number;
    gpuMs: number | null;
    peakBytes: number | null;
    dispatches?: number;
  };
  infer: Record<string, { size: number; wallMs: number; gpuMs: number | null }>;
  /** --profile: GPU ms of one train step per kernel and specialisation, each dispatch in a pass of its own */
  profile?: { kernel: string; ms: number; count: number }[];
  /** pre-training steps (glocal): G^D (stage 1) and L^D (stage 2) at the paper's batch sizes, ms per iteration */
  stages?: { strategy: string; images: number; wallMs: number }[];
  /** --profile: the same for one inference of the first inference batch */
  inferProfile?: { kernel: string; ms: number; count: number }[];
  /** the wasm convolutions' rates by algorithm (1 thread), with the matmul peak each was measured beside */
  wasmKernels?: { gemm: import('./wasm.ts').WasmKernelRates; winograd: import('./wasm.ts').WasmKernelRates };
  /** the wasm backend: the CPU it ran on */
  cpu?: string;
}

export const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)];

export async function timeIt(reps: number, fn: () => Promise<unknown>): Promise<number> {
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

export function randomBatch(rng: Rng, b: number, s: number, k: number): { x: Float32Array; onehot: Float32Array } {
  const x = new Float32Array(b * s * s),
    onehot = new Float32Array(b * s * s * k);
  for (let i = 0; i < x.length; i++) {
    x[i] = rng.next();
    onehot[i * k + rng.int(k)] = 1;
  }
  return { x, onehot };
}

/**
 * The benchmark's train step on any backend: the paper's UNet (4 classes, `width`) and one random batch of
 * `batch` images of `size`², uploaded once; `release` frees the batch.
 */
export function trainStep<T>(be: Backend<T>, a: Pick<GlocalBenchOptions, 'batch' | 'size' | 'width'>, rng: Rng) {
  const model = new UNet(be, paperUNet(4, a.width), 1);
  const trainer = new SegmentationTrainer(model);
  const { x, onehot } = randomBatch(rng, a.batch, a.size, 4);
  const xs = be.fromHost(x, [a.batch, a.size, a.size, 1]),
    ys = be.fromHost(onehot, [a.batch, a.size, a.size, 4]);
  return {
    model,
    step: () => trainer.step(xs, ys),
    release: () => [xs, ys].forEach((t) => be.release(t)),
  };
}

/** One inference of `model` on a random batch of `b` images of `size`² (drawn now): upload, predict, free. */
export function inferencePass<T>(be: Backend<T>, model: UNet<T>, rng: Rng, b: number, size: number) {
  const host = randomBatch(rng, b, size, 1).x;
  return async () => {
    const t = be.fromHost(host, [b, size, size, 1]);
    await predictLabels(model, t);
    be.release(t);
  };
}

export interface GlocalBenchOptions {
  size: number;
  batch: number;
  inferSize: number;
  inferBatches: number[];
  width: number;
  reps: number;
  profile: boolean;
  stages: boolean;
  /** bench/tiles.ts's result: each GEMM it measured runs its fastest tile (--tiles) */
  tiles?: TileTable;
  /**
   * --conv: every convolution on the tiled GEMM (GPUs' default), the thin ones (1 input channel, 4 outputs) on
   * the direct kernels (GPUs' default before bench/NOTES.md §11), or only those thin ones' weight gradients on the GEMM
   */
  conv?: ConvVariant;
}

export const CONV_VARIANTS = ['gemm', 'thin-direct', 'gemm-wgrad'] as const;
export type ConvVariant = (typeof CONV_VARIANTS)[number];

function convVariant(v: ConvVariant): ConvKernelChoice {
  const thin = (cin: number, cout: number) => cin <= 2 || cout <= 4;
  const gemm = () => false;
  if (v === 'gemm') return { directForward: gemm, directInputGrad: gemm, directWeightGrad: gemm };
  return { directForward: thin, directInputGrad: thin, directWeightGrad: v === 'thin-direct' ? thin : gemm };
}

/** What tableChoice needs of bench/tiles.ts's result. */
export interface TileTable {
  problems: { kernel?: string; m?: number; n?: number; k?: number; best?: Specialisation }[];
}

/** A TileChoice from a tile sweep: each GEMM it measured gets its fastest tile, the rest gemmTile's. */
export function tableChoice(r: TileTable): TileChoice {
  const key = (kernel: string, m: number, n: number, k: number) => `${kernel} ${m}×${n}×${k}`;
  const best = new Map<string, Specialisation>();
  for (const p of r.problems) if (p.best && p.kernel) best.set(key(p.kernel, p.m!, p.n!, p.k!), p.best);
  return (kernel, m, n, k) => best.get(key(kernel, m, n, k)) ?? null;
}

export async function benchGlocal(rt: Runtime, a: GlocalBenchOptions): Promise<EngineResult> {
  const be = new GpuBackend(rt);
  if (a.tiles) be.tileChoice = tableChoice(a.tiles);
  if (a.conv) be.convChoice = convVariant(a.conv);
  const rng = new Rng(7);
  const { model, step, release } = trainStep(be, a, rng);
  for (let i = 0; i < 3; i++) await step(); // warm-up: pipelines, pool, Adam state
  const d0 = rt.dispatchCount;
  await step();
  const dispatches = rt.dispatchCount - d0;
  rt.pool.stats.peakLiveBytes = rt.pool.stats.liveBytes;
  rt.pool.stats.peakRequestedBytes = rt.pool.stats.liveRequestedBytes;
  await step();
  const peakBytes = rt.pool.stats.peakLiveBytes,
    requested = rt.pool.stats.peakRequestedBytes;
  // the buffers' real sizes vs what the tensors asked for: the size classes' rounding (pool.ts)
  console.log(
    `glocal: peak live ${(peakBytes / 2 ** 20).toFixed(0)} MiB in buffers, ${(requested / 2 ** 20).toFixed(0)} MiB asked for by the tensors (size-class rounding ${(100 * (peakBytes / requested - 1)).toFixed(1)}%)`,
  );
  const wallMs = await timeIt(a.reps, step);
  const gpuMs = (await rt.gpuTime(step))?.ms ?? null;
  const profile = a.profile ? await rt.gpuTime(step, { perKernel: true }) : null;
  release();
  const infer: EngineResult['infer'] = {};
  let inferProfile: Awaited<ReturnType<Runtime['gpuTime']>> = null;
  for (const b of a.inferBatches) {
    const run = inferencePass(be, model, rng, b, a.inferSize);
    for (let i = 0; i < 3; i++) await run();
    infer[b] = {
      size: a.inferSize,
      wallMs: await timeIt(Math.max(a.reps, 10), run),
      gpuMs: (await rt.gpuTime(run))?.ms ?? null,
    };
    if (a.profile && b === a.inferBatches[0]) inferProfile = await rt.gpuTime(run, { perKernel: true });
  }
  const stages = a.stages ? await benchStages(be, a.size, a.width, a.reps) : undefined;
  const table = (p: typeof profile) =>
    p && [...p.byKernel].map(([kernel, v]) => ({ kernel, ms: v.ms, count: v.count })).sort((x, y) => y.ms - x.ms);
  return {
    engine: 'glocal',
    train: { batch: a.batch, size: a.size, wallMs, gpuMs, peakBytes, dispatches },
    infer,
    stages,
    ...(profile ? { profile: table(profile)!, inferProfile: table(inferProfile) ?? undefined } : {}),
  };
}

/** ms per iteration of the pre-training stages (batch building on the host included), the paper's batch sizes. */
async function benchStages(
  be: GpuBackend,
  S: number,
  width: number,
  reps: number,
): Promise<NonNullable<EngineResult['stages']>> {
  const rng = new Rng(3);
  const vols = Array.from({ length: 8 }, () => ({
    slices: Float32Array.from({ length: 10 * S * S }, () => rng.next()),
    nz: 10,
  }));
  const out: NonNullable<EngineResult['stages']> = [];
  for (const strategy of ['GD', 'LD'] as const) {
    const o = { ...PAPER_PRETRAIN[strategy], iterations: 2 };
    const model = pretrainModel(be, paperUNet(4, width), S, o, 1);
    await pretrain(model, vols, S, o); // warm-up
    const n = Math.max(2, Math.min(reps, 10));
    const t0 = performance.now();
    await pretrain(model, vols, S, { ...o, iterations: n });
    out.push({ strategy, images: o.volumes * o.partitions * 2, wallMs: (performance.now() - t0) / n });
  }
  return out;
}
