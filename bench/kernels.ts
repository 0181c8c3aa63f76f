// Kernel benchmark: GFLOP/s of glocal's conv forward / input gradient / weight gradient at the UNet's layer
// shapes, next to a tuned matmul ("practical peak") and TensorFlow.js's WebGPU backend on the same adapter.
//
//   npm run bench:kernels                      full run (N = 20), rewrites the Kernels section of BENCHMARKS.md
//   npm run bench:kernels -- --batch 2         quick run
//   npm run bench:kernels -- --only 96,        only shapes whose label contains the text
//
// Flags: --batch N (20), --only TEXT, --reps R (3), --no-tfjs (ours only), --no-write (console only).

import { execSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Runtime, type GpuTensor } from '../src/runtime/runtime.ts';
import { GpuBackend } from '../src/ops/gpu.ts';
import { sameConv, type ConvSpec } from '../src/ops/backend.ts';
import { describeAdapter } from '../src/device/gpu.ts';
import { Rng } from '../src/util/random.ts';
import { loadTfjs, type TfjsSide, type TfTensor } from './tfjs.ts';
import { mdTable, textTable, writeSection } from './report.ts';

// ------------------------------------------------------------------------------------------------ setup

/** The UNet's conv layer shapes: spatial size H = W, Cin → Cout, kernel k (3: 3×3 pad 1; 2: 2×2 TF SAME). */
const SHAPES: [number, number, number, number][] = [
  [192, 1, 16, 3], [192, 16, 16, 3], [96, 32, 32, 3], [48, 64, 64, 3], [24, 128, 128, 3],
  [12, 256, 128, 3], [24, 128, 128, 2], [192, 32, 16, 3], [192, 16, 4, 3],
];

const OPS = ['fwd', 'dgrad', 'wgrad'] as const;
type Op = (typeof OPS)[number];
const OP_NAME: Record<Op, string> = { fwd: 'forward', dgrad: 'input grad', wgrad: 'weight grad' };

const SECTION = '## Kernels (npm run bench:kernels)';
const BENCHMARKS_MD = fileURLToPath(new URL('../../BENCHMARKS.md', import.meta.url)); // dist/bench/ → repo root

/** Timing policy (also written into BENCHMARKS.md). */
const TIMING = {
  /** a single timed repetition when the first one takes longer than this */
  slowS: 5,
  /** ops faster than this get extra repetitions until this much time is measured ... */
  minTotalS: 1,
  /** ... but at most this many */
  maxReps: 20,
  /** the matmul peak uses the first n (of these) whose single run takes at least this long */
  peakMinS: 0.5,
  peakSizes: [1024, 2048],
};

interface Args { batch: number; only: string | null; reps: number; tfjs: boolean; write: boolean; raw: string[] }

