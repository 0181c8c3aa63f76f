// Deno's wgpu (wgpu-core 29.0.1, Deno 2.9.6) at exit with GPU work still in flight on a device that was not
// destroyed: dropping the queue in teardown waits for the last submission with a timeout and panics ("We timed out
// while waiting on the last successful submission to complete!", queue.rs:208), exit code 1, after the script
// itself succeeded. Seen in 1 of 12 runs on lavapipe with 2 busy cores (2026-12-07); with `destroy` (device.destroy()
// before the end, what Runtime.destroy() and Session.dispose() do) 0 of 6. No glocal code: plain WebGPU.
//   npx deno run scripts/repro/deno-inflight.ts [keep|destroy]
const destroy = Deno.args[0] === 'destroy';
const code = `@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  var x = a[g.x];
  for (var i = 0u; i < 20000u; i++) { x = x * 1.0001 + 0.5; }
  a[g.x] = x;
}`;
const adapter = await navigator.gpu.requestAdapter();
if (!adapter) throw new Error('no WebGPU adapter');
const device = await adapter.requestDevice();
const module = device.createShaderModule({ code });
const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
const buffer = device.createBuffer({ size: 1 << 20, usage: GPUBufferUsage.STORAGE });
const group = device.createBindGroup({
  layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer } }],
});
// seconds of work on a software adapter, submitted and never awaited
for (let k = 0; k < 4; k++) {
  const encoder = device.createCommandEncoder(), pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(4096);
  pass.end();
  device.queue.submit([encoder.finish()]);
}
if (destroy) device.destroy();
console.log(`submitted; device ${destroy ? 'destroyed' : 'kept'}; the script ends here and must exit 0`);
