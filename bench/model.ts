// Model benchmark (`npm run bench`): the paper's UNet, one train step (forward, soft Dice, backward, Adam, loss
// read on the host) and inference latency (host slices → upload → forward with BN in inference mode → argmax →
// label map back on the host), glocal next to tfjs-backend-webgpu (the same UNet, bench/tfjs-unet.ts) on the
// same adapter, onnxruntime-web's wasm EP on the exported ONNX (inference only), and PyTorch's figures
// (bench/torch_unet.py, run beside it) when given.
//
//   npm run bench                              this machine: measure, then rewrite BENCHMARKS.md's section
//   node dist/bench/model.js --json F          measure only, results as JSON (bench/device.sh does this)
//   node dist/bench/model.js --render F...     rewrite the section from JSON results of one machine
//   --label TEXT names the run in the table (bench/device.sh: 'node, deno call' for Deno's baseline)
//   --tiles FILE runs each GEMM that bench/tiles.js measured with its fastest tile (its --json output)
//   --conv gemm|thin-direct|gemm-wgrad: which convolutions run the tiled GEMM (all; all but the thin ones; the
//   thin ones' weight gradients too), whatever the adapter
//   --submit-every N submits the recorded work every N dispatches (Runtime.submitEvery; 0: once per step)
//   --row-split N caps one image's split-K partials of the inference conv GEMMs at N values
//   (CHUNK.rowSplitOutputs; 0: no split-K, as before 2026-11-26's dispatch work)
//
// Sizes: --size S --batch B (train), --infer-size S --infer-batches 1,8, --width W; defaults by adapter: a real
// GPU gets the paper's 192² at batch 20; a software adapter (lavapipe, SwiftShader) 96² at batch 4 and
// inference at b1 only. --profile adds GPU time per kernel of one train step and one inference; --stages (the
// default on a real GPU) times the pre-training steps G^D and L^D at the paper's batch sizes. PyTorch:
// --torch FILE takes torch_unet.py's JSON (the GPU machine), else the script runs here on the CPU (--no-torch:
// not). --chromium (the default on a software adapter; --no-chromium: not) adds glocal in headless Chromium, whose
// only adapter here is SwiftShader. The wasm backend (bench/wasm.ts; --no-wasm: not) runs the same train step and
// inference on 1 thread and on every core, and its convolutions' GFLOP/s per core are reported next to its matmul's.
// Other flags: --reps R, --tfjs-reps R, --no-tfjs, --no-ort, --no-write.

import { spawnSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Runtime } from '../src/runtime/runtime.ts';
import { CHUNK } from '../src/ops/webgpu.ts';
import { describeAdapter, getNavigatorGpu, isSoftwareAdapter } from '../src/runtime/device.ts';
import { UNet, paperUNet } from '../src/model/unet.ts';
import { Rng } from '../src/util/random.ts';
import { mdTable, textTable, writeSection } from './report.ts';
import {
  type ConvVariant,
  type EngineResult,
  type GlocalBenchOptions,
  CONV_VARIANTS,
  benchGlocal,
  randomBatch,
  timeIt,
} from './glocal.ts';
import { type WasmKernelRates, benchWasm, wasmKernelRates } from './wasm.ts';

const BENCHMARKS_MD = fileURLToPath(new URL('../../BENCHMARKS.md', import.meta.url)); // dist/bench/ → repo root

interface Args {
  size?: number;
  batch?: number;
  inferSize?: number;
  inferBatches?: number[];
  width: number;
  reps: number;
  tfjsReps: number;
  tfjs: boolean;
  torch: string | null;
  write: boolean;
  json: string | null;
  render: string[] | null;
  label: string | null;
  tiles: string | null;
  conv?: ConvVariant;
  submitEvery?: number;
  rowSplit?: number;
  profile: boolean;
  runTorch: boolean;
  stages?: boolean;
  ort: boolean;
  chromium?: boolean;
  wasm: boolean;
}

export interface RunResult {
  runtime: string;
  adapter: string;
  software: boolean;
  date: string;
  command: string;
  width: number;
  engines: EngineResult[];
}

