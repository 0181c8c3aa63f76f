// Buffer pool with size classes. After warm-up a training step finds every buffer it needs on the free
// lists, so no GPU buffer is created per step; the counters below let tests prove it.

const STORAGE = 0x80,
  COPY_SRC = 0x04,
  COPY_DST = 0x08,
  MAP_READ = 0x01;

export interface PooledBuffer {
  buffer: GPUBuffer;
  bytes: number; // size class (the buffer's real size)
  id: number; // stable identity, used by the bind-group cache
  requested: number; // bytes asked for by its current holder (≤ bytes)
}

export interface PoolStats {
  liveBuffers: number;
  liveBytes: number;
  peakLiveBytes: number;
  /** the bytes the holders asked for (without size-class rounding), live and at their peak */
  liveRequestedBytes: number;
  peakRequestedBytes: number;
  createdBuffers: number;
  createdBytes: number;
}

/**
 * Size classes: 16 per octave, multiples of 2^(k-4) for sizes in [2^k, 2^(k+1)) (at most 6.25% waste), never
 * below 256 bytes: the paper UNet's tensors (45·2^j bytes) waste far less here than with classes 2^k and 1.5·2^k
 * (bench/NOTES.md, "finer size classes").
 */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const step = 2 ** (Math.floor(Math.log2(bytes)) - 4);
  return Math.ceil(bytes / step) * step;
}

export class BufferPool {
  private free = new Map<number, PooledBuffer[]>();
  private nextId = 1;
  readonly stats: PoolStats = {
    liveBuffers: 0,
    liveBytes: 0,
    peakLiveBytes: 0,
    liveRequestedBytes: 0,
    peakRequestedBytes: 0,
    createdBuffers: 0,
    createdBytes: 0,
  };

  /**
   * `maxBytes`: no buffer larger (a size class past the binding limit is cut back to it); `keepBytes`: a released
   * buffer larger than this is destroyed, not kept for reuse
   */
  constructor(
    private device: GPUDevice,
    private usage = STORAGE | COPY_SRC | COPY_DST,
    private label = 'glocal',
    private maxBytes = Infinity,
    private keepBytes = Infinity,
  ) {}

  /** Bytes of the free buffers kept for reuse. */
  get freeBytes(): number {
    let n = 0;
    for (const [cls, list] of this.free) n += cls * list.length;
    return n;
  }

  acquire(bytes: number): PooledBuffer {
    const cls = Math.min(sizeClass(Math.max(4, bytes)), Math.max(bytes, Math.floor(this.maxBytes / 4) * 4));
    const list = this.free.get(cls);
    let pb = list?.pop();
    if (!pb) {
      const buffer = this.device.createBuffer({ size: cls, usage: this.usage, label: `${this.label}#${this.nextId}` });
      pb = { buffer, bytes: cls, id: this.nextId++, requested: 0 };
      this.stats.createdBuffers++;
      this.stats.createdBytes += cls;
    }
    this.stats.liveBuffers++;
    this.stats.liveBytes += cls;
    if (this.stats.liveBytes > this.stats.peakLiveBytes) this.stats.peakLiveBytes = this.stats.liveBytes;
    pb.requested = bytes;
    this.stats.liveRequestedBytes += bytes;
    if (this.stats.liveRequestedBytes > this.stats.peakRequestedBytes)
      this.stats.peakRequestedBytes = this.stats.liveRequestedBytes;
    return pb;
  }

  release(pb: PooledBuffer): void {
    this.stats.liveBuffers--;
    this.stats.liveBytes -= pb.bytes;
    this.stats.liveRequestedBytes -= pb.requested;
    if (pb.bytes > this.keepBytes) {
      pb.buffer.destroy();
      return;
    }
    let list = this.free.get(pb.bytes);
    if (!list) {
      list = [];
      this.free.set(pb.bytes, list);
    }
    // kept sorted by id, highest first, so acquire takes the lowest id free: which buffer a tensor gets depends on
    // which are free, not on the order they were released in. A loop that releases in another order each step
    // then still binds the same buffers every step, and its bind groups come from the cache instead of being made
    // anew (each one driver memory until garbage collection: Runtime.bindGroupsCreated)
    let i = list.length;
    while (i > 0 && list[i - 1].id < pb.id) i--;
    list.splice(i, 0, pb);
  }

  /** Destroy every free buffer (live ones stay with their owners). */
  trim(): void {
    for (const list of this.free.values()) for (const pb of list) pb.buffer.destroy();
    this.free.clear();
  }
}

/**
 * Staging buffers of reads. A step reads a few bytes (its loss) and keeps reusing one small buffer; a checkpoint
 * reads everything once, in buffers of up to 64 MiB that would otherwise stay allocated for the rest of the session
 * (a browser tab's memory), so buffers over READBACK_KEEP_BYTES go as soon as they have been read.
 */
export const READBACK_KEEP_BYTES = 4 << 20;

export function createReadbackPool(device: GPUDevice): BufferPool {
  return new BufferPool(device, MAP_READ | COPY_DST, 'glocal-readback', Infinity, READBACK_KEEP_BYTES);
}
