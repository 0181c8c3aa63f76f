// The GPU runtime: tensors in pooled buffers, a pipeline cache keyed by kernel and specialisation (never by
// tensor shape: shapes travel in uniforms), explicit bind-group layouts, and recorded work submitted every
// `submitEvery` dispatches.

import { createGpuContext, type GpuContext } from './device.ts';
import { BufferPool, createReadbackPool, type PooledBuffer } from './pool.ts';
import { WGSL } from './wgsl-registry.ts';
import {
  type BindingValues,
  type KernelDecl,
  type UniformValues,
  orderBindings,
  packUniforms,
  storageModes,
  wgslSource,
} from './wgsl-kernel.ts';

const UNIFORM = 0x40,
  COPY_SRC = 0x04,
  COPY_DST = 0x08,
  MAP_READ = 0x01;

export type Shape = readonly number[];
export const numel = (s: Shape) => s.reduce((a, b) => a * b, 1);

/** A float32 tensor living in a pooled GPU buffer. Views (reshape) share the owner's storage. */
export class GpuTensor {
  private released = false;
  constructor(
    readonly rt: Runtime,
    readonly shape: Shape,
    readonly storage: PooledBuffer,
    private readonly owner: GpuTensor | null = null,
  ) {}
  get buffer(): GPUBuffer {
    return this.storage.buffer;
  }
  get size(): number {
    return numel(this.shape);
  }
  get bytes(): number {
    return this.size * 4;
  }
  reshape(shape: Shape): GpuTensor {
    if (numel(shape) !== this.size) throw new Error(`reshape: ${this.shape} -> ${shape} changes the element count`);
    return new GpuTensor(this.rt, shape, this.storage, this.owner ?? this);
  }
  /** The same storage under another shape, owned by the returned tensor (this one must not be used again). */
  moveTo(shape: Shape): GpuTensor {
    if (numel(shape) !== this.size) throw new Error(`moveTo: ${this.shape} -> ${shape} changes the element count`);
    if (this.owner || this.released) throw new Error('moveTo: only a live owning tensor can be moved');
    this.released = true;
    return new GpuTensor(this.rt, shape, this.storage);
  }

  /** Return the storage to the pool (views release nothing: the owner does). */
  release(): void {
    if (this.owner || this.released) return;
    this.released = true;
    this.rt.pool.release(this.storage);
  }
  get isReleased(): boolean {
    return (this.owner ?? this).released;
  }
}

/**
 * The GPU device is gone (driver reset, GPU removed, or device.destroy()): every buffer on it is lost. Training
 * loops surface this between steps; the work since the last checkpoint is lost, the checkpoint is not.
 */
export class DeviceLostError extends Error {
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(
      `glocal: the GPU device was lost (${reason}${detail ? `: ${detail}` : ''}). Its buffers are gone; create a new ` +
        'runtime (or session) and resume from the last checkpoint (glocal train --resume, or the onCheckpoint bytes).',
    );
    this.name = 'DeviceLostError';
  }
}

/** Something that cannot be split to fit the adapter's limits; the message names the limit. */
export class LimitError extends Error {
  constructor(
    readonly limit: string,
    readonly value: number,
    what: string,
    hint = '',
  ) {
    super(`glocal: ${what} exceeds this adapter's ${limit} (${value} bytes)${hint ? `; ${hint}` : ''}`);
    this.name = 'LimitError';
  }
}

export type Specialisation = Record<string, number | boolean>;

/** A uniform block's bytes (a declared kernel's packed block, wgsl-kernel.ts). */
export interface UniformData {
  writeTo(view: DataView, byteOffset: number): number;
  readonly byteLength: number;
}

/** A dispatch's grid: invocations of a 1-D kernel (optionally in z layers), or workgroup counts. */
export type Grid = { threads: number; layers?: number } | { groups: [number, number, number] };

/** What the pipeline cache needs of a declared kernel (wgsl-kernel.ts). */
interface KernelCode {
  name: string;
  source: string;
  storage: ('read' | 'rw')[];
  workgroupSize: number;
}

