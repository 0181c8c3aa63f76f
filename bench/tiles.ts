// GEMM tile sweep: for every convolution that runs on the tiled GEMM in one train step and one inference of the
// paper's UNet, the GPU time of each candidate tile (WX, WY, RB, TK, AK of wgsl/gemm.wgsl) next to gemmTile's.
// Tiles never change the bits (test/suites/kernels.ts checks it), so a table measured here can become a
// device's default without touching the numerics.
//
//   node dist/bench/tiles.js [--size 192] [--batch 20] [--infer-batches 1,8] [--width 1] [--reps 5] [--quick]
//                            [--gemm] [--max-s 240] [--json FILE] [--write]
//   node dist/bench/tiles.js --render FILE      rewrite BENCHMARKS.md's tile section from a JSON result
//
// Timing: GPU timestamps around each dispatch (Runtime.gpuTime, perKernel), the GEMM kernel's own time only
// (a split-K weight gradient's chunk sum is the same for every tile), the median of --reps runs. --quick sweeps
// three candidates and --gemm runs convolutions on the GEMM as GPUs do (smoke tests on software adapters); --max-s stops the sweep (what is measured is kept).

import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs as parseCli } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Runtime, type GpuTensor, type Specialisation } from '../src/runtime/runtime.ts';
import {
  GpuBackend,
  adapterTile,
  defaultConvChoice,
  tileProblem,
  type GemmKernel,
  type TileChoice,
} from '../src/ops/webgpu.ts';
import type { ConvSpec } from '../src/ops/backend.ts';
import { describeAdapter } from '../src/runtime/device.ts';
import { Rng } from '../src/util/random.ts';
import { inferencePass, trainStep } from './glocal.ts';
import { mdTable, writeSection } from './report.ts';

const SECTION = '## GEMM tiles (bench/tiles.ts)';
const BENCHMARKS_MD = fileURLToPath(new URL('../../BENCHMARKS.md', import.meta.url));

type ConvOp = 'conv2d' | 'conv2dInputGrad' | 'conv2dWeightGrad';
const KERNEL: Record<ConvOp, GemmKernel> = {
  conv2d: 'conv2d_forward',
  conv2dInputGrad: 'conv2d_input_grad',
  conv2dWeightGrad: 'conv2d_weight_grad',
};

/** One GEMM convolution of the model: its input shapes, how often a step runs it, and what the sweep measured. */
export interface Problem {
  phase: 'train' | 'infer';
  op: ConvOp;
  /** the op's two tensor inputs (conv2d: x, w; input grad: dy, w; weight grad: x, dy) */
  a: number[];
  b: number[];
  spec: ConvSpec;
  count: number;
  /** the GEMM as the tile sees it (k: one split-K chunk), recorded when the op ran */
  kernel?: GemmKernel;
  m?: number;
  n?: number;
  k?: number;
  defaultTile?: Specialisation;
  defaultMs?: number;
  best?: Specialisation;
  bestMs?: number;
  measured?: number;
}

export interface TileResult {
  adapter: string;
  date: string;
  command: string;
  size: number;
  batch: number;
  inferBatches: number[];
  width: number;
  problems: Problem[];
}

/**
 * Candidate tiles, first stage: every WX×WY (64 to 256 threads) and RB at TK 16, AK both ways, pruned to what
 * fits the GEMM and the device; the second stage (tkVariants) tries TK 8 and 32 on the stage's three fastest.
 */