/** Options that take a positive number, a text, or set a switch: the field each fills. */
const NUMBER_OPTIONS: Record<string, 'size' | 'batch' | 'inferSize' | 'width' | 'reps' | 'tfjsReps'> = {
  '--size': 'size',
  '--batch': 'batch',
  '--infer-size': 'inferSize',
  '--width': 'width',
  '--reps': 'reps',
  '--tfjs-reps': 'tfjsReps',
};
const TEXT_OPTIONS: Record<string, 'torch' | 'json' | 'label' | 'tiles'> = {
  '--torch': 'torch',
  '--json': 'json',
  '--label': 'label',
  '--tiles': 'tiles',
};
const SWITCHES: Record<
  string,
  [field: 'tfjs' | 'ort' | 'wasm' | 'runTorch' | 'write' | 'profile' | 'stages' | 'chromium', on: boolean]
> = {
  '--no-tfjs': ['tfjs', false],
  '--no-ort': ['ort', false],
  '--no-wasm': ['wasm', false],
  '--no-torch': ['runTorch', false],
  '--no-write': ['write', false],
  '--profile': ['profile', true],
  '--stages': ['stages', true],
  '--no-stages': ['stages', false],
  '--chromium': ['chromium', true],
  '--no-chromium': ['chromium', false],
};

function parseArgs(argv: string[]): Args {
  const a: Args = {
    width: 1,
    reps: 10,
    tfjsReps: 3,
    tfjs: true,
    torch: null,
    write: true,
    json: null,
    render: null,
    label: null,
    tiles: null,
    profile: false,
    runTorch: true,
    ort: true,
    wasm: true,
  };
  const num = (i: number) => {
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${argv[i]} needs a positive number, got '${argv[i + 1]}'`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (Object.hasOwn(NUMBER_OPTIONS, arg)) {
      a[NUMBER_OPTIONS[arg]] = num(i++);
      continue;
    }
    if (Object.hasOwn(TEXT_OPTIONS, arg)) {
      a[TEXT_OPTIONS[arg]] = argv[++i];
      continue;
    }
    if (Object.hasOwn(SWITCHES, arg)) {
      const [field, on] = SWITCHES[arg];
      a[field] = on;
      continue;
    }
    switch (arg) {
      case '--infer-batches':
        a.inferBatches = argv[++i].split(',').map(Number);
        break;
      case '--conv': {
        const v = argv[++i] as ConvVariant;
        if (!CONV_VARIANTS.includes(v)) throw new Error(`--conv takes ${CONV_VARIANTS.join(', ')}; got '${v}'`);
        a.conv = v;
        break;
      }
      case '--submit-every':
        a.submitEvery = Math.max(0, Math.floor(Number(argv[++i]))) || 0;
        break;
      case '--row-split':
        a.rowSplit = Math.max(0, Math.floor(Number(argv[++i]))) || 0;
        break;
      case '--render':
        a.render = argv.slice(i + 1);
        i = argv.length;
        break;
      case '--help':
      case '-h':
        console.log(
          'usage: node dist/bench/model.js [--size S] [--batch B] [--infer-size S] [--infer-batches 1,8] [--width W] ' +
            '[--reps R] [--tfjs-reps R] [--no-tfjs] [--no-ort] [--no-wasm] [--torch FILE | --no-torch] [--profile] [--label TEXT] [--tiles FILE] [--conv gemm|thin-direct|gemm-wgrad] [--submit-every N] [--row-split N] [--json FILE] [--no-write] | --render FILE...',
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument '${argv[i]}' (see --help)`);
    }
  }
  return a;
}

async function benchTfjs(
  a: Required<Pick<Args, 'size' | 'batch' | 'inferSize' | 'inferBatches' | 'width' | 'tfjsReps'>>,
): Promise<EngineResult> {
  const { loadTfjs } = await import('./tfjs.ts');
  const { TfjsUNet } = await import('./tfjs-unet.ts');
  const side = await loadTfjs();
  const tf = side.tf;
  const model = new TfjsUNet(tf, paperUNet(4, a.width));
  const rng = new Rng(7);
  const { x, onehot } = randomBatch(rng, a.batch, a.size, 4);
  const xs = tf.tensor4d(x, [a.batch, a.size, a.size, 1]),
    ys = tf.tensor4d(onehot, [a.batch, a.size, a.size, 4]);
  const step = () => model.trainStep(xs, ys);
  await step(); // warm-up: shader compilation
  const wallMs = await timeIt(a.tfjsReps, step);
  xs.dispose();
  ys.dispose();
  const infer: EngineResult['infer'] = {};
  for (const b of a.inferBatches) {
    const host = randomBatch(rng, b, a.inferSize, 1).x;
    const run = () => model.predictLabels(host, [b, a.inferSize, a.inferSize, 1]);
    await run();
    infer[b] = { size: a.inferSize, wallMs: await timeIt(Math.max(a.tfjsReps, 5), run), gpuMs: null };
  }
  if (side.errors.length) throw new Error(`tfjs: WebGPU errors: ${side.errors.join('; ')}`);
  return { engine: side.version, train: { batch: a.batch, size: a.size, wallMs, gpuMs: null, peakBytes: null }, infer };
}

