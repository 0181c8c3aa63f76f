// One device layer for three runtimes: Node gets WebGPU from the npm package `webgpu` (Dawn);
// Deno and browsers have `navigator.gpu`. Nothing else is tried: no hidden fallback.

export type RuntimeName = 'node' | 'deno' | 'browser';

export interface AdapterDescription {
  runtime: RuntimeName;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
}

export interface GpuContext {
  device: GPUDevice;
  adapter: GPUAdapter;
  info: AdapterDescription;
  /** Optional features that were present on the adapter and enabled on the device. */
  features: { shaderF16: boolean; subgroups: boolean; timestampQuery: boolean };
  /** The device's limits, with any lower override applied (our own view: the runtime keeps to these). */
  limits: GPUSupportedLimits;
}

const g = globalThis as any;

export function detectRuntime(): RuntimeName {
  if (typeof g.Deno !== 'undefined') return 'deno';
  if (g.process?.versions?.node && typeof g.window === 'undefined') return 'node';
  return 'browser';
}

/** Keep one dawn.node instance per process: creating several is slow, and Node stays alive while one is referenced. */
let nodeGpu: GPU | undefined;

/** The GPU entry point of this runtime (Node: the one dawn.node instance), e.g. to share it with a peer library. */
export async function getNavigatorGpu(runtime: RuntimeName = detectRuntime()): Promise<GPU> {
  if (runtime === 'node') {
    if (!nodeGpu) {
      let mod: any;
      try {
        mod = await import('webgpu');
      } catch (e) {
        throw new Error(
          `glocal: cannot load the npm package 'webgpu' (Dawn for Node): ${(e as Error).message}. ` +
            `Run 'npm install' in the project, or install it with 'npm install webgpu'.`,
        );
      }
      // GPUBufferUsage, GPUMapMode, ... are needed by some peers (tfjs, onnxruntime-web) in benchmarks.
      Object.assign(g, mod.globals);
      // Dawn rounds timestamp queries down to 65.536 µs (a browser's timing-attack guard) unless told not to: at that
      // grain a profile misreports every kernel shorter than a few of those
      nodeGpu = mod.create(['disable-dawn-features=timestamp_quantization']) as GPU;
    }
    return nodeGpu;
  }
  if (runtime === 'deno') preferVulkanInDeno();
  const gpu = g.navigator?.gpu as GPU | undefined;
  if (!gpu) {
    throw new Error(
      runtime === 'deno'
        ? 'glocal: navigator.gpu is missing in this Deno. Use Deno >= 2 (WebGPU needs no flag there).'
        : 'glocal: this browser exposes no WebGPU (navigator.gpu is undefined). Use a WebGPU browser over https or localhost ' +
            '(Chromium on Linux needs --enable-unsafe-webgpu).',
    );
  }
  return gpu;
}

/**
 * Deno on Linux: ask wgpu for its Vulkan backend only (DENO_WEBGPU_BACKEND=vulkan), unless the user chose one.
 * With all backends wgpu also opens its GL backend, which loads libEGL (glvnd) on the thread that first requests
 * an adapter; when that thread ends while the process exits (`deno test` runs a test file on its own thread),
 * libEGL's exit-time teardown races it and corrupts the heap: "double free or corruption", SIGABRT after every
 * case passed (README, Known issues; scripts/repro/deno-exit-egl.test.ts). Set only where the env permission is
 * already granted (never prompts), before wgpu reads it on the first requestAdapter.
 */
function preferVulkanInDeno(): void {
  const deno = g.Deno;
  const variable = 'DENO_WEBGPU_BACKEND';
  if (deno.build?.os !== 'linux' || deno.permissions?.querySync?.({ name: 'env', variable }).state !== 'granted')
    return;
  if (deno.env.get(variable) === undefined) {
    deno.env.set(variable, 'vulkan');
    glocalChoseVulkan = true;
  }
}

/** Whether glocal set DENO_WEBGPU_BACKEND (so a missing adapter may be a GL-only driver: the error says so). */
let glocalChoseVulkan = false;

const NO_ADAPTER_HELP =
  'glocal: no WebGPU adapter was found. On a machine without a GPU install a software Vulkan driver: ' +
  "run 'sudo bash scripts/install-software-gpu.sh' (Mesa 25 lavapipe + libvulkan1 + chromium on Debian/Ubuntu). " +
  'With a GPU, make sure its Vulkan driver (and the Vulkan loader libvulkan1) is installed.';

const DENO_GL_HELP =
  ' In Deno on Linux glocal asks wgpu for Vulkan only (DENO_WEBGPU_BACKEND=vulkan: its GL backend can abort Deno' +
  ' at exit, README Known issues); for a GL-only driver set DENO_WEBGPU_BACKEND=vulkan,gl yourself.';

const OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

