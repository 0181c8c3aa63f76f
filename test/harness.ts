// The test harness shared by the Node, Deno and Chromium runners: a case is a named async function of
// an environment holding the GPU runtime and both backends. Each runner maps cases onto its own test API.

import { Runtime } from '../src/runtime/runtime.ts';
import { GpuBackend } from '../src/ops/webgpu.ts';
import { RefBackend } from '../src/ops/reference.ts';
import { WasmBackend } from '../src/ops/wasm.ts';
import { describeAdapter } from '../src/runtime/device.ts';

export interface TestEnv {
  rt: Runtime;
  gpu: GpuBackend;
  ref: RefBackend;
  /** The WebAssembly backend on one thread, outputs poisoned with NaN like the GPU runtime's. */
  wasm: WasmBackend;
  adapter: string;
  /** Numbers a runner reports or compares across runtimes (e.g. loss curves). */
  report: Record<string, unknown>;
}

export interface TestCase {
  name: string;
  run(env: TestEnv): Promise<void>;
  /** a case that needs to spawn programs: the Deno suite runs without --allow-run, so it lists it as ignored */
  nodeOnly?: boolean;
}

/** Thrown by a case that could not run here, with the reason: the Node runner reports it as skipped, not passed. */
export class CaseSkipped extends Error {
  override name = 'CaseSkipped';
}

export async function createTestEnv(): Promise<TestEnv> {
  const rt = await Runtime.create({ poison: true });
  const wasm = await WasmBackend.create({ poison: true });
  return {
    rt,
    gpu: new GpuBackend(rt),
    ref: new RefBackend(),
    wasm,
    adapter: describeAdapter(rt.gpu.info),
    report: {},
  };
}

export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

/** What `fn` throws or rejects with; undefined when it completes. */
export async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** ‖got − want‖ / ‖want‖ (NaN anywhere in `got` gives Infinity). */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let d = 0,
    n = 0;
  for (let i = 0; i < got.length; i++) {
    if (!Number.isFinite(got[i])) return Infinity;
    d += (got[i] - want[i]) ** 2;
    n += want[i] ** 2;
  }
  return n === 0 ? Math.sqrt(d) : Math.sqrt(d / n);
}

export function assertClose(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-4): number {
  assert(got.length === want.length, `${what}: ${got.length} values, expected ${want.length}`);
  let norm = 0;
  for (let i = 0; i < want.length; i++) norm += want[i] ** 2;
  assert(norm > 0, `${what}: the reference is all zeros, so the comparison would prove nothing`);
  const e = relErr(got, want);
  assert(e < tol, `${what}: relative error ${e.toExponential(3)} >= ${tol}`);
  return e;
}

export function assertBitwise(what: string, a: Float32Array, b: Float32Array): void {
  assert(a.length === b.length, `${what}: lengths differ`);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length),
    ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) {
    assert(ua[i] === ub[i], `${what}: element ${i} differs between runs (${a[i]} vs ${b[i]})`);
  }
}

/** Round to float32, so the f64 reference sees exactly the values the GPU sees. */
export const f32 = (a: ArrayLike<number>) => Float64Array.from(Float32Array.from(a));
