// Kernel benchmark: GFLOP/s of glocal's conv forward / input gradient / weight gradient at the UNet's layer
// shapes, next to a tuned matmul ("practical peak") and TensorFlow.js's WebGPU backend on the same adapter.
//
//   npm run bench:kernels                      full run (N = 20), rewrites the Kernels section of BENCHMARKS.md
//   npm run bench:kernels -- --batch 2         quick run
//   npm run bench:kernels -- --only 96,        only shapes whose label contains the text
//
// Flags: --batch N (20), --only TEXT, --reps R (3), --peak-n N (2048, matmul size), --no-tfjs (ours only),
// --wait-idle S (before each op, wait up to S s until other processes leave the CPUs alone, and measure again
// when another process took CPU time during the measurement; Linux),
// --no-write (console only; by default every run rewrites the Kernels section of BENCHMARKS.md).

import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Runtime, type GpuTensor } from '../src/runtime/runtime.ts';
import { GpuBackend } from '../src/ops/webgpu.ts';
import { sameConv, type ConvSpec } from '../src/ops/backend.ts';
import { describeAdapter } from '../src/runtime/device.ts';
import { Rng } from '../src/util/random.ts';
import { loadTfjs, type TfjsSide, type TfTensor } from './tfjs.ts';
import { mdTable, textTable, writeSection } from './report.ts';

// ------------------------------------------------------------------------------------------------ setup

/** The UNet's conv layer shapes: spatial size H = W, Cin → Cout, kernel k (3: 3×3 pad 1; 2: 2×2 TF SAME). */
const SHAPES: [number, number, number, number][] = [
  [192, 1, 16, 3],
  [192, 16, 16, 3],
  [96, 32, 32, 3],
  [48, 64, 64, 3],
  [24, 128, 128, 3],
  [12, 256, 128, 3],
  [24, 128, 128, 2],
  [192, 32, 16, 3],
  [192, 16, 4, 3],
];

const OPS = ['fwd', 'dgrad', 'wgrad'] as const;
type Op = (typeof OPS)[number];

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
  /** matmul peak size n (n×n·n×n, one split-K chunk): 2048 takes ~3 s on lavapipe (2 cores); --peak-n changes it */
  peakN: 2048,
};

interface Args {
  batch: number;
  only: string | null;
  reps: number;
  peakN: number;
  waitIdle: number;
  tfjs: boolean;
  write: boolean;
  raw: string[];
}

/** The options that take a positive integer, and the field each sets. */
const COUNT_OPTIONS: Record<string, 'batch' | 'reps' | 'peakN' | 'waitIdle'> = {
  '--batch': 'batch',
  '--reps': 'reps',
  '--peak-n': 'peakN',
  '--wait-idle': 'waitIdle',
};

function parseArgs(argv: string[]): Args {
  const a: Args = {
    batch: 20,
    only: null,
    reps: 3,
    peakN: TIMING.peakN,
    waitIdle: 0,
    tfjs: true,
    write: true,
    raw: argv,
  };
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
    const field = Object.hasOwn(COUNT_OPTIONS, name) ? COUNT_OPTIONS[name] : undefined;
    if (field) {
      a[field] = posInt(value(i, name), name);
      if (!inline) i++;
      continue;
    }
    switch (name) {
      case '--only':
        a.only = value(i, name);
        break;
      case '--no-tfjs':
        a.tfjs = false;
        continue;
      case '--no-write':
        a.write = false;
        continue;
      case '--help':
      case '-h':
        console.log(
          'usage: node dist/bench/kernels.js [--batch N] [--only TEXT] [--reps R] [--peak-n N] [--wait-idle S] [--no-tfjs] [--no-write]',
        );
        return process.exit(0);
      default:
        throw new Error(`unknown argument '${argv[i]}' (try --help)`);
    }
    if (!inline) i++;
  }
  return a;
}

interface ConvShape {
  h: number;
  cin: number;
  cout: number;
  k: number;
  label: string;
  ascii: string;
}

function convShapes(only: string | null): ConvShape[] {
  const all = SHAPES.map(([h, cin, cout, k]) => ({
    h,
    cin,
    cout,
    k,
    label: `${h},${cin}→${cout},${k}`,
    ascii: `${h},${cin}->${cout},${k}`,
  }));
  if (only === null) return all;
  const sel = all.filter((s) => s.label.includes(only) || s.ascii.includes(only));
  if (sel.length === 0)
    throw new Error(`--only '${only}' matches no shape (shapes: ${all.map((s) => s.ascii).join('  ')})`);
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
  let d = 0,
    m = 0;
  for (let i = 0; i < ref.length; i++) {
    const x = a[i],
      r = ref[i];
    if (!Number.isFinite(x)) return Infinity;
    d = Math.max(d, Math.abs(x - r));
    m = Math.max(m, Math.abs(r));
  }
  return m > 0 ? d / m : NaN; // an all-zero reference proves nothing
}