const codes = new Map<KernelDecl, KernelCode>();

/** A kernel's code, generated once per declaration (dispatch asks for it every time). */
function kernelCode(k: KernelDecl): KernelCode {
  let code = codes.get(k);
  if (code) return code;
  code = { name: k.name, source: wgslSource(k), storage: storageModes(k), workgroupSize: k.workgroupSize ?? 256 };
  codes.set(k, code);
  return code;
}

interface CachedPipeline {
  key: string;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** Uniform blocks of one step live in a few 64 KiB buffers, written once at submit. */
const UNIFORM_CHUNK = 65536;
/** The most bytes one staging buffer of a read holds (a larger tensor gets one of its own). */
const READ_PACK_BYTES = 64 << 20;
/**
 * Bind groups kept for reuse, least recently used dropped first. A dropped one holds its driver memory until it is
 * garbage-collected (lavapipe: a 4 KiB mapping each, and a process may have 65 530 mappings: with a cache of 20 000
 * cleared when full, a Deno run reached the limit and lavapipe crashed), so the cache is bounded well below that.
 */
const BIND_GROUP_CACHE = 8192;

export interface RuntimeOptions {
  /** Fill every newly acquired tensor with NaN before use (tests: a kernel that skips an output shows up). */
  poison?: boolean;
  gpu?: GpuContext;
  limitOverrides?: Record<string, number>;
}

export class Runtime {
  readonly pool: BufferPool;
  /** Staging buffers of reads (pool.ts createReadbackPool: the large ones are not kept). */
  readonly readbackPool: BufferPool;
  private pipelines = new Map<string, CachedPipeline>();
  private bindGroups = new Map<string, GPUBindGroup>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private uniformChunks: { buffer: GPUBuffer; data: ArrayBuffer }[] = [];
  private uniformChunk = 0;
  private uniformOffset = 0;
  private readonly uniformAlign: number;
  poison: boolean;
  /** The most bytes one staging buffer of a read holds (tests lower it to cross pack boundaries). */
  readPackBytes = READ_PACK_BYTES;
  /** Dispatches recorded since construction (a cheap profile of a step). */
  dispatchCount = 0;
  /**
   * Submit the recorded work every this many dispatches (0: only when read, synced or written), so the GPU
   * starts on a step's first kernels while the host still records the rest. Queue order is kept, so the
   * bits do not depend on it; 16 was the fastest setting on a GPU (bench/NOTES.md, "Submitting while recording").
   */
  submitEvery = 16;
  private sinceSubmit = 0;
  pipelinesCreated = 0;
  /**
   * Bind groups created (cache misses). Each costs the driver memory that WebGPU frees only when the object is
   * garbage-collected (lavapipe: a 4 KiB mapping apiece, of at most 65 530), so a steady loop must create none.
   */
  bindGroupsCreated = 0;

  private constructor(
    readonly gpu: GpuContext,
    opts: RuntimeOptions,
  ) {
    this.maxTensorBytes = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
    this.pool = new BufferPool(gpu.device, undefined, undefined, this.maxTensorBytes);
    this.readbackPool = createReadbackPool(gpu.device);
    this.poison = opts.poison ?? false;
    this.uniformAlign = gpu.limits.minUniformBufferOffsetAlignment ?? 256;
    // Validation errors must never pass silently (they leave outputs untouched): keep the first one and
    // throw it from the next read or sync.
    gpu.device.addEventListener?.('uncapturederror', (ev: any) => {
      this.deviceError ??= String(ev.error?.message ?? ev);
    });
    this.lost = gpu.device.lost?.then((info) => {
      if (!this.destroyed) this.lostInfo = { reason: String(info.reason), message: info.message };
      return info;
    });
  }

  private deviceError: string | undefined;
  private lostInfo: { reason: string; message: string } | undefined;
  private lost: Promise<unknown> | undefined;
  private destroyed = false;