/**
 * onnxruntime-web on the same UNet exported to ONNX (inference only: onnxruntime-web has no training), with its
 * wasm or its webgpu execution provider (the latter on the same adapter: in Node, dawn.node's, given to it as
 * navigator.gpu). Latency as glocal's: host slices in, forward, argmax on the host, label map out. Null (with a
 * message) where the package cannot be loaded, e.g. a dist/ copied without node_modules.
 */
async function benchOrt(
  ep: 'wasm' | 'webgpu',
  a: Required<Pick<Args, 'inferSize' | 'inferBatches' | 'width' | 'reps'>>,
): Promise<EngineResult | null> {
  let ort: typeof import('onnxruntime-web');
  try {
    if (ep === 'webgpu') await webgpuForOrt();
    ort = ep === 'webgpu' ? await import('onnxruntime-web/webgpu') : await import('onnxruntime-web');
  } catch (e) {
    console.log(`onnxruntime-web ${ep} EP: not run (${(e as Error).message.split('\n')[0]})`);
    return null;
  }
  const { exportOnnx } = await import('../src/onnx/onnx.ts');
  const { RefBackend } = await import('../src/ops/reference.ts');
  const t0 = performance.now();
  const K = 4,
    session = await ort.InferenceSession.create(
      await exportOnnx(new UNet(new RefBackend(), paperUNet(K, a.width), 1)),
      { executionProviders: [ep] },
    );
  console.log(`onnxruntime-web ${ep} EP: session created in ${ms(performance.now() - t0)} ms`);
  const rng = new Rng(9),
    infer: EngineResult['infer'] = {};
  for (const b of a.inferBatches) {
    const S = a.inferSize,
      P = S * S,
      host = randomBatch(rng, b, S, 1).x,
      labels = new Uint8Array(b * P);
    const run = async () => {
      const logits = (await session.run({ image: new ort.Tensor('float32', host, [b, 1, S, S]) })).logits
        .data as Float32Array;
      for (let n = 0; n < b; n++)
        for (let q = 0; q < P; q++) {
          let best = 0;
          for (let k = 1; k < K; k++) if (logits[(n * K + k) * P + q] > logits[(n * K + best) * P + q]) best = k;
          labels[n * P + q] = best;
        }
    };
    await run();
    infer[b] = { size: S, wallMs: await timeIt(Math.max(3, Math.min(a.reps, 10)), run), gpuMs: null };
  }
  await session.release();
  const threads = ort.env.wasm.numThreads;
  const what =
    ep === 'webgpu'
      ? 'webgpu EP'
      : `wasm EP (${threads ? `${threads} thread${threads === 1 ? '' : 's'}` : 'default threads'})`;
  return { engine: `onnxruntime-web ${ort.env.versions.web} ${what}`, infer };
}

/**
 * onnxruntime-web's webgpu EP looks for navigator.gpu: Node has none, so it gets dawn.node's (the instance glocal
 * uses), and dawn.node refuses writeBuffer from a view on a SharedArrayBuffer, which the EP's wasm heap is when
 * threads are on: such data is copied first (platform notes). Deno and browsers need nothing.
 */
async function webgpuForOrt(): Promise<void> {
  const g = globalThis as any;
  if (g.Deno || g.process?.versions?.node === undefined) return;
  const gpu = await getNavigatorGpu('node'); // (the tfjs row may have set navigator.gpu to it already)
  if (!g.navigator?.gpu)
    Object.defineProperty(g, 'navigator', { value: { ...(g.navigator ?? {}), gpu }, configurable: true });
  if (g.GPUQueue.prototype.writeBuffer.glocalCopiesShared) return;
  const write = g.GPUQueue.prototype.writeBuffer;
  g.GPUQueue.prototype.writeBuffer = function (
    buffer: GPUBuffer,
    offset: number,
    data: any,
    dataOffset?: number,
    size?: number,
  ) {
    const shared =
      typeof SharedArrayBuffer !== 'undefined' &&
      (data instanceof SharedArrayBuffer || data?.buffer instanceof SharedArrayBuffer);
    if (shared) data = ArrayBuffer.isView(data) ? (data as Uint8Array).slice() : new Uint8Array(data).slice();
    return write.call(this, buffer, offset, data, dataOffset, size);
  };
  g.GPUQueue.prototype.writeBuffer.glocalCopiesShared = true;
}

