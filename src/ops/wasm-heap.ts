// The WebAssembly backend's memory: one linear memory (shared with worker threads when there are any), a
// best-fit allocator with coalescing free blocks above a reserved scratch area, and the module's instance.
// Linear memory never shrinks; freed blocks are reused, and a freed block at the top lowers the top.

/** The kernels' exports (kernels/nn/index.ts): every argument and result is a number. */
export type NnExports = Record<string, (...args: number[]) => number> & { heapBase(): number };

const PAGE = 65536;
/** Blocks start on a cache line. */
const ALIGN = 64;
/** Vector loads may read up to 28 bytes past a tensor's end (kernels/nn/gemm.ts): memory keeps this much above the top. */
const TAIL = 64;
/** Fixed small buffers of each call (tap offsets, epilogue words, worker control), below the first block. */
export const SCRATCH_BYTES = 16384;

const alignUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

interface Block {
  addr: number;
  size: number;
}

export class WasmHeap {
  /** Address of the scratch area (SCRATCH_BYTES bytes). */
  readonly scratch: number;
  private readonly base: number;
  private top: number;
  /** Free blocks below `top`, in address order. */
  private free: Block[] = [];
  private liveBytes = 0;
  /** Most bytes of live blocks at once, and the largest the memory has been. */
  peakLiveBytes = 0;

  constructor(
    readonly memory: WebAssembly.Memory,
    readonly exports: NnExports,
  ) {
    this.scratch = alignUp(exports.heapBase());
    this.base = alignUp(this.scratch + SCRATCH_BYTES);
    this.top = this.base;
    this.ensure(this.top);
  }

  get buffer(): ArrayBuffer | SharedArrayBuffer {
    return this.memory.buffer;
  }
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }
  get live(): number {
    return this.liveBytes;
  }

  f32(addr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, addr, n);
  }
  i32(addr: number, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, addr, n);
  }

  /** A block of at least `bytes` bytes (64-byte aligned); its contents are whatever was there. */
  alloc(bytes: number): number {
    const size = alignUp(Math.max(bytes, 1));
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const f = this.free[i];
      if (f.size >= size && (best < 0 || f.size < this.free[best].size)) best = i;
    }
    let addr: number;
    if (best >= 0) {
      const f = this.free[best];
      addr = f.addr;
      if (f.size === size) this.free.splice(best, 1);
      else {
        f.addr += size;
        f.size -= size;
      }
    } else {
      addr = this.top;
      this.ensure(addr + size);
      this.top = addr + size;
    }
    this.liveBytes += size;
    this.peakLiveBytes = Math.max(this.peakLiveBytes, this.liveBytes);
    return addr;
  }

  /** Return a block from alloc (`bytes` as asked there). */
  release(addr: number, bytes: number): void {
    const size = alignUp(Math.max(bytes, 1));
    this.liveBytes -= size;
    // insert in address order, merging with the neighbours it touches
    let i = 0;
    while (i < this.free.length && this.free[i].addr < addr) i++;
    const block = { addr, size };
    this.free.splice(i, 0, block);
    const next = this.free[i + 1];
    if (next && block.addr + block.size === next.addr) {
      block.size += next.size;
      this.free.splice(i + 1, 1);
    }
    const prev = this.free[i - 1];
    if (prev && prev.addr + prev.size === block.addr) {
      prev.size += block.size;
      this.free.splice(i, 1);
    }
    const lastFree = this.free[this.free.length - 1];
    if (lastFree && lastFree.addr + lastFree.size === this.top) {
      this.top = lastFree.addr;
      this.free.pop();
    }
  }

  private ensure(end: number): void {
    const need = end + TAIL;
    if (need > 0xffff0000) throw new Error(`wasm backend: ${need} bytes exceed the 4 GiB of wasm32 memory`);
    const have = this.memory.buffer.byteLength;
    if (need > have) this.memory.grow(Math.ceil((need - have) / PAGE));
  }
}