function candidates(p: Problem, limits: GPUSupportedLimits, quick: boolean): Specialisation[] {
  const n = p.n!,
    k = p.k!;
  const list = quick
    ? [
        { WX: 4, WY: 16, RB: 4, TK: 16, AK: true },
        { WX: 8, WY: 8, RB: 2, TK: 8, AK: false },
        { WX: 16, WY: 16, RB: 1, TK: 16, AK: false },
      ]
    : [2, 4, 8, 16]
        .flatMap((WX) =>
          [4, 8, 16, 32, 64].flatMap((WY) =>
            [1, 2, 4].flatMap((RB) => [false, true].map((AK) => ({ WX, WY, RB, TK: Math.min(16, k), AK }))),
          ),
        )
        .filter((t) => t.WX * t.WY >= 64 && t.WX * t.WY <= 256 && t.WY * t.RB <= 64 && 4 * t.WX <= 2 * Math.max(16, n));
  return list.filter((t) => !tileProblem(t, limits));
}

function tkVariants(best: Specialisation[], k: number, limits: GPUSupportedLimits): Specialisation[] {
  return best
    .flatMap((t) => [8, 32].filter((tk) => tk !== t.TK && tk <= 2 * k).map((TK) => ({ ...t, TK })))
    .filter((t) => !tileProblem(t, limits));
}

const tileText = (t: Specialisation) => `${t.WX}×${t.WY} RB${t.RB} TK${t.TK}${t.AK ? ' AK' : ''}`;

/** The GEMM convolutions of one train step and one inference, recorded by wrapping the backend's conv ops. */
async function recordProblems(be: GpuBackend, a: Args): Promise<Problem[]> {
  const found = new Map<string, Problem>();
  let phase: Problem['phase'] = 'train';
  const direct = {
    conv2d: be.convChoice.directForward,
    conv2dInputGrad: be.convChoice.directInputGrad,
    conv2dWeightGrad: be.convChoice.directWeightGrad,
  };
  // an inference conv block (conv2dBnReluInfer) runs the forward GEMM with batch norm and ReLU as its epilogue:
  // recorded, and timed, as that GEMM
  const wrapped = ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad', 'conv2dBnReluInfer'] as const;
  for (const name of wrapped) {
    const original = (be as any)[name].bind(be);
    const op: ConvOp = name === 'conv2dBnReluInfer' ? 'conv2d' : name;
    (be as any)[name] = (...args: any[]) => {
      const [t0, t1] = args as GpuTensor[],
        spec = (name === 'conv2dBnReluInfer' ? args[4] : args[args.length - 1]) as ConvSpec;
      const cin = op === 'conv2dInputGrad' ? t1.shape[2] : t0.shape[3];
      const cout = op === 'conv2d' ? t1.shape[3] : op === 'conv2dInputGrad' ? t0.shape[3] : t1.shape[3];
      if (!direct[op](cin, cout)) {
        const id = `${phase} ${op} ${t0.shape} ${t1.shape} ${JSON.stringify(spec)}`;
        const p = found.get(id) ?? { phase, op, a: [...t0.shape], b: [...t1.shape], spec, count: 0 };
        p.count++;
        found.set(id, p);
      }
      return original(...args);
    };
  }
  const rng = new Rng(5);
  const { model, step, release } = trainStep(be, a, rng);
  await step();
  release();
  phase = 'infer';
  for (const b of a.inferBatches) await inferencePass(be, model, rng, b, a.size)();
  for (const name of wrapped) delete (be as any)[name];
  return [...found.values()];
}

function run(be: GpuBackend, p: Problem, t0: GpuTensor, t1: GpuTensor): GpuTensor {
  return p.op === 'conv2d'
    ? be.conv2d(t0, t1, null, p.spec)
    : (be[p.op] as (x: GpuTensor, y: GpuTensor, s: ConvSpec) => GpuTensor)(t0, t1, p.spec);
}