/**
 * Run bench/torch_unet.py on this machine's CPU (2 threads, the CI machine's cores) with the same sizes; the
 * first of $GLOCAL_PYTHON, python3, /usr/bin/python3 that imports torch. Returns its JSON's path, or null.
 */
function runTorch(
  size: number,
  batch: number,
  inferSize: number,
  inferBatches: number[],
  width: number,
): string | null {
  const script = fileURLToPath(new URL('../../bench/torch_unet.py', import.meta.url));
  const out = join(tmpdir(), `glocal-torch-${process.pid}.json`);
  for (const py of [process.env.GLOCAL_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean) as string[]) {
    if (spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) continue;
    console.log(`PyTorch on the CPU (${py}, 2 threads) ...`);
    const r = spawnSync(
      py,
      [
        script,
        '--device',
        'cpu',
        '--threads',
        '2',
        '--size',
        String(size),
        '--batch',
        String(batch),
        '--infer-size',
        String(inferSize),
        '--infer-batches',
        inferBatches.join(','),
        '--width',
        String(width),
        '--reps',
        '5',
        '--warm',
        '2',
        '--out',
        out,
      ],
      { stdio: 'inherit' },
    );
    return r.status === 0 ? out : null;
  }
  console.log('PyTorch: no python3 with torch found (set GLOCAL_PYTHON); left out');
  return null;
}

/** PyTorch's JSON (bench/torch_unet.py) as engine results: one per precision mode. */
function torchEngines(path: string): EngineResult[] {
  const t = JSON.parse(readFileSync(path, 'utf8'));
  const out: EngineResult[] = [];
  for (const mode of ['fp32', 'tf32']) {
    const r = t[mode];
    if (!r) continue;
    const where = t.device === 'cuda' ? `CUDA, ${t.gpu}` : `CPU, ${t.threads} threads`;
    const infer: EngineResult['infer'] = {};
    for (const [b, v] of Object.entries<any>(r.infer)) infer[b] = { size: v.size, wallMs: v.wall_ms, gpuMs: v.gpu_ms };
    out.push({
      engine: `PyTorch ${t.torch} ${where}${t.device === 'cuda' ? `, ${mode}` : ''}`,
      train: {
        batch: r.train.batch,
        size: r.train.size,
        wallMs: r.train.wall_ms,
        gpuMs: r.train.gpu_ms,
        peakBytes: r.train.peak_bytes ?? null,
      },
      infer,
    });
  }
  return out;
}

const ms = (v: number | null | undefined) =>
  v == null ? '—' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
const mib = (v: number | null | undefined) => (v == null ? '—' : `${(v / 2 ** 20).toFixed(0)} MiB`);

