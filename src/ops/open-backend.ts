// Which backend computes: chosen explicitly (--backend webgpu|wasm|auto), printed, and recorded by the caller in
// checkpoints, CSV rows and label-map headers. `auto` takes a hardware WebGPU adapter and otherwise the wasm
// backend: a software adapter (lavapipe, SwiftShader) is never taken, as it is slower than wasm on the same CPU
// (BENCHMARKS.md). No fallback happens without being said.

import type { Backend } from './backend.ts';
import { Runtime } from '../runtime/runtime.ts';
import { GpuBackend } from './webgpu.ts';
import { type Conv3x3, WasmBackend } from './wasm.ts';
import { describeAdapter, isSoftwareAdapter } from '../runtime/device.ts';

export const BACKEND_KINDS = ['webgpu', 'wasm', 'auto'] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

export interface OpenedBackend {
  // the commands are generic over the tensor type; the backend's own type stays inside it
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  be: Backend<any>;
  kind: 'webgpu' | 'wasm';
  /**
   * "webgpu on node: llvmpipe ..." or "wasm SIMD, 2 threads, 3×3 by Winograd from 4 channels, else GEMM": printed
   * and recorded
   */
  description: string;
  /** the WebGPU runtime, for what only it has (the adapter's description, engine timing) */
  rt: Runtime | null;
  close(): void;
}

/** Threads of the wasm backend when none are asked: every core the runtime reports. */
export async function defaultThreads(): Promise<number> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  if (nav?.hardwareConcurrency) return nav.hardwareConcurrency;
  const os = 'node:os'; // computed: a browser bundle must not resolve it (Node 20 has no navigator)
  const { availableParallelism } = await import(/* @vite-ignore */ os);
  return Math.max(1, availableParallelism());
}

/** The wasm backend's options a caller may choose: its threads (default: every core) and 3×3 algorithm. */
export interface WasmChoice {
  threads?: number;
  conv3x3?: Conv3x3;
}

async function openWasm(o: WasmChoice, why: string): Promise<OpenedBackend> {
  const be = await WasmBackend.create({ threads: o.threads ?? (await defaultThreads()), conv3x3: o.conv3x3 });
  return { be, kind: 'wasm', description: `${be.describe()}${why}`, rt: null, close: () => be.destroy() };
}

export async function openBackend(kind: BackendKind, o: WasmChoice = {}): Promise<OpenedBackend> {
  if (kind === 'wasm') return openWasm(o, '');
  let rt: Runtime;
  try {
    rt = await Runtime.create();
  } catch (e) {
    if (kind === 'webgpu') throw e;
    return openWasm(o, ` (auto: no WebGPU adapter: ${(e as Error).message.split('\n')[0]})`);
  }
  const adapter = describeAdapter(rt.gpu.info);
  if (kind === 'auto' && isSoftwareAdapter(rt.gpu.info)) {
    rt.destroy();
    return openWasm(o, ` (auto: the adapter is software, ${adapter})`);
  }
  return { be: new GpuBackend(rt), kind: 'webgpu', description: `webgpu, ${adapter}`, rt, close: () => rt.destroy() };
}
