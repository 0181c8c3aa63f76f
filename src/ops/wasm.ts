// The WebAssembly SIMD backend: every op of Backend on the CPU, in AssemblyScript kernels (kernels/nn/) over
// tensors that live in the module's linear memory. Convolutions are packed GEMMs with f32x4 register tiles;
// every reduction sums in an order fixed by the shape, and work is split into tasks whose results do not
// depend on the thread that runs them, so a run gives the same bits on 1 or N threads and in every runtime.
//
// Ownership follows the GPU backend (runtime/runtime.ts GpuTensor): a reshape is a view of its owner's
// storage; releasing a view does nothing, releasing the owner frees the storage (views must not outlive it).

import {
  type Backend,
  type ConvSpec,
  type BatchNormOptions,
  type BatchNormParams,
  type AdamOptions,
  type AdamSet,
  type Shape,
  adamStepSize,
  matmulSizes,
} from './backend.ts';
import { type NnExports, WasmHeap } from './wasm-heap.ts';
import { type TaskRunner, createTaskRunner } from './wasm-threads.ts';
import { UNARY, type UnaryAttrValues, type UnaryName, attrList } from './table.ts';
import nnWasm from '../../dist/nn.wasm';
import nnThreadsWasm from '../../dist/nn-threads.wasm';

const numel = (s: Shape) => s.reduce((a, b) => a * b, 1);
const last = (s: Shape) => s[s.length - 1];

/** Pixels per chunk of a weight gradient's sum, rows per chunk of a channel sum: the order of additions. */
export const WASM_CHUNK = { pixels: 1024, rows: 1024 };
/** Tiles per chunk of the Winograd weight gradient's sum (the order of additions; 1 024 output pixels). */
const WINOGRAD_CHUNK_TILES = 256;
/** Output rows per convGemm task (kernels/nn/gemm.ts TASK_ROWS), elements per element-wise task (BLOCK). */
const GEMM_TASK_ROWS = 64,
  BLOCK = 4096,
  APPLY_ROWS = 64,
  SUM_BLOCK = 1024;

/** Rows of `width` floats in an element-wise task of about BLOCK floats (at least one). */
const rowsPerTask = (width: number) => Math.max(1, Math.floor(BLOCK / width));

/** Byte offsets in the scratch area (SCRATCH_BYTES in wasm-heap.ts). */
const SCRATCH = { taps: 0, epilogue: 1024 };

export class WasmTensor {
  private freed = false;
  constructor(
    private readonly heap: WasmHeap,
    readonly shape: Shape,
    readonly addr: number,
    readonly owner: WasmTensor | null = null,
  ) {}
  get size(): number {
    return numel(this.shape);
  }
  /** The storage is gone: this tensor, or the owner of this view, was released. */
  get isReleased(): boolean {
    return (this.owner ?? this).freed;
  }
  /** Free the storage (views free nothing: their owner does). Releasing twice does nothing. */
  release(): void {
    if (this.owner || this.freed) return;
    this.freed = true;
    this.heap.release(this.addr, 4 * this.size);
  }
}

export interface WasmBackendOptions {
  /** Threads to run kernels on (this one included); 1 by default. More need SharedArrayBuffer and workers. */
  threads?: number;
  /** Fill every new output with NaN before its kernel writes it (catches unwritten elements in tests). */
  poison?: boolean;
  /**
   * 3×3 "SAME" convolutions and both their gradients: 'winograd' (F(2×2, 3×3), kernels/nn/winograd*.ts: 2.25×
   * fewer multiplies), 'gemm' (the implicit GEMM every other convolution takes, and the only path before it), or
   * 'auto' (the default): Winograd where input and output both have WINOGRAD_MIN_CHANNELS or more, the GEMM where
   * a side is thinner (the network's 1-channel input), where Winograd pads to 4 and transforms for nothing. They
   * differ in rounding, so the choice is part of describe().
   */
  conv3x3?: Conv3x3;
  /**
   * Record each kernel's wall time and calls in `kernelTimes`, and this thread's waits for workers in `waitedMs`
   * (bench/conv3x3.ts --step --profile).
   */
  profile?: boolean;
}

export const CONV3X3_ALGORITHMS = ['auto', 'winograd', 'gemm'] as const;
/**
 * 'auto' takes Winograd from this many channels on both sides of a 3×3 conv. Per conv of the quickstart's and wide's
 * UNets on 2 threads (bench/conv3x3.ts --net, bench/NOTES.md §20), Winograd was faster from 4 channels (the thinnest
 * the UNet has) since its kernels lost their overheads; the 1-channel input layer was split (16 until then, §19).
 */
export const WINOGRAD_MIN_CHANNELS = 4;
export type Conv3x3 = (typeof CONV3X3_ALGORITHMS)[number];