/** Markdown for one machine's results (several runtimes' RunResults, PyTorch engines inside them). */
export function renderSection(runs: RunResult[]): { header: string; body: string; console: string } {
  const first = runs[0];
  const header = first.software ? '## Model: software GPU (npm run bench)' : '## Model: GPU machine (bench/device.sh)';
  const glocal = (r: RunResult) => r.engines.find((e) => e.engine === 'glocal')!;
  const node = runs.find((r) => r.runtime === 'node') ?? first;
  const ours = glocal(node);
  const rows: string[][] = [];
  const inferKeys = Object.keys(ours.infer);
  for (const r of runs) {
    for (const e of r.engines) {
      if (r !== node && e.engine !== 'glocal') continue; // peers once, from the Node run
      const name = e.engine === 'glocal' ? `glocal (${r.runtime})` : e.engine;
      const ratio = (mine: number | undefined, theirs: number | undefined) =>
        mine && theirs && e.engine !== 'glocal' ? ` (${(mine / theirs).toFixed(2)}×)` : '';
      rows.push([
        name,
        e.train ? `${ms(e.train.wallMs)}${ratio(ours.train?.wallMs, e.train.wallMs)}` : '—',
        ms(e.train?.gpuMs),
        mib(e.train?.peakBytes),
        ...inferKeys.flatMap((b) => [
          `${ms(e.infer[b]?.wallMs)}${ratio(ours.infer[b]?.wallMs, e.infer[b]?.wallMs)}`,
          ms(e.infer[b]?.gpuMs),
        ]),
      ]);
    }
  }
  const t = ours.train!;
  const head = [
    'engine',
    `train step b${t.batch} ${t.size}² ms (glocal ÷ it)`,
    'GPU ms',
    'peak memory',
    ...inferKeys.flatMap((b) => [`infer b${b} ${ours.infer[b].size}² ms (glocal ÷ it)`, 'GPU ms']),
  ];
  // the card's name: Dawn on NVIDIA reports only the driver, so take PyTorch's device name from the same call
  const card = runs
    .flatMap((r) => r.engines)
    .map((e) => /CUDA, ([^,]+)/.exec(e.engine)?.[1])
    .find(Boolean);
  const lines = [
    `${card ? `Card: ${card}. ` : ''}Adapters: ${[...new Set(runs.map((r) => r.adapter))].join('; ')}. Measured ${first.date}; width ×${first.width}.`,
    '',
    `Commands: ${runs.map((r) => `\`${r.command}\``).join('; ')}` +
      (first.software
        ? '.'
        : ` (on the GPU machine: \`bash bench/device.sh OUT node [variants] [convs] [splitk] deno\`; this section: \`node dist/bench/model.js --render OUT/*.json\` with OUT/node.json first).`),
    '',
    mdTable(head, rows, ['l']),
    '',
    'Times are medians after warm-up. Train step: forward, soft Dice (background included), backward, Adam 1e-3, ' +
      'the loss read on the host. Inference: host slices uploaded, forward with BN in inference mode, argmax, the ' +
      'label map read back on the host. "GPU ms": timestamp queries around every compute pass of one step (glocal) ' +
      'or CUDA events (PyTorch); "—" where the engine gives none. Peak memory: glocal counts the bytes of its live ' +
      'buffers during a step (parameters, Adam moments, activations, gradients); PyTorch reports ' +
      '`torch.cuda.max_memory_allocated` over one step after warm-up. "(glocal ÷ it)" is glocal-on-Node\'s time ' +
      "divided by the row's: below 1 means glocal is faster.",
    ...runs.flatMap((r) => {
      const st = glocal(r).stages;
      return st?.length
        ? [
            '',
            `Pre-training steps, glocal (${r.runtime}), at ${t.size}²: ` +
              st
                .map(
                  (x) =>
                    `${x.strategy === 'GD' ? 'stage 1 G^D' : 'stage 2 L^D'} (${x.images} images) ${ms(x.wallMs)} ms`,
                )
                .join(', ') +
              ' per iteration (host batch building included; no peer implements these losses).',
          ]
        : [];
    }),
    ...denoRatio(runs),
    ...wasmKernelLines(node.engines),
    ...profileTable(ours),
    ...(ours.train?.dispatches
      ? [
          '',
          `A glocal train step records ${ours.train.dispatches} dispatches (submitted in command buffers of Runtime.submitEvery dispatches).`,
        ]
      : []),
  ];
  return { header, body: lines.join('\n'), console: textTable(head, rows) };
}

/** The wasm backend's CPU, and its convolutions' rates per core against its matmul's, from the same run. */
function wasmKernelLines(engines: EngineResult[]): string[] {
  const e = engines.find((x) => x.wasmKernels);
  if (!e?.wasmKernels) return [];
  const { gemm, winograd } = e.wasmKernels,
    mm = gemm.matmul;
  const rates = (k: WasmKernelRates) => {
    const pct = (v: number) => `${v.toFixed(1)} GFLOP/s (${((100 * v) / mm.gflops).toFixed(0)}%)`;
    return `forward ${pct(k.forward)}, input gradient ${pct(k.inputGrad)}, weight gradient ${pct(k.weightGrad)}`;
  };
  return [
    '',
    `glocal wasm rows: WebAssembly SIMD kernels (kernels/nn/) on the CPU, ${e.cpu}. Convolutions of one train step ` +
      `on one thread, each call's best of 5 steps, packing, padding and transforms included, as GFLOP/s of a direct ` +
      `convolution's FLOPs and their share of the GEMM's rate on a ${mm.m}×${mm.k}·${mm.k}×${mm.n} matmul, ` +
      `${mm.gflops.toFixed(1)} GFLOP/s (the best of 6 shapes, each its best of 20 runs): with every convolution by ` +
      `implicit GEMM (--conv3x3 gemm) ${rates(gemm)}; with 3×3 convolutions by Winograd F(2×2, 3×3) (the default; ` +
      `effective rates, as it does 2.25× fewer multiplies) ${rates(winograd)}.`,
  ];
}