  private throwIfFailed(): void {
    if (this.lostInfo) throw new DeviceLostError(this.lostInfo.reason, this.lostInfo.message);
    if (this.deviceError) throw new Error(`glocal: WebGPU error: ${this.deviceError}`);
  }

  /** After a failed read: give a device loss a moment to be reported (it explains the failure). */
  private async settleLoss(): Promise<void> {
    if (this.lost && !this.lostInfo) await Promise.race([this.lost, new Promise((r) => setTimeout(r, 200))]);
  }

  static async create(opts: RuntimeOptions = {}): Promise<Runtime> {
    const gpu = opts.gpu ?? (await createGpuContext({ limitOverrides: opts.limitOverrides }));
    return new Runtime(gpu, opts);
  }

  get device(): GPUDevice {
    return this.gpu.device;
  }

  // ---------------------------------------------------------------- tensors
  /** The largest tensor a kernel can bind: min(maxStorageBufferBindingSize, maxBufferSize). */
  readonly maxTensorBytes: number;

  private checkSize(shape: Shape): number {
    const bytes = numel(shape) * 4;
    if (bytes > this.maxTensorBytes) {
      const which =
        this.gpu.limits.maxStorageBufferBindingSize <= this.gpu.limits.maxBufferSize
          ? 'maxStorageBufferBindingSize'
          : 'maxBufferSize';
      throw new LimitError(which, this.maxTensorBytes, `a tensor [${shape.join(', ')}] of ${bytes} bytes`);
    }
    return bytes;
  }

  empty(shape: Shape): GpuTensor {
    const t = new GpuTensor(this, shape, this.pool.acquire(this.checkSize(shape)));
    if (this.poison) this.fill(t, NaN);
    return t;
  }

  /** Upload host data (a new tensor); used for inputs and parameters, not inside a step's hot path. */
  upload(data: ArrayLike<number>, shape: Shape): GpuTensor {
    if (data.length !== numel(shape)) throw new Error(`upload: ${data.length} values for shape [${shape}]`);
    const t = new GpuTensor(this, shape, this.pool.acquire(this.checkSize(shape)));
    this.write(t, data);
    return t;
  }

  /** Overwrite a tensor's contents from the host (queue-ordered before the next submit). */
  write(t: GpuTensor, data: ArrayLike<number>): void {
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    // Dawn rejects views on SharedArrayBuffer; copy those.
    const src = f32.buffer instanceof ArrayBuffer ? f32 : new Float32Array(f32);
    this.flushPending();
    this.device.queue.writeBuffer(t.buffer, 0, src.buffer, src.byteOffset, src.byteLength);
  }

  fill(t: GpuTensor, value: number): void {
    this.run(WGSL.fill, { n: t.size, value }, { out: t }, { threads: t.size });
  }

  // ---------------------------------------------------------------- pipelines
  private pipelineFor(kernel: KernelDecl, spec: Specialisation): CachedPipeline {
    const def = kernelCode(kernel);
    const specKey = Object.keys(spec)
      .sort()
      .map((k) => `${k}=${+spec[k]}`)
      .join(',');
    const key = `${def.name}{${specKey}}`;
    let p = this.pipelines.get(key);
    if (p) return p;
    const header = Object.keys(spec)
      .sort()
      .map((k) => {
        const v = spec[k];
        return typeof v === 'boolean' ? `const ${k}: bool = ${v};` : `const ${k}: u32 = ${v >>> 0}u;`;
      })
      .join('\n');
    const code = `// kernel ${key}\n${header}\n${def.source}`;
    const module = this.device.createShaderModule({ code, label: key });
    const entries: GPUBindGroupLayoutEntry[] = [
      // the uniform block's place in its chunk is a dynamic offset, so one bind group serves every place
      { binding: 0, visibility: 4 /* COMPUTE */, buffer: { type: 'uniform', hasDynamicOffset: true } },
      ...def.storage.map(
        (mode, i): GPUBindGroupLayoutEntry => ({
          binding: i + 1,
          visibility: 4,
          buffer: { type: mode === 'read' ? 'read-only-storage' : 'storage' },
        }),
      ),
    ];
    const layout = this.device.createBindGroupLayout({ entries, label: key });
    const pipeline = this.device.createComputePipeline({
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
      label: key,
    });
    this.pipelinesCreated++;
    p = { key, pipeline, layout };
    this.pipelines.set(key, p);
    return p;
  }

