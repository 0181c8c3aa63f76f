// The WGSL backend: each primitive op records its dispatches into the runtime's current command buffer.

import { adamStepSize, matmulSizes } from './backend.ts';
import type { AdamOptions, AdamSet, Backend, BatchNormOptions, BatchNormParams, ConvSpec, Shape } from './backend.ts';
import { type GpuTensor, type Runtime, numel, type Specialisation } from '../runtime/runtime.ts';
import { WGSL } from '../runtime/wgsl-registry.ts';
import type { BindingValues, KernelDecl, UniformValues } from '../runtime/wgsl-kernel.ts';
import { isSoftwareAdapter } from '../runtime/device.ts';
import { type UnaryAttrValues, type UnaryName, unaryKernels } from './table.ts';

/**
 * Fixed reduction chunks. They are part of the numerics (the order of additions), so they are constants,
 * independent of tile shapes, adapters and subgroup sizes: the same inputs give the same bits every run.
 */
export const CHUNK = {
  /** pixels (batch·H·W) per split-K chunk of the conv weight gradient and of dense weight gradients */
  gemmK: 2048,
  /** ... halved down to this while a GEMM weight gradient's grid has fewer than gemmGroups workgroups */
  gemmKMin: 256,
  gemmGroups: 1024,
  /** rows per chunk of per-channel sums (batch norm, bias gradients): short, so that many invocations share the rows */
  rows: 64,
  /**
   * Split-K of the conv GEMM at inference, whose K (taps × channels) is long and whose M (pixels) is short in the
   * deep layers: K is halved while the chunks keep at least rowSplitMinK and one image's partials (chunks × H·W ×
   * Cout) stay under rowSplitOutputs. A function of the layer, not of the batch, so an image's bits do not depend
   * on the batch it is in (a batch run in pieces gives the same bits). Training keeps whole K: there M is 20
   * images' pixels, and partials would add to the step's peak memory.
   */
  rowSplitMinK: 128,
  rowSplitOutputs: 1 << 20,
  /** above this many chunks, a reduction over chunk partials takes a workgroup per output */
  wideAbove: 16,
  /** ... and at most this many outputs (beyond, one invocation per output is parallel enough) */
  wideMaxLen: 65536,
  /** pixels per chunk of the loss reductions */
  loss: 1024,
};

/**
 * Threads (WX along N, WY along M) of the GEMM tile; each thread owns 4×4 outputs. The tile follows the
 * output's shape so thin problems (Cout = 4, or the 9 rows of a 1-channel 3×3 weight gradient) do not
 * spend most of a tile on padding. This is a specialisation: a few shape classes, never a shape.
 */
export function gemmTile(
  m: number,
  n: number,
  k: number,
  maxInvocations: number,
  rb = 1,
  cpuAdapter = true,
): Specialisation {
  let wx: number, wy: number;
  if (n <= 4) [wx, wy] = [1, 64];
  else if (n <= 8) [wx, wy] = [2, 64];
  else if (n <= 16) [wx, wy] = [4, 32];
  else if (n <= 32) [wx, wy] = [8, 16];
  else [wx, wy] = [16, 16];
  // GPUs: 64–128 threads of one row group (RB 1) each, the fastest tiles for nearly every GEMM of the UNet in
  // the tile sweep (bench/tiles.ts; bench/NOTES.md, "GEMM tiles swept"); RB 4 suits CPU adapters.
  if (!cpuAdapter && n > 4) wy = n <= 16 ? 16 : 8;
  if (wx % rb !== 0) rb = 1; // the A-tile loader steps by WX / RB
  // Rows per tile (4·WY·RB, at most 256 = 16 KiB of A tile): the candidate that wastes least of the
  // last tile of M rows (a 3×3 weight gradient has 9·Cin rows, e.g. 144), the largest among equals.
  const maxWy = Math.min(wy, Math.floor(64 / rb), Math.floor(maxInvocations / wx));
  let best = 1,
    bestUtil = 0;
  for (const c of [1, 2, 3, 4, 6, 8, 9, 12, 16, 18, 24, 32, 36, 48, 64]) {
    if (c > maxWy) break;
    const rows = 4 * c * rb,
      util = m / (Math.ceil(m / rows) * rows);
    if (util >= bestUtil - 1e-9) [best, bestUtil] = [c, util];
  }
  wy = best;
  return { WX: wx, WY: wy, TK: Math.min(16, k), RB: rb, AK: false };
}

/** The GEMM kernels whose tiles can be chosen per call. */
export type GemmKernel = 'conv2d_forward' | 'conv2d_input_grad' | 'conv2d_weight_grad' | 'matmul';

/**
 * A tile for one GEMM (WX, WY, RB, TK, AK as in wgsl/gemm.wgsl), or null for gemmTile's. `k` is the K of one
 * split-K chunk. Tiles never change the bits: every output adds its products in increasing k whatever the tile,
 * and the split-K chunking is computed from the default tile (bench/tiles.ts sweeps them; the kernel tests
 * check bitwise equality).
 */
export type TileChoice = (kernel: GemmKernel, m: number, n: number, k: number) => Specialisation | null;

/** Why a tile cannot run on this device, or null when it can. */
export function tileProblem(
  t: Specialisation,
  limits: { maxComputeInvocationsPerWorkgroup: number; maxComputeWorkgroupStorageSize: number },
): string | null {
  const [wx, wy, rb, tk] = [t.WX, t.WY, t.RB, t.TK].map(Number);
  if (![1, 2, 4].includes(rb)) return `RB ${rb} is not 1, 2 or 4`;
  if (wx % rb !== 0) return `WX ${wx} is not a multiple of RB ${rb}`;
  if (wx * wy > limits.maxComputeInvocationsPerWorkgroup) return `${wx * wy} invocations per workgroup`;
  if (t.AK && (wx * wy) % tk !== 0) return `AK needs WX·WY a multiple of TK ${tk}`;
  const bytes = 16 * tk * (wy * rb + wx);
  if (bytes > limits.maxComputeWorkgroupStorageSize) return `${bytes} bytes of workgroup memory`;
  return null;
}