/** Where one glocal train step's GPU time goes (--profile): the top kernels. */
function profileTable(e: EngineResult): string[] {
  const one = (p: EngineResult['profile'], what: string, top: number): string[] => {
    if (!p?.length) return [];
    const total = p.reduce((a, k) => a + k.ms, 0);
    const rows = p
      .slice(0, top)
      .map((k) => [`\`${k.kernel}\``, String(k.count), ms(k.ms), `${((100 * k.ms) / total).toFixed(1)}%`]);
    return [
      '',
      `Profile of ${what} (each dispatch in a compute pass of its own, with timestamps; ${ms(total)} ms in all, ` +
        `${p.length} kernel variants; the top ${Math.min(top, p.length)}):`,
      '',
      mdTable(['kernel {specialisation}', 'dispatches', 'GPU ms', 'share'], rows, ['l']),
    ];
  };
  const b = Object.keys(e.infer)[0];
  return [...one(e.profile, 'one train step', 20), ...one(e.inferProfile, `one inference at b${b}`, 10)];
}

/** Deno ÷ Node for the train step: the Node run of the same call ('node, deno call' when Node ran only as Deno's baseline). */
function denoRatio(runs: RunResult[]): string[] {
  const deno = runs.find((r) => r.runtime === 'deno');
  const base = runs.find((r) => r.runtime === 'node, deno call') ?? runs.find((r) => r.runtime === 'node');
  const t = (r?: RunResult) => r?.engines.find((e) => e.engine === 'glocal')?.train?.wallMs;
  const d = t(deno),
    n = t(base);
  return d && n
    ? ['', `Deno ÷ Node, train step, same call and machine: ${ms(d)} / ${ms(n)} ms = ${(d / n).toFixed(2)}×.`]
    : [];
}

async function main() {
  const argv: string[] = typeof process !== 'undefined' ? process.argv.slice(2) : (globalThis as any).Deno.args;
  const a = parseArgs(argv);
  if (a.render) {
    const runs: RunResult[] = a.render.map((f) => JSON.parse(readFileSync(f, 'utf8')));
    const s = renderSection(runs);
    console.log(s.console);
    if (a.write) writeSection(BENCHMARKS_MD, s.header, s.body);
    return;
  }
  const rt = await Runtime.create();
  if (a.submitEvery !== undefined) rt.submitEvery = a.submitEvery;
  if (a.rowSplit !== undefined) CHUNK.rowSplitOutputs = a.rowSplit;
  const software = isSoftwareAdapter(rt.gpu.info);
  const adapter = describeAdapter(rt.gpu.info);
  console.log(`adapter: ${adapter}`);
  const size = a.size ?? (software ? 96 : 192),
    batch = a.batch ?? (software ? 4 : 20);
  const inferSize = a.inferSize ?? 192,
    inferBatches = a.inferBatches ?? (software ? [1] : [1, 8]);
  const glocalOptions: GlocalBenchOptions = {
    size,
    batch,
    inferSize,
    inferBatches,
    width: a.width,
    reps: a.reps,
    profile: a.profile,
    stages: a.stages ?? !software,
    tiles: a.tiles ? JSON.parse(readFileSync(a.tiles, 'utf8')) : undefined,
    conv: a.conv,
  };
  const engines: EngineResult[] = [await benchGlocal(rt, glocalOptions)];
  console.log(`glocal: train ${ms(engines[0].train!.wallMs)} ms`);
  if (engines[0].profile) console.log(profileTable(engines[0]).join('\n'));
  rt.destroy();
  if (a.wasm)
    engines.push(...(await benchWasmEngines({ size, batch, inferSize, inferBatches, width: a.width, reps: a.reps })));
  if (a.tfjs)
    engines.push(await benchTfjs({ size, batch, inferSize, inferBatches, width: a.width, tfjsReps: a.tfjsReps }));
  if (a.ort) {
    for (const ep of ['wasm', 'webgpu'] as const) {
      const o = await benchOrt(ep, { inferSize, inferBatches, width: a.width, reps: a.reps });
      if (o) engines.push(o);
    }
  }
  const torchJson = a.torch ?? (a.runTorch ? runTorch(size, batch, inferSize, inferBatches, a.width) : null);
  if (torchJson) engines.push(...torchEngines(torchJson));
  const runtime = (globalThis as any).Deno ? 'deno' : 'node';
  const result: RunResult = {
    runtime: a.label ?? runtime,
    adapter,
    software,
    date: new Date().toISOString().slice(0, 10),
    width: a.width,
    engines,
    command:
      `${runtime === 'deno' ? 'deno run -A' : 'node'} dist/bench/model.js ${argv.map((x) => (/\s/.test(x) ? `'${x}'` : x)).join(' ')}`.trim(),
  };
  if (a.json) {
    writeFileSync(`${a.json}.tmp`, JSON.stringify(result, null, 1));
    renameSync(`${a.json}.tmp`, a.json);
  }
  // Chromium only offers SwiftShader here, another adapter than lavapipe (~10x slower): its row is reported, not
  // compared, and leaves out the pre-training steps
  const browser =
    (a.chromium ?? software)
      ? await benchChromium({ ...glocalOptions, reps: Math.min(a.reps, 3), profile: false, stages: false })
      : null;
  const s = renderSection(browser ? [result, browser] : [result]);
  console.log(s.console);
  if (a.write && !a.json) writeSection(BENCHMARKS_MD, s.header, s.body);
}