  // ---------------------------------------------------------------- recording
  private currentPass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (!this.pass) {
      const t = this.timer;
      if (t && t.passes < t.capacity) {
        const i = 2 * t.passes++;
        this.pass = this.encoder.beginComputePass({
          timestampWrites: { querySet: t.querySet, beginningOfPassWriteIndex: i, endOfPassWriteIndex: i + 1 },
        });
      } else {
        if (t) t.overflow = true;
        this.pass = this.encoder.beginComputePass();
      }
    }
    return this.pass;
  }

  // ---------------------------------------------------------------- GPU timing
  private timer: {
    querySet: GPUQuerySet;
    capacity: number;
    passes: number;
    overflow: boolean;
    kernels: string[] | null;
  } | null = null;

  /**
   * GPU time of `fn`'s work from timestamp queries at the start and end of every compute pass it records: the
   * sum of the passes' durations in ms, or null when the adapter lacks timestamp-query. With `perKernel`, every
   * dispatch gets a pass of its own (a profile: slower than the real thing) and `byKernel` sums the time per
   * kernel and specialisation. `fn` must finish its own work (read or sync).
   */
  async gpuTime(
    fn: () => Promise<unknown>,
    opts: { capacity?: number; perKernel?: boolean } = {},
  ): Promise<{ ms: number; byKernel: Map<string, { ms: number; count: number }> } | null> {
    if (!this.gpu.features.timestampQuery) {
      await fn();
      return null;
    }
    const capacity = opts.capacity ?? (opts.perKernel ? 2048 : 512); // ≤ 4096 queries per set; a pass per submit
    this.flushPending();
    const querySet = this.device.createQuerySet({ type: 'timestamp', count: 2 * capacity });
    this.timer = { querySet, capacity, passes: 0, overflow: false, kernels: opts.perKernel ? [] : null };
    let t: NonNullable<Runtime['timer']>;
    try {
      await fn();
      await this.sync();
    } finally {
      t = this.timer!;
      this.timer = null;
    }
    if (t.overflow) {
      querySet.destroy();
      throw new Error(`gpuTime: more than ${capacity} compute passes`);
    }
    const n = 2 * t.passes,
      bytes = Math.max(8, n * 8);
    const resolve = this.device.createBuffer({ size: bytes, usage: 0x200 /* QUERY_RESOLVE */ | COPY_SRC });
    const staging = this.device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
    const enc = this.device.createCommandEncoder();
    if (n) enc.resolveQuerySet(querySet, 0, n, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, staging, 0, bytes);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(MAP_READ);
    const ts = new BigUint64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    [staging, resolve].forEach((b) => b.destroy());
    querySet.destroy();
    let total = 0;
    const byKernel = new Map<string, { ms: number; count: number }>();
    for (let i = 0; i < t.passes; i++) {
      const ms = Number(ts[2 * i + 1] - ts[2 * i]) / 1e6;
      total += ms;
      const k = t.kernels?.[i];
      if (k === undefined) continue;
      const e = byKernel.get(k) ?? { ms: 0, count: 0 };
      e.ms += ms;
      e.count++;
      byKernel.set(k, e);
    }
    return { ms: total, byKernel };
  }

  private allocUniform(params: UniformData): { chunk: number; offset: number } {
    const size = params.byteLength;
    if (this.uniformOffset + size > UNIFORM_CHUNK) {
      this.uniformChunk++;
      this.uniformOffset = 0;
    }
    if (this.uniformChunk >= this.uniformChunks.length) {
      const buffer = this.device.createBuffer({
        size: UNIFORM_CHUNK,
        usage: UNIFORM | COPY_DST,
        label: 'glocal-uniforms',
      });
      this.uniformChunks.push({ buffer, data: new ArrayBuffer(UNIFORM_CHUNK) });
    }
    const chunk = this.uniformChunk,
      offset = this.uniformOffset;
    params.writeTo(new DataView(this.uniformChunks[chunk].data), offset);
    this.uniformOffset += Math.ceil(size / this.uniformAlign) * this.uniformAlign;
    return { chunk, offset };
  }

