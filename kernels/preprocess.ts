// Volume preprocessing in AssemblyScript, compiled by asconfig.json to one .wasm that Node, Deno and
// browsers load the same way (raw bindings, no imports). The host owns the memory layout: it places
// float32 arrays at byte offsets it chooses (growing memory as needed) and passes those offsets here.

/** Grow linear memory so that `bytes` bytes are addressable; returns the memory size in bytes. */
export function ensureMemory(bytes: usize): usize {
  const have = <usize>memory.size() << 16;
  if (bytes > have) memory.grow(<i32>((bytes - have + 0xffff) >> 16));
  return <usize>memory.size() << 16;
}

function swap(p: usize, i: i32, j: i32): void {
  const a = load<f32>(p + (<usize>i << 2));
  store<f32>(p + (<usize>i << 2), load<f32>(p + (<usize>j << 2)));
  store<f32>(p + (<usize>j << 2), a);
}

/** Rearrange p[lo..hi] so that p[k] holds the value a full sort would put there (Hoare quickselect). */
function select(p: usize, lo: i32, hi: i32, k: i32): void {
  while (hi > lo) {
    const pivot = load<f32>(p + (<usize>((lo + hi) >>> 1) << 2));
    let i = lo, j = hi;
    while (i <= j) {
      while (load<f32>(p + (<usize>i << 2)) < pivot) i++;
      while (load<f32>(p + (<usize>j << 2)) > pivot) j--;
      if (i <= j) { swap(p, i, j); i++; j--; }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/**
 * The q-th percentile (0..100) of n float32 values at `src`, linearly interpolated between the two nearest
 * ranks (numpy's default). `scratch` must hold n floats; `src` is not modified.
 */
export function percentile(src: usize, scratch: usize, n: i32, q: f64): f64 {
  if (n <= 0) return NaN;
  memory.copy(scratch, src, <usize>n << 2);
  const pos = (q / 100.0) * <f64>(n - 1);
  const k = <i32>Math.floor(pos);
  select(scratch, 0, n - 1, k);
  const lower = <f64>load<f32>(scratch + (<usize>k << 2));
  if (k + 1 >= n) return lower;
  // the next rank is the minimum of the part above k
  let upper = Infinity;
  for (let i = k + 1; i < n; i++) upper = Math.min(upper, <f64>load<f32>(scratch + (<usize>i << 2)));
  return lower + (upper - lower) * (pos - <f64>k);
}

/** In place: x = (x - lo) / (hi - lo) for n float32 values at `ptr` (no clipping, as the paper). */
export function normalizeRange(ptr: usize, n: i32, lo: f32, hi: f32): void {
  const scale: f32 = <f32>1.0 / (hi - lo);
  const vlo = f32x4.splat(lo), vs = f32x4.splat(scale);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const a = ptr + (<usize>i << 2);
    v128.store(a, f32x4.mul(f32x4.sub(v128.load(a), vlo), vs));
  }
  for (; i < n; i++) {
    const a = ptr + (<usize>i << 2);
    store<f32>(a, (load<f32>(a) - lo) * scale);
  }
}