// ------------------------------------------------------------------------------------------------ timing

interface Timing {
  medianS: number;
  times: number[];
  warmupS: number;
  cpuShare: number;
}

const NCPU = cpus().length;

const now = () => performance.now() / 1000;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b),
    n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

// Other processes on the CPUs slow lavapipe down. With --wait-idle S the benchmark waits (up to S seconds)
// before each op until they use less than IDLE_OTHERS CPUs (Linux: /proc/stat minus this process's own use).
const IDLE_OTHERS = 0.25;
const idle = { maxWaitS: 0, waitedS: 0, gaveUp: 0, retries: 0 };

function cpuJiffies(): { busy: number; total: number } | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0),
      idleJ = f[3] + (f[4] ?? 0);
    return { busy: total - idleJ, total };
  } catch {
    return null;
  }
}

/** CPUs used by other processes over the next `seconds` (null where /proc/stat is missing). */
async function othersCpuUse(seconds: number): Promise<number | null> {
  const j0 = cpuJiffies(),
    c0 = process.cpuUsage(),
    t0 = now();
  if (!j0) return null;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const j1 = cpuJiffies()!,
    c = process.cpuUsage(c0),
    dt = now() - t0;
  const allCpus = ((j1.busy - j0.busy) / Math.max(1, j1.total - j0.total)) * NCPU;
  return Math.max(0, allCpus - (c.user + c.system) / 1e6 / dt);
}

async function waitForIdleCpus(): Promise<void> {
  if (idle.maxWaitS <= 0) return;
  const t0 = now();
  let use = await othersCpuUse(0.5);
  if (use === null) return;
  if (use >= IDLE_OTHERS)
    process.stdout.write(`    (other processes use ${use.toFixed(1)} CPUs: waiting up to ${idle.maxWaitS} s ...`);
  while (use !== null && use >= IDLE_OTHERS && now() - t0 < idle.maxWaitS) use = await othersCpuUse(1);
  const waited = now() - t0;
  idle.waitedS += waited;
  if (use !== null && use >= IDLE_OTHERS) {
    idle.gaveUp++;
    console.log(' gave up)');
  } else if (waited > 1) console.log(` waited ${waited.toFixed(0)} s)`);
}

/**
 * One side of a timed comparison: `once` runs the op and waits for the GPU (ours: record + `await rt.sync()`;
 * tfjs: run + flush its command encoder + await its queue) and keeps the op's latest output; `release` frees it.
 */
interface Side<T> {
  once(): Promise<void>;
  readonly out: T | null;
  release(): void;
}

/** A side that makes its output with `make`, waits with `sync` and frees the previous output with `free`. */
function side<T>(make: () => T, sync: () => Promise<unknown>, free: (t: T) => void): Side<T> {
  let out: T | null = null;
  return {
    async once() {
      if (out) free(out);
      out = make();
      await sync();
    },
    get out() {
      return out;
    },
    release() {
      if (out) free(out);
      out = null;
    },
  };
}

const oursSide = (rt: Runtime, make: () => GpuTensor): Side<GpuTensor> =>
  side(
    make,
    () => rt.sync(),
    (t) => t.release(),
  );

const tfjsSide = (tfs: TfjsSide, make: () => TfTensor): Side<TfTensor> =>
  side(
    make,
    () => tfs.sync(),
    (t) => t.dispose(),
  );

type Timed = Timing | { error: string };

/**
 * Warm up each side once (untimed: pipeline compilation, first upload), then alternate timed repetitions
 * A, B, A, B, ... so that both sides see the same machine even when other processes come and go. A side stops
 * after one repetition longer than TIMING.slowS, else after `reps` repetitions and TIMING.minTotalS in total
 * (at most TIMING.maxReps). A side that throws is reported as an error; the other one goes on.
 */
