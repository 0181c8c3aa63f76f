// Each WebGPU bind group costs lavapipe (Mesa 25.0.7) one 4 KiB memory mapping, and WebGPU frees it only when the
// bind group object is garbage-collected; a Linux process may hold vm.max_map_count (65 530) mappings, and past
// that lavapipe crashes in memset on an allocation it did not check. glocal's runtime therefore makes no bind group
// per step after warm-up and caps its cache (src/runtime/runtime.ts, BIND_GROUP_CACHE). Plain WebGPU, no glocal:
//   DENO_WEBGPU_BACKEND=vulkan deno run --v8-flags=--expose-gc -A scripts/repro/bind-group-mappings.ts
// prints the mapping count after every 500 bind groups made and dropped, then after a forced collection
// (2026-12-07: 4, 504, 1004, 1504, 2004, and 4 after gc).
const mappings = () =>
  Deno.readTextFileSync('/proc/self/maps')
    .split('\n')
    .filter((l) => l.includes('memfd')).length;
const adapter = await navigator.gpu.requestAdapter();
if (!adapter) throw new Error('no WebGPU adapter');
const device = await adapter.requestDevice();
const buffer = device.createBuffer({ size: 1024, usage: GPUBufferUsage.STORAGE });
const layout = device.createBindGroupLayout({
  entries: [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } }],
});
const counts = [mappings()];
for (let i = 1; i <= 2000; i++) {
  device.createBindGroup({ layout, entries: [{ binding: 0, resource: { buffer } }] }); // dropped at once
  if (i % 500 === 0) counts.push(mappings());
}
(globalThis as { gc?: () => void }).gc?.();
await new Promise((r) => setTimeout(r, 500));
console.log(`${adapter.info?.description ?? 'adapter'}: memfd mappings ${counts.join(', ')}; after gc ${mappings()}`);
device.destroy();