/** Tunables of the WebGPU backend: they choose kernels and tiles, never the order of additions (the same bits). */
export interface GpuBackendOptions {
  /**
   * Groups of 4 rows per GEMM thread (RB): null takes the adapter class's, 4 on CPU adapters (fewer
   * workgroup-memory loads per multiply-add), 1 on GPUs (more threads in flight); the tests run 1, 2 and 4.
   */
  gemmRows: number | null;
  /** Stage the weights of a direct conv in workgroup memory when they fit (tests run both ways). */
  directStaging: boolean;
}

export const GPU_BACKEND_DEFAULTS: GpuBackendOptions = { gemmRows: null, directStaging: true };

/** gemmTile for an adapter class, with `rows` row groups per thread (null: the adapter class's). */
export function adapterTile(
  m: number,
  n: number,
  k: number,
  maxInvocations: number,
  cpuAdapter: boolean,
  rows: number | null = null,
): Specialisation {
  return gemmTile(m, n, k, maxInvocations, rows ?? (cpuAdapter ? 4 : 1), cpuAdapter);
}

/**
 * Which kernel runs a convolution, by adapter class and channel counts (a specialisation, never a shape).
 * On CPU adapters (lavapipe, SwiftShader) the direct kernels run every layer: there, tiles in workgroup
 * memory cost more than they save. GPUs run the tiled GEMM everywhere, the thin layers (the 1-channel input,
 * the K-class logits) included, as it was faster there too (bench/NOTES.md, "The thin layers on the GEMM").
 * Tests and benchmarks override the choice to exercise and compare every path.
 */
export interface ConvKernelChoice {
  directForward(cin: number, cout: number): boolean;
  directInputGrad(cin: number, cout: number): boolean;
  directWeightGrad(cin: number, cout: number): boolean;
}

export function defaultConvChoice(cpuAdapter: boolean): ConvKernelChoice {
  const direct = () => cpuAdapter;
  return { directForward: direct, directInputGrad: direct, directWeightGrad: direct };
}

export class GpuBackend implements Backend<GpuTensor> {
  readonly name = 'webgpu';
  get maxTensorBytes(): number {
    return this.rt.maxTensorBytes;
  }
  private dummy: GpuTensor;
  /** Bound to reduce_chunks' split outputs when it has none (two buffers: writable bindings must not alias). */
  private unsplit: [GpuTensor, GpuTensor];
  /** Bound to adam4's empty sets 1–3 (p, m, v each: writable bindings must not alias). */
  private adamSpares: GpuTensor[][];
  /** Bound to conv2d_forward's batch-norm inputs when its epilogue is off (read-only: one buffer serves all four). */
  private noBn: { rm: GpuTensor; rv: GpuTensor; gamma: GpuTensor; beta: GpuTensor };
  /** Kernel selection for convolutions (see defaultConvChoice). */
  convChoice: ConvKernelChoice;
  /** A CPU (software) adapter: lavapipe, SwiftShader. Kernel and tile choices follow the adapter class. */
  readonly cpuAdapter: boolean;
  /** GEMM tiles other than gemmTile's (see TileChoice); null: gemmTile's everywhere. */
  tileChoice: TileChoice | null = null;
  /** Kernel and tile tunables (GpuBackendOptions); tests and benchmarks change them on one backend. */
  readonly options: GpuBackendOptions;
  constructor(
    readonly rt: Runtime,
    options: Partial<GpuBackendOptions> = {},
  ) {
    this.options = { ...GPU_BACKEND_DEFAULTS, ...options };
    this.dummy = rt.upload([0], [1]);
    this.unsplit = [rt.upload([0], [1]), rt.upload([0], [1])];
    this.adamSpares = [0, 1, 2].map(() => [0, 1, 2].map(() => rt.upload([0], [1])));
    this.noBn = { rm: this.dummy, rv: this.dummy, gamma: this.dummy, beta: this.dummy };
    const info = rt.gpu.info;
    this.cpuAdapter = isSoftwareAdapter(info);
    this.convChoice = defaultConvChoice(this.cpuAdapter);
  }

  shape(t: GpuTensor): Shape {
    return t.shape;
  }
  fromHost(data: ArrayLike<number>, shape: Shape): GpuTensor {
    return this.rt.upload(data, shape);
  }
  async toHost(t: GpuTensor): Promise<Float32Array> {
    return this.rt.read1(t);
  }
  toHostAll(ts: GpuTensor[]): Promise<Float32Array[]> {
    return this.rt.read(...ts);
  }
  assign(t: GpuTensor, data: ArrayLike<number>): void {
    if (data.length !== t.size) throw new Error(`assign: ${data.length} values for [${t.shape}]`);
    this.rt.write(t, data);
  }
  full(shape: Shape, value: number): GpuTensor {
    const t = this.rt.empty(shape);
    this.rt.fill(t, value);
    return t;
  }
  reshape(t: GpuTensor, shape: Shape): GpuTensor {
    return t.reshape(shape);
  }
  release(t: GpuTensor): void {
    t.release();
  }