async function measureSides(sides: (Side<unknown> | null)[], reps: number): Promise<(Timed | null)[]> {
  const st = sides.map((side) =>
    side ? { side, times: [] as number[], total: 0, cpu: 0, warmupS: 0, error: '', done: false } : null,
  );
  const attempt = async (s: NonNullable<(typeof st)[number]>, timed: boolean) => {
    try {
      const c0 = process.cpuUsage(); // this process's CPU time: Dawn and lavapipe's worker threads run inside it
      const t0 = now();
      await s.side.once();
      const t = now() - t0;
      if (!timed) {
        s.warmupS = t;
        return;
      }
      const c = process.cpuUsage(c0);
      s.times.push(t);
      s.total += t;
      s.cpu += (c.user + c.system) / 1e6;
      if (
        (s.times.length === 1 && t > TIMING.slowS) ||
        (s.times.length >= reps && (s.total >= TIMING.minTotalS || s.times.length >= TIMING.maxReps))
      )
        s.done = true;
    } catch (e) {
      s.error = (e as Error).message;
      s.done = true;
    }
  };
  for (const s of st) if (s) await attempt(s, false);
  while (st.some((s) => s && !s.done)) {
    for (const s of st) if (s && !s.done) await attempt(s, true);
  }
  return st.map((s) =>
    !s
      ? null
      : s.error
        ? { error: s.error }
        : {
            medianS: median(s.times),
            times: s.times,
            warmupS: s.warmupS,
            cpuShare: s.cpu / (s.total * NCPU),
          },
  );
}

/** Below this CPU share a measurement counts as contended (idle lavapipe runs keep ≥ ~90% of the CPUs busy). */
const CONTENDED_SHARE = 0.8;
const RETRIES = 2;

/**
 * measureSides after waitForIdleCpus; with --wait-idle, a measurement in which some side got less than
 * CONTENDED_SHARE of the CPUs (another process started meanwhile) is taken again, up to RETRIES times.
 */
async function measureClean(sides: (Side<unknown> | null)[], reps: number): Promise<(Timed | null)[]> {
  for (let attempt = 0; ; attempt++) {
    await waitForIdleCpus();
    const m = await measureSides(sides, reps);
    const shares = m.filter((t): t is Timing => !!t && !('error' in t)).map((t) => t.cpuShare);
    const low = Math.min(1, ...shares);
    if (idle.maxWaitS <= 0 || low >= CONTENDED_SHARE || attempt >= RETRIES) return m;
    idle.retries++;
    console.log(`    (CPU share only ${(100 * low).toFixed(0)}%: other work ran meanwhile, measuring again)`);
  }
}

// ------------------------------------------------------------------------------------------------ results

interface OpResult {
  s: number;
  gflops: number;
  reps: number;
  warmupS: number;
  cpuShare: number;
}
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
const fmtMs = (m: Measured | undefined) =>
  m === undefined ? '–' : ok(m) ? `${(m.s * 1000).toFixed(0)} (${m.reps})` : 'error';
const ratio = (a: Measured | undefined, b: Measured | undefined) =>
  ok(a) && ok(b) ? `${(a.gflops / b.gflops).toFixed(2)}×` : '–';
const fmtErr = (e: number | undefined) => (e === undefined ? '–' : Number.isFinite(e) ? e.toExponential(1) : String(e));

function opResult(flops: number, t: Timed): Measured {
  if ('error' in t) return t;
  return {
    s: t.medianS,
    gflops: flops / t.medianS / 1e9,
    reps: t.times.length,
    warmupS: t.warmupS,
    cpuShare: t.cpuShare,
  };
}

function progress(who: string, op: string, m: Measured): void {
  if (!ok(m)) {
    console.log(`    ${who.padEnd(5)} ${op.padEnd(6)} ERROR ${m.error}`);
    return;
  }
  console.log(
    `    ${who.padEnd(5)} ${op.padEnd(6)} ${(m.s * 1000).toFixed(1).padStart(9)} ms  ${m.gflops.toFixed(2).padStart(7)} GFLOP/s` +
      `  (median of ${m.reps}, warm-up ${(m.warmupS * 1000).toFixed(0)} ms, CPU share ${(100 * m.cpuShare).toFixed(0)}%)`,
  );
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
    const xs = randomF32(N * H * W * Cin, rng),
      ws = randomF32(k * k * Cin * Cout, rng),
      bs = randomF32(Cout, rng, 0.1);
    const dys = randomF32(N * H * W * Cout, rng);
    const x = be.fromHost(xs, [N, H, W, Cin]),
      w = be.fromHost(ws, [k, k, Cin, Cout]),
      b = be.fromHost(bs, [Cout]);
    const dy = be.fromHost(dys, [N, H, W, Cout]);
    const oy = be.conv2d(x, w, b, spec),
      odx = be.conv2dInputGrad(dy, w, spec),
      odw = be.conv2dWeightGrad(x, dy, spec);
    const [ay, adx, adw] = await be.rt.read(oy, odx, odw);
    for (const t of [x, w, b, dy, oy, odx, odw]) t.release();

    const { tf } = tfs;
    const tx = tf.tensor4d(xs, [N, H, W, Cin]),
      tw = tf.tensor4d(ws, [k, k, Cin, Cout]),
      tdy = tf.tensor4d(dys, [N, H, W, Cout]);
    const ty = tfs.conv2d(tx, tw),
      tdx = tfs.conv2dInputGrad(tdy, tw, [N, H, W, Cin]),
      tdw = tfs.conv2dWeightGrad(tx, tdy, [k, k, Cin, Cout]);
    const by = (await ty.data()) as Float32Array,
      bdx = (await tdx.data()) as Float32Array,
      bdw = (await tdw.data()) as Float32Array;
    for (const t of [tx, tw, tdy, ty, tdx, tdw]) t.dispose();
    const byBias = by.map((v, i) => v + bs[i % Cout]); // tf.conv2d has no bias; ours added it
    const errs = [relErr(ay, byBias), relErr(adx, bdx), relErr(adw, bdw)];
    const good = errs.every((e) => e < 1e-4);
    pass &&= good;
    rows.push([
      `${N}×${H}×${W}, ${Cin}→${Cout}, ${k}×${k} (${k === 3 ? 'pad 1' : 'TF SAME: 0 before, 1 after'})`,
      ...errs.map(fmtErr),
      good ? 'PASS' : 'FAIL',
    ]);
  }
  return { rows, pass };
}