  /**
   * Record one compute dispatch. `threads` gives the logical grid in invocations for 1-D kernels
   * (split over x/y when it exceeds the per-dimension limit), optionally with a number of z layers
   * (kernels that keep a workgroup-uniform index in workgroup_id.z), or `groups` the workgroup counts.
   */
  dispatch(
    name: KernelDecl,
    spec: Specialisation,
    params: UniformData,
    tensors: (GpuTensor | PooledBuffer)[],
    threads: [number] | [number, number] | null,
    groups?: [number, number, number],
  ): void {
    const def = kernelCode(name);
    const p = this.pipelineFor(name, spec);
    if (tensors.length !== def.storage.length) {
      throw new Error(`kernel ${def.name}: ${tensors.length} buffers given, ${def.storage.length} expected`);
    }
    let wg: [number, number, number];
    if (threads) {
      const size = def.workgroupSize;
      const n = Math.ceil(threads[0] / size);
      const maxDim = this.gpu.limits.maxComputeWorkgroupsPerDimension;
      // 1-D kernels compute their flat index as gid.x + gid.y * (num_workgroups.x * WG).
      const z = threads[1] ?? 1;
      wg = n <= maxDim ? [Math.max(1, n), 1, z] : [maxDim, Math.ceil(n / maxDim), z];
    } else {
      wg = groups!;
    }
    if (wg[0] === 0 || wg[1] === 0 || wg[2] === 0) return;
    const u = this.allocUniform(params);
    const bufs = tensors.map((t) => (t instanceof GpuTensor ? t.storage : t));
    const bgKey = `${p.key}|${u.chunk}:${params.byteLength}|${bufs.map((b) => b.id).join(',')}`;
    let bg = this.bindGroups.get(bgKey);
    if (bg) {
      // least recently used first: a hit moves to the end (a Map keeps insertion order). Dropping the oldest made
      // instead saves this per-dispatch delete and set but made the Deno smoke case peak at 22 070 mappings, not
      // 15 878: every bind group dropped is driver memory until collection
      this.bindGroups.delete(bgKey);
      this.bindGroups.set(bgKey, bg);
    } else {
      if (this.bindGroups.size >= BIND_GROUP_CACHE) this.bindGroups.delete(this.bindGroups.keys().next().value!);
      this.bindGroupsCreated++;
      bg = this.device.createBindGroup({
        layout: p.layout,
        entries: [
          {
            binding: 0,
            resource: { buffer: this.uniformChunks[u.chunk].buffer, offset: 0, size: params.byteLength },
          },
          ...bufs.map((b, i) => ({ binding: i + 1, resource: { buffer: b.buffer } })),
        ],
      });
      this.bindGroups.set(bgKey, bg);
    }
    const pass = this.currentPass();
    pass.setPipeline(p.pipeline);
    pass.setBindGroup(0, bg, [u.offset]);
    pass.dispatchWorkgroups(wg[0], wg[1], wg[2]);
    this.dispatchCount++;
    if (this.timer?.kernels) {
      // profiling: one pass per dispatch
      this.timer.kernels.push(p.key);
      pass.end();
      this.pass = null;
    }
    if (this.submitEvery > 0 && ++this.sinceSubmit >= this.submitEvery) this.submit();
  }

  /** Record one dispatch of a declared kernel, its uniforms and tensors by name. */
  run<D extends KernelDecl>(
    k: D,
    uniforms: UniformValues<D>,
    tensors: BindingValues<D, GpuTensor | PooledBuffer>,
    grid: Grid,
    spec: Specialisation = {},
  ): void {
    const block = packUniforms(k, uniforms),
      bound = orderBindings(k, tensors);
    if ('groups' in grid) this.dispatch(k, spec, block, bound, null, grid.groups);
    else this.dispatch(k, spec, block, bound, [grid.threads, grid.layers ?? 1]);
  }

