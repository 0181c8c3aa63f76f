// Latency of one tiny readback (write 1 KiB, copy it, map it) under each runtime's WebGPU:
//   deno run -A bench/readback-latency.mjs        node bench/readback-latency.mjs   (Node: dawn.node)
// Prints the median and minimum of 20 round trips, with mapAsync alone and after onSubmittedWorkDone.
const gpu = globalThis.navigator?.gpu ?? (await import('webgpu')).create([]);
const device = await (await gpu.requestAdapter()).requestDevice();
const usage = globalThis.GPUBufferUsage ?? { STORAGE: 0x80, COPY_SRC: 0x4, COPY_DST: 0x8, MAP_READ: 0x1 };
const src = device.createBuffer({ size: 1024, usage: usage.STORAGE | usage.COPY_SRC | usage.COPY_DST });
const staging = device.createBuffer({ size: 1024, usage: usage.MAP_READ | usage.COPY_DST });
async function roundTrip(waitDone) {
  const t0 = performance.now();
  device.queue.writeBuffer(src, 0, new Float32Array(256));
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, staging, 0, 1024);
  device.queue.submit([enc.finish()]);
  if (waitDone) await device.queue.onSubmittedWorkDone();
  await staging.mapAsync(1 /* READ */);
  staging.unmap();
  return performance.now() - t0;
}
for (const waitDone of [false, true]) {
  const ts = [];
  for (let i = 0; i < 20; i++) ts.push(await roundTrip(waitDone));
  ts.sort((a, b) => a - b);
  console.log(`${waitDone ? 'onSubmittedWorkDone + mapAsync' : 'mapAsync'}: median ${ts[10].toFixed(2)} ms, min ${ts[0].toFixed(2)} ms`);
}
device.destroy();