interface Peak {
  n: number;
  ours: OpResult;
  tfjs: Measured | null;
}

async function matmulPeak(rt: Runtime, be: GpuBackend, tfs: TfjsSide | null, n: number, reps: number): Promise<Peak> {
  const rng = new Rng(11);
  const flops = 2 * n * n * n;
  const as = randomF32(n * n, rng),
    bs = randomF32(n * n, rng);
  const a = be.fromHost(as, [n, n]),
    b = be.fromHost(bs, [n, n]);
  const ta = tfs?.tf.tensor2d(as, [n, n]),
    tb = tfs?.tf.tensor2d(bs, [n, n]);
  const sides = [
    oursSide(rt, () => be.matmul(a, b, false, false)),
    tfs && ta && tb ? tfjsSide(tfs, () => tfs.matmul(ta, tb)) : null,
  ];
  const [mo, mt] = await measureClean(sides, reps);
  const ours = opResult(flops, mo!);
  const tf = mt ? opResult(flops, mt) : null;
  progress('ours', 'matmul', ours);
  if (tf) progress('tfjs', 'matmul', tf);
  for (const side of sides) side?.release();
  for (const x of [a, b]) x.release();
  for (const x of [ta, tb]) x?.dispose();
  rt.pool.trim();
  if (!ok(ours)) throw new Error(`the matmul peak failed: ${ours.error}`);
  return { n, ours, tfjs: tf };
}

async function benchShape(
  rt: Runtime,
  be: GpuBackend,
  tfs: TfjsSide | null,
  s: ConvShape,
  N: number,
  reps: number,
): Promise<ShapeResult> {
  const { h: H, cin: Cin, cout: Cout, k } = s;
  const W = H,
    spec: ConvSpec = sameConv(k);
  const flops = 2 * N * H * W * Cin * Cout * k * k;
  const rng = new Rng(1000 + H * 7 + Cin * 13 + Cout * 17 + k);
  const xs = randomF32(N * H * W * Cin, rng),
    ws = randomF32(k * k * Cin * Cout, rng, 1 / Math.sqrt(k * k * Cin));
  const bs = randomF32(Cout, rng, 0.1),
    dys = randomF32(N * H * W * Cout, rng);

  const x = be.fromHost(xs, [N, H, W, Cin]),
    w = be.fromHost(ws, [k, k, Cin, Cout]),
    b = be.fromHost(bs, [Cout]);
  const dy = be.fromHost(dys, [N, H, W, Cout]);
  const makeOurs: Record<Op, () => GpuTensor> = {
    fwd: () => be.conv2d(x, w, b, spec),
    dgrad: () => be.conv2dInputGrad(dy, w, spec),
    wgrad: () => be.conv2dWeightGrad(x, dy, spec),
  };
  // tfjs gets the same data
  const tfIn = tfs
    ? {
        x: tfs.tf.tensor4d(xs, [N, H, W, Cin]),
        w: tfs.tf.tensor4d(ws, [k, k, Cin, Cout]),
        dy: tfs.tf.tensor4d(dys, [N, H, W, Cout]),
      }
    : null;
  const makeTf: Record<Op, () => TfTensor> | null =
    tfs && tfIn
      ? {
          fwd: () => tfs.conv2d(tfIn.x, tfIn.w),
          dgrad: () => tfs.conv2dInputGrad(tfIn.dy, tfIn.w, [N, H, W, Cin]),
          wgrad: () => tfs.conv2dWeightGrad(tfIn.x, tfIn.dy, [k, k, Cin, Cout]),
        }
      : null;

  // Per op: ours and tfjs alternate repetitions, so that both see the same machine.
  const ours = {} as Record<Op, Measured>;
  const tfjs = tfs ? ({} as Record<Op, Measured>) : null;
  const err: Partial<Record<Op, number>> = {};
  for (const op of OPS) {
    const so = oursSide(rt, makeOurs[op]);
    const stf = tfs && makeTf ? tfjsSide(tfs, makeTf[op]) : null;
    const [mo, mt] = await measureClean([so, stf], reps);
    ours[op] = opResult(flops, mo!);
    progress('ours', op, ours[op]);
    if (tfjs && mt) {
      tfjs[op] = opResult(flops, mt);
      progress('tfjs', op, tfjs[op]);
    }
    try {
      if (so.out && stf?.out) {
        const mine = await rt.read1(so.out);
        const ref = (await stf.out.data()) as Float32Array;
        err[op] = relErr(mine, op === 'fwd' ? ref.map((v, i) => v + bs[i % Cout]) : ref);
      }
    } catch (e) {
      console.log(`    could not compare ${op} outputs: ${(e as Error).message}`);
    }
    so.release();
    stf?.release();
  }
  for (const t of [x, w, b, dy]) t.release();
  rt.pool.trim();
  if (tfs && tfIn) {
    for (const t of [tfIn.x, tfIn.w, tfIn.dy]) t.dispose();
    if (tfs.errors.length) console.log(`    tfjs WebGPU errors so far: ${tfs.errors.join(' | ')}`);
    console.log(
      `    max rel. error ours vs tfjs: fwd ${fmtErr(err.fwd)}, dgrad ${fmtErr(err.dgrad)}, wgrad ${fmtErr(err.wgrad)}`,
    );
  }
  return { shape: s, flops, ours, tfjs, err };
}