  /** One GEMM dispatch: the tile (chosen, or the adapter's), the core's M, N, K, kChunk, then the op's uniforms. */
  private gemm<G extends GemmKernel>(
    name: G,
    M: number,
    N: number,
    K: number,
    kChunk: number,
    extra: Omit<UniformValues<(typeof WGSL)[G]>, 'M' | 'N' | 'K' | 'kChunk'>,
    tensors: BindingValues<(typeof WGSL)[G], GpuTensor>,
    spec: Specialisation = {},
  ): void {
    const k = Math.min(K, kChunk);
    const chosen = this.tileChoice?.(name, M, N, k);
    const problem = chosen && tileProblem(chosen, this.rt.gpu.limits);
    if (problem) throw new Error(`${name} tile ${JSON.stringify(chosen)} for ${M}×${N}×${k}: ${problem}`);
    const maxInvocations = this.rt.gpu.limits.maxComputeInvocationsPerWorkgroup;
    const tile = chosen ?? adapterTile(M, N, k, maxInvocations, this.cpuAdapter, this.options.gemmRows);
    const bm = 4 * (tile.WY as number) * (tile.RB as number),
      bn = 4 * (tile.WX as number);
    const chunks = Math.max(1, Math.ceil(K / kChunk));
    const uniforms = { M, N, K, kChunk, ...extra } as UniformValues<(typeof WGSL)[G]>;
    const groups: [number, number, number] = [Math.ceil(N / bn), Math.ceil(M / bm), chunks];
    this.rt.run(WGSL[name], uniforms, tensors, { groups }, { ...tile, ...spec });
  }

  /**
   * Pixels per split-K chunk of a GEMM weight gradient: CHUNK.gemmK, halved (down to CHUNK.gemmKMin) while the
   * grid would have fewer than CHUNK.gemmGroups workgroups, so that thin layers over many pixels (16 → 16
   * channels at 192²: one output tile) fill a GPU. A function of the shape: the order of additions stays fixed.
   */
  private splitK(M: number, N: number, K: number): number {
    // the CPU-adapter tile on every adapter: the chunking (so the bits) depends on the shape alone
    const tile = gemmTile(M, N, Math.min(K, CHUNK.gemmK), this.rt.gpu.limits.maxComputeInvocationsPerWorkgroup, 4);
    const tiles =
      Math.ceil(N / (4 * (tile.WX as number))) * Math.ceil(M / (4 * (tile.WY as number) * (tile.RB as number)));
    let k = CHUNK.gemmK;
    while (k > CHUNK.gemmKMin && tiles * Math.ceil(K / k) < CHUNK.gemmGroups) k /= 2;
    return k;
  }

  /**
   * Sum chunk partials [chunks, len] in order into a new [len] tensor shaped `shape`. `split`: also write the
   * total's first and second halves into these two tensors, in the same dispatch.
   */
  private reduceChunks(
    partial: GpuTensor,
    len: number,
    chunks: number,
    shape: Shape,
    scale = 1,
    split?: [GpuTensor, GpuTensor],
  ): GpuTensor {
    const out = this.rt.empty(shape);
    const [lo, hi] = split ?? this.unsplit;
    this.reduceDispatch(WGSL.reduce_chunks, { len, chunks, scale }, { partial, out, lo, hi }, len, chunks, {
      SPLIT: split !== undefined,
    });
    return out;
  }

  /**
   * A reduction over chunk partials (reduce_chunks, bn_finalize): one invocation per output when the chunks
   * are few, else one workgroup per output (WIDE), whose 256 lanes and fixed tree keep long sums parallel.
   */
  private reduceDispatch<D extends KernelDecl>(
    k: D,
    uniforms: UniformValues<D>,
    tensors: BindingValues<D, GpuTensor>,
    len: number,
    chunks: number,
    spec: Specialisation = {},
  ): void {
    if (chunks <= CHUNK.wideAbove || len > CHUNK.wideMaxLen) {
      this.rt.run(k, uniforms, tensors, { threads: len }, { ...spec, WIDE: false });
      return;
    }
    const maxDim = this.rt.gpu.limits.maxComputeWorkgroupsPerDimension;
    const groups: [number, number, number] = [Math.min(len, maxDim), Math.ceil(len / maxDim), 1];
    this.rt.run(k, uniforms, tensors, { groups }, { ...spec, WIDE: true });
  }

  conv2d(x: GpuTensor, w: GpuTensor, bias: GpuTensor | null, s: ConvSpec): GpuTensor {
    const [B, H, W, Cin] = x.shape;
    const Cout = w.shape[3];
    checkConv(x.shape, w.shape, s);
    const y = this.rt.empty([B, H, W, Cout]);
    const M = B * H * W,
      K = s.kh * s.kw * Cin;
    if (this.convChoice.directForward(Cin, Cout)) {
      this.direct(x, w, bias, y, s, false);
      return y;
    }
    this.gemm(
      'conv2d_forward',
      M,
      Cout,
      K,
      K,
      this.forwardParams(x, s, bias),
      { x, w, bias: bias ?? this.dummy, y, ...this.noBn },
      { BNRELU: false },
    );
    return y;
  }

  /** conv2d_forward.wgsl's fields after the GEMM's (eps: the batch-norm epilogue's, with BNRELU). */
  private forwardParams(x: GpuTensor, s: ConvSpec, bias: GpuTensor | null, eps = 0) {
    const [, H, W, Cin] = x.shape;
    return { H, W, Cin, KW: s.kw, padT: s.padT, padL: s.padL, hasBias: bias ? 1 : 0, eps };
  }