export class WasmBackend implements Backend<WasmTensor> {
  readonly name = 'wasm';
  /** With `profile`: wall ms and calls of each kernel since creation (clear it to start over); else null. */
  readonly kernelTimes: Map<string, { ms: number; calls: number }> | null;

  private constructor(
    private readonly heap: WasmHeap,
    private readonly runner: TaskRunner,
    private readonly poison: boolean,
    readonly conv3x3: Conv3x3,
    profile: boolean,
  ) {
    this.kernelTimes = profile ? new Map() : null;
    if (profile) runner.waited = { ms: 0 };
  }

  /** With `profile`: ms this thread waited for workers' pieces since creation (within kernelTimes' ms); else null. */
  get waitedMs(): number | null {
    return this.runner.waited?.ms ?? null;
  }

  /** Clear kernelTimes and waitedMs (e.g. after warm-up). */
  clearProfile(): void {
    this.kernelTimes?.clear();
    if (this.runner.waited) this.runner.waited.ms = 0;
  }

  /** Compile the kernels and start the worker threads (when `threads` > 1 and the platform allows them). */
  static async create(o: WasmBackendOptions = {}): Promise<WasmBackend> {
    const threads = Math.max(1, Math.floor(o.threads ?? 1));
    const shared = threads > 1 && typeof SharedArrayBuffer !== 'undefined' && typeof Atomics !== 'undefined';
    const bytes = (shared ? nnThreadsWasm : nnWasm) as Uint8Array;
    const memory = shared
      ? new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: true })
      : new WebAssembly.Memory({ initial: 16 });
    const module = await WebAssembly.compile(bytes as BufferSource);
    const instance = await WebAssembly.instantiate(module, { env: { memory } });
    const heap = new WasmHeap(memory, instance.exports as unknown as NnExports);
    const runner = await createTaskRunner(heap, shared ? threads : 1, bytes);
    return new WasmBackend(heap, runner, o.poison ?? false, o.conv3x3 ?? 'auto', o.profile ?? false);
  }

  /** Threads that run kernels (1 when workers or shared memory are not available). */
  get threads(): number {
    return this.runner.threads;
  }

  /** For logs and records: e.g. "wasm SIMD, 2 threads, 3×3 by Winograd" (the algorithm decides the rounding). */
  describe(): string {
    const conv = {
      winograd: 'Winograd',
      gemm: 'GEMM',
      auto: `Winograd from ${WINOGRAD_MIN_CHANNELS} channels, else GEMM`,
    }[this.conv3x3];
    return `wasm SIMD, ${this.threads} thread${this.threads > 1 ? 's' : ''}, 3×3 by ${conv}`;
  }

  /** Bytes of live tensors and scratch now, their peak, and the linear memory's size. */
  memoryStats(): { liveBytes: number; peakLiveBytes: number; memoryBytes: number } {
    return { liveBytes: this.heap.live, peakLiveBytes: this.heap.peakLiveBytes, memoryBytes: this.heap.memoryBytes };
  }

  /** Start counting the peak of live bytes afresh (e.g. after warm-up). */
  resetPeakMemory(): void {
    this.heap.peakLiveBytes = this.heap.live;
  }

  /** Stop the worker threads (the backend is unusable afterwards). */
  destroy(): void {
    this.runner.destroy();
  }

  // ---- tensors -----------------------------------------------------------------------------------------

  shape(t: WasmTensor): Shape {
    return t.shape;
  }

  private empty(shape: Shape): WasmTensor {
    const n = numel(shape),
      t = new WasmTensor(this.heap, shape, this.heap.alloc(4 * n));
    if (this.poison) this.heap.f32(t.addr, n).fill(NaN);
    return t;
  }

  /** The address of a live tensor's data. */
  private a(t: WasmTensor): number {
    if (t.isReleased) throw new Error(`wasm backend: tensor [${t.shape}] used after release`);
    return t.addr;
  }

  private view(t: WasmTensor): Float32Array {
    return this.heap.f32(this.a(t), t.size);
  }

  fromHost(data: ArrayLike<number>, shape: Shape): WasmTensor {
    if (data.length !== numel(shape)) throw new Error(`fromHost: ${data.length} values for [${shape}]`);
    const t = new WasmTensor(this.heap, shape, this.heap.alloc(4 * data.length));
    this.heap.f32(t.addr, data.length).set(data);
    return t;
  }

  async toHost(t: WasmTensor): Promise<Float32Array> {
    return this.view(t).slice();
  }
  async toHostAll(ts: WasmTensor[]): Promise<Float32Array[]> {
    return ts.map((t) => this.view(t).slice());
  }

  assign(t: WasmTensor, data: ArrayLike<number>): void {
    if (data.length !== t.size) throw new Error(`assign: ${data.length} values for [${t.shape}]`);
    this.view(t).set(data);
  }

  full(shape: Shape, value: number): WasmTensor {
    const t = this.empty(shape);
    this.k.fill(t.addr, t.size, value);
    return t;
  }

  reshape(t: WasmTensor, shape: Shape): WasmTensor {
    if (numel(shape) !== t.size) throw new Error(`reshape: [${t.shape}] -> [${shape}] changes the element count`);
    this.a(t);
    return new WasmTensor(this.heap, shape, t.addr, t.owner ?? t);
  }

  release(t: WasmTensor): void {
    t.release();
  }

  private get k(): NnExports {
    return this.heap.exports;
  }

  /** Run kernel `name` over tasks 0…tasks−1 (split over the threads); args precede the task range. */
  private run(name: string, tasks: number, ...args: number[]): void {
    if (tasks <= 0) return;
    const t0 = this.kernelTimes ? performance.now() : 0;
    this.runner.run(name, args, tasks);
    if (!this.kernelTimes) return;
    const e = this.kernelTimes.get(name) ?? { ms: 0, calls: 0 };
    e.ms += performance.now() - t0;
    e.calls++;
    this.kernelTimes.set(name, e);
  }

  /** A temporary block of n floats, freed by `done`. */
  private temp(n: number): number {
    return this.heap.alloc(4 * n);
  }
  private done(addr: number, n: number): void {
    this.heap.release(addr, 4 * n);
  }

  // ---- convolutions ------------------------------------------------------------------------------------

  /** x zero-padded for the taps (a 1×1 needs none): address, padded height and width, and the temp's size. */
  private padded(x: WasmTensor, C: number, pt: number, pb: number, pl: number, pr: number) {
    const [B, H, W] = x.shape,
      Hp = H + pt + pb,
      Wp = W + pl + pr;
    if (Hp === H && Wp === W) return { addr: this.a(x), Hp, Wp, n: 0 };
    const n = B * Hp * Wp * C,
      addr = this.temp(n);
    this.run('padImage', B * Hp, this.a(x), H, W, C, pt, pb, pl, pr, addr);
    return { addr, Hp, Wp, n };
  }

  /** Write tap (dy, dx)'s byte offset (dy·Wp + dx)·C·4 in order dy-major into the scratch area. */
  private taps(kh: number, kw: number, Wp: number, C: number): number {
    const addr = this.heap.scratch + SCRATCH.taps,
      offs = this.heap.i32(addr, kh * kw);
    for (let dy = 0; dy < kh; dy++) for (let dx = 0; dx < kw; dx++) offs[dy * kw + dx] = (dy * Wp + dx) * C * 4;
    return addr;
  }

  /** The epilogue block of convGemm: bias, BN (mean, invstd, gamma, beta) and ReLU; 0 when none. */
  private epilogue(bias: number, bn: [number, number, number, number] | null, relu: boolean): number {
    if (!bias && !bn && !relu) return 0;
    const addr = this.heap.scratch + SCRATCH.epilogue;
    this.heap.i32(addr, 6).set([bias, ...(bn ?? [0, 0, 0, 0]), relu ? 1 : 0]);
    return addr;
  }

  /**
   * convGemm of a padded NHWC input (`src`: B·H·W output pixels, kh×kw taps over Cred channels) with weights
   * packed in panels of N outputs, into `out`; then frees the panels and the padded copy.
   */
  private paddedConvGemm(
    src: { addr: number; Hp: number; Wp: number; n: number },
    Cred: number,
    [B, H, W]: Shape,
    kh: number,
    kw: number,
    panels: { addr: number; n: number; N: number },
    out: number,
    epilogue: number,
  ): void {
    const taps = this.taps(kh, kw, src.Wp, Cred);
    this.run(
      'convGemm',
      Math.ceil((B * H * W) / GEMM_TASK_ROWS),
      src.addr,
      src.Hp,
      src.Wp,
      Cred,
      B,
      H,
      W,
      taps,
      kh * kw,
      panels.addr,
      panels.N,
      out,
      epilogue,
    );
    this.done(panels.addr, panels.n);
    if (src.n) this.done(src.addr, src.n);
  }

  private convForward(
    x: WasmTensor,
    w: WasmTensor,
    bias: WasmTensor | null,
    s: ConvSpec,
    bn: [number, number, number, number] | null,
  ): WasmTensor {
    const [B, H, W, Ci] = x.shape,
      [kh, kw, wci, Co] = w.shape;
    if (wci !== Ci) throw new Error(`conv2d: input has ${Ci} channels, weights [${w.shape}]`);
    const ep = this.epilogue(bias ? this.a(bias) : 0, bn, bn !== null);
    if (this.byWinograd(s, Ci, Co)) return this.winograd(x, w, Ci, Co, false, ep);
    const xp = this.padded(x, Ci, s.padT, kh - 1 - s.padT, s.padL, kw - 1 - s.padL);
    const K = kh * kw * Ci,
      packedN = Math.ceil(Co / 8) * 8 * K,
      packed = this.temp(packedN);
    this.k.packPanels(this.a(w), K, Co, Co, 1, packed);
    const y = this.empty([B, H, W, Co]);
    this.paddedConvGemm(xp, Ci, x.shape, kh, kw, { addr: packed, n: packedN, N: Co }, y.addr, ep);
    return y;
  }

  /**
   * Whether a convolution of Ci into Co channels (and both its gradients) goes by Winograd: 3×3 with one row and
   * column before, and under 'auto' wide enough on both sides.
   */
  private byWinograd(s: ConvSpec, Ci: number, Co: number): boolean {
    const wide = Math.min(Ci, Co) >= WINOGRAD_MIN_CHANNELS;
    return (
      (this.conv3x3 === 'winograd' || (this.conv3x3 === 'auto' && wide)) &&
      s.kh === 3 &&
      s.kw === 3 &&
      s.padT === 1 &&
      s.padL === 1
    );
  }

  /** F(2×2, 3×3)'s tiles of 2×2 outputs over x (the kernels read the border as zeros: no padded copy). */
  private winogradTiles(x: WasmTensor): number {
    const [B, H, W] = x.shape;
    return B * ((H + 1) >> 1) * ((W + 1) >> 1);
  }

  /**
   * A 3×3 "SAME" convolution of x (K channels) into N by F(2×2, 3×3) (kernels/nn/winograd.ts): the weights w
   * (`flip`: as the input gradient uses them) transformed into 16 panel sets, then blocks of tiles split over
   * the threads, each task with its own scratch slot.
   */
  private winograd(x: WasmTensor, w: WasmTensor, K: number, N: number, flip: boolean, ep: number): WasmTensor {
    const [B, H, W] = x.shape,
      tiles = this.winogradTiles(x);
    const uN = 16 * Math.ceil(N / 8) * 8 * K,
      U = this.temp(uN);
    this.run('winogradWeights', K, this.a(w), K, N, flip ? 1 : 0, U);
    // blocks of 4 to 64 tiles, sized for about 4 blocks per thread (a tile's bits do not depend on the block)
    const tb = Math.min(64, Math.max(4, Math.ceil(tiles / (4 * this.threads) / 4) * 4)),
      blocks = Math.ceil(tiles / tb),
      perTask = Math.ceil(blocks / Math.min(blocks, 4 * this.threads)),
      tasks = Math.ceil(blocks / perTask);
    const slot = this.k.winogradSlot(K, N, tb),
      scratch = this.temp(tasks * slot);
    const y = this.empty([B, H, W, N]);
    this.run('winogradConv', tasks, this.a(x), K, B, H, W, U, N, y.addr, ep, tb, perTask, scratch);
    this.done(scratch, tasks * slot);
    this.done(U, uN);
    return y;
  }

  conv2d(x: WasmTensor, w: WasmTensor, bias: WasmTensor | null, s: ConvSpec): WasmTensor {
    return this.convForward(x, w, bias, s, null);
  }

  conv2dInputGrad(dy: WasmTensor, w: WasmTensor, s: ConvSpec): WasmTensor {
    const [B, H, W, Co] = dy.shape,
      [kh, kw, Ci] = w.shape;
    // a forward convolution of dy padded the other way, with the taps flipped and w transposed per tap
    if (this.byWinograd(s, Ci, Co)) return this.winograd(dy, w, Co, Ci, true, 0);
    const gp = this.padded(dy, Co, kh - 1 - s.padT, s.padT, kw - 1 - s.padL, s.padL);
    const K = kh * kw * Co,
      packedN = Math.ceil(Ci / 8) * 8 * K,
      packed = this.temp(packedN);
    this.k.packFlipped(this.a(w), kh * kw, Ci, Co, packed);
    const dx = this.empty([B, H, W, Ci]);
    this.paddedConvGemm(gp, Co, dy.shape, kh, kw, { addr: packed, n: packedN, N: Ci }, dx.addr, 0);
    return dx;
  }

  /**
   * The weight gradient of a 3×3 "SAME" convolution by F(2×2, 3×3) (kernels/nn/winograd-grad.ts): 16 GEMMs over
   * the tiles in fixed chunks, each chunk transformed into a task's scratch slot just before its GEMMs, the chunks
   * summed in order, then dw.
   */
  private winogradWeightGrad(x: WasmTensor, dy: WasmTensor): WasmTensor {
    const [B, H, W, K] = x.shape,
      N = last(dy.shape),
      tiles = this.winogradTiles(x);
    const chunks = Math.ceil(tiles / WINOGRAD_CHUNK_TILES),
      perTask = Math.ceil(chunks / Math.min(chunks, 4 * this.threads)),
      tasks = Math.ceil(chunks / perTask),
      slot = this.k.winogradGradSlot(K, N, WINOGRAD_CHUNK_TILES),
      scratch = this.temp(tasks * slot);
    const len = 16 * ((K + 3) & ~3) * Math.ceil(N / 8) * 8,
      dU = this.temp(len),
      partial = chunks > 1 ? this.temp(chunks * len) : dU;
    const args = [this.a(x), K, this.a(dy), B, H, W, N, WINOGRAD_CHUNK_TILES, perTask, scratch, partial];
    this.run('winogradGradChunks', tasks, ...args);
    this.done(scratch, tasks * slot);
    if (chunks > 1) {
      this.run('sumChunks', Math.ceil(len / SUM_BLOCK), partial, chunks, len, 1, dU);
      this.done(partial, chunks * len);
    }
    const dw = this.empty([3, 3, K, N]);
    this.run('winogradWeightsBack', K, dU, K, N, dw.addr);
    this.done(dU, len);
    return dw;
  }

  conv2dWeightGrad(x: WasmTensor, dy: WasmTensor, s: ConvSpec): WasmTensor {
    if (this.byWinograd(s, last(x.shape), last(dy.shape))) return this.winogradWeightGrad(x, dy);
    const [B, H, W, Ci] = x.shape,
      Co = last(dy.shape),
      kh = s.kh,
      kw = s.kw;
    const xp = this.padded(x, Ci, s.padT, kh - 1 - s.padT, s.padL, kw - 1 - s.padL);
    const M = kh * kw * Ci,
      len = M * Co,
      chunks = Math.ceil((B * H * W) / WASM_CHUNK.pixels);
    const dw = this.empty([kh, kw, Ci, Co]);
    const partial = chunks > 1 ? this.temp(chunks * len) : dw.addr;
    this.run(
      'convWgrad',
      chunks * Math.ceil(M / 4),
      xp.addr,
      xp.Hp,
      xp.Wp,
      Ci,
      this.a(dy),
      B,
      H,
      W,
      Co,
      this.taps(kh, kw, xp.Wp, Ci),
      kh * kw,
      WASM_CHUNK.pixels,
      partial,
    );
    if (chunks > 1) {
      this.run('sumChunks', Math.ceil(len / SUM_BLOCK), partial, chunks, len, 1, dw.addr);
      this.done(partial, chunks * len);
    }
    if (xp.n) this.done(xp.addr, xp.n);
    return dw;
  }

  /** Σ over rows of an [rows, C] tensor in WASM_CHUNK.rows chunks, divided by `divisor`, into out. */
  private columnSums(
    kernel: 'colSums' | 'colSquaredDeviations',
    x: WasmTensor,
    extra: number[],
    divisor: number,
    out: number,
  ): void {
    const C = last(x.shape),
      rows = x.size / C,
      chunks = Math.max(1, Math.ceil(rows / WASM_CHUNK.rows));
    const partial = this.temp(chunks * C);
    const args =
      kernel === 'colSums'
        ? [this.a(x), rows, C, WASM_CHUNK.rows, partial]
        : [this.a(x), rows, C, ...extra, WASM_CHUNK.rows, partial];
    this.run(kernel, chunks, ...args);
    this.run('sumChunks', Math.ceil(C / SUM_BLOCK), partial, chunks, C, divisor, out);
    this.done(partial, chunks * C);
  }

  channelSum(t: WasmTensor): WasmTensor {
    const out = this.empty([last(t.shape)]);
    this.columnSums('colSums', t, [], 1, out.addr);
    return out;
  }

  // ---- batch norm --------------------------------------------------------------------------------------

  batchNormTrain(x: WasmTensor, bn: BatchNormParams<WasmTensor>, o: BatchNormOptions, relu = false) {
    const C = last(x.shape),
      rows = x.size / C;
    const mean = this.empty([C]),
      invstd = this.empty([C]),
      variance = this.temp(C);
    this.columnSums('colSums', x, [], rows, mean.addr);
    this.columnSums('colSquaredDeviations', x, [mean.addr], rows, variance);
    this.k.bnFinish(
      mean.addr,
      variance,
      C,
      o.eps,
      o.decay,
      rows / Math.max(rows - 1, 1),
      this.a(bn.runMean),
      this.a(bn.runVar),
      invstd.addr,
    );
    this.done(variance, C);
    return { y: this.bnApply(x, mean.addr, invstd.addr, bn, relu), mean, invstd };
  }

  batchNormInfer(x: WasmTensor, bn: BatchNormParams<WasmTensor>, o: BatchNormOptions, relu = false): WasmTensor {
    const C = last(x.shape),
      invstd = this.temp(C);
    this.k.bnInvstd(this.a(bn.runVar), C, o.eps, invstd);
    const y = this.bnApply(x, this.a(bn.runMean), invstd, bn, relu);
    this.done(invstd, C);
    return y;
  }

  /** y = (x − mean)·invstd·gamma + beta per channel (then ReLU): the batch's statistics or the moving ones. */
  private bnApply(x: WasmTensor, mean: number, invstd: number, bn: BatchNormParams<WasmTensor>, relu: boolean) {
    const C = last(x.shape),
      rows = x.size / C,
      y = this.empty(x.shape);
    this.run(
      'bnApply',
      Math.ceil(rows / APPLY_ROWS),
      this.a(x),
      rows,
      C,
      mean,
      invstd,
      this.a(bn.gamma),
      this.a(bn.beta),
      relu ? 1 : 0,
      y.addr,
    );
    return y;
  }

  conv2dBnReluInfer(
    x: WasmTensor,
    w: WasmTensor,
    b: WasmTensor | null,
    bn: BatchNormParams<WasmTensor>,
    s: ConvSpec,
    o: BatchNormOptions,
  ): WasmTensor {
    const C = last(w.shape),
      invstd = this.temp(C);
    this.k.bnInvstd(this.a(bn.runVar), C, o.eps, invstd);
    // the GEMM's epilogue does bnApply's arithmetic: the bits of conv2d then batchNormInfer
    const y = this.convForward(x, w, b, s, [this.a(bn.runMean), invstd, this.a(bn.gamma), this.a(bn.beta)]);
    this.done(invstd, C);
    return y;
  }

  batchNormBackward(
    x: WasmTensor,
    dy: WasmTensor,
    gamma: WasmTensor,
    mean: WasmTensor,
    invstd: WasmTensor,
    reluOut?: WasmTensor,
  ) {
    const C = last(x.shape),
      rows = x.size / C,
      chunks = Math.max(1, Math.ceil(rows / WASM_CHUNK.rows));
    const pBeta = this.temp(chunks * C),
      pGamma = this.temp(chunks * C);
    const r = reluOut ? this.a(reluOut) : 0;
    this.run(
      'bnGradSums',
      chunks,
      this.a(x),
      this.a(dy),
      r,
      this.a(mean),
      this.a(invstd),
      rows,
      C,
      WASM_CHUNK.rows,
      pBeta,
      pGamma,
    );
    const dbeta = this.empty([C]),
      dgamma = this.empty([C]);
    this.run('sumChunks', Math.ceil(C / SUM_BLOCK), pBeta, chunks, C, 1, dbeta.addr);
    this.run('sumChunks', Math.ceil(C / SUM_BLOCK), pGamma, chunks, C, 1, dgamma.addr);
    this.done(pBeta, chunks * C);
    this.done(pGamma, chunks * C);
    const dx = this.empty(x.shape);
    this.run(
      'bnGradApply',
      Math.ceil(rows / APPLY_ROWS),
      this.a(x),
      this.a(dy),
      r,
      this.a(mean),
      this.a(invstd),
      this.a(gamma),
      dbeta.addr,
      dgamma.addr,
      rows,
      C,
      dx.addr,
    );
    return { dx, dgamma, dbeta };
  }

  // ---- layout ------------------------------------------------------------------------------------------

  unary<P extends UnaryName>(op: P, x: WasmTensor, attrs: UnaryAttrValues<P>): WasmTensor {
    const y = this.empty(x.shape);
    this.run(UNARY[op].wasm.forward, Math.ceil(x.size / BLOCK), this.a(x), x.size, y.addr, ...attrList(op, attrs));
    return y;
  }

  unaryGrad<P extends UnaryName>(op: P, y: WasmTensor, dy: WasmTensor, attrs: UnaryAttrValues<P>): WasmTensor {
    const dx = this.empty(y.shape);
    this.run(
      UNARY[op].wasm.grad,
      Math.ceil(y.size / BLOCK),
      this.a(y),
      this.a(dy),
      y.size,
      dx.addr,
      ...attrList(op, attrs),
    );
    return dx;
  }

  maxPool2(x: WasmTensor) {
    const [B, H, W, C] = x.shape,
      OH = Math.ceil(H / 2),
      OW = Math.ceil(W / 2);
    const y = this.empty([B, OH, OW, C]),
      arg = this.empty([B, OH, OW, C]);
    this.run('maxPool2', B * OH, this.a(x), H, W, C, y.addr, arg.addr);
    return { y, arg };
  }

  maxPool2Backward(dy: WasmTensor, arg: WasmTensor, inputShape: Shape): WasmTensor {
    const dx = this.empty(inputShape);
    const [B, H, W, C] = inputShape;
    this.run('maxPool2Backward', B * ((H + 1) >> 1), this.a(dy), this.a(arg), H, W, C, dx.addr);
    return dx;
  }

  upsample2(x: WasmTensor): WasmTensor {
    const [B, H, W, C] = x.shape,
      y = this.empty([B, 2 * H, 2 * W, C]);
    this.run('upsample2', B * 2 * H, this.a(x), H, W, C, y.addr);
    return y;
  }

  upsample2Backward(dy: WasmTensor): WasmTensor {
    const [B, H2, W2, C] = dy.shape,
      dx = this.empty([B, H2 / 2, W2 / 2, C]);
    this.run('upsample2Backward', B * (H2 / 2), this.a(dy), H2 / 2, W2 / 2, C, dx.addr);
    return dx;
  }

  concat(a: WasmTensor, b: WasmTensor): WasmTensor {
    const ca = last(a.shape),
      cb = last(b.shape),
      P = a.size / ca;
    if (b.size / cb !== P) throw new Error(`concat: [${a.shape}] and [${b.shape}] differ in pixels`);
    const out = this.empty([...a.shape.slice(0, -1), ca + cb]);
    const per = rowsPerTask(ca + cb);
    this.run('concat', Math.ceil(P / per), this.a(a), ca, this.a(b), cb, P, per, out.addr);
    return out;
  }

  sliceChannels(t: WasmTensor, offset: number, count: number): WasmTensor {
    const C = last(t.shape),
      out = this.empty([...t.shape.slice(0, -1), count]);
    const P = t.size / C,
      per = rowsPerTask(C);
    this.run('sliceChannels', Math.ceil(P / per), this.a(t), C, offset, count, P, per, out.addr);
    return out;
  }

  // ---- dense -------------------------------------------------------------------------------------------

  matmul(a: WasmTensor, b: WasmTensor, transA: boolean, transB: boolean): WasmTensor {
    const { M, N, K } = matmulSizes(a.shape, b.shape, transA, transB);
    // A row-major [M, K] (transposed into a temp when needed), B packed into panels whatever its layout
    const at = transA ? this.temp(M * K) : this.a(a);
    if (transA) this.k.transpose(this.a(a), K, M, at);
    const packedN = Math.ceil(N / 8) * 8 * K,
      packed = this.temp(packedN);
    this.k.packPanels(this.a(b), K, N, transB ? 1 : N, transB ? K : 1, packed);
    const y = this.empty([M, N]);
    this.run(
      'convGemm',
      Math.ceil(M / GEMM_TASK_ROWS),
      at,
      1,
      M,
      K,
      1,
      1,
      M,
      this.taps(1, 1, 0, 0),
      1,
      packed,
      N,
      y.addr,
      0,
    );
    this.done(packed, packedN);
    if (transA) this.done(at, M * K);
    return y;
  }

  // ---- losses ------------------------------------------------------------------------------------------

  softmax(z: WasmTensor): WasmTensor {
    const K = last(z.shape),
      p = this.empty(z.shape);
    const rows = z.size / K,
      per = rowsPerTask(K);
    this.run('softmax', Math.ceil(rows / per), this.a(z), rows, K, per, p.addr);
    return p;
  }

  argmax(z: WasmTensor): WasmTensor {
    const K = last(z.shape),
      out = this.empty(z.shape.slice(0, -1));
    this.k.argmax(this.a(z), z.size / K, K, out.addr);
    return out;
  }

  diceLoss(z: WasmTensor, y: WasmTensor, eps: number) {
    const B = z.shape[0],
      K = last(z.shape),
      HW = z.size / (B * K);
    const probs = this.softmax(z),
      stats = this.empty([B, K, 2]),
      loss = this.empty([1]);
    this.k.diceLoss(probs.addr, this.a(y), B, HW, K, eps, stats.addr, loss.addr);
    return { loss, probs, stats };
  }

  diceBackward(probs: WasmTensor, y: WasmTensor, stats: WasmTensor, dloss: WasmTensor): WasmTensor {
    const B = probs.shape[0],
      K = last(probs.shape),
      HW = probs.size / (B * K),
      dz = this.empty(probs.shape);
    const per = rowsPerTask(K);
    this.run(
      'diceBackward',
      Math.ceil((B * HW) / per),
      this.a(probs),
      this.a(y),
      this.a(stats),
      this.a(dloss),
      B,
      HW,
      K,
      per,
      dz.addr,
    );
    return dz;
  }

  crossEntropy(z: WasmTensor, y: WasmTensor, classWeights: WasmTensor) {
    const K = last(z.shape),
      probs = this.softmax(z),
      loss = this.empty([1]);
    this.k.crossEntropy(probs.addr, this.a(y), this.a(classWeights), z.size / K, K, loss.addr);
    return { loss, probs };
  }

  crossEntropyBackward(probs: WasmTensor, y: WasmTensor, classWeights: WasmTensor, dloss: WasmTensor): WasmTensor {
    const K = last(probs.shape),
      dz = this.empty(probs.shape);
    this.k.crossEntropyBackward(
      this.a(probs),
      this.a(y),
      this.a(classWeights),
      this.a(dloss),
      probs.size / K,
      K,
      dz.addr,
    );
    return dz;
  }

  l2normalize(x: WasmTensor) {
    const [rows, D] = x.shape,
      y = this.empty(x.shape),
      norms = this.empty([rows, 2]);
    this.k.l2normalize(this.a(x), rows, D, y.addr, norms.addr);
    return { y, norms };
  }

  l2normalizeBackward(y: WasmTensor, norms: WasmTensor, dy: WasmTensor): WasmTensor {
    const [rows, D] = y.shape,
      dx = this.empty(y.shape);
    this.k.l2normalizeBackward(this.a(y), this.a(norms), this.a(dy), rows, D, dx.addr);
    return dx;
  }

  contrastiveLoss(s: WasmTensor, pairs: WasmTensor, mask: WasmTensor, invTau: number, scale: number) {
    const N = s.shape[0],
      T = pairs.shape[0],
      lse = this.empty([T]),
      loss = this.empty([1]);
    this.k.contrastiveLoss(this.a(s), N, this.a(pairs), this.a(mask), T, invTau, scale, lse.addr, loss.addr);
    return { loss, lse };
  }

  contrastiveBackward(
    s: WasmTensor,
    pairs: WasmTensor,
    mask: WasmTensor,
    lse: WasmTensor,
    _rows: WasmTensor,
    dloss: WasmTensor,
    invTau: number,
    scale: number,
  ): WasmTensor {
    const N = s.shape[0],
      T = pairs.shape[0],
      ds = this.empty([N, N]);
    this.k.contrastiveBackward(
      this.a(s),
      N,
      this.a(pairs),
      this.a(mask),
      this.a(lse),
      T,
      this.a(dloss),
      invTau,
      scale,
      ds.addr,
    );
    return ds;
  }

  mseLoss(y: WasmTensor, t: WasmTensor): WasmTensor {
    const loss = this.empty([1]);
    this.k.mseLoss(this.a(y), this.a(t), y.size, loss.addr);
    return loss;
  }

  mseBackward(y: WasmTensor, t: WasmTensor, dloss: WasmTensor): WasmTensor {
    const dy = this.empty(y.shape);
    this.k.mseBackward(this.a(y), this.a(t), this.a(dloss), y.size, dy.addr);
    return dy;
  }

  regionGather(x: WasmTensor, positions: WasmTensor, R: number): WasmTensor {
    const [B, H, W, C] = x.shape,
      P = positions.shape[0],
      out = this.empty([B * P, R * R * C]);
    this.k.regionGather(this.a(x), B, H, W, C, this.a(positions), P, R, out.addr);
    return out;
  }

  regionScatter(dout: WasmTensor, positions: WasmTensor, R: number, xShape: Shape): WasmTensor {
    const [B, H, W, C] = xShape,
      P = positions.shape[0],
      dx = this.empty(xShape);
    this.k.regionScatter(this.a(dout), B, H, W, C, this.a(positions), P, R, dx.addr);
    return dx;
  }

  // ---- updates -----------------------------------------------------------------------------------------

  accumulate(acc: WasmTensor, g: WasmTensor): void {
    if (acc.size !== g.size) throw new Error(`accumulate: [${acc.shape}] += [${g.shape}]`);
    this.run('accumulate', Math.ceil(acc.size / BLOCK), this.a(acc), this.a(g), acc.size);
  }

  adam(sets: AdamSet<WasmTensor>[], t: number, o: AdamOptions): void {
    const lrT = adamStepSize(o, t);
    for (const { p, g, m, v } of sets) {
      this.run(
        'adam',
        Math.ceil(p.size / BLOCK),
        this.a(p),
        this.a(g),
        this.a(m),
        this.a(v),
        p.size,
        lrT,
        o.beta1,
        o.beta2,
        o.eps,
      );
    }
  }
}