function parseArgs(argv: string[]): Args {
  const a: Args = { batch: 20, only: null, reps: 3, tfjs: true, write: true, raw: argv };
  const value = (i: number, name: string): string => {
    const eq = argv[i].indexOf('=');
    if (eq >= 0) return argv[i].slice(eq + 1);
    if (i + 1 >= argv.length) throw new Error(`${name} needs a value`);
    return argv[i + 1];
  };
  const posInt = (s: string, name: string): number => {
    const v = Number(s);
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} needs a positive integer, got '${s}'`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].split('=')[0];
    const inline = argv[i].includes('=');
    switch (name) {
      case '--batch': a.batch = posInt(value(i, name), name); break;
      case '--reps': a.reps = posInt(value(i, name), name); break;
      case '--only': a.only = value(i, name); break;
      case '--no-tfjs': a.tfjs = false; continue;
      case '--no-write': a.write = false; continue;
      case '--help': case '-h':
        console.log('usage: node dist/bench/kernels.js [--batch N] [--only TEXT] [--reps R] [--no-tfjs] [--no-write]');
        process.exit(0);
      // falls through (never reached)
      default: throw new Error(`unknown argument '${argv[i]}' (try --help)`);
    }
    if (!inline) i++;
  }
  return a;
}

interface ConvShape { h: number; cin: number; cout: number; k: number; label: string; ascii: string }

function convShapes(only: string | null): ConvShape[] {
  const all = SHAPES.map(([h, cin, cout, k]) => ({
    h, cin, cout, k, label: `${h},${cin}→${cout},${k}`, ascii: `${h},${cin}->${cout},${k}`,
  }));
  if (only === null) return all;
  const sel = all.filter((s) => s.label.includes(only) || s.ascii.includes(only));
  if (sel.length === 0) throw new Error(`--only '${only}' matches no shape (shapes: ${all.map((s) => s.ascii).join('  ')})`);
  return sel;
}

function randomF32(n: number, rng: Rng, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = scale * (2 * rng.next() - 1);
  return a;
}

/** max |a − ref| / max |ref|: an error relative to the output's scale (robust where single outputs are near 0). */
function relErr(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (a.length !== ref.length) return Infinity;
  let d = 0, m = 0;
  for (let i = 0; i < ref.length; i++) {
    const x = a[i], r = ref[i];
    if (!Number.isFinite(x)) return Infinity;
    d = Math.max(d, Math.abs(x - r));
    m = Math.max(m, Math.abs(r));
  }
  return m > 0 ? d / m : NaN; // an all-zero reference proves nothing
}

// ------------------------------------------------------------------------------------------------ timing

interface Timing { medianS: number; times: number[]; warmupS: number }

const now = () => performance.now() / 1000;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b), n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

/** One untimed warm-up call, then timed repetitions; `once` must include the GPU sync. */
async function measure(once: () => Promise<void>, reps: number): Promise<Timing> {
  let t0 = now();
  await once();
  const warmupS = now() - t0;
  const times: number[] = [];
  let total = 0;
  for (;;) {
    t0 = now();
    await once();
    const t = now() - t0;
    times.push(t);
    total += t;
    if (times.length === 1 && t > TIMING.slowS) break;
    if (times.length >= reps && (total >= TIMING.minTotalS || times.length >= TIMING.maxReps)) break;
  }
  return { medianS: median(times), times, warmupS };
}

/** Time a glocal op: record it, `await rt.sync()` (submit + queue.onSubmittedWorkDone). Returns the last output. */
async function timeOurs(rt: Runtime, make: () => GpuTensor, reps: number): Promise<{ t: Timing; out: GpuTensor }> {
  let out: GpuTensor | null = null;
  const t = await measure(async () => {
    out?.release();
    out = make();
    await rt.sync();
  }, reps);
  return { t, out: out! };
}

/** Time a tfjs op: run it, flush tfjs's command encoder and wait for its queue. Returns the last output. */
async function timeTfjs(tfs: TfjsSide, make: () => TfTensor, reps: number): Promise<{ t: Timing; out: TfTensor }> {
  let out: TfTensor | null = null;
  const t = await measure(async () => {
    out?.dispose();
    out = make();
    await tfs.sync();
  }, reps);
  return { t, out: out! };
}

// ------------------------------------------------------------------------------------------------ results

interface OpResult { s: number; gflops: number; reps: number; warmupS: number }
type Measured = OpResult | { error: string };
interface ShapeResult {
  shape: ConvShape;
  flops: number;
  ours: Record<Op, Measured>;
  tfjs: Record<Op, Measured> | null;
  /** ours vs tfjs on the last outputs of the timed runs */
  err: Partial<Record<Op, number>>;
}

const ok = (m: Measured | undefined): m is OpResult => !!m && !('error' in m);
const fmtG = (m: Measured | undefined) => (m === undefined ? '–' : ok(m) ? m.gflops.toFixed(2) : 'error');
const fmtMs = (m: Measured | undefined) => (m === undefined ? '–' : ok(m) ? `${(m.s * 1000).toFixed(0)} (${m.reps})` : 'error');
const ratio = (a: Measured | undefined, b: Measured | undefined) => (ok(a) && ok(b) ? `${(a.gflops / b.gflops).toFixed(2)}×` : '–');
const fmtErr = (e: number | undefined) => (e === undefined ? '–' : Number.isFinite(e) ? e.toExponential(1) : String(e));

function opResult(flops: number, t: Timing): OpResult {
  return { s: t.medianS, gflops: flops / t.medianS / 1e9, reps: t.times.length, warmupS: t.warmupS };
}

function progress(who: string, op: string, m: Measured): void {
  if (!ok(m)) { console.log(`    ${who.padEnd(5)} ${op.padEnd(6)} ERROR ${m.error}`); return; }
  console.log(`    ${who.padEnd(5)} ${op.padEnd(6)} ${(m.s * 1000).toFixed(1).padStart(9)} ms  ${m.gflops.toFixed(2).padStart(7)} GFLOP/s` +
    `  (median of ${m.reps}, warm-up ${(m.warmupS * 1000).toFixed(0)} ms)`);
}

// ------------------------------------------------------------------------------------------------ parts

/** Small shapes, 3×3 and 2×2: ours and tfjs must compute the same convolution (and pad 2×2 the same way). */
async function correctness(be: GpuBackend, tfs: TfjsSide): Promise<{ rows: string[][]; pass: boolean }> {
  const rows: string[][] = [];
  let pass = true;
  const rng = new Rng(7);
  for (const k of [3, 2]) {
    const [N, H, W, Cin, Cout] = [2, 9, 9, 3, 5];
    const spec = sameConv(k);
    const xs = randomF32(N * H * W * Cin, rng), ws = randomF32(k * k * Cin * Cout, rng), bs = randomF32(Cout, rng, 0.1);
    const dys = randomF32(N * H * W * Cout, rng);
    const x = be.fromHost(xs, [N, H, W, Cin]), w = be.fromHost(ws, [k, k, Cin, Cout]), b = be.fromHost(bs, [Cout]);
    const dy = be.fromHost(dys, [N, H, W, Cout]);
    const oy = be.conv2d(x, w, b, spec), odx = be.conv2dInputGrad(dy, w, spec), odw = be.conv2dWeightGrad(x, dy, spec);
    const [ay, adx, adw] = await be.rt.read(oy, odx, odw);
    for (const t of [x, w, b, dy, oy, odx, odw]) t.release();

    const { tf } = tfs;
    const tx = tf.tensor4d(xs, [N, H, W, Cin]), tw = tf.tensor4d(ws, [k, k, Cin, Cout]), tdy = tf.tensor4d(dys, [N, H, W, Cout]);
    const ty = tfs.conv2d(tx, tw), tdx = tfs.conv2dInputGrad(tdy, tw, [N, H, W, Cin]), tdw = tfs.conv2dWeightGrad(tx, tdy, [k, k, Cin, Cout]);
    const by = await ty.data() as Float32Array, bdx = await tdx.data() as Float32Array, bdw = await tdw.data() as Float32Array;
    for (const t of [tx, tw, tdy, ty, tdx, tdw]) t.dispose();
    const byBias = by.map((v, i) => v + bs[i % Cout]); // tf.conv2d has no bias; ours added it
    const errs = [relErr(ay, byBias), relErr(adx, bdx), relErr(adw, bdw)];
    const good = errs.every((e) => e < 1e-4);
    pass &&= good;
    rows.push([`${N}×${H}×${W}, ${Cin}→${Cout}, ${k}×${k} (${k === 3 ? 'pad 1' : 'TF SAME: 0 before, 1 after'})`,
      ...errs.map(fmtErr), good ? 'PASS' : 'FAIL']);
  }
  return { rows, pass };
}

interface Peak { n: number; ours: OpResult; tfjs: Measured | null }

async function matmulPeak(rt: Runtime, be: GpuBackend, tfs: TfjsSide | null, reps: number): Promise<Peak> {
  const rng = new Rng(11);
  let n = TIMING.peakSizes[0];
  for (const size of TIMING.peakSizes) {
    n = size;
    const a = be.fromHost(randomF32(n * n, rng), [n, n]), b = be.fromHost(randomF32(n * n, rng), [n, n]);
    be.matmul(a, b, false, false).release();
    await rt.sync(); // compile + first run
    const t0 = now();
    be.matmul(a, b, false, false).release();
    await rt.sync();
    const dt = now() - t0;
    a.release(); b.release();
    console.log(`  matmul ${n}×${n}: one run ${(dt * 1000).toFixed(0)} ms`);
    if (dt >= TIMING.peakMinS) break;
  }
  const flops = 2 * n * n * n;
  const as = randomF32(n * n, rng), bs = randomF32(n * n, rng);
  const a = be.fromHost(as, [n, n]), b = be.fromHost(bs, [n, n]);
  const { t, out } = await timeOurs(rt, () => be.matmul(a, b, false, false), reps);
  const ours = opResult(flops, t);
  progress('ours', 'matmul', ours);
  for (const x of [a, b, out]) x.release();
  let tf: Measured | null = null;
  if (tfs) {
    try {
      const ta = tfs.tf.tensor2d(as, [n, n]), tb = tfs.tf.tensor2d(bs, [n, n]);
      const r = await timeTfjs(tfs, () => tfs.matmul(ta, tb), reps);
      tf = opResult(flops, r.t);
      for (const x of [ta, tb, r.out]) x.dispose();
    } catch (e) {
      tf = { error: (e as Error).message };
    }
    progress('tfjs', 'matmul', tf);
  }
  rt.pool.trim();
  return { n, ours, tfjs: tf };
}

async function benchShape(rt: Runtime, be: GpuBackend, tfs: TfjsSide | null, s: ConvShape, N: number, reps: number): Promise<ShapeResult> {
  const { h: H, cin: Cin, cout: Cout, k } = s;
  const W = H, spec: ConvSpec = sameConv(k);
  const flops = 2 * N * H * W * Cin * Cout * k * k;
  const rng = new Rng(1000 + H * 7 + Cin * 13 + Cout * 17 + k);
  const xs = randomF32(N * H * W * Cin, rng), ws = randomF32(k * k * Cin * Cout, rng, 1 / Math.sqrt(k * k * Cin));
  const bs = randomF32(Cout, rng, 0.1), dys = randomF32(N * H * W * Cout, rng);

  // ours
  const x = be.fromHost(xs, [N, H, W, Cin]), w = be.fromHost(ws, [k, k, Cin, Cout]), b = be.fromHost(bs, [Cout]);
  const dy = be.fromHost(dys, [N, H, W, Cout]);
  const makeOurs: Record<Op, () => GpuTensor> = {
    fwd: () => be.conv2d(x, w, b, spec),
    dgrad: () => be.conv2dInputGrad(dy, w, spec),
    wgrad: () => be.conv2dWeightGrad(x, dy, spec),
  };
  const ours = {} as Record<Op, Measured>;
  const oursOut: Partial<Record<Op, Float32Array>> = {};
  for (const op of OPS) {
    try {
      const { t, out } = await timeOurs(rt, makeOurs[op], reps);
      ours[op] = opResult(flops, t);
      if (tfs) oursOut[op] = await rt.read1(out);
      out.release();
    } catch (e) {
      ours[op] = { error: (e as Error).message };
    }
    progress('ours', op, ours[op]);
  }
  for (const t of [x, w, b, dy]) t.release();
  rt.pool.trim();

  // tfjs, same data
  let tfjs: Record<Op, Measured> | null = null;
  const err: Partial<Record<Op, number>> = {};
  if (tfs) {
    tfjs = {} as Record<Op, Measured>;
    const { tf } = tfs;
    const tx = tf.tensor4d(xs, [N, H, W, Cin]), tw = tf.tensor4d(ws, [k, k, Cin, Cout]), tdy = tf.tensor4d(dys, [N, H, W, Cout]);
    const makeTf: Record<Op, () => TfTensor> = {
      fwd: () => tfs.conv2d(tx, tw),
      dgrad: () => tfs.conv2dInputGrad(tdy, tw, [N, H, W, Cin]),
      wgrad: () => tfs.conv2dWeightGrad(tx, tdy, [k, k, Cin, Cout]),
    };
    for (const op of OPS) {
      try {
        const { t, out } = await timeTfjs(tfs, makeTf[op], reps);
        tfjs[op] = opResult(flops, t);
        const ref = await out.data() as Float32Array;
        out.dispose();
        const mine = oursOut[op];
        if (mine) err[op] = relErr(mine, op === 'fwd' ? ref.map((v, i) => v + bs[i % Cout]) : ref);
      } catch (e) {
        tfjs[op] = { error: (e as Error).message };
      }
      progress('tfjs', op, tfjs[op]);
    }
    for (const t of [tx, tw, tdy]) t.dispose();
    if (tfs.errors.length) console.log(`    tfjs WebGPU errors so far: ${tfs.errors.join(' | ')}`);
    console.log(`    max rel. error ours vs tfjs: fwd ${fmtErr(err.fwd)}, dgrad ${fmtErr(err.dgrad)}, wgrad ${fmtErr(err.wgrad)}`);
  }
  return { shape: s, flops, ours, tfjs, err };
}

// ------------------------------------------------------------------------------------------------ checks

interface Check { id: string; text: string; status: 'PASS' | 'FAIL' | 'SKIPPED' | 'INFO'; detail: string }

function evaluate(results: ShapeResult[], peak: Peak, tfjsOn: boolean): Check[] {
  const checks: Check[] = [];
  const failWhere = (pred: (r: ShapeResult) => boolean | null) => {
    const bad: string[] = [], missing: string[] = [];
    for (const r of results) {
      const v = pred(r);
      if (v === null) missing.push(r.shape.label);
      else if (!v) bad.push(r.shape.label);
    }
    return { bad, missing };
  };
  const status = (bad: string[], missing: string[]): 'PASS' | 'FAIL' => (bad.length || missing.length ? 'FAIL' : 'PASS');
  const describe = (bad: string[], missing: string[], all: string) =>
    [bad.length ? `fails at ${bad.join('; ')}` : all, missing.length ? `no measurement at ${missing.join('; ')}` : '']
      .filter(Boolean).join('; ');

  {
    const { bad, missing } = failWhere((r) => (ok(r.ours.wgrad) && ok(r.ours.fwd) ? r.ours.wgrad.gflops >= 0.5 * r.ours.fwd.gflops : null));
    const worst = Math.min(...results.map((r) => (ok(r.ours.wgrad) && ok(r.ours.fwd) ? r.ours.wgrad.gflops / r.ours.fwd.gflops : Infinity)));
    checks.push({ id: 'a', text: 'our weight gradient ≥ 0.5× our forward GFLOP/s at every shape', status: status(bad, missing),
      detail: `${describe(bad, missing, 'holds at every shape')} (lowest wgrad/fwd ${worst.toFixed(2)})` });
  }
  {
    const { bad, missing } = failWhere((r) => (ok(r.ours.fwd) ? r.ours.fwd.gflops >= 0.5 * peak.ours.gflops : null));
    const worst = Math.min(...results.map((r) => (ok(r.ours.fwd) ? r.ours.fwd.gflops / peak.ours.gflops : Infinity)));
    checks.push({ id: 'b', text: `our forward ≥ 50% of the matmul peak (${peak.ours.gflops.toFixed(2)} GFLOP/s) at every shape`,
      status: status(bad, missing), detail: `${describe(bad, missing, 'holds at every shape')} (lowest ${(100 * worst).toFixed(0)}% of peak)` });
  }
  for (const [id, ops, text, st] of [
    ['c', ['fwd', 'wgrad'], 'ours faster than tfjs at every shape, forward and weight gradient', null],
    ['c′', ['dgrad'], 'ours faster than tfjs at every shape, input gradient (reported, not part of (c))', 'INFO'],
  ] as [string, Op[], string, 'INFO' | null][]) {
    if (!tfjsOn) { checks.push({ id, text, status: 'SKIPPED', detail: 'run without tfjs (--no-tfjs)' }); continue; }
    const bad: string[] = [], missing: string[] = [];
    for (const r of results) {
      for (const op of ops) {
        const a = r.ours[op], b = r.tfjs?.[op];
        if (!ok(a) || !ok(b)) missing.push(`${r.shape.label} ${op}`);
        else if (!(a.s < b.s)) bad.push(`${r.shape.label} ${op} (${(a.gflops / b.gflops).toFixed(2)}×)`);
      }
    }
    const s = status(bad, missing);
    checks.push({ id, text, status: st ?? s,
      detail: (st ? `${s === 'PASS' ? 'yes' : 'no'}: ` : '') + describe(bad, missing, 'faster at every shape') });
  }
  return checks;
}

// ------------------------------------------------------------------------------------------------ main

function gitDescribe(): string {
  try {
    const sha = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execSync('git status --porcelain -- src wgsl', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return `${sha}${dirty ? ' + uncommitted changes in src/ or wgsl/' : ''}`;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const shapes = convShapes(args.only);
  const command = process.env.npm_lifecycle_event === 'bench:kernels'
    ? `npm run bench:kernels${args.raw.length ? ' -- ' + args.raw.join(' ') : ''}`
    : `node dist/bench/kernels.js${args.raw.length ? ' ' + args.raw.join(' ') : ''}`;
  const started = new Date();
  const rt = await Runtime.create();
  const be = new GpuBackend(rt);
  const adapter = describeAdapter(rt.gpu.info);
  const tfs = args.tfjs ? await loadTfjs() : null;
  const N = args.batch;
  console.log(`glocal kernel benchmark — ${started.toISOString()}`);
  console.log(`command: ${command}`);
  console.log(`adapter: ${adapter}`);
  console.log(`batch N=${N}, shapes: ${shapes.map((s) => s.label).join('  ')}`);
  console.log(`reference: ${tfs ? tfs.version : 'none (--no-tfjs)'}`);

  let corr: { rows: string[][]; pass: boolean } | null = null;
  if (tfs) {
    console.log('\ncorrectness (small shapes, ours vs tfjs, max |Δ| / max |tfjs|):');
    corr = await correctness(be, tfs);
    for (const r of corr.rows) console.log(`  ${r[0]}: fwd ${r[1]}, dgrad ${r[2]}, wgrad ${r[3]} → ${r[4]}`);
  }

  console.log('\nmatmul peak:');
  const peak = await matmulPeak(rt, be, tfs, args.reps);

  const results: ShapeResult[] = [];
  for (let i = 0; i < shapes.length; i++) {
    const s = shapes[i];
    const gf = (2 * N * s.h * s.h * s.cin * s.cout * s.k * s.k) / 1e9;
    console.log(`\n[${i + 1}/${shapes.length}] ${s.label}  (N=${N}, ${gf.toFixed(3)} GFLOP per op)`);
    results.push(await benchShape(rt, be, tfs, s, N, args.reps));
  }

  // ---- tables
  const head = ['shape H,Cin→Cout,k', 'GFLOP/op', 'ours fwd', 'ours dgrad', 'ours wgrad', 'tfjs fwd', 'tfjs dgrad', 'tfjs wgrad',
    'fwd ours/tfjs', 'dgrad ours/tfjs', 'wgrad ours/tfjs', 'wgrad/fwd (ours)', 'fwd % peak'];
  const rows = results.map((r) => [
    r.shape.label, (r.flops / 1e9).toFixed(3),
    ...OPS.map((op) => fmtG(r.ours[op])), ...OPS.map((op) => fmtG(r.tfjs?.[op])),
    ...OPS.map((op) => ratio(r.ours[op], r.tfjs?.[op])),
    ok(r.ours.wgrad) && ok(r.ours.fwd) ? (r.ours.wgrad.gflops / r.ours.fwd.gflops).toFixed(2) : '–',
    ok(r.ours.fwd) ? `${(100 * r.ours.fwd.gflops / peak.ours.gflops).toFixed(0)}%` : '–',
  ]);
  const timeHead = ['shape', 'ours fwd', 'ours dgrad', 'ours wgrad', 'tfjs fwd', 'tfjs dgrad', 'tfjs wgrad', 'err fwd', 'err dgrad', 'err wgrad'];
  const timeRows = results.map((r) => [r.shape.label, ...OPS.map((op) => fmtMs(r.ours[op])), ...OPS.map((op) => fmtMs(r.tfjs?.[op])),
    ...OPS.map((op) => fmtErr(r.err[op]))]);
  const peakLine = `matmul ${peak.n}×${peak.n}·${peak.n}×${peak.n} f32 (GpuBackend.matmul): ${peak.ours.gflops.toFixed(2)} GFLOP/s ` +
    `(${(peak.ours.s * 1000).toFixed(0)} ms, median of ${peak.ours.reps})` +
    (peak.tfjs ? `; tfjs tf.matMul same size: ${fmtG(peak.tfjs)} GFLOP/s` +
      (ok(peak.tfjs) ? ` (${(peak.tfjs.s * 1000).toFixed(0)} ms, median of ${peak.tfjs.reps})` : '') : '');
  const checks = evaluate(results, peak, !!tfs);

  console.log('\nGFLOP/s (higher is better)');
  console.log(textTable(head, rows));
  console.log('\nmedian ms per op (timed repetitions); err = max |ours − tfjs| / max |tfjs|');
  console.log(textTable(timeHead, timeRows));
  console.log(`\npractical peak: ${peakLine}`);
  console.log('\nchecks:');
  for (const c of checks) console.log(`  ${`(${c.id})`.padEnd(5)} ${c.status.padEnd(7)} ${c.text}: ${c.detail}`);
  if (corr) console.log(`  correctness ${corr.pass ? 'PASS' : 'FAIL'}: ours and tfjs agree on small 3×3 and 2×2 convs (rel. error < 1e-4)`);
  if (tfs?.errors.length) console.log(`  tfjs WebGPU validation errors: ${tfs.errors.join(' | ')}`);

  // ---- BENCHMARKS.md
  if (args.write) {
    const partial = args.only !== null || N !== 20;
    const md = [
      `Measured ${started.toISOString()} with \`${command}\`${partial ? ' (a partial run: not the default N=20 over all shapes)' : ''}.`,
      '',
      `- adapter: \`${adapter}\``,
      `- batch N=${N}; glocal ${gitDescribe()}; Node ${process.version}; reference ${tfs ? tfs.version : 'none (--no-tfjs)'}`,
      '',
      '### Method',
      '',
      '- FLOPs per op = 2·N·H·W·Cin·Cout·k·k, the same count for forward, input gradient (dgrad) and weight gradient (wgrad); ' +
        'the forward bias add and our split-K chunk reduction are not counted. GFLOP/s = FLOPs / median wall time.',
      '- Ours: `GpuBackend.conv2d(x, w, bias, spec)`, `conv2dInputGrad(dy, w, spec)`, `conv2dWeightGrad(x, dy, spec)`, ' +
        'x NHWC, w HWIO; k=3 is `sameConv(3)` (3×3, pad 1), k=2 is `sameConv(2)` (2×2 TF SAME: pad 0 before, 1 after).',
      "- tfjs (`@tensorflow/tfjs-backend-webgpu`, own GPUDevice on the same dawn.node adapter, same process, same input data): " +
        "`tf.conv2d(x, w, 1, 'same')` (no bias); `runKernel('Conv2DBackpropInput', {dy, filter}, {strides: 1, pad: 'same', " +
        "dataFormat: 'NHWC', inputShape})`; `runKernel('Conv2DBackpropFilter', {x, dy}, {strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape})`.",
      `- Timing: one untimed warm-up call per op (pipeline compilation, first upload), then timed repetitions, each one op ` +
        'followed by a full GPU sync, wall clock (`performance.now()`): ours record the op and `await rt.sync()` (submit + ' +
        "`queue.onSubmittedWorkDone()`); tfjs runs the op, submits its pending command encoder and awaits its queue's " +
        '`onSubmittedWorkDone()` (no readback in the timed region). The previous output is released/disposed inside the loop. ' +
        `Reported: the median of R = ${args.reps} repetitions (R = 1 when the first timed repetition exceeds ${TIMING.slowS} s; ` +
        `ops faster than ${TIMING.minTotalS} s in total get more repetitions, up to ${TIMING.maxReps}). ` +
        'The times table gives the median ms and (in brackets) the number of repetitions.',
      `- Practical peak: \`GpuBackend.matmul(a, b, false, false)\` on square f32 matrices, n = the first of ${TIMING.peakSizes.join(', ')} ` +
        `whose single run takes ≥ ${TIMING.peakMinS} s (else the last), timed as above.`,
      '- err = max |ours − tfjs| / max |tfjs| on the outputs of the last timed repetition (ours − bias for the forward).',
      '',
      '### Results (GFLOP/s, higher is better)',
      '',
      mdTable(head, rows, ['l']),
      '',
      `Practical peak: ${peakLine}.`,
      '',
      '### Median time per op (ms, repetitions) and agreement with tfjs',
      '',
      mdTable(timeHead, timeRows, ['l']),
      '',
      '### Checks (evaluated from the numbers above)',
      '',
      ...checks.map((c) => `- (${c.id}) **${c.status}** ${c.text}: ${c.detail}.`),
      ...(corr
        ? [`- correctness **${corr.pass ? 'PASS' : 'FAIL'}**: ours and tfjs agree on small shapes (max |Δ| / max |tfjs| < 1e-4):`, '',
          mdTable(['shape', 'fwd', 'dgrad', 'wgrad', ''], corr.rows, ['l'])]
        : []),
      ...(tfs?.errors.length ? ['', `tfjs WebGPU validation errors during the run: ${tfs.errors.join(' | ')}`] : []),
    ].join('\n');
    writeSection(BENCHMARKS_MD, SECTION, md);
    console.log(`\nwrote ${BENCHMARKS_MD} (section "${SECTION}")`);
  }
  rt.destroy();
  return corr && !corr.pass ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(`bench:kernels: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