/** The wasm backend on 1 thread and on every core; the first row carries the kernel rates and the CPU's name. */
async function benchWasmEngines(o: Parameters<typeof benchWasm>[1]): Promise<EngineResult[]> {
  const { availableParallelism, cpus } = await import('node:os');
  const out: EngineResult[] = [];
  const all = availableParallelism();
  for (const threads of [...new Set([1, all])]) out.push(await benchWasm(threads, o));
  // the default (auto) against each algorithm everywhere, on every core: Winograd (--conv3x3 winograd), and the
  // implicit GEMM (--conv3x3 gemm, the path before Winograd)
  out.push(await benchWasm(all, o, 'winograd'));
  out.push(await benchWasm(all, o, 'gemm'));
  out[0].wasmKernels = { gemm: await wasmKernelRates(o, 'gemm'), winograd: await wasmKernelRates(o, 'winograd') };
  out[0].cpu = `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${availableParallelism()} cores`;
  return out;
}

/**
 * glocal in headless Chromium (bench/chromium.html served from dist/, the same bundle of kernels): null, with a
 * message, where Chromium or playwright-core is missing (the GPU machine has neither).
 */
async function benchChromium(o: GlocalBenchOptions): Promise<RunResult | null> {
  let browser: Awaited<ReturnType<typeof import('../src/util/chromium.ts').launchChromium>>;
  const { serveDirectory } = await import('../src/util/static-server.ts');
  try {
    browser = await (await import('../src/util/chromium.ts')).launchChromium();
  } catch (e) {
    console.log(`chromium: not run (${(e as Error).message.split('\n')[0]})`);
    return null;
  }
  const { server, url } = await serveDirectory(fileURLToPath(new URL('..', import.meta.url)));
  try {
    const page = await browser.newPage();
    page.on('console', (m) => console.log(`chromium: ${m.text()}`));
    await page.goto(`${url}/bench/chromium.html?options=${encodeURIComponent(JSON.stringify(o))}`);
    await page.waitForFunction(() => (globalThis as any).__glocalBench, null, { timeout: 0, polling: 500 });
    const r: any = await page.evaluate(() => (globalThis as any).__glocalBench);
    if (r.error) throw new Error(`chromium: the benchmark page failed: ${r.error}`);
    return {
      runtime: 'chromium',
      adapter: r.adapter,
      software: true,
      date: new Date().toISOString().slice(0, 10),
      width: o.width,
      engines: [r.result],
      command: `(the same call, in headless Chromium: bench/chromium.html, ${o.reps} repetitions)`,
    };
  } finally {
    await browser.close();
    server.close();
  }
}

await main();