/** Request the adapter and a device with the adapter's real limits and whichever optional features it has. */
export async function createGpuContext(
  opts: { powerPreference?: GPUPowerPreference; limitOverrides?: Record<string, number> } = {},
): Promise<GpuContext> {
  const runtime = detectRuntime();
  const gpu = await getNavigatorGpu(runtime);
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) throw new Error(NO_ADAPTER_HELP + (glocalChoseVulkan ? DENO_GL_HELP : ''));

  const requiredFeatures: GPUFeatureName[] = [];
  for (const f of OPTIONAL_FEATURES) if (adapter.features.has(f)) requiredFeatures.push(f as GPUFeatureName);

  // Ask for every numeric limit the adapter offers: without this the device gets the spec defaults
  // (e.g. 256 invocations per workgroup, 128 MiB bindings) whatever the hardware can do.
  // Dawn's 'artificially reduced from 1000000' lines are printed by requestAdapter, before this: no request can
  // silence them (README, Known issues).
  const requiredLimits: Record<string, number> = {};
  const al = adapter.limits as any;
  for (const key in al) {
    const v = al[key];
    if (typeof v === 'number') requiredLimits[key] = v;
  }
  const lower: Record<string, number> = {};
  for (const [k, v] of Object.entries(opts.limitOverrides ?? {})) {
    // WebGPU gives a device at least the default limits whatever is asked, so a limit below the adapter's is
    // kept here, in our own view of the limits, which the runtime obeys (tests: an artificially low limit)
    if (typeof requiredLimits[k] === 'number' && v < requiredLimits[k]) lower[k] = v;
    else requiredLimits[k] = v;
  }
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  const limits: Record<string, number> = {};
  for (const key in device.limits) {
    const v = (device.limits as any)[key];
    if (typeof v === 'number') limits[key] = key in lower ? Math.min(v, lower[key]) : v;
  }

  const ai: any = (adapter as any).info ?? {};
  const info: AdapterDescription = {
    runtime,
    vendor: String(ai.vendor ?? ''),
    architecture: String(ai.architecture ?? ''),
    device: String(ai.device ?? ''),
    description: String(ai.description ?? ''),
    isFallbackAdapter: Boolean(ai.isFallbackAdapter ?? (adapter as any).isFallbackAdapter ?? false),
    features: [...adapter.features].sort(),
  };
  if (runtime === 'node' && isSoftwareAdapter(info)) throttleDawnPolling();
  return {
    device,
    adapter,
    info,
    features: {
      shaderF16: requiredFeatures.includes('shader-f16' as GPUFeatureName),
      subgroups: requiredFeatures.includes('subgroups' as GPUFeatureName),
      timestampQuery: requiredFeatures.includes('timestamp-query' as GPUFeatureName),
    },
    limits: limits as unknown as GPUSupportedLimits,
  };
}

/**
 * dawn.node waits for `mapAsync` and `onSubmittedWorkDone` by polling the device from back-to-back
 * `setImmediate` ticks (each a new nameless native function, queued again from inside the last one), so every
 * wait keeps one CPU core busy. On a software adapter that core is one the adapter itself computes on. There,
 * once a wait has polled for 2 ms, its further ticks (and no other caller's) run from a 1 ms timer: short waits
 * keep their latency, long ones leave the CPU to lavapipe (bench/NOTES.md, "dawn.node's busy wait").
 */
let dawnPollingThrottled = false;
function throttleDawnPolling(): void {
  if (dawnPollingThrottled) return;
  dawnPollingThrottled = true;
  const immediate = g.setImmediate,
    source = Function.prototype.toString;
  const isDawnTick = (fn: unknown): fn is (...a: unknown[]) => void =>
    typeof fn === 'function' && fn.name === '' && source.call(fn).includes('[native code]');
  let inTick = false,
    waitStart = 0;
  const throttled = (fn: unknown, ...args: unknown[]) => {
    if (!isDawnTick(fn)) return immediate(fn, ...args);
    const now = performance.now();
    if (!inTick) waitStart = now; // queued from outside a tick: a wait begins
    const tick = () => {
      inTick = true;
      try {
        fn(...args);
      } finally {
        inTick = false;
      }
    };
    return now - waitStart < 2 ? immediate(tick) : setTimeout(tick, 1);
  };
  // keep util.promisify(setImmediate) working: it reads a symbol-keyed property
  for (const key of Object.getOwnPropertySymbols(immediate))
    Object.defineProperty(throttled, key, Object.getOwnPropertyDescriptor(immediate, key)!);
  g.setImmediate = throttled;
}

/** A CPU implementation of WebGPU (lavapipe, SwiftShader): only small shapes are practical there. */
export function isSoftwareAdapter(info: AdapterDescription): boolean {
  return Boolean(info.isFallbackAdapter) || info.architecture === 'swiftshader' || info.architecture === 'software';
}

export function describeAdapter(info: AdapterDescription): string {
  const name = [info.description || info.device, info.vendor, info.architecture].filter(Boolean).join(' / ');
  return `${info.runtime}: ${name}${info.isFallbackAdapter ? ' (software fallback)' : ''}`;
}