  /**
   * A conv block at inference: relu(batchNorm(conv(x) + bias)) with the moving statistics. On the GEMM path the
   * batch norm and ReLU are the GEMM's epilogue (or, when K is split, the epilogue of the chunks' sum): one pass
   * instead of two. The direct kernels (CPU adapters) and a K of more than CHUNK.wideAbove chunks run conv and batchNormInfer.
   */
  conv2dBnReluInfer(
    x: GpuTensor,
    w: GpuTensor,
    bias: GpuTensor | null,
    bn: BatchNormParams<GpuTensor>,
    s: ConvSpec,
    o: BatchNormOptions,
  ): GpuTensor {
    const [B, H, W, Cin] = x.shape;
    const Cout = w.shape[3],
      M = B * H * W,
      K = s.kh * s.kw * Cin;
    checkConv(x.shape, w.shape, s);
    const kChunk = this.rowSplit(H * W, Cout, K),
      chunks = Math.ceil(K / kChunk);
    // more chunks than a plain in-order sum takes: whole K, unfused (decided by the layer alone, like the chunks)
    if (this.convChoice.directForward(Cin, Cout) || chunks > CHUNK.wideAbove) {
      const y = this.conv2d(x, w, bias, s);
      const z = this.batchNormInfer(y, bn, o, true);
      y.release();
      return z;
    }
    const bnBindings = { rm: bn.runMean, rv: bn.runVar, gamma: bn.gamma, beta: bn.beta };
    if (chunks === 1) {
      const y = this.rt.empty([B, H, W, Cout]);
      this.gemm(
        'conv2d_forward',
        M,
        Cout,
        K,
        K,
        this.forwardParams(x, s, bias, o.eps),
        { x, w, bias: bias ?? this.dummy, y, ...bnBindings },
        { BNRELU: true },
      );
      return y;
    }
    const partial = this.rt.empty([chunks, M * Cout]);
    this.gemm(
      'conv2d_forward',
      M,
      Cout,
      K,
      kChunk,
      this.forwardParams(x, s, bias),
      { x, w, bias: bias ?? this.dummy, y: partial, ...this.noBn },
      { BNRELU: false },
    );
    const y = this.rt.empty([B, H, W, Cout]);
    this.rt.run(
      WGSL.reduce_bn_relu,
      { len: M * Cout, chunks, N: Cout, eps: o.eps },
      { partial, ...bnBindings, out: y },
      { threads: M * Cout },
    );
    partial.release();
    return y;
  }

  /** K per chunk of an inference conv GEMM over images of `pixels` pixels: see CHUNK.rowSplitMinK. */
  private rowSplit(pixels: number, N: number, K: number): number {
    let k = K;
    for (
      let next = Math.ceil(k / 2);
      next >= CHUNK.rowSplitMinK && pixels * N * Math.ceil(K / next) <= CHUNK.rowSplitOutputs;
      next = Math.ceil(k / 2)
    )
      k = next;
    return k;
  }

  /** conv2d_direct.wgsl: y = conv(x, w) + bias, or with `transposed` the input gradient dy ⋆ w. */
  private direct(
    x: GpuTensor,
    w: GpuTensor,
    bias: GpuTensor | null,
    y: GpuTensor,
    s: ConvSpec,
    transposed: boolean,
  ): void {
    const [B, H, W, Cred] = x.shape;
    const Cout = y.shape[3],
      M = B * H * W;
    const og = Math.min(4, Math.ceil(Cout / 4));
    const n = Math.ceil(M / 4);
    const staged = this.options.directStaging && s.kh * s.kw * Cred * og <= 1024; // the weights fit workgroup memory
    this.rt.run(
      WGSL.conv2d_direct,
      { n, M, H, W, Cred, Cout, KH: s.kh, KW: s.kw, padT: s.padT, padL: s.padL, hasBias: bias ? 1 : 0 },
      { x, w, bias: bias ?? this.dummy, y },
      { threads: n, layers: Math.ceil(Cout / (4 * og)) },
      { OG: og, TRANSPOSED: transposed, STAGED: staged, KH: s.kh, KW: s.kw, CRED1: Cred === 1 },
    );
  }

  conv2dInputGrad(dy: GpuTensor, w: GpuTensor, s: ConvSpec): GpuTensor {
    const [B, H, W, Cout] = dy.shape;
    const Cin = w.shape[2];
    const dx = this.rt.empty([B, H, W, Cin]);
    if (this.convChoice.directInputGrad(Cin, Cout)) {
      this.direct(dy, w, null, dx, s, true);
      return dx;
    }
    const K = s.kh * s.kw * Cout;
    this.gemm(
      'conv2d_input_grad',
      B * H * W,
      Cin,
      K,
      K,
      { H, W, Cout, KW: s.kw, padT: s.padT, padL: s.padL },
      { dout: dy, w, dx },
    );
    return dx;
  }

  conv2dWeightGrad(x: GpuTensor, dy: GpuTensor, s: ConvSpec): GpuTensor {
    const [B, H, W, Cin] = x.shape;
    const Cout = dy.shape[3];
    const M = s.kh * s.kw * Cin,
      K = B * H * W;
    const chunks = Math.ceil(K / CHUNK.gemmK);
    const wShape = [s.kh, s.kw, Cin, Cout];
    const extra = { H, W, Cin, KW: s.kw, padT: s.padT, padL: s.padL };
    if (this.convChoice.directWeightGrad(Cin, Cout)) {
      const cg = Cin < 4 ? 1 : Cin < 8 ? 4 : 8; // input channels per invocation (8: twice the work per load of dy)
      const groups = s.kh * s.kw * Math.ceil(Cin / cg) * Math.ceil(Cout / 4);
      const target = this.rt.empty(chunks === 1 ? wShape : [chunks, M * Cout]);
      this.rt.run(
        WGSL.conv2d_weight_grad_direct,
        { groups, rows: K, kChunk: CHUNK.gemmK, H, W, Cin, Cout, KW: s.kw, padT: s.padT, padL: s.padL, MN: M * Cout },
        { x, dout: dy, out: target },
        { threads: groups * chunks },
        { CG: cg },
      );
      if (chunks === 1) return target;
      const dw = this.reduceChunks(target, M * Cout, chunks, wShape);
      target.release();
      return dw;
    }
    const kChunk = this.splitK(M, Cout, K);
    const gemmChunks = Math.ceil(K / kChunk);
    if (gemmChunks === 1) {
      const dw = this.rt.empty(wShape);
      this.gemm('conv2d_weight_grad', M, Cout, K, kChunk, extra, { x, dout: dy, out: dw });
      return dw;
    }
    const partial = this.rt.empty([gemmChunks, M * Cout]);
    this.gemm('conv2d_weight_grad', M, Cout, K, kChunk, extra, { x, dout: dy, out: partial });
    const dw = this.reduceChunks(partial, M * Cout, gemmChunks, wShape);
    partial.release();
    return dw;
  }

