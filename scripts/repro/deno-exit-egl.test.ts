// Deno aborts at exit after a passing `deno test` (issue 27 item 12), with plain WebGPU and no glocal code. Deno
// 2.9.6's wgpu opens its GL backend next to Vulkan, which loads libEGL (glvnd) on the thread that runs this test
// file. That thread ends while the main thread is in exit(), running libEGL's destructor: glibc then reports a
// corrupted heap ("double free or corruption", "malloc_consolidate(): invalid chunk size", "corrupted size vs.
// prev_size in fastbins") and the process gets SIGABRT (exit 134). Core dumps: the main thread in
// exit -> _dl_fini -> libEGL.so.1 -> free, the other in start_thread -> __libc_thread_freeres -> free.
// Measured on lavapipe (Mesa 25.0.7, Debian 12, 2 busy cores, 2026-12-07): 2 of 400 runs aborted; with
// DENO_WEBGPU_BACKEND=vulkan (no libEGL loaded) 0 of 400;
// a second count, 1000 runs each: 6 of 1000 against 0 of 1000. Destroying the device makes no difference: the state
// libEGL tears down belongs to the adapter enumeration, not to the device.
//   node scripts/repro/deno-exit-egl.mjs 400           (DENO_WEBGPU_BACKEND as in your environment)
//   DENO_WEBGPU_BACKEND=vulkan node scripts/repro/deno-exit-egl.mjs 400
Deno.test({
  name: 'a WebGPU device on the test thread',
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) throw new Error('no WebGPU adapter');
    const device = await adapter.requestDevice();
    if (Deno.env.get('DESTROY') === '1') device.destroy();
  },
});
