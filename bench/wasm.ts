// The WebAssembly backend's side of the model benchmark (bench/model.ts): the same train step and inference as
// glocal on WebGPU (bench/glocal.ts), on 1 and on N threads; and its kernels' rates, GFLOP/s per core, next to
// the rate of its own packed GEMM on a matmul measured in the same run.

import { type Conv3x3, WasmBackend } from '../src/ops/wasm.ts';
import { Rng } from '../src/util/random.ts';
import { type EngineResult, type GlocalBenchOptions, inferencePass, trainStep, timeIt } from './glocal.ts';

/** GFLOP/s of the convolutions of a train step by kind, and of the matmul the GEMM runs fastest, on one thread. */
export interface WasmKernelRates {
  matmul: { m: number; k: number; n: number; gflops: number };
  forward: number;
  inputGrad: number;
  weightGrad: number;
}

type Opts = Pick<GlocalBenchOptions, 'size' | 'batch' | 'inferSize' | 'inferBatches' | 'width' | 'reps'>;

export async function benchWasm(threads: number, a: Opts, conv3x3?: Conv3x3): Promise<EngineResult> {
  const be = await WasmBackend.create({ threads, conv3x3 });
  try {
    const rng = new Rng(7);
    const { model, step, release } = trainStep(be, a, rng);
    for (let i = 0; i < 2; i++) await step();
    be.resetPeakMemory();
    await step();
    const peakBytes = be.memoryStats().peakLiveBytes;
    const wallMs = await timeIt(a.reps, step);
    release();
    const infer: EngineResult['infer'] = {};
    for (const b of a.inferBatches) {
      const run = inferencePass(be, model, rng, b, a.inferSize);
      await run();
      infer[b] = { size: a.inferSize, wallMs: await timeIt(Math.max(a.reps, 10), run), gpuMs: null };
    }
    const mem = be.memoryStats();
    console.log(
      `glocal wasm, ${be.describe()}: train ${wallMs.toFixed(0)} ms, peak live ${(peakBytes / 2 ** 20).toFixed(0)} MiB, ` +
        `linear memory ${(mem.memoryBytes / 2 ** 20).toFixed(0)} MiB`,
    );
    return {
      engine: `glocal wasm (${be.describe()})`,
      train: { batch: a.batch, size: a.size, wallMs, gpuMs: null, peakBytes },
      infer,
    };
  } finally {
    be.destroy();
  }
}

/** FLOPs of one convolution call (2 per multiply-add), from the input and weight shapes. */
const convFlops = (x: readonly number[], w: readonly number[]) => 2 * x[0] * x[1] * x[2] * w[0] * w[1] * w[2] * w[3];

/**
 * One thread: the convolutions of a train step, each call timed (packing and padding included) as its best over
 * `steps` steps (every step makes the same calls in the same order), summed by kind; and a matmul's best of
 * `reps` runs through the same GEMM. FLOPs are a direct convolution's, so a Winograd rate is an effective one.
 */
export async function wasmKernelRates(a: Opts, conv3x3: Conv3x3, steps = 5, reps = 20): Promise<WasmKernelRates> {
  const be = await WasmBackend.create({ threads: 1, conv3x3 });
  try {
    const kindNames = ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad'] as const;
    const rng = new Rng(7);
    const { step } = trainStep(be, a, rng);
    await step();
    const timed = be as unknown as Record<string, (...args: unknown[]) => unknown>;
    let calls: { kind: string; flops: number; ms: number }[] = [];
    for (const kind of kindNames) {
      const f = timed[kind].bind(be);
      timed[kind] = (...args: unknown[]) => {
        const t0 = performance.now(),
          out = f(...args) as { shape: number[] },
          ms = performance.now() - t0;
        const [first, second] = args as { shape: number[] }[];
        calls.push({ kind, flops: convFlops(first.shape, kind === 'conv2dWeightGrad' ? out.shape : second.shape), ms });
        return out;
      };
    }
    let best: typeof calls = [];
    for (let i = 0; i < steps; i++) {
      calls = [];
      await step();
      best = i === 0 ? calls : best.map((c, j) => ({ ...c, ms: Math.min(c.ms, calls[j].ms) }));
    }
    for (const kind of kindNames) delete timed[kind]; // the prototype's methods again
    const kinds = Object.fromEntries(
      kindNames.map((kind) => {
        const of = best.filter((c) => c.kind === kind);
        return [kind, [of.reduce((t, c) => t + c.flops, 0), of.reduce((t, c) => t + c.ms, 0)]];
      }),
    );
    const rate = ([flops, ms]: number[]) => flops / ms / 1e6;
    // the peak: the GEMM's best rate over square and skinny shapes from cache-resident to 1024³, so that no single
    // shape's cache behaviour stands in for it (one 1024×512·512×256 shape was slower than the convolutions)
    let peak = { m: 0, k: 0, n: 0, gflops: 0 };
    for (const [m, k, n] of [
      [128, 128, 128],
      [256, 256, 256],
      [512, 512, 512],
      [1024, 512, 256],
      [1024, 1024, 1024],
      [4096, 144, 64],
    ]) {
      const A = be.fromHost(
        Float32Array.from({ length: m * k }, () => rng.next()),
        [m, k],
      );
      const B = be.fromHost(
        Float32Array.from({ length: k * n }, () => rng.next()),
        [k, n],
      );
      let bestMs = Infinity;
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        be.release(be.matmul(A, B, false, false));
        bestMs = Math.min(bestMs, performance.now() - t0);
      }
      be.release(A);
      be.release(B);
      const gflops = (2 * m * k * n) / bestMs / 1e6;
      if (gflops > peak.gflops) peak = { m, k, n, gflops };
    }
    return {
      matmul: peak,
      forward: rate(kinds.conv2d),
      inputGrad: rate(kinds.conv2dInputGrad),
      weightGrad: rate(kinds.conv2dWeightGrad),
    };
  } finally {
    be.destroy();
  }
}