/** Mean GPU ms of the problem's GEMM kernel under `choice` over `reps` runs (the op's other kernels not counted). */
async function timeTile(
  rt: Runtime,
  be: GpuBackend,
  p: Problem,
  t0: GpuTensor,
  t1: GpuTensor,
  choice: TileChoice | null,
  reps: number,
): Promise<number> {
  be.tileChoice = choice;
  try {
    run(be, p, t0, t1).release(); // pipeline compilation outside the timed runs
    await rt.sync();
    const g = await rt.gpuTime(
      async () => {
        for (let r = 0; r < reps; r++) run(be, p, t0, t1).release();
        await rt.sync();
      },
      { perKernel: true },
    );
    if (!g) throw new Error('this adapter has no timestamp-query: the tile sweep needs GPU timestamps');
    let ms = 0,
      count = 0;
    for (const [k, v] of g.byKernel) if (k.startsWith(`${p.kernel!}{`)) [ms, count] = [ms + v.ms, count + v.count];
    return ms / count;
  } finally {
    be.tileChoice = null;
  }
}

interface Args {
  size: number;
  batch: number;
  inferBatches: number[];
  width: number;
  reps: number;
  quick: boolean;
  gemm: boolean;
  maxS: number;
  json: string | null;
  write: boolean;
  render: string | null;
}

function parseArgs(argv: string[]): Args {
  const { values: v } = parseCli({
    args: argv,
    strict: true,
    options: {
      size: { type: 'string', default: '192' },
      batch: { type: 'string', default: '20' },
      'infer-batches': { type: 'string', default: '1,8' },
      width: { type: 'string', default: '1' },
      reps: { type: 'string', default: '5' },
      'max-s': { type: 'string', default: '240' },
      quick: { type: 'boolean', default: false },
      gemm: { type: 'boolean', default: false },
      json: { type: 'string' },
      write: { type: 'boolean', default: false },
      render: { type: 'string' },
    },
  });
  const num = (name: keyof typeof v) => {
    const x = Number(v[name]);
    if (!Number.isFinite(x) || x <= 0) throw new Error(`--${name} needs a positive number, got '${v[name]}'`);
    return x;
  };
  return {
    size: num('size'),
    batch: num('batch'),
    inferBatches: String(v['infer-batches']).split(',').map(Number),
    width: num('width'),
    reps: num('reps'),
    quick: v.quick!,
    gemm: v.gemm!,
    maxS: num('max-s'),
    json: v.json ?? null,
    write: v.write!,
    render: v.render ?? null,
  };
}