  /**
   * Per-channel partial sums over fixed row chunks of each piece, all into one partial buffer (each piece's
   * chunks after the previous piece's): the sums of a batch split into pieces (ops/split.ts) go through the
   * same reduction as the unsplit batch, bit for bit when every piece's rows are a multiple of CHUNK.rows.
   */
  private rowChunks(
    pieces: GpuTensor[],
    width: number,
    record: (piece: GpuTensor, rows: number, outOffset: number, chunks: number, partial: GpuTensor) => void,
  ): { partial: GpuTensor; chunks: number; rows: number } {
    const C = pieces[0].shape[pieces[0].shape.length - 1];
    const chunks = pieces.reduce((a, t) => a + Math.ceil(t.size / C / CHUNK.rows), 0);
    const partial = this.rt.empty([chunks, width]);
    this.eachPiece(pieces, width, (t, rows, off, n) => record(t, rows, off, n, partial));
    return { partial, chunks, rows: pieces.reduce((a, t) => a + t.size / C, 0) };
  }

  /** Each piece with its rows, its first partial (× width) and its chunk count, in order. */
  private eachPiece(
    pieces: GpuTensor[],
    width: number,
    f: (piece: GpuTensor, rows: number, outOffset: number, chunks: number) => void,
  ): void {
    const C = pieces[0].shape[pieces[0].shape.length - 1];
    let first = 0;
    for (const t of pieces) {
      const rows = t.size / C,
        n = Math.ceil(rows / CHUNK.rows);
      f(t, rows, first * width, n);
      first += n;
    }
  }

  channelSum(t: GpuTensor): GpuTensor {
    return this.channelSumPieces([t]);
  }

  channelSumPieces(ts: GpuTensor[]): GpuTensor {
    const C = ts[0].shape[ts[0].shape.length - 1];
    const { partial, chunks } = this.rowChunks(ts, C, (t, rows, off, n, out) =>
      this.rt.run(
        WGSL.channel_sums,
        { rows, C, chunkRows: CHUNK.rows, outOffset: off },
        { x: t, partial: out },
        { threads: n * C },
      ),
    );
    const out = this.reduceChunks(partial, C, chunks, [C]);
    partial.release();
    return out;
  }

  batchNormTrain(x: GpuTensor, bn: BatchNormParams<GpuTensor>, o: BatchNormOptions, relu = false) {
    const { ys, mean, invstd } = this.batchNormTrainPieces([x], bn, o, relu);
    return { y: ys[0], mean, invstd };
  }

  /**
   * Batch norm in training mode over a batch given as pieces: statistics of the whole batch, applied to each
   * piece. One pass over x gives per-chunk sums and squared deviations (bn_stats); bn_finalize combines them.
   */
  batchNormTrainPieces(xs: GpuTensor[], bn: BatchNormParams<GpuTensor>, o: BatchNormOptions, relu = false) {
    const { gamma, beta, runMean, runVar } = bn;
    const C = xs[0].shape[xs[0].shape.length - 1];
    const { partial, chunks, rows } = this.rowChunks(xs, 3 * C, (x, r, off, n, out) =>
      this.rt.run(
        WGSL.bn_stats,
        { rows: r, C, chunkRows: CHUNK.rows, outOffset: off },
        { x, partial: out },
        { threads: n * C },
      ),
    );
    const mean = this.rt.empty([C]),
      invstd = this.rt.empty([C]);
    const finalize = { C, chunks, count: rows, scale: 1 / rows, eps: o.eps, decay: o.decay, updateRunning: 1 };
    this.reduceDispatch(WGSL.bn_finalize, finalize, { partial, mean, invstd, runMean, runVar }, C, chunks);
    partial.release();
    const ys = xs.map((x) => {
      const y = this.rt.empty(x.shape);
      this.rt.run(
        WGSL.bn_apply,
        { n: x.size, C, eps: 0 },
        { x, mean, invstd, gamma, beta, y },
        { threads: x.size },
        { RELU: relu, INFER: false },
      );
      return y;
    });
    return { ys, mean, invstd };
  }

  batchNormInfer(x: GpuTensor, bn: BatchNormParams<GpuTensor>, o: BatchNormOptions, relu = false) {
    const C = x.shape[x.shape.length - 1];
    const y = this.rt.empty(x.shape);
    // INFER: the moving mean and variance are bound in place of the batch's mean and 1/std
    this.rt.run(
      WGSL.bn_apply,
      { n: x.size, C, eps: o.eps },
      { x, mean: bn.runMean, invstd: bn.runVar, gamma: bn.gamma, beta: bn.beta, y },
      { threads: x.size },
      { RELU: relu, INFER: true },
    );
    return y;
  }

  batchNormBackward(
    x: GpuTensor,
    dy: GpuTensor,
    gamma: GpuTensor,
    mean: GpuTensor,
    invstd: GpuTensor,
    reluOut?: GpuTensor,
  ) {
    const { dxs, dgamma, dbeta } = this.batchNormBackwardPieces([x], [dy], gamma, mean, invstd, reluOut && [reluOut]);
    return { dx: dxs[0], dgamma, dbeta };
  }