  /** Submit everything recorded so far as one command buffer. */
  submit(): void {
    if (!this.encoder) return;
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    for (let c = 0; c <= this.uniformChunk && c < this.uniformChunks.length; c++) {
      const used = c < this.uniformChunk ? UNIFORM_CHUNK : this.uniformOffset;
      if (used > 0) this.device.queue.writeBuffer(this.uniformChunks[c].buffer, 0, this.uniformChunks[c].data, 0, used);
    }
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.sinceSubmit = 0;
    this.uniformChunk = 0;
    this.uniformOffset = 0;
  }

  /** Host writes are queue-ordered: recorded work that must see the old contents is submitted first. */
  private flushPending(): void {
    if (this.encoder) this.submit();
  }

  /**
   * Read tensors back (submits pending work). They are copied, in one submit, into staging buffers of up to
   * readPackBytes each, one map apiece: a checkpoint's hundreds of tensors wait for a few maps, not hundreds
   * (Deno resolves maps on a ~10 ms poll), and no read is ever split over several submits.
   */
  async read(...ts: GpuTensor[]): Promise<Float32Array[]> {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    // a pack: tensors first, first+1, ... at byte offsets `at` of one staging buffer
    const packs: { staging: PooledBuffer; first: number; bytes: number; at: number[] }[] = [];
    ts.forEach((t, i) => {
      let p = packs.at(-1);
      if (!p || (p.bytes > 0 && p.bytes + t.bytes > this.readPackBytes)) {
        p = { staging: null!, first: i, bytes: 0, at: [] };
        packs.push(p);
      }
      p.at.push(p.bytes);
      p.bytes += t.bytes;
    });
    for (const p of packs) {
      p.staging = this.readbackPool.acquire(p.bytes);
      p.at.forEach((at, j) => {
        const t = ts[p.first + j];
        this.encoder!.copyBufferToBuffer(t.buffer, 0, p.staging.buffer, at, t.bytes);
      });
    }
    this.submit();
    // mapAsync waits for the submitted work: no separate onSubmittedWorkDone round trip (it cost Deno a poll)
    const mapped = await Promise.allSettled(packs.map((p) => p.staging.buffer.mapAsync(MAP_READ, 0, p.bytes)));
    const out: Float32Array[] = [];
    let copyError: unknown;
    packs.forEach((p, i) => {
      if (mapped[i].status === 'fulfilled') {
        // a device lost after the map resolved makes the mapped range throw (wgpu: "Parent device is lost")
        try {
          const range = p.staging.buffer.getMappedRange(0, p.bytes);
          p.at.forEach((at, j) => out.push(new Float32Array(range.slice(at, at + ts[p.first + j].bytes))));
          p.staging.buffer.unmap();
        } catch (e) {
          copyError ??= e;
        }
      }
      this.readbackPool.release(p.staging);
    });
    const failed = mapped.find((m) => m.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed || copyError !== undefined) await this.settleLoss();
    this.throwIfFailed();
    if (copyError !== undefined) throw copyError;
    if (failed) throw new Error(`glocal: reading back a tensor failed: ${failed.reason}`);
    return out;
  }

  async read1(t: GpuTensor): Promise<Float32Array> {
    return (await this.read(t))[0];
  }

  /** Wait until the GPU has finished everything submitted. */
  async sync(): Promise<void> {
    this.submit();
    try {
      await this.device.queue.onSubmittedWorkDone();
    } catch (e) {
      await this.settleLoss();
      this.throwIfFailed();
      throw e;
    }
    this.throwIfFailed();
  }

  destroy(): void {
    this.destroyed = true;
    this.pool.trim();
    this.readbackPool.trim();
    for (const c of this.uniformChunks) c.buffer.destroy();
    this.uniformChunks = [];
    this.bindGroups.clear();
    this.pipelines.clear();
    this.device.destroy();
  }
}