// ------------------------------------------------------------------------------------------------ checks

interface Check {
  id: string;
  text: string;
  status: 'PASS' | 'FAIL' | 'SKIPPED' | 'INFO';
  detail: string;
}

function evaluate(results: ShapeResult[], peak: Peak, tfjsOn: boolean): Check[] {
  const checks: Check[] = [];
  const failWhere = (pred: (r: ShapeResult) => boolean | null) => {
    const bad: string[] = [],
      missing: string[] = [];
    for (const r of results) {
      const v = pred(r);
      if (v === null) missing.push(r.shape.label);
      else if (!v) bad.push(r.shape.label);
    }
    return { bad, missing };
  };
  const status = (bad: string[], missing: string[]): 'PASS' | 'FAIL' =>
    bad.length || missing.length ? 'FAIL' : 'PASS';
  const describe = (bad: string[], missing: string[], all: string) =>
    [bad.length ? `fails at ${bad.join('; ')}` : all, missing.length ? `no measurement at ${missing.join('; ')}` : '']
      .filter(Boolean)
      .join('; ');

  {
    const { bad, missing } = failWhere((r) =>
      ok(r.ours.wgrad) && ok(r.ours.fwd) ? r.ours.wgrad.gflops >= 0.5 * r.ours.fwd.gflops : null,
    );
    const worst = Math.min(
      ...results.map((r) => (ok(r.ours.wgrad) && ok(r.ours.fwd) ? r.ours.wgrad.gflops / r.ours.fwd.gflops : Infinity)),
    );
    checks.push({
      id: 'a',
      text: 'our weight gradient ≥ 0.5× our forward GFLOP/s at every shape',
      status: status(bad, missing),
      detail: `${describe(bad, missing, 'holds at every shape')} (lowest wgrad/fwd ${worst.toFixed(2)})`,
    });
  }
  {
    const { bad, missing } = failWhere((r) => (ok(r.ours.fwd) ? r.ours.fwd.gflops >= 0.5 * peak.ours.gflops : null));
    const worst = Math.min(...results.map((r) => (ok(r.ours.fwd) ? r.ours.fwd.gflops / peak.ours.gflops : Infinity)));
    checks.push({
      id: 'b',
      text: `our forward ≥ 50% of the matmul peak (${peak.ours.gflops.toFixed(2)} GFLOP/s) at every shape`,
      status: status(bad, missing),
      detail: `${describe(bad, missing, 'holds at every shape')} (lowest ${(100 * worst).toFixed(0)}% of peak)`,
    });
  }
  for (const [id, ops, text, st] of [
    ['c', ['fwd', 'wgrad'], 'ours faster than tfjs at every shape, forward and weight gradient', null],
    ['c′', ['dgrad'], 'ours faster than tfjs at every shape, input gradient (reported, not part of (c))', 'INFO'],
  ] as [string, Op[], string, 'INFO' | null][]) {
    if (!tfjsOn) {
      checks.push({ id, text, status: 'SKIPPED', detail: 'run without tfjs (--no-tfjs)' });
      continue;
    }
    const bad: string[] = [],
      missing: string[] = [];
    for (const r of results) {
      for (const op of ops) {
        const a = r.ours[op],
          b = r.tfjs?.[op];
        if (!ok(a) || !ok(b)) missing.push(`${r.shape.label} ${op}`);
        else if (!(a.s < b.s)) bad.push(`${r.shape.label} ${op} (${(a.gflops / b.gflops).toFixed(2)}×)`);
      }
    }
    const s = status(bad, missing);
    checks.push({
      id,
      text,
      status: st ?? s,
      detail: (st ? `${s === 'PASS' ? 'yes' : 'no'}: ` : '') + describe(bad, missing, 'faster at every shape'),
    });
  }
  return checks;
}