  /** zs: the fused ReLU's output per piece (dy masked where it is ≤ 0); without it, dy is bound in its place, unread. */
  batchNormBackwardPieces(
    xs: GpuTensor[],
    dys: GpuTensor[],
    gamma: GpuTensor,
    mean: GpuTensor,
    invstd: GpuTensor,
    zs?: GpuTensor[],
  ) {
    const C = xs[0].shape[xs[0].shape.length - 1];
    const spec = { RELU: zs !== undefined },
      z = (j: number) => (zs ?? dys)[j];
    let i = 0;
    const { partial, chunks, rows } = this.rowChunks(xs, 2 * C, (x, r, off, n, out) => {
      this.rt.run(
        WGSL.bn_grad_sums,
        { rows: r, C, chunkRows: CHUNK.rows, outOffset: off },
        { x, dy: dys[i], z: z(i), mean, invstd, partial: out },
        { threads: n * C },
        spec,
      );
      i++;
    });
    const dbeta = this.rt.empty([C]),
      dgamma = this.rt.empty([C]);
    const sums = this.reduceChunks(partial, 2 * C, chunks, [2 * C], 1, [dbeta, dgamma]);
    partial.release();
    const dxs = xs.map((x, j) => {
      const dx = this.rt.empty(x.shape);
      const tensors = { x, dy: dys[j], z: z(j), mean, invstd, gamma, sums, dx };
      this.rt.run(WGSL.bn_backward, { n: x.size, C, count: rows }, tensors, { threads: x.size }, spec);
      return dx;
    });
    sums.release();
    return { dxs, dgamma, dbeta };
  }

  unary<P extends UnaryName>(op: P, x: GpuTensor, attrs: UnaryAttrValues<P>): GpuTensor {
    const y = this.rt.empty(x.shape);
    this.rt.run(unaryKernels(op).forward, { n: x.size, ...attrs }, { x, y }, { threads: x.size });
    return y;
  }

  unaryGrad<P extends UnaryName>(op: P, y: GpuTensor, dy: GpuTensor, attrs: UnaryAttrValues<P>): GpuTensor {
    const dx = this.rt.empty(y.shape);
    this.rt.run(unaryKernels(op).grad, { n: y.size, ...attrs }, { y, dy, dx }, { threads: y.size });
    return dx;
  }

  maxPool2(x: GpuTensor) {
    const [B, H, W, C] = x.shape;
    const OH = Math.ceil(H / 2),
      OW = Math.ceil(W / 2);
    const y = this.rt.empty([B, OH, OW, C]);
    const arg = this.rt.empty([B, OH, OW, C]);
    this.rt.run(WGSL.maxpool, { n: y.size, H, W, C, OH, OW }, { x, y, arg }, { threads: y.size });
    return { y, arg };
  }

  maxPool2Backward(dy: GpuTensor, arg: GpuTensor, inputShape: Shape): GpuTensor {
    const [, H, W, C] = inputShape;
    const dx = this.rt.empty(inputShape);
    const [OH, OW] = [dy.shape[1], dy.shape[2]];
    this.rt.run(WGSL.maxpool_backward, { n: dx.size, H, W, C, OH, OW }, { dy, arg, dx }, { threads: dx.size });
    return dx;
  }

  upsample2(x: GpuTensor): GpuTensor {
    const [B, H, W, C] = x.shape;
    const y = this.rt.empty([B, 2 * H, 2 * W, C]);
    this.rt.run(WGSL.upsample, { n: y.size, H, W, C }, { x, y }, { threads: y.size });
    return y;
  }

  upsample2Backward(dy: GpuTensor): GpuTensor {
    const [B, H2, W2, C] = dy.shape;
    const dx = this.rt.empty([B, H2 / 2, W2 / 2, C]);
    this.rt.run(WGSL.upsample_backward, { n: dx.size, H: H2 / 2, W: W2 / 2, C }, { dy, dx }, { threads: dx.size });
    return dx;
  }

  private copyChannels(src: GpuTensor, dst: GpuTensor, C: number, srcOff: number, dstOff: number): void {
    const sC = src.shape[src.shape.length - 1],
      dC = dst.shape[dst.shape.length - 1];
    const n = (src.size / sC) * C;
    this.rt.run(WGSL.copy_channels, { n, C, srcC: sC, srcOff, dstC: dC, dstOff }, { src, dst }, { threads: n });
  }

  concat(a: GpuTensor, b: GpuTensor): GpuTensor {
    const ca = a.shape[a.shape.length - 1],
      cb = b.shape[b.shape.length - 1];
    checkSameLeading(a.shape, b.shape);
    const out = this.rt.empty([...a.shape.slice(0, -1), ca + cb]);
    this.copyChannels(a, out, ca, 0, 0);
    this.copyChannels(b, out, cb, 0, ca);
    return out;
  }

  sliceChannels(t: GpuTensor, offset: number, count: number): GpuTensor {
    const out = this.rt.empty([...t.shape.slice(0, -1), count]);
    this.copyChannels(t, out, count, offset, 0);
    return out;
  }

  matmul(a: GpuTensor, b: GpuTensor, transA: boolean, transB: boolean): GpuTensor {
    const { M, N, K } = matmulSizes(a.shape, b.shape, transA, transB);
    if (transA ? this.convChoice.directWeightGrad(M, N) : this.convChoice.directForward(K, N)) {
      // On CPU adapters a matmul is a 1×1 convolution over M "pixels" in the direct kernels:
      // a·b and a·bᵀ as the forward / transposed pass, aᵀ·b as the weight gradient over K pixels.
      const one = { kh: 1, kw: 1, padT: 0, padL: 0 };
      if (transA) return this.conv2dWeightGrad(a.reshape([1, 1, K, M]), b.reshape([1, 1, K, N]), one).moveTo([M, N]);
      const y = this.rt.empty([M, N]);
      this.direct(
        a.reshape([1, 1, M, K]),
        b.reshape(transB ? [1, 1, N, K] : [1, 1, K, N]),
        null,
        y.reshape([1, 1, M, N]),
        one,
        transB,
      );
      return y;
    }
    const chunks = Math.ceil(K / CHUNK.gemmK);
    const spec = { TRANS_A: transA, TRANS_B: transB };
    const target = chunks === 1 ? this.rt.empty([M, N]) : this.rt.empty([chunks, M * N]);
    this.gemm('matmul', M, N, K, CHUNK.gemmK, {}, { a, b, out: target }, spec);
    if (chunks === 1) return target;
    const out = this.reduceChunks(target, M * N, chunks, [M, N]);
    target.release();
    return out;
  }

