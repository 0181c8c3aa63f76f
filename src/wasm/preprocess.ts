// Host side of the AssemblyScript preprocessing module (kernels/preprocess.ts). The .wasm bytes are
// embedded in the bundle, so Node, Deno and browsers instantiate the very same module with no file paths.
import wasmBytes from '../../dist/preprocess.wasm';

interface Exports {
  memory: WebAssembly.Memory;
  ensureMemory(bytes: number): number;
  percentile(src: number, scratch: number, n: number, q: number): number;
  normalizeRange(ptr: number, n: number, lo: number, hi: number): void;
}

let instance: Exports | undefined;

export async function preprocessModule(): Promise<Exports> {
  if (!instance) {
    const module = await WebAssembly.compile(wasmBytes as BufferSource);
    const inst = await WebAssembly.instantiate(module, {});
    instance = inst.exports as unknown as Exports;
  }
  return instance;
}

/**
 * The paper's intensity normalisation (spec §6.2): x ← (x − p1) / (p99 − p1) with p1, p99 the 1st and 99th
 * percentiles over all voxels, without clipping. Returns a new array and the percentiles used.
 */
export async function normalizePercentiles(data: Float32Array): Promise<{ out: Float32Array; p1: number; p99: number }> {
  const m = await preprocessModule();
  const bytes = data.length * 4;
  m.ensureMemory(2 * bytes + 16);
  new Float32Array(m.memory.buffer, 0, data.length).set(data);
  const p1 = m.percentile(0, bytes, data.length, 1);
  const p99 = m.percentile(0, bytes, data.length, 99);
  if (!(p99 > p1)) throw new Error(`intensity normalisation: the volume is constant between its 1st and 99th percentiles (${p1})`);
  m.normalizeRange(0, data.length, p1, p99);
  return { out: new Float32Array(m.memory.buffer, 0, data.length).slice(), p1, p99 };
}