function render(r: TileResult): string {
  const done = r.problems.filter((p) => p.bestMs !== undefined && p.measured! > 0);
  const sum = (phase: string, f: (p: Problem) => number) =>
    done.filter((p) => p.phase === phase).reduce((s, p) => s + p.count * f(p), 0);
  const rows = done.map((p) => [
    p.phase,
    p.kernel!,
    `${p.m}×${p.n}×${p.k}`,
    String(p.count),
    tileText(p.defaultTile!),
    p.defaultMs!.toFixed(3),
    tileText(p.best!),
    p.bestMs!.toFixed(3),
    `${(p.defaultMs! / p.bestMs!).toFixed(2)}×`,
    String(p.measured),
  ]);
  return [
    `Measured ${r.date} with \`${r.command}\`. Adapter: ${r.adapter}. Paper UNet width ×${r.width}, ${r.size}², train step b${r.batch}, inference b${r.inferBatches.join('/b')}.`,
    '',
    'Each GEMM convolution of one train step and one inference (M×N×K of one split-K chunk; "n": how often the step runs it), ' +
      "GPU ms of its GEMM kernel (timestamps around the dispatch, median) with gemmTile's tile and with the fastest candidate " +
      '(WX×WY threads, RB groups of 4 rows per thread, TK k-step, AK: k-fastest A loads). Tiles do not change the bits.',
    '',
    mdTable(
      ['phase', 'kernel', 'M×N×K', 'n', 'default tile', 'ms', 'fastest tile', 'ms', 'gain', 'tiles tried'],
      rows,
      ['l', 'l', 'l', 'r', 'l', 'r', 'l', 'r', 'r', 'r'],
    ),
    '',
    `Sum over the step (count × ms): train ${sum('train', (p) => p.defaultMs!).toFixed(2)} ms with gemmTile's tiles, ${sum('train', (p) => p.bestMs!).toFixed(2)} ms with the fastest; ` +
      `inference ${sum('infer', (p) => p.defaultMs!).toFixed(2)} → ${sum('infer', (p) => p.bestMs!).toFixed(2)} ms.` +
      (done.length < r.problems.length
        ? ` ${r.problems.length - done.length} of ${r.problems.length} GEMMs not measured (--max-s).`
        : ''),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.render) {
    writeSection(BENCHMARKS_MD, SECTION, render(JSON.parse(readFileSync(a.render, 'utf8'))));
    return;
  }
  const rt = await Runtime.create();
  const be = new GpuBackend(rt);
  if (a.gemm) be.convChoice = defaultConvChoice(false); // a GPU's kernel choice on a CPU adapter too (smoke tests)
  const limits = rt.gpu.limits as unknown as GPUSupportedLimits;
  const result: TileResult = {
    adapter: describeAdapter(rt.gpu.info),
    date: new Date().toISOString(),
    command: `node dist/bench/tiles.js ${process.argv.slice(2).join(' ')}`.trim(),
    size: a.size,
    batch: a.batch,
    inferBatches: a.inferBatches,
    width: a.width,
    problems: await recordProblems(be, a),
  };
  console.log(`${result.adapter}: ${result.problems.length} GEMM convolutions`);
  const started = performance.now(),
    rng = new Rng(11);
  for (const p of result.problems) {
    if ((performance.now() - started) / 1000 > a.maxS) {
      console.log(`--max-s ${a.maxS}: stopping`);
      break;
    }
    const host = (shape: number[]) =>
      be.fromHost(
        Float32Array.from({ length: shape.reduce((x, y) => x * y, 1) }, () => rng.next() - 0.5),
        shape,
      );
    const t0 = host(p.a),
      t1 = host(p.b);
    // the GEMM as gemm() sees it: record which tile gemmTile gives, through a choice that only watches
    be.tileChoice = (kernel, m, n, k) => {
      if (kernel === KERNEL[p.op])
        Object.assign(p, {
          kernel,
          m,
          n,
          k,
          defaultTile: adapterTile(m, n, k, rt.gpu.limits.maxComputeInvocationsPerWorkgroup, be.cpuAdapter),
        });
      return null;
    };
    run(be, p, t0, t1).release();
    await rt.sync();
    p.defaultMs = await timeTile(rt, be, p, t0, t1, null, a.reps);
    [p.best, p.bestMs, p.measured] = [p.defaultTile, p.defaultMs, 1];
    const timed: [Specialisation, number][] = [];
    const tryAll = async (list: Specialisation[]) => {
      for (const c of list) {
        const ms = await timeTile(rt, be, p, t0, t1, (kernel) => (kernel === p.kernel ? c : null), a.reps);
        timed.push([c, ms]);
        p.measured!++;
        if (ms < p.bestMs!) [p.best, p.bestMs] = [c, ms];
      }
    };
    await tryAll(candidates(p, limits, a.quick));
    if (!a.quick)
      await tryAll(
        tkVariants(
          timed
            .sort((x, y) => x[1] - y[1])
            .slice(0, 3)
            .map(([t]) => t),
          p.k!,
          limits,
        ),
      );
    be.release(t0);
    be.release(t1);
    console.log(
      `${p.phase} ${p.kernel} ${p.m}×${p.n}×${p.k} (×${p.count}): ${tileText(p.defaultTile!)} ${p.defaultMs.toFixed(3)} ms → ${tileText(p.best!)} ${p.bestMs!.toFixed(3)} ms (${p.measured} tiles)`,
    );
  }
  const text = render(result);
  console.log(text);
  if (a.json) writeFileSync(a.json, JSON.stringify(result, null, 1));
  if (a.write) writeSection(BENCHMARKS_MD, SECTION, text);
  rt.destroy();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