// ------------------------------------------------------------------------------------------------ main

const fmtLoad = (l: number[]) => l.map((v) => v.toFixed(2)).join(' / ');

function gitDescribe(): string {
  try {
    const sha = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    const dirty = execSync('git status --porcelain -- src wgsl', { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    return `${sha}${dirty ? ' + uncommitted changes in src/ or wgsl/' : ''}`;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const shapes = convShapes(args.only);
  const command =
    process.env.npm_lifecycle_event === 'bench:kernels'
      ? `npm run bench:kernels${args.raw.length ? ` -- ${args.raw.join(' ')}` : ''}`
      : `node dist/bench/kernels.js${args.raw.length ? ` ${args.raw.join(' ')}` : ''}`;
  const started = new Date();
  const glocalVersion = gitDescribe(); // at start: the kernels may be edited while a long run goes on
  const loadStart = loadavg();
  const rt = await Runtime.create();
  const be = new GpuBackend(rt);
  const adapter = describeAdapter(rt.gpu.info);
  const tfs = args.tfjs ? await loadTfjs() : null;
  const N = args.batch;
  idle.maxWaitS = args.waitIdle;
  console.log(`glocal kernel benchmark — ${started.toISOString()}`);
  console.log(`command: ${command}`);
  console.log(`adapter: ${adapter}`);
  console.log(`batch N=${N}, shapes: ${shapes.map((s) => s.label).join('  ')}`);
  console.log(`reference: ${tfs ? tfs.version : 'none (--no-tfjs)'}`);
  console.log(
    `load average before the run: ${fmtLoad(loadStart)} on ${cpus().length} CPUs (other processes on the CPUs slow lavapipe down)`,
  );

  let corr: { rows: string[][]; pass: boolean } | null = null;
  if (tfs) {
    console.log('\ncorrectness (small shapes, ours vs tfjs, max |Δ| / max |tfjs|):');
    corr = await correctness(be, tfs);
    for (const r of corr.rows) console.log(`  ${r[0]}: fwd ${r[1]}, dgrad ${r[2]}, wgrad ${r[3]} → ${r[4]}`);
  }

  console.log('\nmatmul peak:');
  const peak = await matmulPeak(rt, be, tfs, args.peakN, args.reps);
  if (peak.ours.s < 0.5)
    console.log(`  note: the ${args.peakN}² matmul takes under 0.5 s here; a larger --peak-n times it more stably`);

  const results: ShapeResult[] = [];
  for (let i = 0; i < shapes.length; i++) {
    const s = shapes[i];
    const gf = (2 * N * s.h * s.h * s.cin * s.cout * s.k * s.k) / 1e9;
    console.log(`\n[${i + 1}/${shapes.length}] ${s.label}  (N=${N}, ${gf.toFixed(3)} GFLOP per op)`);
    results.push(await benchShape(rt, be, tfs, s, N, args.reps));
  }

  const loadEnd = loadavg();
  const loadLine =
    `load average (1/5/15 min) at start ${fmtLoad(loadStart)}, at end ${fmtLoad(loadEnd)}, ${cpus().length} CPUs` +
    ` (lavapipe runs on these CPUs: a load clearly above ${cpus().length} means other work shared them and the numbers are low)`;

  // ---- tables
  // the per-op columns in OPS order, as the rows fill them
  const head = [
    'shape H,Cin→Cout,k',
    'GFLOP/op',
    ...OPS.map((op) => `ours ${op}`),
    ...OPS.map((op) => `tfjs ${op}`),
    ...OPS.map((op) => `${op} ours/tfjs`),
    'wgrad/fwd (ours)',
    'fwd % peak',
  ];
  const rows = results.map((r) => [
    r.shape.label,
    (r.flops / 1e9).toFixed(3),
    ...OPS.map((op) => fmtG(r.ours[op])),
    ...OPS.map((op) => fmtG(r.tfjs?.[op])),
    ...OPS.map((op) => ratio(r.ours[op], r.tfjs?.[op])),
    ok(r.ours.wgrad) && ok(r.ours.fwd) ? (r.ours.wgrad.gflops / r.ours.fwd.gflops).toFixed(2) : '–',
    ok(r.ours.fwd) ? `${((100 * r.ours.fwd.gflops) / peak.ours.gflops).toFixed(0)}%` : '–',
  ]);
  const timeHead = [
    'shape',
    ...OPS.map((op) => `ours ${op}`),
    ...OPS.map((op) => `tfjs ${op}`),
    ...OPS.map((op) => `err ${op}`),
    'CPU share',
  ];
  const shares = (r: ShapeResult) =>
    [...OPS.map((op) => r.ours[op]), ...OPS.map((op) => r.tfjs?.[op])].filter(ok).map((m) => m.cpuShare);
  const timeRows = results.map((r) => [
    r.shape.label,
    ...OPS.map((op) => fmtMs(r.ours[op])),
    ...OPS.map((op) => fmtMs(r.tfjs?.[op])),
    ...OPS.map((op) => fmtErr(r.err[op])),
    shares(r).length
      ? `${(100 * Math.min(...shares(r))).toFixed(0)}–${(100 * Math.max(...shares(r))).toFixed(0)}%`
      : '–',
  ]);
  const peakLine =
    `matmul ${peak.n}×${peak.n}·${peak.n}×${peak.n} f32 (GpuBackend.matmul): ${peak.ours.gflops.toFixed(2)} GFLOP/s ` +
    `(${(peak.ours.s * 1000).toFixed(0)} ms, median of ${peak.ours.reps})` +
    (peak.tfjs
      ? `; tfjs tf.matMul same size: ${fmtG(peak.tfjs)} GFLOP/s` +
        (ok(peak.tfjs) ? ` (${(peak.tfjs.s * 1000).toFixed(0)} ms, median of ${peak.tfjs.reps})` : '')
      : '');
  const checks = evaluate(results, peak, !!tfs);
  const allShares = [
    peak.ours,
    ...(peak.tfjs ? [peak.tfjs] : []),
    ...results.flatMap((r) => [...OPS.map((op) => r.ours[op]), ...OPS.map((op) => r.tfjs?.[op])]),
  ]
    .filter(ok)
    .map((m) => m.cpuShare);
  const medianShare = allShares.length ? median(allShares) : 1;
  const sharedWarning =
    medianShare < 0.8
      ? `WARNING: during the timed runs this process got a median ${(100 * medianShare).toFixed(0)}% of the ${NCPU} CPUs ` +
        '(lavapipe normally keeps them all busy): other work shared the machine, so all GFLOP/s here are low; ' +
        'ours/tfjs ratios are less affected (each op is timed for both back to back). Rerun on an idle machine for absolute numbers.'
      : null;

  console.log('\nGFLOP/s (higher is better)');
  console.log(textTable(head, rows));
  console.log('\nmedian ms per op (timed repetitions); err = max |ours − tfjs| / max |tfjs|');
  console.log(textTable(timeHead, timeRows));
  console.log(`\npractical peak: ${peakLine}`);
  console.log(loadLine);
  console.log(`median CPU share of the timed runs: ${(100 * medianShare).toFixed(0)}%`);
  if (args.waitIdle > 0) {
    console.log(
      `waited ${idle.waitedS.toFixed(0)} s in all for idle CPUs (gave up ${idle.gaveUp} times), ${idle.retries} contended measurements taken again`,
    );
  }
  if (sharedWarning) console.log(sharedWarning);
  console.log('\nchecks:');
  for (const c of checks) console.log(`  ${`(${c.id})`.padEnd(5)} ${c.status.padEnd(7)} ${c.text}: ${c.detail}`);
  if (corr)
    console.log(
      `  correctness ${corr.pass ? 'PASS' : 'FAIL'}: ours and tfjs agree on small 3×3 and 2×2 convs (rel. error < 1e-4)`,
    );
  if (tfs?.errors.length) console.log(`  tfjs WebGPU validation errors: ${tfs.errors.join(' | ')}`);

  // ---- BENCHMARKS.md
  if (args.write) {
    const partial = args.only !== null || N !== 20;
    const md = [
      `Measured ${started.toISOString()} with \`${command}\`${partial ? ' (a partial run: not the default N=20 over all shapes)' : ''}.`,
      '',
      `- adapter: \`${adapter}\``,
      `- batch N=${N}; glocal ${glocalVersion} (at start); Node ${process.version}; reference ${tfs ? tfs.version : 'none (--no-tfjs)'}`,
      `- ${loadLine}; median CPU share of the timed runs ${(100 * medianShare).toFixed(0)}%` +
        (args.waitIdle > 0
          ? `; --wait-idle ${args.waitIdle}: waited ${idle.waitedS.toFixed(0)} s in all for other processes to leave the CPUs ` +
            `(gave up ${idle.gaveUp} times), ${idle.retries} contended measurements taken again`
          : ''),
      ...(sharedWarning ? ['', `**${sharedWarning}**`] : []),
      '',
      '### Method',
      '',
      '- FLOPs per op = 2·N·H·W·Cin·Cout·k·k, the same count for forward, input gradient (dgrad) and weight gradient (wgrad); ' +
        'the forward bias add and our split-K chunk reduction are not counted. GFLOP/s = FLOPs / median wall time.',
      '- Ours: `GpuBackend.conv2d(x, w, bias, spec)`, `conv2dInputGrad(dy, w, spec)`, `conv2dWeightGrad(x, dy, spec)`, ' +
        'x NHWC, w HWIO; k=3 is `sameConv(3)` (3×3, pad 1), k=2 is `sameConv(2)` (2×2 TF SAME: pad 0 before, 1 after).',
      '- tfjs (`@tensorflow/tfjs-backend-webgpu`, own GPUDevice on the same dawn.node adapter, same process, same input data): ' +
        "`tf.conv2d(x, w, 1, 'same')` (no bias); `runKernel('Conv2DBackpropInput', {dy, filter}, {strides: 1, pad: 'same', " +
        "dataFormat: 'NHWC', inputShape})`; `runKernel('Conv2DBackpropFilter', {x, dy}, {strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape})`.",
      `- Timing: per op, one untimed warm-up call of ours and of tfjs (pipeline compilation, first upload), then timed ` +
        'repetitions alternating ours, tfjs, ours, tfjs, ... (so both see the same machine), each one op ' +
        'followed by a full GPU sync, wall clock (`performance.now()`): ours record the op and `await rt.sync()` (submit + ' +
        "`queue.onSubmittedWorkDone()`); tfjs runs the op, submits its pending command encoder and awaits its queue's " +
        '`onSubmittedWorkDone()` (no readback in the timed region). The previous output is released/disposed inside the loop. ' +
        `Reported: the median of R = ${args.reps} repetitions (R = 1 when the first timed repetition exceeds ${TIMING.slowS} s; ` +
        `ops faster than ${TIMING.minTotalS} s in total get more repetitions, up to ${TIMING.maxReps}). ` +
        'The times table gives the median ms and (in brackets) the number of repetitions.',
      `- Practical peak: \`GpuBackend.matmul(a, b, false, false)\` on square f32 matrices, n = ${peak.n} (FLOPs 2n³; ` +
        `the same GFLOP/s as n = 1024 and 1536 on idle lavapipe, ~3 s per run; \`--peak-n\` changes it), timed as above; tfjs \`tf.matMul\` at the same size for comparison.`,
      '- err = max |ours − tfjs| / max |tfjs| on the outputs of the last timed repetition (ours − bias for the forward).',
      "- CPU share = this process's CPU time (Dawn and lavapipe's worker threads run inside it) / (wall time × CPUs) over the " +
        'timed repetitions, lowest–highest over the six ops of a shape: well below 100% means the CPUs were shared with ' +
        'other work or idle (e.g. serial submission), and the GFLOP/s are correspondingly low. ' +
        `With \`--wait-idle S\` the bench waits (up to S s) before each op until other processes use < ${IDLE_OTHERS} CPUs ` +
        `(/proc/stat), and takes a measurement again (up to ${RETRIES} times) when a side got < ${100 * CONTENDED_SHARE}% CPU share.`,
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
        ? [
            `- correctness **${corr.pass ? 'PASS' : 'FAIL'}**: ours and tfjs agree on small shapes (max |Δ| / max |tfjs| < 1e-4):`,
            '',
            mdTable(['shape', 'fwd', 'dgrad', 'wgrad', ''], corr.rows, ['l']),
          ]
        : []),
      ...(tfs?.errors.length ? ['', `tfjs WebGPU validation errors during the run: ${tfs.errors.join(' | ')}`] : []),
    ].join('\n');
    writeSection(BENCHMARKS_MD, SECTION, md);
    console.log(`\nwrote ${BENCHMARKS_MD} (section "${SECTION}")`);
  }
  rt.destroy();
  return corr && !corr.pass ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`bench:kernels: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