  softmax(z: GpuTensor): GpuTensor {
    const K = z.shape[z.shape.length - 1];
    const p = this.rt.empty(z.shape);
    this.rt.run(WGSL.softmax, { rows: z.size / K, K }, { z, p }, { threads: z.size / K });
    return p;
  }

  argmax(z: GpuTensor): GpuTensor {
    const K = z.shape[z.shape.length - 1];
    const labels = this.rt.empty(z.shape.slice(0, -1));
    this.rt.run(WGSL.argmax, { rows: z.size / K, K }, { z, labels }, { threads: z.size / K });
    return labels;
  }

  /** argmax's labels on the host as bytes (K ≤ 256), packed 4 to a word on the GPU: a quarter of the readback. */
  async argmaxU8(z: GpuTensor): Promise<Uint8Array> {
    const K = z.shape[z.shape.length - 1],
      rows = z.size / K,
      words = Math.ceil(rows / 4);
    if (K > 256) throw new Error(`argmaxU8: ${K} classes do not fit u8 labels`);
    const packed = this.rt.empty([Math.max(1, words)]);
    this.rt.run(WGSL.argmax_u8, { rows, K }, { z, labels: packed }, { threads: words });
    try {
      const host = await this.rt.read1(packed); // submitted before the first await: z may be released at once
      return new Uint8Array(host.buffer, host.byteOffset, rows);
    } finally {
      packed.release();
    }
  }

  diceLoss(z: GpuTensor, y: GpuTensor, eps: number) {
    const { loss, probs, stats } = this.diceLossPieces([z], [y], eps);
    return { loss, probs: probs[0], stats };
  }

  /** Soft Dice of a batch given as pieces: per-image sums of every piece into one buffer, one loss. */
  diceLossPieces(zs: GpuTensor[], ys: GpuTensor[], eps: number) {
    const K = zs[0].shape[zs[0].shape.length - 1],
      HW = zs[0].size / (zs[0].shape[0] * K);
    const B = zs.reduce((a, z) => a + z.shape[0], 0),
      chunks = Math.ceil(HW / CHUNK.loss);
    const partial = this.rt.empty([B, chunks, K, 3]);
    let b0 = 0;
    const probs = zs.map((z, i) => {
      const p = this.softmax(z),
        Bp = z.shape[0];
      const sums = { B: Bp, HW, K, chunkRows: CHUNK.loss, outOffset: b0 * chunks * K * 3 };
      this.rt.run(WGSL.dice_sums, sums, { p, y: ys[i], partial }, { threads: Bp * chunks * K });
      b0 += Bp;
      return p;
    });
    const stats = this.rt.empty([B, K, 2]);
    const loss = this.rt.empty([1]);
    this.rt.run(WGSL.dice_loss, { B, K, chunks, eps }, { partial, stats, loss }, { groups: [1, 1, 1] });
    partial.release();
    return { loss, probs, stats };
  }

  diceBackward(probs: GpuTensor, y: GpuTensor, stats: GpuTensor, dloss: GpuTensor): GpuTensor {
    return this.diceBackwardPiece(probs, y, stats, dloss, 0);
  }

  /** The Dice gradient of one piece whose first image is image `first` of the batch that `stats` describes. */
  diceBackwardPiece(probs: GpuTensor, y: GpuTensor, stats: GpuTensor, dloss: GpuTensor, first: number): GpuTensor {
    const Bp = probs.shape[0],
      K = probs.shape[probs.shape.length - 1],
      B = stats.shape[0];
    const rows = probs.size / K;
    const dz = this.rt.empty(probs.shape);
    const uniforms = { rows, HW: rows / Bp, K, invBK: 1 / (B * K), statsOffset: first };
    this.rt.run(WGSL.dice_backward, uniforms, { p: probs, y, stats, dloss, dz }, { threads: rows });
    return dz;
  }

  crossEntropy(z: GpuTensor, y: GpuTensor, w: GpuTensor) {
    const K = z.shape[z.shape.length - 1];
    const rows = z.size / K;
    const probs = this.softmax(z);
    const chunks = Math.ceil(rows / CHUNK.loss);
    const partial = this.rt.empty([chunks]);
    this.rt.run(
      WGSL.ce_sums,
      { rows, K, chunkRows: CHUNK.loss, outOffset: 0 },
      { z, y, wk: w, partial },
      { threads: chunks },
    );
    const loss = this.rt.empty([1]);
    this.rt.run(WGSL.ce_loss, { chunks, rows }, { partial, loss }, { groups: [1, 1, 1] });
    partial.release();
    return { loss, probs };
  }

  crossEntropyBackward(probs: GpuTensor, y: GpuTensor, w: GpuTensor, dloss: GpuTensor): GpuTensor {
    const K = probs.shape[probs.shape.length - 1];
    const rows = probs.size / K;
    const dz = this.rt.empty(probs.shape);
    this.rt.run(WGSL.ce_backward, { rows, K, invRows: 1 / rows }, { p: probs, y, wk: w, dloss, dz }, { threads: rows });
    return dz;
  }

  l2normalize(x: GpuTensor) {
    const [rows, D] = x.shape;
    const y = this.rt.empty(x.shape),
      norms = this.rt.empty([rows, 2]);
    this.rt.run(WGSL.l2norm, { rows, D }, { x, y, norms }, { threads: rows });
    return { y, norms };
  }

  l2normalizeBackward(y: GpuTensor, norms: GpuTensor, dy: GpuTensor): GpuTensor {
    const [rows, D] = y.shape;
    const dx = this.rt.empty(y.shape);
    this.rt.run(WGSL.l2norm_backward, { rows, D }, { y, norms, dy, dx }, { threads: rows });
    return dx;
  }

  contrastiveLoss(s: GpuTensor, pairs: GpuTensor, mask: GpuTensor, invTau: number, scale: number) {
    const N = s.shape[0],
      T = pairs.shape[0];
    const terms = this.rt.empty([T]),
      lse = this.rt.empty([T]);
    this.rt.run(WGSL.contrastive_loss, { T, N, invTau }, { s, pairs, mask, loss: terms, lse }, { threads: T });
    const loss = this.reduceChunks(terms, 1, T, [1], scale);
    terms.release();
    return { loss, lse };
  }

  contrastiveBackward(
    s: GpuTensor,
    pairs: GpuTensor,
    mask: GpuTensor,
    lse: GpuTensor,
    rows: GpuTensor,
    dloss: GpuTensor,
    invTau: number,
    scale: number,
  ): GpuTensor {
    const N = s.shape[0];
    const ds = this.rt.empty([N, N]);
    this.rt.run(
      WGSL.contrastive_backward,
      { N, invTau, scale },
      { s, pairs, mask, lse, rows, dloss, ds },
      { threads: N * N },
    );
    return ds;
  }

  mseLoss(y: GpuTensor, t: GpuTensor): GpuTensor {
    const chunks = Math.ceil(y.size / CHUNK.loss),
      partial = this.rt.empty([chunks]);
    this.rt.run(WGSL.mse_sums, { n: y.size, chunk: CHUNK.loss }, { y, t, partial }, { threads: chunks });
    const loss = this.reduceChunks(partial, 1, chunks, [1], 1 / y.size);
    partial.release();
    return loss;
  }

  mseBackward(y: GpuTensor, t: GpuTensor, dloss: GpuTensor): GpuTensor {
    const dy = this.rt.empty(y.shape);
    this.rt.run(WGSL.mse_backward, { n: y.size }, { y, t, dloss, dy }, { threads: y.size });
    return dy;
  }

  regionGather(x: GpuTensor, positions: GpuTensor, R: number): GpuTensor {
    const [B, H, W, C] = x.shape,
      P = positions.shape[0];
    const out = this.rt.empty([B * P, R * R * C]);
    this.rt.run(WGSL.region_gather, { total: out.size, P, R, H, W, C }, { x, positions, out }, { threads: out.size });
    return out;
  }

  regionScatter(dout: GpuTensor, positions: GpuTensor, R: number, xShape: Shape): GpuTensor {
    const [, H, W, C] = xShape,
      P = positions.shape[0];
    const dx = this.rt.empty(xShape);
    this.rt.run(WGSL.region_scatter, { total: dx.size, P, R, H, W, C }, { dout, positions, dx }, { threads: dx.size });
    return dx;
  }

  accumulate(acc: GpuTensor, g: GpuTensor): void {
    if (acc.size !== g.size) throw new Error(`accumulate: [${acc.shape}] += [${g.shape}]`);
    this.rt.run(WGSL.accumulate, { n: acc.size }, { g, acc }, { threads: acc.size });
  }

  /**
   * Four parameter tensors per dispatch (adam4.wgsl) where the device binds its 16 storage buffers, one (adam.wgsl)
   * elsewhere: the same arithmetic per element either way.
   */
  adam(sets: AdamSet<GpuTensor>[], t: number, o: AdamOptions): void {
    const scalars = { lrT: adamStepSize(o, t), beta1: o.beta1, beta2: o.beta2, eps: o.eps };
    const four = this.rt.gpu.limits.maxStorageBuffersPerShaderStage >= Object.keys(WGSL.adam4.bindings).length;
    let i = 0;
    for (; four && sets.length - i >= 2; i += 4) {
      const group = sets.slice(i, i + 4);
      // adam4's names are adam's with the set's index: n0..n3, g0, p0, m0, v0, ..., v3
      const sizes: Record<string, number> = {},
        tensors: Record<string, GpuTensor> = {};
      for (let k = 0; k < 4; k++) {
        const s = group[k];
        sizes[`n${k}`] = s ? s.p.size : 0;
        // an empty set binds spare buffers (writable bindings must not alias)
        const [g, p, m, v] = s ? [s.g, s.p, s.m, s.v] : [this.dummy, ...this.adamSpares[k - 1]];
        Object.assign(tensors, { [`g${k}`]: g, [`p${k}`]: p, [`m${k}`]: m, [`v${k}`]: v });
      }
      this.rt.run(
        WGSL.adam4,
        { ...scalars, ...sizes } as UniformValues<typeof WGSL.adam4>,
        tensors as BindingValues<typeof WGSL.adam4, GpuTensor>,
        { threads: group.reduce((a, s) => a + s.p.size, 0) },
      );
    }
    for (const s of sets.slice(i))
      this.rt.run(WGSL.adam, { ...scalars, n: s.p.size }, { g: s.g, p: s.p, m: s.m, v: s.v }, { threads: s.p.size });
  }
}

export function checkConv(x: Shape, w: Shape, s: ConvSpec): void {
  if (x.length !== 4 || w.length !== 4 || w[0] !== s.kh || w[1] !== s.kw || w[2] !== x[3]) {
    throw new Error(`conv2d: input [${x}] (NHWC) does not fit weights [${w}] (HWIO) for a ${s.kh}×${s.kw} kernel`);
  }
}

function checkSameLeading(a: Shape, b: Shape): void {
  if (a.length !== b.length || a.slice(0, -1).some((d, i) => d !== b[i])) {
    throw new Error(`concat: [${a}] and [${b}] differ outside the channel axis`);
  }
}

export { numel };
